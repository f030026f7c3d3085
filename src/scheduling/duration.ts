/**
 * Duration arithmetic: Knock's `{ unit, value }` spans added to instants, and the short forms
 * (`"90s"`, `"15m"`, `"1h30m"`) the test clock accepts.
 *
 * All calendar arithmetic is in UTC, so the result never depends on the process's timezone or its
 * daylight-saving rules: a day is always 24 hours, and "one month later" is the same UTC
 * day-of-month and time of day in the next month (clamped to that month's last day). Timezone-aware
 * arithmetic (schedules, delay window rules, send windows) is in `repeat.ts` and `windows.ts`.
 *
 * @module
 */
import { InvalidParamsError } from "../errors.js";
import type { Duration } from "../workflows/types.js";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** A fraction of a month counts as that fraction of 30 days. */
const NOMINAL_MONTH = 30 * DAY;

const UNITS: ReadonlySet<string> = new Set<Duration["unit"]>([
  "seconds",
  "minutes",
  "hours",
  "days",
  "weeks",
  "months",
]);

/** Milliseconds per unit, for every unit that is a fixed length in UTC. */
const FIXED_MS: Readonly<Record<Exclude<Duration["unit"], "months">, number>> = {
  seconds: SECOND,
  minutes: MINUTE,
  hours: HOUR,
  days: DAY,
  weeks: WEEK,
};

/**
 * Whether `value` has the shape of a {@link Duration}: an object whose `unit` is one of
 * `seconds`, `minutes`, `hours`, `days`, `weeks`, `months` and whose `value` is a finite number.
 * (Negative values pass: {@link addDuration} then moves backwards.)
 *
 * @example
 * ```ts
 * isDuration({ unit: "hours", value: 2 }); // true
 * isDuration({ unit: "fortnights", value: 1 }); // false
 * ```
 */
export function isDuration(value: unknown): value is Duration {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const candidate = value as { unit?: unknown; value?: unknown };
  return (
    typeof candidate.unit === "string" &&
    UNITS.has(candidate.unit) &&
    typeof candidate.value === "number" &&
    Number.isFinite(candidate.value)
  );
}

/**
 * The instant `duration` after `from`, computed in UTC.
 *
 * - `seconds`, `minutes`, `hours`: exact milliseconds.
 * - `days` and `weeks`: calendar days in UTC, which are always 24 hours long (so the UTC time of
 *   day is kept, and no daylight-saving shift of the local timezone applies).
 * - `months`: calendar months in UTC. The UTC day-of-month and time of day are kept; when the
 *   target month is shorter the day is clamped to its last day (Jan 31 + 1 month = Feb 28, or
 *   Feb 29 in a leap year). A fractional month adds the whole months this way, then the fraction
 *   as that fraction of 30 days.
 *
 * Negative values move backwards by the same rules. `from` is not modified.
 *
 * @throws {InvalidParamsError} When `from` is an invalid date, `duration` is not a
 *   {@link Duration}, or the result is outside the range a `Date` can hold.
 *
 * @example
 * ```ts
 * addDuration(new Date("2026-01-31T09:00:00Z"), { unit: "months", value: 1 });
 * // 2026-02-28T09:00:00.000Z
 * ```
 */
export function addDuration(from: Date, duration: Duration): Date {
  const start = from instanceof Date ? from.getTime() : Number.NaN;
  if (Number.isNaN(start)) {
    throw new InvalidParamsError(
      `Expected a valid Date to add a duration to, received ${describe(from)}.`,
    );
  }
  if (!isDuration(duration)) {
    throw new InvalidParamsError(
      "Expected a Duration: { unit: seconds | minutes | hours | days | weeks | months, value: " +
        `finite number }, received ${describe(duration)}.`,
    );
  }
  const result =
    duration.unit === "months"
      ? addUtcMonths(start, duration.value)
      : start + duration.value * FIXED_MS[duration.unit];
  return checkedDate(result, from, duration);
}

/**
 * @internal The nominal length of a {@link Duration} in milliseconds, for limits: fixed units
 * exactly, a month as 30 days (so 12 months is 360 days, within a 365-day limit).
 */
export function nominalDurationMs(duration: Duration): number {
  return duration.unit === "months"
    ? duration.value * NOMINAL_MONTH
    : duration.value * FIXED_MS[duration.unit];
}

/** Adds calendar months in UTC, clamping the day to the target month's length. */
function addUtcMonths(start: number, months: number): number {
  const whole = Math.trunc(months);
  const fraction = months - whole;
  const date = new Date(start);
  const day = date.getUTCDate();
  // Move to the 1st first, so that setting the month never overflows into the month after.
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + whole);
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  date.setUTCDate(Math.min(day, lastDay));
  return date.getTime() + fraction * NOMINAL_MONTH;
}

/** Largest absolute millisecond value a `Date` can hold (±100,000,000 days from the epoch). */
const MAX_DATE_MS = 8.64e15;

function checkedDate(ms: number, from: Date, duration: Duration): Date {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    throw new InvalidParamsError(
      `Expected a duration that keeps the date within the range of a Date, but ${from.toISOString()} ` +
        `plus ${duration.value} ${duration.unit} is out of range.`,
    );
  }
  return new Date(ms);
}

/** The units the short string form understands, longest first so `ms` and `mo` win over `m`. */
const SHORT_UNIT = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|mo|s|m|h|d|w)/y;

const SHORT_UNITS: Readonly<
  Record<string, { unit: Duration["unit"] | "milliseconds"; ms: number }>
> = {
  ms: { unit: "milliseconds", ms: 1 },
  s: { unit: "seconds", ms: SECOND },
  m: { unit: "minutes", ms: MINUTE },
  h: { unit: "hours", ms: HOUR },
  d: { unit: "days", ms: DAY },
  w: { unit: "weeks", ms: WEEK },
  mo: { unit: "months", ms: Number.NaN },
};

const EXPECTED_ADVANCE =
  "Expected a non-negative span of time: milliseconds as a number, a Duration " +
  '({ unit: "seconds" | "minutes" | "hours" | "days" | "weeks" | "months", value: number }), or a ' +
  'string such as "500ms", "90s", "15m", "2h", "3d", "1w", "2mo" or "1h30m"';

/**
 * Turns the forms the test clock's `advance` accepts into a function from a start instant to the
 * target instant:
 *
 * - a number: milliseconds (`1500`);
 * - a {@link Duration} (`{ unit: "days", value: 3 }`), added with {@link addDuration};
 * - a string of one or more `<number><unit>` parts, where unit is `ms`, `s`, `m` (minutes), `h`,
 *   `d`, `w` or `mo` (calendar months): `"500ms"`, `"90s"`, `"15m"`, `"2h"`, `"3d"`, `"1w"`,
 *   `"1h30m"`, `"1d 12h"`. A bare number string is milliseconds. Parts are applied left to right,
 *   days, weeks and months calendar-wise in UTC.
 *
 * Spans must not be negative: time only moves forward.
 *
 * @throws {InvalidParamsError} When `input` is none of the above, or negative; the message says
 *   which forms are expected and what was received.
 *
 * @example
 * ```ts
 * const later = parseAdvance("1h30m");
 * later(new Date("2026-01-01T00:00:00Z")); // 2026-01-01T01:30:00.000Z
 * ```
 */
export function parseAdvance(input: number | Duration | string): (from: Date) => Date {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw invalidAdvance(input);
    return (from) =>
      checkedDate(from.getTime() + input, from, { unit: "seconds", value: input / SECOND });
  }
  if (typeof input === "string") return parseAdvanceString(input);
  if (isDuration(input)) {
    if (input.value < 0) throw invalidAdvance(input);
    const duration: Duration = { unit: input.unit, value: input.value };
    return (from) => addDuration(from, duration);
  }
  throw invalidAdvance(input);
}

function parseAdvanceString(input: string): (from: Date) => Date {
  const text = input.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return parseAdvance(Number(text));
  // Steps in the order written: exact milliseconds, or a calendar Duration (days, weeks, months).
  const steps: (number | Duration)[] = [];
  let index = 0;
  while (index < text.length) {
    SHORT_UNIT.lastIndex = index;
    const match = SHORT_UNIT.exec(text);
    const unit = match ? SHORT_UNITS[match[2] ?? ""] : undefined;
    if (!match || !unit) throw invalidAdvance(input);
    const value = Number(match[1]);
    if (unit.unit === "days" || unit.unit === "weeks" || unit.unit === "months") {
      steps.push({ unit: unit.unit, value });
    } else {
      const last = steps.at(-1);
      const ms = value * unit.ms;
      if (typeof last === "number") steps[steps.length - 1] = last + ms;
      else steps.push(ms);
    }
    index = SHORT_UNIT.lastIndex;
    // Allow whitespace between parts ("1d 12h").
    while (index < text.length && /\s/.test(text[index] ?? "")) index++;
  }
  if (steps.length === 0) throw invalidAdvance(input);
  return (from) => {
    let date = from;
    for (const step of steps) {
      date =
        typeof step === "number"
          ? checkedDate(date.getTime() + step, date, { unit: "seconds", value: step / SECOND })
          : addDuration(date, step);
    }
    return date;
  };
}

function invalidAdvance(received: unknown): InvalidParamsError {
  return new InvalidParamsError(`${EXPECTED_ADVANCE}; received ${describe(received)}.`);
}

function describe(value: unknown): string {
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? "an invalid Date" : value.toISOString();
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
