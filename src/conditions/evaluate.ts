/**
 * The condition engine: Knock's `{ variable, operator, argument }` conditions grouped with
 * `all` / `any`, compiled once into plain functions and evaluated per recipient.
 *
 * Pure and synchronous. `compileConditions` is the hot path; `explainConditions` is the slow
 * path that says why a group failed.
 *
 * @module
 */

import {
  type CompiledLeaf,
  type ConditionTest,
  compileLeaf,
  describeRead,
  invalidLeaf,
} from "./operators.js";
import type {
  ConditionExplanation,
  ConditionGroup,
  ConditionScope,
  FailedCondition,
} from "./types.js";
import { formatValue, isPlainObject } from "./values.js";

export { DYNAMIC_PREFIXES } from "./arguments.js";
export { CONDITION_OPERATORS, cohortBucket } from "./operators.js";
export { readPath } from "./path.js";
export type { ConditionExplanation, ConditionScope, FailedCondition } from "./types.js";
export { type ConditionIssue, validateConditionGroup } from "./validate.js";

/** A compiled group: a tree of `all` / `any` nodes over compiled conditions. */
type Node =
  | { readonly kind: "all" | "any"; readonly items: readonly Node[] }
  | { readonly kind: "leaf"; readonly leaf: CompiledLeaf };

const MAX_DEPTH = 32;

function compileNode(value: unknown, depth: number): Node {
  if (depth > MAX_DEPTH) {
    return {
      kind: "leaf",
      leaf: invalidLeaf(undefined, `condition groups are nested more than ${MAX_DEPTH} deep`),
    };
  }
  if (Array.isArray(value))
    return { kind: "all", items: value.map((item) => compileNode(item, depth + 1)) };
  if (isPlainObject(value)) {
    const hasAll = Object.hasOwn(value, "all");
    const hasAny = Object.hasOwn(value, "any");
    if (hasAll || hasAny) {
      const all = hasAll ? compileItems("all", value.all, depth) : undefined;
      const any = hasAny ? compileItems("any", value.any, depth) : undefined;
      // Both keys (invalid, but be predictable): both must hold.
      if (all && any) return { kind: "all", items: [all, any] };
      return (all ?? any)!;
    }
  }
  return { kind: "leaf", leaf: compileLeaf(value) };
}

function compileItems(kind: "all" | "any", items: unknown, depth: number): Node {
  if (!Array.isArray(items)) {
    return {
      kind: "leaf",
      leaf: invalidLeaf(undefined, `\`${kind}\` must be a list, received ${formatValue(items)}`),
    };
  }
  return { kind, items: items.map((item) => compileNode(item, depth + 1)) };
}

const ALWAYS_TRUE: ConditionTest = () => true;

function toTest(node: Node): ConditionTest {
  if (node.kind === "leaf") return node.leaf.test;
  const tests = node.items.map(toTest);
  const n = tests.length;
  // An empty group has no conditions to fail: it passes, whether `all` or `any`.
  if (n === 0) return ALWAYS_TRUE;
  if (n === 1) return tests[0]!;
  if (node.kind === "all") {
    if (n === 2) {
      const [a, b] = tests as [ConditionTest, ConditionTest];
      return (scope, now) => a(scope, now) && b(scope, now);
    }
    return (scope, now) => {
      for (let i = 0; i < n; i++) if (!tests[i]!(scope, now)) return false;
      return true;
    };
  }
  if (n === 2) {
    const [a, b] = tests as [ConditionTest, ConditionTest];
    return (scope, now) => a(scope, now) || b(scope, now);
  }
  return (scope, now) => {
    for (let i = 0; i < n; i++) if (tests[i]!(scope, now)) return true;
    return false;
  };
}

/**
 * Compiles a condition group once into a test to call per recipient.
 *
 * All decoding happens here: paths are split, static arguments JSON-decoded, timestamps
 * parsed, relative times turned into offsets. The returned function only reads the scope and
 * compares; `all` and `any` short-circuit.
 *
 * A `null` or `undefined` group, and an empty group, always pass. A malformed condition (unknown
 * operator, missing argument, …) never throws here: it evaluates to false, and
 * {@link explainConditions} says why. Check groups up front with `validateConditionGroup`.
 *
 * @param group - The group (`{ all: [...] }` or `{ any: [...] }`), or null for none.
 * @returns `(scope, now) => boolean`, where `now` is the instant relative timestamps and the
 *   `*_now` operators compare against.
 * @example
 * ```ts
 * const test = compileConditions({ all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }] });
 * test({ recipient: { plan: "pro" } }, new Date()); // true
 * ```
 */
export function compileConditions(
  group: ConditionGroup | null | undefined,
): (scope: ConditionScope, now: Date) => boolean {
  if (group === null || group === undefined) return ALWAYS_TRUE;
  return toTest(compileNode(group, 0));
}

/** Evaluates a node, collecting the conditions that decided a false outcome. */
function explainNode(
  node: Node,
  scope: ConditionScope,
  now: Date,
  failed: CompiledLeaf[],
): boolean {
  if (node.kind === "leaf") {
    const passed = node.leaf.test(scope, now);
    if (!passed) failed.push(node.leaf);
    return passed;
  }
  if (node.items.length === 0) return true;
  if (node.kind === "all") {
    for (const item of node.items) {
      const local: CompiledLeaf[] = [];
      if (!explainNode(item, scope, now, local)) {
        failed.push(...local);
        return false;
      }
    }
    return true;
  }
  const local: CompiledLeaf[] = [];
  for (const item of node.items) {
    if (explainNode(item, scope, now, local)) return true;
  }
  failed.push(...local);
  return false;
}

function describeLeaf(leaf: CompiledLeaf, scope: ConditionScope, now: Date): string {
  const head = `${leaf.variable || "(no variable)"} ${leaf.operator || "(no operator)"}${
    leaf.argumentText === undefined ? "" : ` ${leaf.argumentText}`
  }`;
  if (leaf.error !== undefined) return `${head} is invalid: ${leaf.error}`;
  const facts = [describeRead(leaf.variable, leaf.read(scope)), ...leaf.details(scope, now)];
  return `${head} was false (${facts.join(", ")})`;
}

/**
 * Evaluates a condition group the slow way and says why it passed or failed: the outcome, the
 * conditions that decided a failure (for `all`, the first that failed; for `any`, every one),
 * with the values they saw, and the same in words.
 *
 * Meant for the "why was this skipped" path after a compiled test returned false; the outcome
 * is always the same as {@link compileConditions}'s.
 *
 * @param group - The group, or null for none.
 * @param scope - The same scope the test saw.
 * @param now - The same instant the test saw.
 * @returns `{ passed, failed, text }`, e.g. text
 *   `data.plan equal_to "pro" was false (data.plan = "free")`.
 */
export function explainConditions(
  group: ConditionGroup | null | undefined,
  scope: ConditionScope,
  now: Date,
): ConditionExplanation {
  if (group === null || group === undefined)
    return { passed: true, failed: [], text: "no conditions" };
  const leaves: CompiledLeaf[] = [];
  const passed = explainNode(compileNode(group, 0), scope, now, leaves);
  if (passed) return { passed, failed: [], text: "conditions passed" };
  const failed: FailedCondition[] = leaves.map((leaf) => ({
    variable: leaf.variable,
    operator: leaf.operator,
    argument: leaf.argument,
    value: leaf.read(scope),
    resolved_argument: leaf.resolve(scope, now),
  }));
  const text = leaves.map((leaf) => describeLeaf(leaf, scope, now)).join("; ");
  return { passed, failed, text: text === "" ? "conditions failed" : text };
}
