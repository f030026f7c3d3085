/**
 * @internal Preference evaluation, as Knock does it: merge the applicable sets once per run, then
 * decide each channel step with a pure function of (workflow, channel, merged set, scope).
 */

import { isPlainObject } from "../_internal/merge.js";
import { type ConditionScope, compileConditions } from "../conditions/evaluate.js";
import type { Condition } from "../conditions/types.js";
import type { ChannelSetting, PreferenceSetInput, WorkflowPreferenceSetting } from "./types.js";

/** @internal One source set in a merge chain, lowest precedence first, with where it came from. */
export interface PreferenceSource {
  /** Where the set lives, for explanations: `environment default`, `tenant acme default`, `set default`… */
  label: string;
  set: PreferenceSetInput | null | undefined;
}

/** @internal What a channel step's message is, for preferences. */
export interface PreferenceSubject {
  workflowKey: string;
  categories: readonly string[];
  channelKey: string;
  channelType: string;
  isCommercial: boolean;
  overridePreferences: boolean;
}

function stripStrategy<T>(value: T): T {
  if (!isPlainObject(value) || !("__strategy__" in value)) return value;
  const { __strategy__: _ignored, ...rest } = value as Record<string, unknown>;
  return rest as T;
}

function isReplace(value: unknown): boolean {
  return isPlainObject(value) && value.__strategy__ === "replace";
}

function mergeWorkflowSetting(
  lower: WorkflowPreferenceSetting,
  higher: WorkflowPreferenceSetting,
): WorkflowPreferenceSetting {
  if (!isPlainObject(lower) || !isPlainObject(higher)) return higher;
  const merged: Record<string, unknown> = { ...lower, ...higher };
  for (const section of ["channel_types", "channels"] as const) {
    const l = lower[section];
    const h = higher[section];
    if (isPlainObject(l) && isPlainObject(h)) merged[section] = { ...l, ...h };
  }
  return stripStrategy(merged) as WorkflowPreferenceSetting;
}

/**
 * @internal Merges two sets key by key, `higher` winning, except where an entry of `lower` says
 * `__strategy__: "replace"` (at a workflow or category key, or on `channel_types` / `channels`):
 * then the lower entry replaces the higher one.
 */
export function mergePreferenceSets(
  lower: PreferenceSetInput,
  higher: PreferenceSetInput,
): PreferenceSetInput {
  const result: PreferenceSetInput = {};
  for (const section of ["workflows", "categories"] as const) {
    const l = (lower[section] ?? {}) as Record<string, WorkflowPreferenceSetting>;
    const h = (higher[section] ?? {}) as Record<string, WorkflowPreferenceSetting>;
    if (!lower[section] && !higher[section]) continue;
    const merged: Record<string, WorkflowPreferenceSetting> = {};
    for (const key of new Set([...Object.keys(l), ...Object.keys(h)])) {
      const lv = l[key];
      const hv = h[key];
      if (lv !== undefined && isReplace(lv)) merged[key] = stripStrategy(lv);
      else if (hv === undefined) merged[key] = stripStrategy(lv as WorkflowPreferenceSetting);
      else if (lv === undefined) merged[key] = stripStrategy(hv);
      else merged[key] = mergeWorkflowSetting(lv, hv);
    }
    result[section] = merged;
  }
  for (const section of ["channel_types", "channels"] as const) {
    const l = lower[section];
    const h = higher[section];
    if (!l && !h) continue;
    if (isReplace(l)) result[section] = stripStrategy(l) as Record<string, ChannelSetting>;
    else
      result[section] = { ...stripStrategy(l ?? {}), ...stripStrategy(h ?? {}) } as Record<
        string,
        ChannelSetting
      >;
  }
  const commercial = higher.commercial_subscribed ?? lower.commercial_subscribed;
  if (commercial !== undefined && commercial !== null) result.commercial_subscribed = commercial;
  return result;
}

/** @internal Merges a chain of sets, lowest precedence first. */
export function mergeChain(sources: readonly PreferenceSource[]): PreferenceSetInput {
  let merged: PreferenceSetInput = {};
  for (const source of sources) if (source.set) merged = mergePreferenceSets(merged, source.set);
  return merged;
}

const compiledConditions = new WeakMap<
  readonly Condition[],
  (scope: ConditionScope, now: Date) => boolean
>();

function conditionsHold(
  conditions: readonly Condition[],
  scope: ConditionScope,
  now: Date,
): boolean {
  let test = compiledConditions.get(conditions);
  if (!test) {
    test = compileConditions({ all: [...conditions] });
    compiledConditions.set(conditions, test);
  }
  return test(scope, now);
}

/** Decides one boolean-or-conditions setting; undefined when it allows. */
function settingBlocks(
  setting: ChannelSetting | undefined | null,
  scope: ConditionScope,
  now: Date,
): string | undefined {
  if (setting === undefined || setting === null || setting === true) return undefined;
  if (setting === false) return "false";
  if (
    isPlainObject(setting) &&
    Array.isArray(setting.conditions) &&
    !conditionsHold(setting.conditions, scope, now)
  ) {
    return "conditions not met";
  }
  return undefined;
}

/** `channels[key]` beats `channel_types[type]`: the more specific setting decides when present. */
function channelBlocks(
  channels: Record<string, ChannelSetting> | null | undefined,
  channelTypes: Record<string, ChannelSetting> | null | undefined,
  subject: PreferenceSubject,
  prefix: string,
  scope: ConditionScope,
  now: Date,
): { path: string; why: string } | undefined {
  const channel = channels?.[subject.channelKey];
  if (channel !== undefined && channel !== null) {
    const why = settingBlocks(channel, scope, now);
    return why ? { path: `${prefix}channels.${subject.channelKey}`, why } : undefined;
  }
  const type = channelTypes?.[subject.channelType];
  const why = settingBlocks(type, scope, now);
  return why ? { path: `${prefix}channel_types.${subject.channelType}`, why } : undefined;
}

function entryBlocks(
  entry: WorkflowPreferenceSetting | undefined,
  path: string,
  subject: PreferenceSubject,
  scope: ConditionScope,
  now: Date,
): { path: string; why: string } | undefined {
  if (entry === undefined || entry === null || entry === true) return undefined;
  if (entry === false) return { path, why: "false" };
  if (!isPlainObject(entry)) return undefined;
  if (Array.isArray(entry.conditions) && !conditionsHold(entry.conditions, scope, now)) {
    return { path: `${path}.conditions`, why: "conditions not met" };
  }
  return channelBlocks(entry.channels, entry.channel_types, subject, `${path}.`, scope, now);
}

/**
 * @internal Decides whether a message may be sent: every preference that exists for it must allow
 * it. `override_preferences` workflows send regardless, except that a commercial workflow always
 * respects `commercial_subscribed` (an unsubscribe is never overridden).
 */
export function evaluatePreferences(
  set: PreferenceSetInput,
  subject: PreferenceSubject,
  scope: ConditionScope,
  now: Date,
): { path: string; why: string } | undefined {
  if (subject.isCommercial) {
    const why = settingBlocks(set.commercial_subscribed, scope, now);
    if (why) return { path: "commercial_subscribed", why };
  }
  if (subject.overridePreferences) return undefined;
  const workflows = set.workflows ?? {};
  const blockedByWorkflow = entryBlocks(
    workflows[subject.workflowKey],
    `workflows.${subject.workflowKey}`,
    subject,
    scope,
    now,
  );
  if (blockedByWorkflow) return blockedByWorkflow;
  const categories = set.categories ?? {};
  for (const category of subject.categories) {
    const blocked = entryBlocks(
      categories[category],
      `categories.${category}`,
      subject,
      scope,
      now,
    );
    if (blocked) return blocked;
  }
  return channelBlocks(set.channels, set.channel_types, subject, "", scope, now);
}

/** @internal Reads a dot path of a set (for explanations: which source set holds the value). */
export function preferenceValueAt(
  set: PreferenceSetInput | null | undefined,
  path: string,
): unknown {
  let value: unknown = set;
  for (const part of path.replace(/\.conditions$/, "").split(".")) {
    if (!isPlainObject(value)) return undefined;
    value = Object.hasOwn(value, part) ? value[part] : undefined;
  }
  return value;
}

/** @internal The sentence for a blocked message: "categories.marketing = false in set default (tenant acme)". */
export function explainBlock(
  blocked: { path: string; why: string },
  sources: readonly PreferenceSource[],
): { path: string; detail: string } {
  let origin = "defaults";
  for (let i = sources.length - 1; i >= 0; i--) {
    const source = sources[i];
    if (source && preferenceValueAt(source.set, blocked.path) !== undefined) {
      origin = source.label;
      break;
    }
  }
  const value = blocked.why === "false" ? "false" : "conditions not met";
  return { path: blocked.path, detail: `${blocked.path} = ${value} in ${origin}` };
}
