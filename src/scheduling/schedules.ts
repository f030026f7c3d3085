/**
 * Schedules: a workflow triggered for one recipient on repeat rules in the recipient's timezone,
 * or once at an instant. This module holds the public types, the validation of `schedules.create`
 * and `schedules.update` parameters, and when a schedule fires next.
 *
 * @module
 */
import { describe } from "../_internal/describe.js";
import { isPlainObject } from "../_internal/merge.js";
import type { ValidationIssue } from "../errors.js";
import type {
  RecipientObject,
  RecipientReference,
  RecipientReferenceInput,
  RecipientRequest,
  TenantRequest,
  User,
} from "../recipients/types.js";
import type { StoredSchedule } from "../store/types.js";
import { nextOccurrence, type RepeatRule, validateRepeatRule } from "./repeat.js";

/**
 * A repeat rule as `schedules.create` and `schedules.update` accept it: a {@link RepeatRule}, or
 * one as Knock's client types it and its schedules return it, with `null` for a field not given
 * and a `__typename` (both ignored).
 */
export type RepeatRuleInput = {
  [K in keyof RepeatRule]: K extends "frequency" ? RepeatRule[K] : RepeatRule[K] | null;
} & { __typename?: string };

/** A repeat rule as a schedule returns it. */
export interface ScheduleRepeatRule extends RepeatRule {
  __typename: "ScheduleRepeatRule";
}

/** A schedule, as `schedules.create`, `update`, `delete` and `list` return it. */
export interface Schedule {
  __typename: "Schedule";
  id: string;
  /** The workflow key. */
  workflow: string;
  /** The recipient as stored now (a `{ id }` stub when it no longer exists). */
  recipient: User | RecipientObject | { id: string; collection?: string };
  actor: User | RecipientObject | { id: string; collection?: string } | null;
  tenant: string | null;
  data: Record<string, unknown>;
  /** Empty for a one-off schedule. */
  repeats: ScheduleRepeatRule[];
  /** The start of a recurring schedule, or the instant of a one-off. */
  scheduled_at: string | null;
  /** No occurrence after this instant. */
  ending_at: string | null;
  last_occurrence_at: string | null;
  /** When the schedule fires next; null when it will not fire again. */
  next_occurrence_at: string | null;
  inserted_at: string;
  updated_at: string;
}

/** The parameters of `schedules.create`. */
export interface ScheduleCreateParams {
  /** The workflow key. */
  workflow: string;
  /** 1 to 100 recipients (user ids, object references, or inline users and objects): one schedule each. */
  recipients: RecipientRequest[];
  /** When to fire, in each recipient's timezone. Omit for a one-off at `scheduled_at`. */
  repeats?: RepeatRuleInput[] | null;
  /** An ISO-8601 instant: the start of a recurring schedule, or the only run of a one-off. */
  scheduled_at?: string | null;
  /** An ISO-8601 instant after which the schedule never fires. */
  ending_at?: string | null;
  /** The trigger data of every run (validated against `trigger_data_json_schema`). */
  data?: Record<string, unknown> | null;
  tenant?: string | TenantRequest | null;
  actor?: RecipientRequest | null;
}

/** The parameters of `schedules.update`: the fields given replace those of every schedule named. */
export interface ScheduleUpdateParams {
  /** 1 to 100 schedule ids. */
  schedule_ids: string[];
  repeats?: RepeatRuleInput[] | null;
  scheduled_at?: string | null;
  ending_at?: string | null;
  data?: Record<string, unknown> | null;
  tenant?: string | TenantRequest | null;
  actor?: RecipientRequest | RecipientReferenceInput | null;
}

/** The parameters of `schedules.delete`. */
export interface ScheduleDeleteParams {
  /** 1 to 100 schedule ids. */
  schedule_ids: string[];
}

/** The most schedules one create, update or delete call may name. */
export const MAX_SCHEDULES_PER_CALL = 100;

const RULE_FIELDS = ["frequency", "interval", "days", "hours", "minutes", "day_of_month"] as const;

/**
 * @internal Validates `repeats` (an array of repeat rules; issues under `repeats[i]`) and returns
 * the rules with only their known fields, or null when invalid.
 */
export function validateRepeats(value: unknown, issues: ValidationIssue[]): RepeatRule[] | null {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.push({
      field: "repeats",
      type: "type",
      message: `expected an array of repeat rules such as [{ "frequency": "daily", "hours": 9 }], received ${describe(value)}`,
    });
    return null;
  }
  const before = issues.length;
  const rules = value.map((input, i) => {
    // Knock's client writes an absent field as null, and its schedules return a __typename.
    const rule = isPlainObject(input)
      ? Object.fromEntries(
          Object.entries(input).filter(([name, v]) => v !== null && name !== "__typename"),
        )
      : input;
    issues.push(...validateRepeatRule(rule, `repeats[${i}]`));
    const kept: Record<string, unknown> = {};
    if (isPlainObject(rule)) {
      for (const field of RULE_FIELDS) if (rule[field] !== undefined) kept[field] = rule[field];
    }
    return kept as unknown as RepeatRule;
  });
  return issues.length === before ? rules : null;
}

/** @internal Validates an optional ISO-8601 instant; returns it normalized, null, or undefined (invalid). */
export function validateInstant(
  value: unknown,
  field: string,
  issues: ValidationIssue[],
): string | null | undefined {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" && !Number.isNaN(Date.parse(value)))
    return new Date(value).toISOString();
  issues.push({
    field,
    type: "format",
    message: `expected an ISO-8601 timestamp such as "2026-03-01T09:00:00Z" (or null), received ${describe(value)}`,
  });
  return undefined;
}

/** @internal The fields that decide when a schedule fires. */
export type ScheduleTiming = Pick<
  StoredSchedule,
  "repeats" | "scheduled_at" | "ending_at" | "last_occurrence_at" | "inserted_at"
>;

/** @internal Checks that a schedule can fire at all: repeat rules or a `scheduled_at`, ending after it starts. */
export function checkTiming(timing: ScheduleTiming, issues: ValidationIssue[]): void {
  if (timing.repeats.length === 0 && timing.scheduled_at === null) {
    issues.push({
      field: "repeats",
      type: "required",
      message:
        "expected repeat rules, a scheduled_at, or both: a schedule without either never fires",
    });
  }
  if (
    timing.scheduled_at !== null &&
    timing.ending_at !== null &&
    Date.parse(timing.ending_at) < Date.parse(timing.scheduled_at)
  ) {
    issues.push({
      field: "ending_at",
      type: "range",
      message: `expected ending_at at or after scheduled_at (${timing.scheduled_at}), received ${timing.ending_at}`,
    });
  }
}

/**
 * @internal The schedule's next occurrence after `after` in `timeZone` (the recipient's), or null
 * when it will not fire again.
 *
 * - A one-off fires at `scheduled_at` (at once, when that has passed) unless it already fired.
 * - A recurring schedule fires at the first occurrence of any of its rules strictly after `after`,
 *   or at/after `scheduled_at` when that is later; `interval`s count from `scheduled_at` (else from
 *   the schedule's creation); nothing fires after `ending_at`.
 */
export function nextScheduleOccurrence(
  timing: ScheduleTiming,
  timeZone: string,
  after: Date,
): Date | null {
  const scheduledAt = timing.scheduled_at === null ? null : new Date(timing.scheduled_at);
  const endingAt = timing.ending_at === null ? null : new Date(timing.ending_at);
  const last = timing.last_occurrence_at === null ? null : Date.parse(timing.last_occurrence_at);
  if (timing.repeats.length === 0) {
    if (!scheduledAt || (last !== null && last >= scheduledAt.getTime())) return null;
    if (endingAt && scheduledAt.getTime() > endingAt.getTime()) return null;
    return scheduledAt;
  }
  const anchor = scheduledAt ?? new Date(timing.inserted_at);
  // `scheduled_at` itself may be the first occurrence (an inclusive bound), until something at
  // or after it has fired: from then on every occurrence is strictly after the last.
  const started = last !== null && scheduledAt !== null && last >= scheduledAt.getTime();
  const notBefore =
    scheduledAt && !started && scheduledAt.getTime() >= after.getTime() ? scheduledAt : undefined;
  let best: Date | null = null;
  for (const rule of timing.repeats) {
    const next = nextOccurrence(rule, timeZone, after, {
      anchor,
      endingAt,
      ...(notBefore ? { notBefore } : {}),
    });
    if (next && (best === null || next.getTime() < best.getTime())) best = next;
  }
  return best;
}

/** @internal The public form of a stored schedule, given its loaded recipient and actor. */
export function toSchedule(
  stored: StoredSchedule,
  recipient: Schedule["recipient"],
  actor: Schedule["actor"],
): Schedule {
  return {
    __typename: "Schedule",
    id: stored.id,
    workflow: stored.workflow,
    recipient,
    actor,
    tenant: stored.tenant,
    data: stored.data,
    repeats: stored.repeats.map((rule) => ({ __typename: "ScheduleRepeatRule", ...rule })),
    scheduled_at: stored.scheduled_at,
    ending_at: stored.ending_at,
    last_occurrence_at: stored.last_occurrence_at,
    next_occurrence_at: stored.next_occurrence_at,
    inserted_at: stored.inserted_at,
    updated_at: stored.updated_at,
  };
}

/** @internal A reference as a stub recipient (for one that no longer exists). */
export function stubRecipient(ref: RecipientReference): { id: string; collection?: string } {
  return typeof ref === "string" ? { id: ref } : { id: ref.id, collection: ref.collection };
}
