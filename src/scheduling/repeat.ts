/**
 * Repeat rules (Knock's schedule `repeats` and the delay step's window rules) and the timezone
 * arithmetic they need: every occurrence lands on a local wall-clock time in a recipient's timezone.
 *
 * Offsets are read from one cached `Intl.DateTimeFormat` per timezone (the technique date-fns-tz
 * uses internally). date-fns-tz's own `getTimezoneOffset`/`fromZonedTime` read their `Date`
 * argument as local fields in the process's timezone (so their answers depend on the host's
 * `TZ`) and move nonexistent local times by the DST shift (02:30 → 03:30) instead of to the
 * moment the clocks jump, so the wall-time resolution here does not use them. date-fns-tz stays
 * the oracle the tests check these results against.
 *
 * Daylight-saving rules:
 * - a wall time that exists once fires at that instant, on both sides of a change;
 * - a wall time that does not exist (the spring-forward gap) fires at the next valid instant, the
 *   moment the clocks jump (02:30 on the New York spring-forward day fires at 03:00 local);
 * - a wall time that exists twice (the fall-back overlap) fires once, at the first of the two.
 *
 * @module
 */
import { InvalidParamsError, type ValidationIssue } from "../errors.js";

/** A day of the week as repeat rules name it. */
export type RepeatDay = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

/**
 * A repeat rule: Knock's schedule `repeats` entry, also the delay step's window rule. Every field
 * other than `frequency` narrows the occurrences; times are local wall-clock times in the
 * recipient's timezone.
 */
export interface RepeatRule {
  /** The unit `interval` counts: hours, days, weeks (Monday to Sunday) or calendar months. */
  frequency: "hourly" | "daily" | "weekly" | "monthly";
  /** Every `interval`-th hour/day/week/month, counted from the anchor's. Defaults to 1. */
  interval?: number;
  /**
   * The weekdays occurrences fall on (`"weekdays"` = mon–fri, `"weekends"` = sat–sun). Weekly
   * rules default to the anchor's weekday; other frequencies default to every day.
   */
  days?: readonly RepeatDay[] | "weekdays" | "weekends";
  /** Local hour(s), 0–23. Defaults to 0, except hourly rules, which default to every hour. */
  hours?: number | readonly number[];
  /** Local minute(s) past the hour, 0–59 in steps of 5. Defaults to 0. */
  minutes?: number | readonly number[];
  /**
   * Day(s) of the month, 1–31. Monthly rules default to the anchor's day (unless `days` is given);
   * a month without that day (31 in April) has no occurrence, it is not moved to the last day.
   */
  day_of_month?: number | readonly number[];
}

/** Options of {@link nextOccurrence}. */
export interface NextOccurrenceOptions {
  /**
   * The schedule's start, which `interval` counts from (every 2 weeks = the anchor's week, then
   * every other week). Defaults to `notBefore`, else `after`.
   */
  anchor?: Date;
  /** No occurrence after this instant (an occurrence exactly at it still counts). */
  endingAt?: Date | null;
  /**
   * An inclusive lower bound: when given and not before `after`, the result is the first
   * occurrence at or after it (a schedule's first run at its `scheduled_at`).
   */
  notBefore?: Date;
}

/** A local calendar date and wall-clock time, as read in some timezone. */
export interface LocalDateTime {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
  /** 0–23. */
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** 0 = Monday … 6 = Sunday. */
  weekday: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** How far before the start a candidate wall time can still resolve to at/after it (DST shifts). */
const WALL_SLACK_MS = 4 * HOUR_MS;
/** Never search further than this for rules whose pattern follows the calendar (day_of_month). */
const CALENDAR_HORIZON_DAYS = 400 * 366;
/** The largest `interval` accepted. */
const MAX_INTERVAL = 1000;

const FREQUENCIES = ["hourly", "daily", "weekly", "monthly"] as const;
const DAY_NAMES: readonly RepeatDay[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/** Spellings Knock's own docs use besides the canonical three letters. */
const DAY_ALIASES: Readonly<Record<string, number>> = {
  mon: 0,
  tue: 1,
  tues: 1,
  wed: 2,
  thu: 3,
  thur: 3,
  thurs: 3,
  fri: 4,
  sat: 5,
  sun: 6,
};

// ---------------------------------------------------------------------------------------------
// Timezones
// ---------------------------------------------------------------------------------------------

/** One formatter per timezone, or null when the name is not a timezone Intl knows. */
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterOf(timeZone: string): Intl.DateTimeFormat | null {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      formatter = null;
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * Whether `timeZone` is a tz database timezone crier can compute with (`America/New_York`,
 * `Asia/Kolkata`, `Etc/UTC`, `UTC`). The answer (and the zone's formatter) is cached.
 */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  return typeof timeZone === "string" && timeZone.trim() !== "" && formatterOf(timeZone) !== null;
}

/**
 * The timezone a recipient's local times are read in: its own `timezone` property when that is a
 * valid timezone, else `fallback` (the engine's `defaultTimezone`).
 */
export function recipientTimeZone(
  recipient: Readonly<Record<string, unknown>> | null | undefined,
  fallback: string,
): string {
  const own = recipient?.timezone;
  return isValidTimeZone(own) ? own : fallback;
}

/**
 * Throws {@link InvalidParamsError} naming `timeZone` unless it is valid (see
 * {@link isValidTimeZone}).
 */
export function assertTimeZone(timeZone: unknown, field = "timezone"): asserts timeZone is string {
  if (isValidTimeZone(timeZone)) return;
  const shown = typeof timeZone === "string" ? `"${timeZone}"` : String(timeZone);
  throw new InvalidParamsError(
    `Expected a tz database timezone such as "America/New_York", received ${shown}.`,
    [{ field, message: `${shown} is not a known timezone`, type: "format" }],
  );
}

/** The zone's offset from UTC in ms at `instantMs` (the zone must be valid). */
function offsetAt(timeZone: string, instantMs: number): number {
  const formatter = formatterOf(timeZone);
  if (!formatter) throw new RangeError(`Unknown timezone ${timeZone}`);
  const fields = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  for (const part of formatter.formatToParts(instantMs)) {
    if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
  }
  const asUtc = Date.UTC(
    fields.year,
    fields.month - 1,
    fields.day,
    fields.hour,
    fields.minute,
    fields.second,
  );
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/** The local wall-clock time of an instant, as ms since the epoch read as if UTC. */
function wallOf(timeZone: string, instantMs: number): number {
  return instantMs + offsetAt(timeZone, instantMs);
}

/** Every instant whose local wall-clock time is `wall`, ascending: 0 (gap), 1, or 2 (overlap). */
function instantsOfWall(timeZone: string, wall: number): number[] {
  const candidates = new Set<number>();
  for (const probe of [wall - DAY_MS, wall, wall + DAY_MS]) {
    candidates.add(wall - offsetAt(timeZone, probe));
  }
  return [...candidates].filter((t) => wallOf(timeZone, t) === wall).sort((a, b) => a - b);
}

/**
 * The instant a wall time resolves to: the first instant with that wall time, or, when the time
 * does not exist (a spring-forward gap), the instant the clocks jump past it.
 */
function resolveWall(timeZone: string, wall: number): number {
  const exact = instantsOfWall(timeZone, wall);
  if (exact[0] !== undefined) return exact[0];
  return gapEnd(timeZone, wall);
}

/** The first instant whose wall time is later than `wall`, for a `wall` inside a gap. */
function gapEnd(timeZone: string, wall: number): number {
  const probes = [wall - DAY_MS, wall, wall + DAY_MS].map((p) => wall - offsetAt(timeZone, p));
  let lo = Math.min(...probes);
  let hi = Math.max(...probes);
  if (wallOf(timeZone, lo) > wall) return lo;
  if (wallOf(timeZone, hi) <= wall) return hi;
  // Invariant: wall(lo) <= wall < wall(hi). Transitions fall on whole seconds.
  lo = Math.floor(lo / 1000) * 1000;
  hi = Math.ceil(hi / 1000) * 1000;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (wallOf(timeZone, mid) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Days since 1970-01-01 → 0 = Monday … 6 = Sunday. */
function weekdayOfDay(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

/** Days since 1970-01-01 → the index of its Monday-to-Sunday week. */
function weekOfDay(day: number): number {
  return Math.floor((day + 3) / 7);
}

function localFromWall(wall: number): LocalDateTime {
  const date = new Date(wall);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    millisecond: date.getUTCMilliseconds(),
    weekday: weekdayOfDay(Math.floor(wall / DAY_MS)),
  };
}

/** The local date and wall-clock time of `instant` in `timeZone` (throws on an invalid zone). */
export function localDateTime(instant: Date, timeZone: string): LocalDateTime {
  assertTimeZone(timeZone);
  return localFromWall(wallOf(timeZone, instant.getTime()));
}

/**
 * The instant a local date and time happen in `timeZone`: the first one when it happens twice
 * (fall-back), the moment the clocks jump past it when it does not happen (spring-forward).
 * `month` is 1–12. Throws on an invalid zone.
 */
export function zonedInstant(
  timeZone: string,
  local: { year: number; month: number; day: number; hour?: number; minute?: number },
): Date {
  assertTimeZone(timeZone);
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour ?? 0, local.minute ?? 0);
  return new Date(resolveWall(timeZone, wall));
}

/** @internal Wall-clock helpers shared with `windows.ts`; the zone must already be valid. */
export const zoned = {
  wallOf,
  instantsOfWall,
  resolveWall,
  weekdayOfDay,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
} as const;

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "string") return `"${value}"`;
  if (typeof value === "object") return "an object";
  return String(value);
}

function checkIntegers(
  issues: ValidationIssue[],
  value: unknown,
  field: string,
  min: number,
  max: number,
  step = 1,
): void {
  const list = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && value.length === 0) {
    issues.push({ field, message: "must not be an empty list", type: "array" });
    return;
  }
  list.forEach((item, index) => {
    const at = Array.isArray(value) ? `${field}[${index}]` : field;
    if (typeof item !== "number" || !Number.isInteger(item)) {
      issues.push({
        field: at,
        message: `must be an integer (or a list of them), received ${describe(item)}`,
        type: "integer",
      });
    } else if (item < min || item > max) {
      issues.push({ field: at, message: `must be between ${min} and ${max}`, type: "range" });
    } else if (item % step !== 0) {
      issues.push({ field: at, message: `must be a multiple of ${step}`, type: "range" });
    }
  });
}

/**
 * Validates a repeat (or window) rule and returns its issues, none when it is valid. Fields are
 * named under `path`, e.g. `repeats.hours` or `repeats.days[1]`. Checks: `frequency` is one of
 * hourly/daily/weekly/monthly; `interval` an integer 1–1000; `days` a non-empty list of
 * mon…sun (Knock's docs also spell `tues`/`thur`/`thurs`, accepted) or "weekdays"/"weekends";
 * `hours` 0–23, `minutes` 0–55 in steps of 5, `day_of_month` 1–31, each an integer or a
 * non-empty list of them. Unknown fields are ignored.
 */
export function validateRepeatRule(rule: unknown, path: string): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!isRecord(rule)) {
    issues.push({
      field: path,
      message: `must be an object such as { "frequency": "daily", "hours": 9 }, received ${describe(rule)}`,
      type: "object",
    });
    return issues;
  }
  const { frequency, interval, days, hours, minutes, day_of_month } = rule;
  if (frequency === undefined) {
    issues.push({
      field: `${path}.frequency`,
      message: "is required: one of hourly, daily, weekly, monthly",
      type: "required",
    });
  } else if (!(FREQUENCIES as readonly unknown[]).includes(frequency)) {
    issues.push({
      field: `${path}.frequency`,
      message: `must be one of hourly, daily, weekly, monthly, received ${describe(frequency)}`,
      type: "enum",
    });
  }
  if (interval !== undefined) {
    if (Array.isArray(interval)) {
      issues.push({ field: `${path}.interval`, message: "must be an integer", type: "integer" });
    } else checkIntegers(issues, interval, `${path}.interval`, 1, MAX_INTERVAL);
  }
  if (days !== undefined) {
    if (days === "weekdays" || days === "weekends") {
      // fine
    } else if (Array.isArray(days)) {
      if (days.length === 0) {
        issues.push({ field: `${path}.days`, message: "must not be an empty list", type: "array" });
      }
      days.forEach((day, index) => {
        if (typeof day !== "string" || DAY_ALIASES[day] === undefined) {
          issues.push({
            field: `${path}.days[${index}]`,
            message: `must be one of ${DAY_NAMES.join(", ")}, received ${describe(day)}`,
            type: "enum",
          });
        }
      });
    } else {
      issues.push({
        field: `${path}.days`,
        message: `must be a list of mon…sun or "weekdays"/"weekends", received ${describe(days)}`,
        type: "type",
      });
    }
  }
  if (hours !== undefined) checkIntegers(issues, hours, `${path}.hours`, 0, 23);
  if (minutes !== undefined) checkIntegers(issues, minutes, `${path}.minutes`, 0, 59, 5);
  if (day_of_month !== undefined) {
    checkIntegers(issues, day_of_month, `${path}.day_of_month`, 1, 31);
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Occurrences
// ---------------------------------------------------------------------------------------------

interface CompiledRule {
  frequency: RepeatRule["frequency"];
  interval: number;
  /** Allowed weekdays (0 = Monday), or null for every day. */
  weekdays: ReadonlySet<number> | null;
  /** Allowed days of the month, or null for every day. */
  monthDays: ReadonlySet<number> | null;
  /** Sorted local hours, or null for every hour (hourly rules). */
  hours: readonly number[] | null;
  /** Sorted local minutes. */
  minutes: readonly number[];
  anchorDay: number;
  anchorHour: number;
  anchorWeek: number;
  anchorMonth: number;
}

function sortedUnique(value: number | readonly number[] | undefined, fallback: number[] | null) {
  if (value === undefined) return fallback;
  const list = Array.isArray(value) ? value : [value];
  return [...new Set(list)].sort((a, b) => a - b);
}

function compileRule(rule: RepeatRule, anchorWall: number): CompiledRule {
  const anchorDay = Math.floor(anchorWall / DAY_MS);
  const anchorDate = new Date(anchorWall);
  let weekdays: Set<number> | null = null;
  if (rule.days === "weekdays") weekdays = new Set([0, 1, 2, 3, 4]);
  else if (rule.days === "weekends") weekdays = new Set([5, 6]);
  else if (Array.isArray(rule.days)) {
    weekdays = new Set(rule.days.map((day) => DAY_ALIASES[day] ?? -1));
  } else if (rule.frequency === "weekly") weekdays = new Set([weekdayOfDay(anchorDay)]);
  let monthDays: Set<number> | null = null;
  if (rule.day_of_month !== undefined) {
    monthDays = new Set(Array.isArray(rule.day_of_month) ? rule.day_of_month : [rule.day_of_month]);
  } else if (rule.frequency === "monthly" && rule.days === undefined) {
    monthDays = new Set([anchorDate.getUTCDate()]);
  }
  return {
    frequency: rule.frequency,
    interval: rule.interval ?? 1,
    weekdays,
    monthDays,
    hours: sortedUnique(rule.hours, rule.frequency === "hourly" ? null : [0]),
    minutes: sortedUnique(rule.minutes, [0]) ?? [0],
    anchorDay,
    anchorHour: anchorDay * 24 + anchorDate.getUTCHours(),
    anchorWeek: weekOfDay(anchorDay),
    anchorMonth: anchorDate.getUTCFullYear() * 12 + anchorDate.getUTCMonth(),
  };
}

function inStep(index: number, anchor: number, interval: number): boolean {
  return (((index - anchor) % interval) + interval) % interval === 0;
}

const EVERY_HOUR = Array.from({ length: 24 }, (_, hour) => hour);

/**
 * The first occurrence of `rule` in `timeZone` strictly after `after` — or at/after
 * `options.notBefore` when that is given and not before `after` — and not after
 * `options.endingAt`; null when there is none. `interval` counts hours/days/weeks/months from
 * `options.anchor` (default `notBefore`, else `after`); weeks run Monday to Sunday. See the module
 * notes for daylight-saving behaviour.
 *
 * The search steps through candidate local days (skipping whole months or weeks outside the
 * interval) and resolves only candidate wall times, so it never scans minute by minute.
 *
 * @throws {InvalidParamsError} when `timeZone` is not a valid timezone or `rule` is invalid.
 */
export function nextOccurrence(
  rule: RepeatRule,
  timeZone: string,
  after: Date,
  options: NextOccurrenceOptions = {},
): Date | null {
  assertTimeZone(timeZone);
  const issues = validateRepeatRule(rule, "rule");
  if (issues.length > 0) throw new InvalidParamsError("Expected a valid repeat rule.", issues);
  const { notBefore, endingAt } = options;
  const lower =
    notBefore !== undefined && notBefore.getTime() >= after.getTime()
      ? notBefore.getTime()
      : after.getTime() + 1;
  const end = endingAt ? endingAt.getTime() : Number.POSITIVE_INFINITY;
  if (!Number.isFinite(lower) || lower > end) return null;
  const anchor = (options.anchor ?? notBefore ?? after).getTime();
  const compiled = compileRule(rule, wallOf(timeZone, anchor));

  const startWall = wallOf(timeZone, lower);
  const startDay = Math.floor(startWall / DAY_MS);
  const calendarBound =
    compiled.frequency === "monthly" || compiled.monthDays !== null
      ? CALENDAR_HORIZON_DAYS
      : 7 * compiled.interval + 8;
  let lastDay = startDay + calendarBound;
  if (Number.isFinite(end))
    lastDay = Math.min(lastDay, Math.floor(wallOf(timeZone, end) / DAY_MS) + 1);

  let day = startDay;
  while (day <= lastDay) {
    const date = new Date(day * DAY_MS);
    if (compiled.frequency === "monthly") {
      const month = date.getUTCFullYear() * 12 + date.getUTCMonth();
      if (!inStep(month, compiled.anchorMonth, compiled.interval)) {
        day = Math.floor(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / DAY_MS);
        continue;
      }
    } else if (compiled.frequency === "weekly") {
      if (!inStep(weekOfDay(day), compiled.anchorWeek, compiled.interval)) {
        day += 7 - weekdayOfDay(day);
        continue;
      }
    } else if (compiled.frequency === "daily") {
      if (!inStep(day, compiled.anchorDay, compiled.interval)) {
        day += 1;
        continue;
      }
    }
    const dayMatches =
      (compiled.weekdays === null || compiled.weekdays.has(weekdayOfDay(day))) &&
      (compiled.monthDays === null || compiled.monthDays.has(date.getUTCDate()));
    if (dayMatches) {
      for (const hour of compiled.hours ?? EVERY_HOUR) {
        if (
          compiled.frequency === "hourly" &&
          !inStep(day * 24 + hour, compiled.anchorHour, compiled.interval)
        ) {
          continue;
        }
        for (const minute of compiled.minutes) {
          const wall = day * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS;
          if (wall < startWall - WALL_SLACK_MS) continue;
          const instant = resolveWall(timeZone, wall);
          if (instant < lower) continue;
          return instant > end ? null : new Date(instant);
        }
      }
    }
    day += 1;
  }
  return null;
}

/**
 * The occurrences of `rule` from `start` (inclusive) on, in order, at most `limit` of them and none
 * after `endingAt`; `start` is also the anchor. A convenience over {@link nextOccurrence}.
 */
export function occurrences(
  rule: RepeatRule,
  timeZone: string,
  start: Date,
  limit: number,
  endingAt: Date | null = null,
): Date[] {
  const out: Date[] = [];
  let next = nextOccurrence(rule, timeZone, start, { notBefore: start, anchor: start, endingAt });
  while (next && out.length < limit) {
    out.push(next);
    next = nextOccurrence(rule, timeZone, next, { anchor: start, endingAt });
  }
  return out;
}
