import { compileConditions, explainConditions } from "../../src/conditions/evaluate.js";
import type { Condition, ConditionScope } from "../../src/conditions/types.js";

/** The instant every table uses as `now`. */
export const NOW = new Date("2024-05-01T12:00:00.000Z");

/**
 * Evaluates one condition through the compiled path, and checks that the slow explain path
 * agrees (so every table row also tests `explainConditions`).
 */
export function evaluate(condition: Condition, scope: ConditionScope, now: Date = NOW): boolean {
  const group = { all: [condition] };
  const fast = compileConditions(group)(scope, now);
  const slow = explainConditions(group, scope, now).passed;
  if (fast !== slow) throw new Error(`compiled (${fast}) and explained (${slow}) outcomes differ`);
  return fast;
}

/** A condition, with `argument` omitted when undefined. */
export function cond(
  variable: string,
  operator: Condition["operator"],
  argument?: unknown,
): Condition {
  return argument === undefined ? { variable, operator } : { variable, operator, argument };
}
