/**
 * Condition types: Knock's `{ variable, operator, argument }` triples grouped with `all` / `any`.
 *
 * @module
 */

/** Every operator a condition may use (Knock's documented list plus the API-spec additions). */
export type ConditionOperator =
  | "equal_to"
  | "not_equal_to"
  | "greater_than"
  | "greater_than_or_equal_to"
  | "less_than"
  | "less_than_or_equal_to"
  | "contains"
  | "not_contains"
  | "contains_all"
  | "not_contains_all"
  | "empty"
  | "not_empty"
  | "exists"
  | "not_exists"
  | "is_timestamp"
  | "is_not_timestamp"
  | "is_timestamp_before"
  | "is_timestamp_on_or_after"
  | "is_timestamp_between"
  | "is_timestamp_before_now"
  | "is_timestamp_on_or_after_now"
  | "is_timestamp_before_date"
  | "is_timestamp_on_or_after_date"
  | "is_between"
  | "is_in_random_cohort";

/**
 * One condition. `variable` is a dot path into the scope (`data.x`, `recipient.email`, …).
 * `argument` is a static JSON value, or a string naming another path (`actor.id`) which is then
 * read from the scope; a string that is neither is JSON-decoded when it can be, else used as is.
 */
export interface Condition {
  variable: string;
  operator: ConditionOperator;
  argument?: unknown;
}

/** Conditions that must all hold. */
export interface AllConditionGroup {
  all: Array<Condition | AnyConditionGroup | AllConditionGroup>;
}

/** Conditions of which at least one must hold. */
export interface AnyConditionGroup {
  any: Array<Condition | AllConditionGroup | AnyConditionGroup>;
}

/** A group of conditions as a workflow or step carries it. */
export type ConditionGroup = AllConditionGroup | AnyConditionGroup;

/**
 * What conditions read: namespaces such as `data`, `recipient`, `actor`, `tenant`, `vars`,
 * `workflow`, `refs` and `run` (and anything else the caller puts in).
 */
export type ConditionScope = Record<string, unknown>;

/** One condition that decided a failed evaluation, with the values it saw. */
export interface FailedCondition {
  /** The condition's variable path (as written). */
  variable: string;
  /** The condition's operator (as written). */
  operator: string;
  /** The condition's argument (as written). */
  argument: unknown;
  /** The value read at `variable` (undefined when missing). */
  value: unknown;
  /** The argument as evaluated: a dynamic path's value, a relative time's instant, … */
  resolved_argument: unknown;
}

/** Why a condition group passed or failed: see `explainConditions`. */
export interface ConditionExplanation {
  /** The outcome, the same as the compiled test's. */
  passed: boolean;
  /** When failed: the conditions that decided it (empty when passed). */
  failed: FailedCondition[];
  /** The same in words, e.g. `data.plan equal_to "pro" was false (data.plan = "free")`. */
  text: string;
}
