/**
 * Condition arguments decoded once, at compile time: static values, dynamic paths
 * (`actor.id`, `{{ data.x }}`), relative timestamps and message-status cases (`$message.sent`).
 *
 * @module
 */

import { compilePath, type PathReader } from "./path.js";

/**
 * The prefixes that make a string argument dynamic: an argument starting with one of them is a
 * path read from the scope at evaluation time (`"actor.id"`, `"data.owner_id"`).
 */
export const DYNAMIC_PREFIXES: readonly string[] = Object.freeze([
  "data.",
  "recipient.",
  "actor.",
  "tenant.",
  "vars.",
  "workflow.",
  "refs.",
  "run.",
]);

/** A `{{ path }}` argument: a single Liquid variable, no filters. */
const LIQUID_VARIABLE = /^\{\{\s*([^\s{}|]+)\s*\}\}$/;

/** @internal True when a string argument names a path (a dynamic prefix). */
export function isDynamicPath(text: string): boolean {
  for (const prefix of DYNAMIC_PREFIXES) if (text.startsWith(prefix)) return true;
  return false;
}

/** @internal The path inside a `{{ path }}` argument, or undefined. */
export function liquidPath(text: string): string | undefined {
  return LIQUID_VARIABLE.exec(text)?.[1];
}

/**
 * Knock's combined delivery and engagement status hierarchy, lowest first. `interacted` and
 * `link_clicked` share a rank. A missing status (the step was skipped, no message) ranks -1.
 */
export const MESSAGE_STATUS_RANKS: ReadonlyMap<string, number> = new Map([
  ["undelivered", 0],
  ["bounced", 1],
  ["delivery_attempted", 2],
  ["queued", 3],
  ["not_sent", 4],
  ["sent", 5],
  ["delivered", 6],
  ["seen", 7],
  ["read", 8],
  ["interacted", 9],
  ["link_clicked", 9],
  ["archived", 10],
]);

/** @internal The rank of "no message" (`$message.skipped`, a missing or empty status). */
export const NO_MESSAGE_RANK = -1;

const MESSAGE_PREFIX = "$message.";

/** @internal A compiled argument. */
export type CompiledArgument =
  | { readonly kind: "none" }
  | { readonly kind: "static"; readonly value: unknown }
  | {
      readonly kind: "path";
      readonly path: string;
      readonly read: PathReader;
      /** How the argument was written: `actor.id` or `{{ actor.id }}`. */
      readonly written: string;
    }
  | {
      readonly kind: "message";
      /** The status case (`sent`, `skipped`, `seen_not_read`, …). */
      readonly status: string;
      /** Rank for ordered and equality operators; undefined for `X_not_Y` cases. */
      readonly rank: number | undefined;
      /** For `contains`: the status that must be present (undefined for `skipped`). */
      readonly include: string | undefined;
      /** For `contains`: the status that must be absent (`X_not_Y` cases). */
      readonly exclude: string | undefined;
    }
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * @internal Decodes a static string: JSON when it parses (`"5"` → 5, `'["a"]'` → list), else
 * the string itself. Integers too large to be exact stay strings.
 */
export function decodeStatic(text: string): unknown {
  const first = text.trimStart()[0];
  if (first === undefined) return text;
  // Only attempt JSON where it can succeed, to keep plain words cheap.
  if (!'{["-0123456789tfn'.includes(first) && first !== '"') return text;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      return text;
    }
    return value;
  } catch {
    return text;
  }
}

/** @internal Parses a `$message.<case>` argument; undefined when the string is not one. */
export function messageArgument(text: string): CompiledArgument | undefined {
  if (!text.startsWith(MESSAGE_PREFIX)) return undefined;
  const status = text.slice(MESSAGE_PREFIX.length);
  if (status === "skipped") {
    return {
      kind: "message",
      status,
      rank: NO_MESSAGE_RANK,
      include: undefined,
      exclude: undefined,
    };
  }
  const rank = MESSAGE_STATUS_RANKS.get(status);
  if (rank !== undefined) {
    return { kind: "message", status, rank, include: status, exclude: undefined };
  }
  const split = status.indexOf("_not_");
  if (split > 0) {
    const include = status.slice(0, split);
    const exclude = status.slice(split + 5);
    if (MESSAGE_STATUS_RANKS.has(include) && MESSAGE_STATUS_RANKS.has(exclude)) {
      return { kind: "message", status, rank: undefined, include, exclude };
    }
  }
  return {
    kind: "invalid",
    reason: `unknown message status "${text}"; expected $message.skipped or $message.<status> with one of ${[...MESSAGE_STATUS_RANKS.keys()].join(", ")}`,
  };
}

/**
 * @internal Compiles an argument: a string with a dynamic prefix or `{{ path }}` reads the
 * scope; `$message.<case>` is a message-status case; other strings are JSON-decoded when they
 * can be; non-strings are static as they are. `undefined` means no argument.
 */
export function compileArgument(argument: unknown): CompiledArgument {
  if (argument === undefined) return { kind: "none" };
  if (typeof argument !== "string") return { kind: "static", value: argument };
  if (isDynamicPath(argument)) {
    return { kind: "path", path: argument, read: compilePath(argument), written: argument };
  }
  const liquid = liquidPath(argument);
  if (liquid !== undefined) {
    return { kind: "path", path: liquid, read: compilePath(liquid), written: argument };
  }
  const message = messageArgument(argument);
  if (message !== undefined) return message;
  return { kind: "static", value: decodeStatic(argument) };
}

/** Units a relative timestamp may use, in milliseconds. */
const UNIT_MS: ReadonlyMap<string, number> = new Map([
  ["second", 1000],
  ["seconds", 1000],
  ["minute", 60_000],
  ["minutes", 60_000],
  ["hour", 3_600_000],
  ["hours", 3_600_000],
  ["day", 86_400_000],
  ["days", 86_400_000],
  ["week", 604_800_000],
  ["weeks", 604_800_000],
]);

/** Direction words: +1 is the future, -1 the past. */
const DIRECTIONS: ReadonlyMap<string, 1 | -1> = new Map([
  ["from_now", 1],
  ["from now", 1],
  ["ago", -1],
]);

/** `15 minutes ago`, `2 days from now`, `1 week from_now`. */
const RELATIVE_TEXT = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s+(ago|from[ _]now)\s*$/i;

/** @internal A relative timestamp: an offset from `now` in milliseconds and how it was written. */
export interface RelativeTime {
  offsetMs: number;
  label: string;
}

/** @internal The accepted relative units and directions, for messages. */
export const RELATIVE_UNITS: readonly string[] = ["minutes", "hours", "days", "weeks", "seconds"];

/** @internal The accepted relative directions, for messages. */
export const RELATIVE_DIRECTIONS: readonly string[] = ["from_now", "ago"];

/** @internal True for an object that looks like a relative timestamp (has `unit` or `value`). */
export function looksRelative(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    (Object.hasOwn(value, "unit") || Object.hasOwn(value, "value"))
  );
}

/**
 * @internal Reads a relative timestamp: `{ value, unit, direction? }` (direction `from_now` or
 * `ago`; without one, the value's sign decides: negative is the past) or a string like
 * `"15 minutes ago"`. Returns a reason string when the shape is wrong, undefined when the value
 * is not relative at all.
 */
export function parseRelative(value: unknown): RelativeTime | string | undefined {
  if (typeof value === "string") {
    const m = RELATIVE_TEXT.exec(value);
    if (m === null) return undefined;
    const unitMs = UNIT_MS.get(m[2]!.toLowerCase());
    if (unitMs === undefined)
      return `unknown unit "${m[2]}"; expected one of ${RELATIVE_UNITS.join(", ")}`;
    const sign = m[3]!.toLowerCase() === "ago" ? -1 : 1;
    return { offsetMs: sign * Number(m[1]) * unitMs, label: value.trim() };
  }
  if (!looksRelative(value)) return undefined;
  const amount = typeof value.value === "string" ? Number(value.value) : value.value;
  if (
    typeof amount !== "number" ||
    !Number.isFinite(amount) ||
    (typeof value.value === "string" && value.value.trim() === "")
  ) {
    return "a relative timestamp needs a finite number `value`";
  }
  const unit = value.unit;
  const unitMs = typeof unit === "string" ? UNIT_MS.get(unit) : undefined;
  if (unitMs === undefined) {
    return `a relative timestamp needs \`unit\` to be one of ${RELATIVE_UNITS.join(", ")}`;
  }
  let sign: 1 | -1 = 1;
  const direction = value.direction;
  if (direction !== undefined && direction !== null) {
    const found = typeof direction === "string" ? DIRECTIONS.get(direction) : undefined;
    if (found === undefined) {
      return `a relative timestamp's \`direction\` must be one of ${RELATIVE_DIRECTIONS.join(", ")}`;
    }
    sign = found;
  }
  const magnitude = direction === undefined || direction === null ? amount : Math.abs(amount);
  const offsetMs = sign * magnitude * unitMs;
  const past = offsetMs < 0;
  const label = `${Math.abs(amount)} ${unit} ${past ? "ago" : "from now"}`;
  return { offsetMs, label };
}
