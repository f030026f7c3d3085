/**
 * Structural checks of condition groups, for workflow (and preference) validation.
 *
 * @module
 */

import { compileArgument, isDynamicPath, liquidPath, parseRelative } from "./arguments.js";
import {
  CONDITION_OPERATORS,
  compileLeaf,
  isConditionOperator,
  OPERATOR_ARGUMENTS,
} from "./operators.js";
import { readOwn } from "./path.js";
import { formatValue, isPlainObject, toInstant, toNumber } from "./values.js";

/** One problem found in a condition group. */
export interface ConditionIssue {
  /** Path of the offending field, e.g. `steps[0].conditions.all[1].operator`. */
  field: string;
  /** What is wrong, in words a user can act on. */
  message: string;
  /** The kind of check that failed: `required`, `type`, `enum`, `format` or `range`. */
  type: string;
}

const MAX_DEPTH = 32;

/**
 * Checks the structure of a condition group and returns its issues (none when it is valid).
 *
 * It reports: a group that is not `{ all: [...] }` or `{ any: [...] }`, items that are neither
 * conditions nor groups, a missing variable, an unknown operator, an operator that needs an
 * argument without one, Knock's audience operators (`is_audience_member`, `is_not_audience_member`:
 * crier has no audiences), arguments of the wrong shape (`is_timestamp_between` needs
 * `[start, end]`, `is_between` `[min, max]`, `is_in_random_cohort` 0–100, timestamps must be
 * ISO-8601, epoch milliseconds, paths or well-formed relative times), and unknown
 * `$message.<status>` cases. `null` and `undefined` are valid (no conditions).
 *
 * @param group - The value to check.
 * @param path - The field path of `group`, prefixed to every issue's `field` (e.g. `conditions`).
 * @returns The issues, in document order.
 * @example
 * ```ts
 * validateConditionGroup({ all: [{ variable: "data.x", operator: "nope" }] }, "conditions");
 * // [{ field: "conditions.all[0].operator", type: "enum", message: "unknown operator \"nope\"; …" }]
 * ```
 */
export function validateConditionGroup(group: unknown, path: string): ConditionIssue[] {
  const issues: ConditionIssue[] = [];
  if (group === null || group === undefined) return issues;
  checkGroup(group, path, issues, 0);
  return issues;
}

function isGroupLike(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && (Object.hasOwn(value, "all") || Object.hasOwn(value, "any"));
}

function checkGroup(group: unknown, path: string, issues: ConditionIssue[], depth: number): void {
  if (!isGroupLike(group)) {
    const hint =
      isPlainObject(group) && (Object.hasOwn(group, "variable") || Object.hasOwn(group, "operator"))
        ? "; wrap a single condition as { all: [condition] }"
        : "";
    issues.push({
      field: path,
      type: "type",
      message: `expected a condition group { all: [...] } or { any: [...] }, received ${formatValue(group)}${hint}`,
    });
    return;
  }
  if (depth >= MAX_DEPTH) {
    issues.push({
      field: path,
      type: "range",
      message: `condition groups are nested more than ${MAX_DEPTH} deep`,
    });
    return;
  }
  const keys = (["all", "any"] as const).filter((key) => Object.hasOwn(group, key));
  if (keys.length === 2) {
    issues.push({
      field: path,
      type: "type",
      message:
        "a group has either `all` (every item holds) or `any` (at least one holds), not both; nest one inside the other",
    });
  }
  for (const key of keys) {
    const items = group[key];
    const itemsPath = `${path}.${key}`;
    if (!Array.isArray(items)) {
      issues.push({
        field: itemsPath,
        type: "type",
        message: `expected a list of conditions, received ${formatValue(items)}`,
      });
      continue;
    }
    items.forEach((item, index) => {
      const itemPath = `${itemsPath}[${index}]`;
      if (isGroupLike(item)) checkGroup(item, itemPath, issues, depth + 1);
      else checkCondition(item, itemPath, issues);
    });
  }
}

function checkCondition(condition: unknown, path: string, issues: ConditionIssue[]): void {
  if (!isPlainObject(condition)) {
    issues.push({
      field: path,
      type: "type",
      message: `expected a condition { variable, operator, argument } or a group { all } / { any }, received ${formatValue(condition)}`,
    });
    return;
  }
  const before = issues.length;
  const variable = readOwn(condition, "variable");
  if (variable === undefined || variable === null || variable === "") {
    issues.push({
      field: `${path}.variable`,
      type: "required",
      message: "a condition needs a variable, e.g. data.plan",
    });
  } else if (typeof variable !== "string") {
    issues.push({
      field: `${path}.variable`,
      type: "type",
      message: `expected a path string like data.plan, received ${formatValue(variable)}`,
    });
  }
  const operator = readOwn(condition, "operator");
  if (operator === undefined || operator === null || operator === "") {
    issues.push({
      field: `${path}.operator`,
      type: "required",
      message: "a condition needs an operator, e.g. equal_to",
    });
    return;
  }
  if (operator === "is_audience_member" || operator === "is_not_audience_member") {
    issues.push({
      field: `${path}.operator`,
      type: "enum",
      message: `expected an operator crier can evaluate, received ${formatValue(operator)}: Knock's audience operators need audiences, and crier has none; keep membership as data instead (e.g. recipient.segments or data.audiences) and test it with contains / not_contains`,
    });
    return;
  }
  if (!isConditionOperator(operator)) {
    issues.push({
      field: `${path}.operator`,
      type: "enum",
      message: `unknown operator ${formatValue(operator)}; expected one of ${CONDITION_OPERATORS.join(", ")}`,
    });
    return;
  }
  checkArgument(operator, readOwn(condition, "argument"), `${path}.argument`, issues);
  if (issues.length === before) {
    // Safety net: anything the compiler rejects is an issue too.
    const { error } = compileLeaf(condition);
    if (error !== undefined) issues.push({ field: path, type: "type", message: error });
  }
}

function isPathString(value: unknown): boolean {
  return typeof value === "string" && (isDynamicPath(value) || liquidPath(value) !== undefined);
}

function checkArgument(
  operator: keyof typeof OPERATOR_ARGUMENTS,
  argument: unknown,
  field: string,
  issues: ConditionIssue[],
): void {
  const rule = OPERATOR_ARGUMENTS[operator];
  if (rule === "none") return;
  if (argument === undefined) {
    const example =
      rule === "timestamp_pair"
        ? ' (a list ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"])'
        : rule === "number_pair"
          ? " (a list [min, max])"
          : rule === "percentage"
            ? " (a percentage from 0 to 100)"
            : "";
    issues.push({
      field,
      type: "required",
      message: `operator ${operator} needs an argument${example}`,
    });
    return;
  }
  const compiled = compileArgument(argument);
  if (compiled.kind === "invalid") {
    issues.push({ field, type: "enum", message: compiled.reason });
    return;
  }
  if (compiled.kind === "message") {
    const ok =
      rule === "contains" ||
      (compiled.rank !== undefined &&
        (rule === "value" || rule === "ordered" || rule === "contains_all"));
    if (!ok) {
      issues.push({
        field,
        type: "type",
        message:
          compiled.rank === undefined
            ? `${formatValue(argument)} only works with contains or not_contains`
            : `a message status does not work with ${operator}`,
      });
    }
    return;
  }
  if (compiled.kind === "path") return;
  const value = compiled.kind === "static" ? compiled.value : undefined;
  switch (rule) {
    case "ordered":
      if (
        value === null ||
        typeof value === "boolean" ||
        (typeof value === "object" && !(value instanceof Date))
      ) {
        issues.push({
          field,
          type: "type",
          message: `${operator} compares numbers, timestamps or strings, received ${formatValue(argument)}`,
        });
      }
      return;
    case "timestamp":
      checkTimestamp(value, field, issues, true);
      return;
    case "timestamp_pair":
      checkPair(value, field, issues, "[start, end] timestamps", (item, itemField) =>
        checkTimestamp(item, itemField, issues, false) ? toInstant(item, true) : undefined,
      );
      return;
    case "number_pair":
      checkPair(value, field, issues, "[min, max] numbers", (item, itemField) => {
        if (isPathString(item)) return undefined;
        const n = toNumber(item);
        if (Number.isNaN(n)) {
          issues.push({
            field: itemField,
            type: "type",
            message: `expected a number, received ${formatValue(item)}`,
          });
        }
        return Number.isNaN(n) ? undefined : n;
      });
      return;
    case "percentage": {
      const n = toNumber(value);
      if (Number.isNaN(n)) {
        issues.push({
          field,
          type: "type",
          message: `expected a percentage from 0 to 100, received ${formatValue(argument)}`,
        });
      } else if (n < 0 || n > 100) {
        issues.push({
          field,
          type: "range",
          message: `expected a percentage from 0 to 100, received ${n}`,
        });
      }
      return;
    }
    default:
      return;
  }
}

/** Checks one timestamp argument; true when it is a fixed instant or a path (usable in a pair). */
function checkTimestamp(
  value: unknown,
  field: string,
  issues: ConditionIssue[],
  allowRelative: boolean,
): boolean {
  if (isPathString(value)) return true;
  const decoded = typeof value === "string" ? compileArgument(value) : undefined;
  const candidate = decoded?.kind === "static" ? decoded.value : value;
  const relative = parseRelative(candidate);
  if (typeof relative === "string") {
    issues.push({ field, type: "format", message: relative });
    return false;
  }
  if (relative !== undefined) {
    if (!allowRelative) {
      issues.push({
        field,
        type: "format",
        message: "is_timestamp_between does not take relative times; use two timestamps or paths",
      });
      return false;
    }
    return true;
  }
  if (toInstant(candidate, true) === undefined) {
    issues.push({
      field,
      type: "format",
      message: `expected an ISO-8601 timestamp (2024-05-01T12:00:00Z), epoch milliseconds, a path (data.due_at, {{ data.due_at }}) or a relative time { value, unit, direction }, received ${formatValue(value)}`,
    });
    return false;
  }
  return true;
}

function checkPair(
  value: unknown,
  field: string,
  issues: ConditionIssue[],
  what: string,
  item: (value: unknown, field: string) => number | undefined,
): void {
  if (!Array.isArray(value) || value.length !== 2) {
    issues.push({
      field,
      type: "type",
      message: `expected a list of two items, ${what}, received ${formatValue(value)}`,
    });
    return;
  }
  const start = item(value[0], `${field}[0]`);
  const end = item(value[1], `${field}[1]`);
  if (start !== undefined && end !== undefined && start > end) {
    issues.push({
      field,
      type: "range",
      message: `the first item must not be after the second, received ${formatValue(value)}`,
    });
  }
}
