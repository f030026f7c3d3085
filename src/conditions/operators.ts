/**
 * The condition operators: each condition is compiled once into a test closure that does no
 * parsing when it runs.
 *
 * @module
 */

import {
  type CompiledArgument,
  compileArgument,
  MESSAGE_STATUS_RANKS,
  NO_MESSAGE_RANK,
  parseRelative,
} from "./arguments.js";
import { compileSegments, type PathReader, parsePath, readOwn } from "./path.js";
import type { ConditionOperator, ConditionScope } from "./types.js";
import {
  containsEvery,
  containsValue,
  DAY_MS,
  formatValue,
  isEmpty,
  isPlainObject,
  isTimestamp,
  looseEqual,
  order,
  orderAgainst,
  toInstant,
  toNumber,
} from "./values.js";

/** Every operator the condition engine evaluates, in Knock's order. */
export const CONDITION_OPERATORS: readonly ConditionOperator[] = Object.freeze([
  "equal_to",
  "not_equal_to",
  "greater_than",
  "greater_than_or_equal_to",
  "less_than",
  "less_than_or_equal_to",
  "contains",
  "not_contains",
  "contains_all",
  "not_contains_all",
  "empty",
  "not_empty",
  "exists",
  "not_exists",
  "is_timestamp",
  "is_not_timestamp",
  "is_timestamp_before",
  "is_timestamp_on_or_after",
  "is_timestamp_between",
  "is_timestamp_before_now",
  "is_timestamp_on_or_after_now",
  "is_timestamp_before_date",
  "is_timestamp_on_or_after_date",
  "is_between",
  "is_in_random_cohort",
] satisfies ConditionOperator[]);

const OPERATOR_SET: ReadonlySet<string> = new Set(CONDITION_OPERATORS);

/** @internal True when `name` is a known operator. */
export function isConditionOperator(name: unknown): name is ConditionOperator {
  return typeof name === "string" && OPERATOR_SET.has(name);
}

/**
 * @internal What argument an operator takes:
 * - `none`: no argument (it is ignored);
 * - `value`, `ordered`, `contains`, `contains_all`: any value (a `$message.<case>` too);
 * - `timestamp`: an instant (ISO-8601, epoch milliseconds, a path, or relative);
 * - `timestamp_pair`: `[start, end]`, not relative;
 * - `number_pair`: `[min, max]`;
 * - `percentage`: 0 to 100.
 */
export type ArgumentRule =
  | "none"
  | "value"
  | "ordered"
  | "contains"
  | "contains_all"
  | "timestamp"
  | "timestamp_pair"
  | "number_pair"
  | "percentage";

/** @internal The argument each operator takes. */
export const OPERATOR_ARGUMENTS: Readonly<Record<ConditionOperator, ArgumentRule>> = {
  equal_to: "value",
  not_equal_to: "value",
  greater_than: "ordered",
  greater_than_or_equal_to: "ordered",
  less_than: "ordered",
  less_than_or_equal_to: "ordered",
  contains: "contains",
  not_contains: "contains",
  contains_all: "contains_all",
  not_contains_all: "contains_all",
  empty: "none",
  not_empty: "none",
  exists: "none",
  not_exists: "none",
  is_timestamp: "none",
  is_not_timestamp: "none",
  is_timestamp_before: "timestamp",
  is_timestamp_on_or_after: "timestamp",
  is_timestamp_between: "timestamp_pair",
  is_timestamp_before_now: "none",
  is_timestamp_on_or_after_now: "none",
  is_timestamp_before_date: "timestamp",
  is_timestamp_on_or_after_date: "timestamp",
  is_between: "number_pair",
  is_in_random_cohort: "percentage",
};

/** @internal A compiled test. */
export type ConditionTest = (scope: ConditionScope, now: Date) => boolean;

/** @internal One condition, compiled: its test plus what an explanation needs. */
export interface CompiledLeaf {
  readonly variable: string;
  readonly operator: string;
  readonly argument: unknown;
  /** Why the condition is malformed (its test is then always false). */
  readonly error: string | undefined;
  /** Reads the variable's raw value (undefined when missing). */
  readonly read: PathReader;
  readonly test: ConditionTest;
  /** The argument as evaluated. */
  readonly resolve: (scope: ConditionScope, now: Date) => unknown;
  /** How the argument is shown in text (undefined: no argument). */
  readonly argumentText: string | undefined;
  /** Extra facts for the text: a dynamic argument's value, the highest message status, … */
  readonly details: (scope: ConditionScope, now: Date) => string[];
}

const ALWAYS_FALSE: ConditionTest = () => false;
const NO_DETAILS = (): string[] => [];
const MISSING: PathReader = () => undefined;

/** @internal A condition that cannot be compiled: always false, with `error` saying why. */
export function invalidLeaf(
  condition: Record<string, unknown> | undefined,
  reason: string,
): CompiledLeaf {
  const variable = condition && typeof condition.variable === "string" ? condition.variable : "";
  return {
    variable,
    operator: condition && typeof condition.operator === "string" ? condition.operator : "",
    argument: condition ? readOwn(condition, "argument") : undefined,
    error: reason,
    read: variable === "" ? MISSING : compileSegments(parsePath(variable)),
    test: ALWAYS_FALSE,
    resolve: () => undefined,
    argumentText: undefined,
    details: NO_DETAILS,
  };
}

/** What an operator builder returns; `resolve` and `details` default from the argument. */
interface Built {
  test: ConditionTest;
  resolve?: (scope: ConditionScope, now: Date) => unknown;
  details?: (scope: ConditionScope, now: Date) => string[];
}

/**
 * @internal Compiles one condition. Never throws: a malformed condition compiles to a test that
 * is always false, and its `error` says why.
 */
export function compileLeaf(input: unknown): CompiledLeaf {
  if (!isPlainObject(input)) {
    return invalidLeaf(
      undefined,
      `expected a condition { variable, operator, argument? }, received ${formatValue(input)}`,
    );
  }
  const variable = readOwn(input, "variable");
  const operator = readOwn(input, "operator");
  const argument = readOwn(input, "argument");
  if (typeof variable !== "string" || variable === "") {
    return invalidLeaf(input, "the condition has no variable");
  }
  if (!isConditionOperator(operator)) {
    return invalidLeaf(input, `unknown operator ${formatValue(operator)}`);
  }
  const segments = parsePath(variable);
  const read = compileSegments(segments);
  const arg = compileArgument(argument);
  const built = build(operator, read, segments, arg);
  if (typeof built === "string") return invalidLeaf(input, built);
  return {
    variable,
    operator,
    argument,
    error: undefined,
    read,
    test: built.test,
    resolve: built.resolve ?? defaultResolve(arg),
    argumentText:
      OPERATOR_ARGUMENTS[operator] === "none"
        ? undefined
        : arg.kind === "path"
          ? arg.written
          : formatValue(argument),
    details: built.details ?? defaultDetails(arg),
  };
}

function defaultResolve(arg: CompiledArgument): (scope: ConditionScope) => unknown {
  switch (arg.kind) {
    case "static":
      return () => arg.value;
    case "path":
      return (scope) => orEmpty(arg.read(scope));
    case "message":
      return () => arg.status;
    default:
      return () => undefined;
  }
}

function defaultDetails(arg: CompiledArgument): (scope: ConditionScope) => string[] {
  if (arg.kind !== "path") return NO_DETAILS;
  return (scope) => [describeRead(arg.path, arg.read(scope))];
}

/** @internal `path = value`, or `path is not set`. */
export function describeRead(path: string, value: unknown): string {
  return value === undefined ? `${path} is not set` : `${path} = ${formatValue(value)}`;
}

/** A missing value compares as `""` (Knock's fallback). */
function orEmpty(value: unknown): unknown {
  return value === undefined ? "" : value;
}

function needsArgument(arg: CompiledArgument): string | undefined {
  if (arg.kind === "none") return "this operator needs an argument";
  if (arg.kind === "invalid") return arg.reason;
  return undefined;
}

function build(
  operator: ConditionOperator,
  read: PathReader,
  segments: readonly string[],
  arg: CompiledArgument,
): Built | string {
  switch (operator) {
    case "equal_to":
    case "not_equal_to":
      return buildEquality(operator === "not_equal_to", read, segments, arg);
    case "greater_than":
      return buildOrdered((c) => c > 0, read, segments, arg);
    case "greater_than_or_equal_to":
      return buildOrdered((c) => c >= 0, read, segments, arg);
    case "less_than":
      return buildOrdered((c) => c < 0, read, segments, arg);
    case "less_than_or_equal_to":
      return buildOrdered((c) => c <= 0, read, segments, arg);
    case "contains":
    case "not_contains":
      return buildContains(operator === "not_contains", read, segments, arg);
    case "contains_all":
    case "not_contains_all":
      return buildContainsAll(operator === "not_contains_all", read, arg);
    case "empty":
      return { test: (scope) => isEmpty(read(scope)) };
    case "not_empty":
      return { test: (scope) => !isEmpty(read(scope)) };
    case "exists":
      return { test: (scope) => read(scope) != null };
    case "not_exists":
      return { test: (scope) => read(scope) == null };
    case "is_timestamp":
      return { test: (scope) => isTimestamp(read(scope)) };
    case "is_not_timestamp":
      return { test: (scope) => !isTimestamp(read(scope)) };
    case "is_timestamp_before":
      return buildInstant(read, arg, (v, a) => v < a);
    case "is_timestamp_on_or_after":
      return buildInstant(read, arg, (v, a) => v >= a);
    case "is_timestamp_before_date":
      return buildInstant(read, arg, (v, a) => Math.floor(v / DAY_MS) < Math.floor(a / DAY_MS));
    case "is_timestamp_on_or_after_date":
      return buildInstant(read, arg, (v, a) => Math.floor(v / DAY_MS) >= Math.floor(a / DAY_MS));
    case "is_timestamp_before_now":
      return buildNow(read, true);
    case "is_timestamp_on_or_after_now":
      return buildNow(read, false);
    case "is_timestamp_between":
      return buildTimestampBetween(read, arg);
    case "is_between":
      return buildNumberBetween(read, arg);
    case "is_in_random_cohort":
      return buildCohort(read, arg);
  }
}

// ---------------------------------------------------------------------------------------------
// Message statuses

/** The rank of a status value: a status string, or the highest of a list; -1 for none. */
function rankOf(value: unknown): number {
  if (typeof value === "string") return MESSAGE_STATUS_RANKS.get(value) ?? NO_MESSAGE_RANK;
  if (Array.isArray(value)) {
    let best = NO_MESSAGE_RANK;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const rank =
        typeof item === "string"
          ? (MESSAGE_STATUS_RANKS.get(item) ?? NO_MESSAGE_RANK)
          : NO_MESSAGE_RANK;
      if (rank > best) best = rank;
    }
    return best;
  }
  return NO_MESSAGE_RANK;
}

const STATUS_FIELDS = new Set(["delivery_status", "engagement_status"]);

/**
 * A reader of a message's highest status rank. For `refs.<ref>.delivery_status` and
 * `refs.<ref>.engagement_status` it is the highest of the delivery status and every engagement
 * status (Knock's combined hierarchy); for any other variable, the rank of its value.
 */
function rankReader(
  read: PathReader,
  segments: readonly string[],
): (scope: ConditionScope) => number {
  const last = segments[segments.length - 1];
  if (segments.length < 2 || last === undefined || !STATUS_FIELDS.has(last)) {
    return (scope) => rankOf(read(scope));
  }
  const parent = compileSegments(segments.slice(0, -1));
  return (scope) => {
    const message = parent(scope);
    const delivery = rankOf(readOwn(message, "delivery_status"));
    const engagement = rankOf(readOwn(message, "engagement_status"));
    return Math.max(delivery, engagement);
  };
}

const STATUS_BY_RANK = new Map<number, string>();
for (const [status, rank] of MESSAGE_STATUS_RANKS)
  if (!STATUS_BY_RANK.has(rank)) STATUS_BY_RANK.set(rank, status);

function rankDetails(rank: (scope: ConditionScope) => number): (scope: ConditionScope) => string[] {
  return (scope) => [
    `highest message status = ${STATUS_BY_RANK.get(rank(scope)) ?? "none (no message)"}`,
  ];
}

function hasStatus(value: unknown, status: string): boolean {
  if (Array.isArray(value)) return value.includes(status);
  return value === status;
}

// ---------------------------------------------------------------------------------------------
// Builders

function buildEquality(
  negate: boolean,
  read: PathReader,
  segments: readonly string[],
  arg: CompiledArgument,
): Built | string {
  const missing = needsArgument(arg);
  if (missing) return missing;
  if (arg.kind === "message") {
    const target = arg.rank;
    if (target === undefined)
      return `${formatValue(`$message.${arg.status}`)} only works with contains or not_contains`;
    const rank = rankReader(read, segments);
    return {
      test: negate ? (scope) => rank(scope) !== target : (scope) => rank(scope) === target,
      details: rankDetails(rank),
    };
  }
  if (arg.kind === "static") {
    const expected = arg.value;
    return {
      test: negate
        ? (scope) => !looseEqual(orEmpty(read(scope)), expected)
        : (scope) => looseEqual(orEmpty(read(scope)), expected),
    };
  }
  if (arg.kind !== "path") return "this operator needs an argument";
  const other = arg.read;
  return {
    test: negate
      ? (scope) => !looseEqual(orEmpty(read(scope)), orEmpty(other(scope)))
      : (scope) => looseEqual(orEmpty(read(scope)), orEmpty(other(scope))),
  };
}

function buildOrdered(
  holds: (comparison: number) => boolean,
  read: PathReader,
  segments: readonly string[],
  arg: CompiledArgument,
): Built | string {
  const missing = needsArgument(arg);
  if (missing) return missing;
  if (arg.kind === "message") {
    const target = arg.rank;
    if (target === undefined)
      return `${formatValue(`$message.${arg.status}`)} only works with contains or not_contains`;
    const rank = rankReader(read, segments);
    return { test: (scope) => holds(rank(scope) - target), details: rankDetails(rank) };
  }
  if (arg.kind === "static") {
    const expected = arg.value;
    const expectedNumber = toNumber(expected);
    const expectedInstant = toInstant(expected, false);
    return {
      test: (scope) =>
        holds(orderAgainst(orEmpty(read(scope)), expected, expectedNumber, expectedInstant)),
    };
  }
  if (arg.kind !== "path") return "this operator needs an argument";
  const other = arg.read;
  return { test: (scope) => holds(order(orEmpty(read(scope)), orEmpty(other(scope)))) };
}

function buildContains(
  negate: boolean,
  read: PathReader,
  segments: readonly string[],
  arg: CompiledArgument,
): Built | string {
  const missing = needsArgument(arg);
  if (missing) return missing;
  if (arg.kind === "message") {
    const { include, exclude } = arg;
    if (include === undefined) {
      // `$message.skipped`: the step produced no message.
      const rank = rankReader(read, segments);
      return {
        test: negate
          ? (scope) => rank(scope) !== NO_MESSAGE_RANK
          : (scope) => rank(scope) === NO_MESSAGE_RANK,
        details: rankDetails(rank),
      };
    }
    const test: ConditionTest =
      exclude === undefined
        ? (scope) => hasStatus(read(scope), include)
        : (scope) => {
            const value = read(scope);
            return hasStatus(value, include) && !hasStatus(value, exclude);
          };
    return { test: negate ? (scope, now) => !test(scope, now) : test };
  }
  if (arg.kind === "static") {
    const expected = arg.value;
    return {
      test: negate
        ? (scope) => !containsValue(orEmpty(read(scope)), expected)
        : (scope) => containsValue(orEmpty(read(scope)), expected),
    };
  }
  if (arg.kind !== "path") return "this operator needs an argument";
  const other = arg.read;
  return {
    test: negate
      ? (scope) => !containsValue(orEmpty(read(scope)), orEmpty(other(scope)))
      : (scope) => containsValue(orEmpty(read(scope)), orEmpty(other(scope))),
  };
}

function buildContainsAll(
  negate: boolean,
  read: PathReader,
  arg: CompiledArgument,
): Built | string {
  const missing = needsArgument(arg);
  if (missing) return missing;
  if (arg.kind === "static" || arg.kind === "message") {
    const value = arg.kind === "static" ? arg.value : arg.status;
    const items: readonly unknown[] = Array.isArray(value) ? value : [value];
    return {
      test: negate
        ? (scope) => !containsEvery(orEmpty(read(scope)), items)
        : (scope) => containsEvery(orEmpty(read(scope)), items),
    };
  }
  if (arg.kind !== "path") return "this operator needs an argument";
  const other = arg.read;
  const test: ConditionTest = (scope) => {
    const value = orEmpty(other(scope));
    return containsEvery(orEmpty(read(scope)), Array.isArray(value) ? value : [value]);
  };
  return { test: negate ? (scope, now) => !test(scope, now) : test };
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/** Reads an argument's instant (epoch ms) at evaluation time; undefined when not a timestamp. */
type InstantGetter = (scope: ConditionScope, now: Date) => number | undefined;

interface InstantArgument {
  get: InstantGetter;
  /** For explanations: the argument as evaluated. */
  resolve: (scope: ConditionScope, now: Date) => unknown;
  details: (scope: ConditionScope, now: Date) => string[];
}

const TIMESTAMP_EXPECTED =
  "expected an ISO-8601 timestamp, epoch milliseconds, a dynamic path, {{ path }}, or a relative time { value, unit, direction }";

/** Compiles a timestamp argument; a string reason when it cannot be one. */
function instantArgument(arg: CompiledArgument, allowRelative: boolean): InstantArgument | string {
  switch (arg.kind) {
    case "none":
      return "this operator needs an argument";
    case "invalid":
      return arg.reason;
    case "message":
      return `a message status is not a timestamp; ${TIMESTAMP_EXPECTED}`;
    case "path": {
      const { read, path } = arg;
      return {
        get: (scope) => toInstant(read(scope), true),
        resolve: (scope) => orEmpty(read(scope)),
        details: (scope) => [describeRead(path, read(scope))],
      };
    }
    case "static": {
      const relative = parseRelative(arg.value);
      if (typeof relative === "string") return relative;
      if (relative !== undefined) {
        if (!allowRelative) return "is_timestamp_between does not take relative times";
        const { offsetMs, label } = relative;
        return {
          get: (_scope, now) => now.getTime() + offsetMs,
          resolve: (_scope, now) => new Date(now.getTime() + offsetMs).toISOString(),
          details: (_scope, now) => [
            `${label} = ${new Date(now.getTime() + offsetMs).toISOString()}`,
          ],
        };
      }
      const fixed = toInstant(arg.value, true);
      if (fixed === undefined)
        return `${formatValue(arg.value)} is not a timestamp; ${TIMESTAMP_EXPECTED}`;
      const value = arg.value;
      return { get: () => fixed, resolve: () => value, details: NO_DETAILS };
    }
  }
}

function buildInstant(
  read: PathReader,
  arg: CompiledArgument,
  holds: (value: number, argument: number) => boolean,
): Built | string {
  const instant = instantArgument(arg, true);
  if (typeof instant === "string") return instant;
  const { get } = instant;
  return {
    test: (scope, now) => {
      const value = toInstant(read(scope), true);
      if (value === undefined) return false;
      const argument = get(scope, now);
      return argument !== undefined && holds(value, argument);
    },
    resolve: instant.resolve,
    details: instant.details,
  };
}

function buildNow(read: PathReader, before: boolean): Built {
  return {
    test: before
      ? (scope, now) => {
          const value = toInstant(read(scope), true);
          return value !== undefined && value < now.getTime();
        }
      : (scope, now) => {
          const value = toInstant(read(scope), true);
          return value !== undefined && value >= now.getTime();
        },
    resolve: (_scope, now) => now.toISOString(),
    details: (_scope, now) => [`now = ${now.toISOString()}`],
  };
}

/** Compiles the items of a `[a, b]` argument; a path argument is read as a list at run time. */
function pairArgument<T>(
  arg: CompiledArgument,
  item: (compiled: CompiledArgument, index: number) => T | string,
): { pair: [T, T] } | { path: PathReader; name: string } | string {
  if (arg.kind === "none") return "this operator needs an argument: a list [start, end]";
  if (arg.kind === "invalid") return arg.reason;
  if (arg.kind === "path") return { path: arg.read, name: arg.path };
  if (arg.kind !== "static" || !Array.isArray(arg.value) || arg.value.length !== 2) {
    return `expected a list of two items [start, end], received ${formatValue(arg.kind === "static" ? arg.value : `$message.${arg.status}`)}`;
  }
  const first = item(compileArgument(arg.value[0]), 0);
  if (typeof first === "string") return first;
  const second = item(compileArgument(arg.value[1]), 1);
  if (typeof second === "string") return second;
  return { pair: [first, second] };
}

function buildTimestampBetween(read: PathReader, arg: CompiledArgument): Built | string {
  const compiled = pairArgument<InstantArgument>(arg, (item, index) => {
    const instant = instantArgument(item, false);
    return typeof instant === "string" ? `${index === 0 ? "start" : "end"}: ${instant}` : instant;
  });
  if (typeof compiled === "string") return compiled;
  if ("path" in compiled) {
    const { path, name } = compiled;
    return {
      test: (scope) => {
        const value = toInstant(read(scope), true);
        const range = path(scope);
        if (value === undefined || !Array.isArray(range) || range.length !== 2) return false;
        const start = toInstant(range[0], true);
        const end = toInstant(range[1], true);
        return start !== undefined && end !== undefined && start <= value && value < end;
      },
      resolve: (scope) => orEmpty(path(scope)),
      details: (scope) => [describeRead(name, path(scope))],
    };
  }
  const [start, end] = compiled.pair;
  return {
    test: (scope, now) => {
      const value = toInstant(read(scope), true);
      if (value === undefined) return false;
      const from = start.get(scope, now);
      const to = end.get(scope, now);
      return from !== undefined && to !== undefined && from <= value && value < to;
    },
    resolve: (scope, now) => [start.resolve(scope, now), end.resolve(scope, now)],
    details: (scope, now) => [...start.details(scope, now), ...end.details(scope, now)],
  };
}

// ---------------------------------------------------------------------------------------------
// Numbers

type NumberGetter = (scope: ConditionScope) => number;

interface NumberArgument {
  get: NumberGetter;
  resolve: (scope: ConditionScope) => unknown;
  details: (scope: ConditionScope) => string[];
}

function numberArgument(arg: CompiledArgument, what: string): NumberArgument | string {
  switch (arg.kind) {
    case "none":
      return `this operator needs ${what}`;
    case "invalid":
      return arg.reason;
    case "message":
      return `expected ${what}, received "$message.${arg.status}"`;
    case "path": {
      const { read, path } = arg;
      return {
        get: (scope) => toNumber(read(scope)),
        resolve: (scope) => orEmpty(read(scope)),
        details: (scope) => [describeRead(path, read(scope))],
      };
    }
    case "static": {
      const fixed = toNumber(arg.value);
      if (Number.isNaN(fixed)) return `expected ${what}, received ${formatValue(arg.value)}`;
      const value = arg.value;
      return { get: () => fixed, resolve: () => value, details: NO_DETAILS };
    }
  }
}

function buildNumberBetween(read: PathReader, arg: CompiledArgument): Built | string {
  const compiled = pairArgument<NumberArgument>(arg, (item, index) =>
    numberArgument(item, index === 0 ? "a number (min)" : "a number (max)"),
  );
  if (typeof compiled === "string") return compiled;
  if ("path" in compiled) {
    const { path, name } = compiled;
    return {
      test: (scope) => {
        const value = toNumber(orEmpty(read(scope)));
        const range = path(scope);
        if (!Array.isArray(range) || range.length !== 2) return false;
        return toNumber(range[0]) <= value && value <= toNumber(range[1]);
      },
      resolve: (scope) => orEmpty(path(scope)),
      details: (scope) => [describeRead(name, path(scope))],
    };
  }
  const [min, max] = compiled.pair;
  return {
    test: (scope) => {
      const value = toNumber(orEmpty(read(scope)));
      return min.get(scope) <= value && value <= max.get(scope);
    },
    resolve: (scope) => [min.resolve(scope), max.resolve(scope)],
    details: (scope) => [...min.details(scope), ...max.details(scope)],
  };
}

// ---------------------------------------------------------------------------------------------
// Random cohorts

/** One FNV-1a step over a byte. */
function fnvByte(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, 0x01000193);
}

/**
 * The cohort bucket of a key, 0 to 9999 (hundredths of a percent): FNV-1a (32-bit) over the
 * key's UTF-8 bytes, then murmur3's finalizer to spread the bits, modulo 10,000. Stable across
 * processes and platforms.
 *
 * @param key - Usually a recipient id.
 * @returns An integer from 0 to 9999.
 */
export function cohortBucket(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    let code = key.charCodeAt(i);
    if (code < 0x80) {
      hash = fnvByte(hash, code);
      continue;
    }
    if (code < 0x800) {
      hash = fnvByte(hash, 0xc0 | (code >> 6));
      hash = fnvByte(hash, 0x80 | (code & 0x3f));
      continue;
    }
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < key.length) {
      const low = key.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        hash = fnvByte(hash, 0xf0 | (point >> 18));
        hash = fnvByte(hash, 0x80 | ((point >> 12) & 0x3f));
        hash = fnvByte(hash, 0x80 | ((point >> 6) & 0x3f));
        hash = fnvByte(hash, 0x80 | (point & 0x3f));
        i += 1;
        continue;
      }
    }
    // A lone surrogate is encoded as U+FFFD, as TextEncoder does.
    if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
    hash = fnvByte(hash, 0xe0 | (code >> 12));
    hash = fnvByte(hash, 0x80 | ((code >> 6) & 0x3f));
    hash = fnvByte(hash, 0x80 | (code & 0x3f));
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 10_000;
}

function cohortKey(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function buildCohort(read: PathReader, arg: CompiledArgument): Built | string {
  const percentage = numberArgument(arg, "a percentage from 0 to 100");
  if (typeof percentage === "string") return percentage;
  const { get } = percentage;
  return {
    test: (scope) => {
      const key = cohortKey(read(scope));
      if (key === undefined) return false;
      return cohortBucket(key) < Math.round(get(scope) * 100);
    },
    resolve: percentage.resolve,
    details: (scope) => {
      const key = cohortKey(read(scope));
      const bucket = key === undefined ? "none (no id)" : (cohortBucket(key) / 100).toFixed(2);
      return [...percentage.details(scope), `cohort bucket = ${bucket}`];
    },
  };
}
