/**
 * Time windows in recipient time: the delay step's window rule (`{ frequency, days?, hours?,
 * minutes?, day_of_month? }`, "delay until Monday at 9am") and a channel step's send windows.
 *
 * Both are evaluated on local wall-clock time in the recipient's timezone, with the
 * daylight-saving rules of `repeat.ts`: a local time that does not exist resolves to the moment
 * the clocks jump past it, and one that exists twice to its first occurrence.
 *
 * @module
 */
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import type { SendWindow } from "../workflows/types.js";
import {
  assertTimeZone,
  nextOccurrence,
  type RepeatRule,
  validateRepeatRule,
  zoned,
} from "./repeat.js";

/**
 * The delay step's window rule: the first instant at or after `from` that matches `rule` in
 * `timeZone` (the rule's `interval` counts from `from`). Returns null when the rule is not a valid
 * window rule (the step is then skipped as an invalid dynamic window) or never matches.
 *
 * @throws {InvalidParamsError} when `timeZone` is not a valid timezone.
 */
export function nextWindowInstant(rule: unknown, timeZone: string, from: Date): Date | null {
  assertTimeZone(timeZone);
  if (validateRepeatRule(rule, "window").length > 0) return null;
  return nextOccurrence(rule as RepeatRule, timeZone, from, { notBefore: from, anchor: from });
}

const WEEKDAYS: readonly SendWindow["day"][] = [
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
];

const TIME_PATTERN = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/;

/**
 * Parses a send window's `HH:MM` or ISO-8601 time-only `HH:MM:SS[.ffffff]` into ms after local
 * midnight; `24:00` (and `24:00:00`) is the end of the day. Returns null when malformed.
 */
export function parseTimeOfDay(value: string): number | null {
  const match = TIME_PATTERN.exec(value);
  if (!match) return null;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  const seconds = Number(match[3] ?? 0);
  const millis = Math.floor(Number(`0.${match[4] ?? "0"}`) * 1000);
  if (minutes > 59 || seconds > 59) return null;
  if (hours === 24) return minutes === 0 && seconds === 0 && millis === 0 ? zoned.DAY_MS : null;
  if (hours > 23) return null;
  return hours * zoned.HOUR_MS + minutes * zoned.MINUTE_MS + seconds * 1000 + millis;
}

/**
 * Validates a channel step's `send_windows` and returns the issues, none when valid. Fields are
 * named under `path` (e.g. `steps[1].send_windows[0].from`). Each entry needs a `day` (monday …
 * sunday, at most one entry per day) and a `type` (send | do_not_send); `from`/`until` are
 * `HH:MM` or `HH:MM:SS` times with `from` before `until`. Fewer than 7 entries is allowed: an
 * unlisted day allows sending all day.
 */
export function validateSendWindows(windows: unknown, path: string): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(windows)) {
    issues.push({ field: path, message: "must be a list of send windows", type: "array" });
    return issues;
  }
  const firstDayAt = new Map<string, number>();
  windows.forEach((window: unknown, index) => {
    const at = `${path}[${index}]`;
    if (typeof window !== "object" || window === null || Array.isArray(window)) {
      issues.push({
        field: at,
        message: 'must be an object such as { "day": "monday", "type": "send" }',
        type: "object",
      });
      return;
    }
    const { day, type, from, until } = window as Record<string, unknown>;
    if (typeof day !== "string" || !(WEEKDAYS as readonly string[]).includes(day)) {
      issues.push({
        field: `${at}.day`,
        message: `must be one of ${WEEKDAYS.join(", ")}`,
        type: day === undefined ? "required" : "enum",
      });
    } else if (firstDayAt.has(day)) {
      issues.push({
        field: `${at}.day`,
        message: `expected one send window per day, received a second "${day}" (the first is ${path}[${firstDayAt.get(day)}]); merge the two into one`,
        type: "unique",
      });
    } else firstDayAt.set(day, index);
    if (type !== "send" && type !== "do_not_send") {
      issues.push({
        field: `${at}.type`,
        message: "must be send or do_not_send",
        type: type === undefined ? "required" : "enum",
      });
    }
    const bounds: Array<number | null> = [];
    for (const [key, value] of [
      ["from", from],
      ["until", until],
    ] as const) {
      if (value === undefined || value === null) {
        bounds.push(null);
        continue;
      }
      const parsed = typeof value === "string" ? parseTimeOfDay(value) : null;
      if (parsed === null) {
        issues.push({
          field: `${at}.${key}`,
          message: `must be a local time as HH:MM or HH:MM:SS, received ${JSON.stringify(value)}`,
          type: "format",
        });
      }
      bounds.push(parsed);
    }
    const [start, end] = bounds;
    if (type === "send" && start != null && end != null && start >= end) {
      issues.push({
        field: `${at}.until`,
        message: `expected a time later than from (${JSON.stringify(from)}), received ${JSON.stringify(until)}; a window cannot span midnight: end it at 24:00 and open the next day's at 00:00`,
        type: "range",
      });
    }
  });
  return issues;
}

interface DayRule {
  /** ms after local midnight the day opens, inclusive. */
  open: number;
  /** ms after local midnight the day closes, exclusive. */
  close: number;
}

const ALL_DAY: DayRule = { open: 0, close: zoned.DAY_MS };

/**
 * A channel step's send windows, compiled once: given a timezone and an instant, the instant
 * itself when sending is allowed then, else the next instant it is (null: never).
 */
export type SendWindowSchedule = (timeZone: string, at: Date) => Date | null;

/**
 * Compiles send windows (validated first) into a {@link SendWindowSchedule}. Workflows compile
 * their channel steps' windows once, at upsert.
 *
 * @throws {InvalidParamsError} when the windows fail {@link validateSendWindows}.
 */
export function compileSendWindows(windows: readonly SendWindow[]): SendWindowSchedule {
  const issues = validateSendWindows(windows, "send_windows");
  if (issues.length > 0) throw new InvalidParamsError("Expected valid send windows.", issues);
  // One rule per weekday (0 = Monday): the allowed span, or null when the day is blocked.
  const rules: Array<DayRule | null> = WEEKDAYS.map(() => ALL_DAY);
  for (const window of windows) {
    const index = WEEKDAYS.indexOf(window.day);
    rules[index] =
      window.type === "do_not_send"
        ? null
        : {
            open: window.from ? (parseTimeOfDay(window.from) ?? 0) : 0,
            close: window.until ? (parseTimeOfDay(window.until) ?? zoned.DAY_MS) : zoned.DAY_MS,
          };
  }
  return (timeZone, at) => nextAllowed(rules, timeZone, at);
}

/** The first instant at or after `notBefore` whose wall time is `wall` (gap: the jump). */
function instantOfWallFrom(timeZone: string, wall: number, notBefore: number): number {
  for (const instant of zoned.instantsOfWall(timeZone, wall)) {
    if (instant >= notBefore) return instant;
  }
  return Math.max(zoned.resolveWall(timeZone, wall), notBefore);
}

/**
 * A channel step's send windows, evaluated at `at` on the recipient's local wall-clock time:
 * returns `at` when sending is allowed then, else the next instant it is, or null when the windows
 * block every day. An unlisted day allows sending all day; a `send` window allows `from`
 * (inclusive, default 00:00) until `until` (exclusive, default the end of the day); a
 * `do_not_send` window blocks the whole day. No window spans midnight: a day's window only covers
 * that local date. A convenience over {@link compileSendWindows}.
 *
 * @throws {InvalidParamsError} when `timeZone` is invalid or the windows fail
 * {@link validateSendWindows}.
 */
export function nextSendInstant(
  windows: readonly SendWindow[],
  timeZone: string,
  at: Date,
): Date | null {
  return compileSendWindows(windows)(timeZone, at);
}

function nextAllowed(
  rules: ReadonlyArray<DayRule | null>,
  timeZone: string,
  at: Date,
): Date | null {
  assertTimeZone(timeZone);
  const atMs = at.getTime();
  const wall = zoned.wallOf(timeZone, atMs);
  const today = Math.floor(wall / zoned.DAY_MS);
  const timeOfDay = wall - today * zoned.DAY_MS;
  for (let offset = 0; offset <= 7; offset += 1) {
    const day = today + offset;
    const rule = rules[zoned.weekdayOfDay(day)];
    if (!rule || rule.open >= rule.close) continue;
    if (offset === 0) {
      if (timeOfDay >= rule.close) continue;
      if (timeOfDay >= rule.open) return at;
    }
    const opens = instantOfWallFrom(timeZone, day * zoned.DAY_MS + rule.open, atMs);
    // A window lying wholly inside a spring-forward gap never opens that day.
    if (zoned.wallOf(timeZone, opens) - day * zoned.DAY_MS >= rule.close) continue;
    return new Date(opens);
  }
  return null;
}
