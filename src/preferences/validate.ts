/**
 * @internal Validating preference sets as `setPreferences`, inline `preferences` and a tenant's
 * `settings.preference_set` receive them.
 */

import { describe } from "../_internal/describe.js";
import { isPlainObject } from "../_internal/merge.js";
import { validateConditionGroup } from "../conditions/evaluate.js";
import type { ValidationIssue } from "../errors.js";
import { CHANNEL_TYPES } from "../workflows/types.js";
import type { PreferenceSetInput } from "./types.js";

const SECTIONS = ["workflows", "categories", "channel_types", "channels"] as const;
const KNOWN_KEYS = new Set<string>([
  ...SECTIONS,
  "commercial_subscribed",
  "__persistence_strategy__",
  "__strategy__",
  "id",
  "__typename",
]);

/** `__strategy__` marks an entry of a lower set as overriding (`replace`) or merging (`merge`). */
function checkStrategy(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (value === "replace" || value === "merge") return;
  issues.push({
    field,
    type: "enum",
    message: `expected "replace" (this entry overrides the recipient's) or "merge", received ${describe(value)}`,
  });
}

function checkConditions(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (!Array.isArray(value)) {
    issues.push({
      field,
      type: "type",
      message: `expected an array of conditions (ANDed), received ${describe(value)}`,
    });
    return;
  }
  issues.push(
    ...validateConditionGroup({ all: value }, field).map((issue) => ({
      ...issue,
      field: issue.field.replace(`${field}.all`, field),
    })),
  );
}

function checkChannelSetting(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (typeof value === "boolean" || value === null) return;
  if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      if (key === "__strategy__") checkStrategy(value[key], `${field}.${key}`, issues);
      else if (key !== "conditions") {
        issues.push({
          field: `${field}.${key}`,
          type: "additionalProperties",
          message: `expected only "conditions", received "${key}"`,
        });
      }
    }
    if (value.conditions !== undefined)
      checkConditions(value.conditions, `${field}.conditions`, issues);
    return;
  }
  issues.push({
    field,
    type: "type",
    message: `expected true, false or { conditions: [...] }, received ${describe(value)}`,
  });
}

function checkWorkflowSetting(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (typeof value === "boolean" || value === null) return;
  if (!isPlainObject(value)) {
    issues.push({
      field,
      type: "type",
      message: `expected true, false or { channel_types?, channels?, conditions? }, received ${describe(value)}`,
    });
    return;
  }
  for (const key of Object.keys(value)) {
    if (key === "conditions") {
      // Knock's client types an absent list as null.
      if (value.conditions !== null)
        checkConditions(value.conditions, `${field}.conditions`, issues);
    } else if (key === "channel_types" || key === "channels")
      checkChannelMap(value[key], `${field}.${key}`, issues);
    else if (key === "__strategy__") checkStrategy(value[key], `${field}.${key}`, issues);
    else {
      issues.push({
        field: `${field}.${key}`,
        type: "additionalProperties",
        message: `expected channel_types, channels or conditions, received "${key}"`,
      });
    }
  }
}

function checkChannelMap(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (value === null || value === undefined) return;
  if (!isPlainObject(value)) {
    issues.push({
      field,
      type: "type",
      message: `expected an object, received ${describe(value)}`,
    });
    return;
  }
  // channel_types names channel types, a fixed list: a typo (`emial`) would never apply.
  const types = field.endsWith("channel_types");
  for (const [key, setting] of Object.entries(value)) {
    if (key === "__strategy__") checkStrategy(setting, `${field}.${key}`, issues);
    else if (types && !(CHANNEL_TYPES as readonly string[]).includes(key)) {
      issues.push({
        field: `${field}.${key}`,
        type: "enum",
        message: `expected a channel type (${CHANNEL_TYPES.join(", ")}), received "${key}"; name one channel by its key under channels instead`,
      });
    } else checkChannelSetting(setting, `${field}.${key}`, issues);
  }
}

/**
 * @internal Validates a preference set; returns its body (without request-only keys) and the
 * persistence strategy asked for, or pushes issues.
 */
export function validatePreferenceSet(
  input: unknown,
  field: string,
  issues: ValidationIssue[],
): { set: PreferenceSetInput; strategy: "merge" | "replace" | undefined } {
  if (!isPlainObject(input)) {
    issues.push({
      field,
      type: "type",
      message: `expected a preference set object, received ${describe(input)}`,
    });
    return { set: {}, strategy: undefined };
  }
  const set: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) {
      issues.push({
        field: `${field}.${key}`,
        type: "additionalProperties",
        message: `expected one of workflows, categories, channel_types, channels, commercial_subscribed; received "${key}"`,
      });
    }
  }
  for (const section of ["workflows", "categories"] as const) {
    const value = input[section];
    if (value === undefined || value === null) continue;
    if (!isPlainObject(value))
      issues.push({
        field: `${field}.${section}`,
        type: "type",
        message: `expected an object, received ${describe(value)}`,
      });
    else
      for (const [key, setting] of Object.entries(value))
        checkWorkflowSetting(setting, `${field}.${section}.${key}`, issues);
    set[section] = value;
  }
  for (const section of ["channel_types", "channels"] as const) {
    const value = input[section];
    if (value === undefined || value === null) continue;
    checkChannelMap(value, `${field}.${section}`, issues);
    set[section] = value;
  }
  if (input.commercial_subscribed !== undefined && input.commercial_subscribed !== null) {
    checkChannelSetting(input.commercial_subscribed, `${field}.commercial_subscribed`, issues);
    set.commercial_subscribed = input.commercial_subscribed;
  }
  const strategy = input.__persistence_strategy__;
  if (strategy !== undefined && strategy !== "merge" && strategy !== "replace") {
    issues.push({
      field: `${field}.__persistence_strategy__`,
      type: "enum",
      message: `expected "merge" or "replace", received ${describe(strategy)}`,
    });
  }
  return {
    set: set as PreferenceSetInput,
    strategy: strategy === "merge" || strategy === "replace" ? strategy : undefined,
  };
}
