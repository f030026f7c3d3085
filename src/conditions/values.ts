/**
 * Value coercions shared by the condition operators: numbers, timestamps, loose equality,
 * ordering, emptiness.
 *
 * @module
 */

/** @internal Milliseconds in a day. */
export const DAY_MS = 86_400_000;

const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM`, `HH:MM:SS` or
 * `HH:MM:SS.fraction`, optionally followed by `Z` or an offset (`+02:00`, `+0200`, `+02`).
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && (year % 4 === 0 ? year % 100 !== 0 || year % 400 === 0 : false)) return 29;
  return DAYS_IN_MONTH[month - 1] ?? 0;
}

/**
 * @internal Parses an ISO-8601 timestamp (or date) into epoch milliseconds. A date alone is
 * midnight UTC; a date-time without a zone is read as UTC. Undefined when not a valid timestamp.
 */
export function parseTimestamp(text: string): number | undefined {
  if (text.length < 10 || text.charCodeAt(4) !== 45 /* - */) return undefined;
  const m = ISO_8601.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  let offset = 0;
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = m[11] === undefined ? 0 : Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offset = (offsetHours * 60 + offsetMinutes) * 60_000 * (m[9] === "-" ? -1 : 1);
  }
  let time = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (year < 100) {
    // Date.UTC maps years 0-99 to 1900-1999.
    const date = new Date(time);
    date.setUTCFullYear(year);
    time = date.getTime();
  }
  return time - offset;
}

/**
 * @internal A timestamp value as epoch milliseconds: a valid `Date` or an ISO-8601 string; with
 * `numbers`, also a finite number (epoch milliseconds). Undefined for anything else.
 */
export function toInstant(value: unknown, numbers: boolean): number | undefined {
  if (typeof value === "string") return parseTimestamp(value);
  if (typeof value === "number") return numbers && Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) {
    const time = value.getTime();
    return Number.isNaN(time) ? undefined : time;
  }
  return undefined;
}

/** @internal True for a valid `Date` or an ISO-8601 timestamp string (numbers are not). */
export function isTimestamp(value: unknown): boolean {
  return toInstant(value, false) !== undefined;
}

/** @internal A number, or a numeric string as a number; NaN for anything else. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && NUMERIC.test(value)) return Number(value);
  return Number.NaN;
}

/** @internal True for plain objects (not arrays, not null, not class instances). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * @internal Equality as conditions use it: strict equality, plus a number equals its numeric
 * string (`5` and `"5"`), a boolean equals its string (`true` and `"true"`), a `Date` equals
 * the same instant as an ISO string, and arrays and plain objects compare deeply.
 */
export function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if (ta === "string") {
    if (tb === "number") return toNumber(a) === b;
    if (tb === "boolean") return a === (b ? "true" : "false");
  } else if (tb === "string") {
    if (ta === "number") return toNumber(b) === a;
    if (ta === "boolean") return b === (a ? "true" : "false");
  }
  if (a instanceof Date || b instanceof Date) {
    const ia = toInstant(a, false);
    return ia !== undefined && ia === toInstant(b, false);
  }
  if (ta !== "object" || tb !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!looseEqual(a[i], b[i])) return false;
    return true;
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !looseEqual(a[key], b[key])) return false;
  }
  return true;
}

/**
 * @internal Orders `value` against an argument whose number and instant forms are already known
 * (`toNumber(arg)`, `toInstant(arg, false)`): numbers (numeric strings included) numerically,
 * then timestamps as instants, then strings by code unit. NaN when they cannot be compared.
 */
export function orderAgainst(
  value: unknown,
  arg: unknown,
  argNumber: number,
  argInstant: number | undefined,
): number {
  if (!Number.isNaN(argNumber)) {
    const n = toNumber(value);
    if (!Number.isNaN(n)) return n < argNumber ? -1 : n > argNumber ? 1 : 0;
  }
  if (argInstant !== undefined) {
    const t = toInstant(value, false);
    if (t !== undefined) return t < argInstant ? -1 : t > argInstant ? 1 : 0;
  }
  if (typeof value === "string" && typeof arg === "string") {
    return value < arg ? -1 : value > arg ? 1 : 0;
  }
  return Number.NaN;
}

/** @internal {@link orderAgainst} for an argument only known at run time. */
export function order(value: unknown, arg: unknown): number {
  return orderAgainst(value, arg, toNumber(arg), toInstant(arg, false));
}

/** @internal `""`, null, undefined (missing), `[]` and `{}` are empty. */
export function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) {
    for (const key in value) if (Object.hasOwn(value, key)) return false;
    return true;
  }
  return false;
}

/** @internal A string form of a scalar for substring checks; undefined for non-scalars. */
export function scalarText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    default:
      return undefined;
  }
}

/** @internal True when some item of `list` loosely equals `item`. */
export function listHas(list: readonly unknown[], item: unknown): boolean {
  for (let i = 0; i < list.length; i++) if (looseEqual(list[i], item)) return true;
  return false;
}

/**
 * @internal `contains`: a string contains a substring (a list argument: any of its items); a
 * list contains an item (a list argument: any of its items). Anything else contains nothing.
 */
export function containsValue(value: unknown, arg: unknown): boolean {
  if (typeof value === "string") {
    if (Array.isArray(arg)) {
      for (let i = 0; i < arg.length; i++) {
        const text = scalarText(arg[i]);
        if (text !== undefined && value.includes(text)) return true;
      }
      return false;
    }
    const text = scalarText(arg);
    return text !== undefined && value.includes(text);
  }
  if (Array.isArray(value)) {
    if (Array.isArray(arg)) {
      for (let i = 0; i < arg.length; i++) if (listHas(value, arg[i])) return true;
      return false;
    }
    return listHas(value, arg);
  }
  return false;
}

/**
 * @internal `contains_all`: every item of `items` is in the list `value` (or is a substring of
 * the string `value`). Anything else contains nothing.
 */
export function containsEvery(value: unknown, items: readonly unknown[]): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < items.length; i++) if (!listHas(value, items[i])) return false;
    return true;
  }
  if (typeof value === "string") {
    for (let i = 0; i < items.length; i++) {
      const text = scalarText(items[i]);
      if (text === undefined || !value.includes(text)) return false;
    }
    return true;
  }
  return false;
}

/**
 * @internal A short, readable rendering of a value for explanations: JSON (strings quoted),
 * dates as ISO strings, truncated past 120 characters.
 */
export function formatValue(value: unknown): string {
  let text: string;
  if (value === undefined) text = "undefined";
  else if (value instanceof Date)
    text = Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  else if (typeof value === "bigint") text = `${value}`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}
