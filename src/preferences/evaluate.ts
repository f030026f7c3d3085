/**
 * @internal Preference evaluation, as Knock does it: merge the applicable sets once per run, then
 * decide each channel step with a pure function of (workflow, channel, merged set, scope).
 */

import { getOwn, isPlainObject, setOwn } from "../_internal/merge.js";
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

function isReplace(value: unknown): boolean {
  return isPlainObject(value) && getOwn(value, "__strategy__") === "replace";
}

/** A copy of a plain object without its `__strategy__` marker (the value itself when it has none). */
function withoutMarker<T>(value: T): T {
  if (!isPlainObject(value) || !Object.hasOwn(value, "__strategy__")) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) if (key !== "__strategy__") setOwn(copy, key, value[key]);
  return copy as T;
}

/** A workflow or category entry without markers, its nested channel maps included. */
function entryWithoutMarkers(entry: WorkflowPreferenceSetting): WorkflowPreferenceSetting {
  if (!isPlainObject(entry)) return entry;
  const nestedMarked = (["channel_types", "channels"] as const).some(
    (section) => isPlainObject(entry[section]) && Object.hasOwn(entry[section], "__strategy__"),
  );
  if (!nestedMarked) return withoutMarker(entry);
  const copy = withoutMarker({ ...entry }) as Record<string, unknown>;
  for (const section of ["channel_types", "channels"] as const)
    if (isPlainObject(copy[section])) copy[section] = withoutMarker(copy[section]);
  return copy as WorkflowPreferenceSetting;
}

/** @internal A merged set as evaluation and `getPreferences` see it: every `__strategy__` marker removed. */
export function withoutStrategyMarkers(set: PreferenceSetInput): PreferenceSetInput {
  const result: PreferenceSetInput = { ...set };
  for (const section of ["workflows", "categories"] as const) {
    const entries = set[section];
    if (!isPlainObject(entries)) continue;
    const copy: Record<string, WorkflowPreferenceSetting> = {};
    for (const key of Object.keys(entries)) {
      if (key === "__strategy__") continue;
      setOwn(copy, key, entryWithoutMarkers(entries[key] as WorkflowPreferenceSetting));
    }
    result[section] = copy;
  }
  for (const section of ["channel_types", "channels"] as const) {
    const map = set[section];
    if (isPlainObject(map)) result[section] = withoutMarker(map);
  }
  return result;
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
  // A lower entry's marker other than "replace" (which never gets here) means nothing above it.
  if (!isReplace(higher)) delete merged.__strategy__;
  return merged as WorkflowPreferenceSetting;
}

/**
 * Merges two sets key by key, `higher` winning, except where an entry of `lower` says
 * `__strategy__: "replace"`: then the lower entry replaces the higher one. The `replace` markers
 * are kept, so that a replace entry low in a chain also overrides every set above the next one.
 */
function mergeKeepingMarkers(
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
      if (key === "__strategy__") continue;
      const lv = getOwn(l, key) as WorkflowPreferenceSetting | undefined;
      const hv = getOwn(h, key) as WorkflowPreferenceSetting | undefined;
      let value: WorkflowPreferenceSetting | undefined;
      if (lv !== undefined && isReplace(lv)) value = lv;
      else if (hv === undefined) value = lv;
      else if (lv === undefined) value = hv;
      else value = mergeWorkflowSetting(lv, hv);
      if (value !== undefined) setOwn(merged, key, value);
    }
    result[section] = merged;
  }
  for (const section of ["channel_types", "channels"] as const) {
    const l = lower[section];
    const h = higher[section];
    if (!l && !h) continue;
    if (isReplace(l)) result[section] = l as Record<string, ChannelSetting>;
    else {
      const merged: Record<string, unknown> = { ...withoutMarker(l ?? {}), ...(h ?? {}) };
      result[section] = merged as Record<string, ChannelSetting>;
    }
  }
  const commercial = higher.commercial_subscribed ?? lower.commercial_subscribed;
  if (commercial !== undefined && commercial !== null) result.commercial_subscribed = commercial;
  return result;
}

/**
 * @internal Merges two sets key by key, `higher` winning, except where an entry of `lower` says
 * `__strategy__: "replace"` (at a workflow or category key, or on `channel_types` / `channels`):
 * then the lower entry replaces the higher one. The result carries no markers.
 */
export function mergePreferenceSets(
  lower: PreferenceSetInput,
  higher: PreferenceSetInput,
): PreferenceSetInput {
  return withoutStrategyMarkers(mergeKeepingMarkers(lower, higher));
}

/**
 * @internal Merges a chain of sets, lowest precedence first. A `__strategy__: "replace"` entry
 * overrides that key in every set above it (so the lowest replace entry of a key wins); the
 * markers are removed from the result.
 */
export function mergeChain(sources: readonly PreferenceSource[]): PreferenceSetInput {
  let merged: PreferenceSetInput = {};
  for (const source of sources) if (source.set) merged = mergeKeepingMarkers(merged, source.set);
  return withoutStrategyMarkers(merged);
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

/**
 * @internal Why a message is blocked: the path of the deciding setting (`categories.marketing`,
 * `workflows.digest.channel_types.email`) as text and as keys, and whether it is `false` or its
 * conditions do not hold.
 */
export interface PreferenceBlock {
  path: string;
  /** The same path as keys (a category or channel key may itself contain a dot). */
  keys: readonly string[];
  why: string;
}

function block(keys: readonly string[], why: string): PreferenceBlock {
  return { path: keys.join("."), keys, why };
}

/** An own entry of a preference map (never one inherited from `Object.prototype`). */
function own<T>(map: Record<string, T> | null | undefined, key: string): T | undefined {
  return isPlainObject(map) ? (getOwn(map, key) as T | undefined) : undefined;
}

/** `channels[key]` beats `channel_types[type]`: the more specific setting decides when present. */
function channelBlocks(
  channels: Record<string, ChannelSetting> | null | undefined,
  channelTypes: Record<string, ChannelSetting> | null | undefined,
  subject: PreferenceSubject,
  prefix: readonly string[],
  scope: ConditionScope,
  now: Date,
): PreferenceBlock | undefined {
  const channel = own(channels, subject.channelKey);
  if (channel !== undefined && channel !== null) {
    const why = settingBlocks(channel, scope, now);
    return why ? block([...prefix, "channels", subject.channelKey], why) : undefined;
  }
  const type = own(channelTypes, subject.channelType);
  const why = settingBlocks(type, scope, now);
  return why ? block([...prefix, "channel_types", subject.channelType], why) : undefined;
}

function entryBlocks(
  entry: WorkflowPreferenceSetting | undefined,
  keys: readonly string[],
  subject: PreferenceSubject,
  scope: ConditionScope,
  now: Date,
): PreferenceBlock | undefined {
  if (entry === undefined || entry === null || entry === true) return undefined;
  if (entry === false) return block(keys, "false");
  if (!isPlainObject(entry)) return undefined;
  if (Array.isArray(entry.conditions) && !conditionsHold(entry.conditions, scope, now)) {
    return block([...keys, "conditions"], "conditions not met");
  }
  return channelBlocks(entry.channels, entry.channel_types, subject, keys, scope, now);
}

/**
 * @internal Decides whether a message may be sent: every preference that exists for it must allow
 * it. `override_preferences` workflows send regardless, except that a commercial workflow always
 * respects `commercial_subscribed` (an unsubscribe is never overridden). Only own keys of the
 * set's maps count: a channel keyed `constructor` reads nothing from `Object.prototype`.
 */
export function evaluatePreferences(
  set: PreferenceSetInput,
  subject: PreferenceSubject,
  scope: ConditionScope,
  now: Date,
): PreferenceBlock | undefined {
  if (subject.isCommercial) {
    const why = settingBlocks(set.commercial_subscribed, scope, now);
    if (why) return block(["commercial_subscribed"], why);
  }
  if (subject.overridePreferences) return undefined;
  const blockedByWorkflow = entryBlocks(
    own(set.workflows, subject.workflowKey),
    ["workflows", subject.workflowKey],
    subject,
    scope,
    now,
  );
  if (blockedByWorkflow) return blockedByWorkflow;
  for (const category of subject.categories) {
    const blocked = entryBlocks(
      own(set.categories, category),
      ["categories", category],
      subject,
      scope,
      now,
    );
    if (blocked) return blocked;
  }
  return channelBlocks(set.channels, set.channel_types, subject, [], scope, now);
}

/**
 * @internal Reads a path of a set, as keys or as a dot path (for explanations: which source set
 * holds the value). A trailing `conditions` is dropped: the entry that holds them is the value.
 */
export function preferenceValueAt(
  set: PreferenceSetInput | null | undefined,
  path: string | readonly string[],
): unknown {
  const keys = typeof path === "string" ? path.split(".") : [...path];
  if (keys[keys.length - 1] === "conditions") keys.pop();
  let value: unknown = set;
  for (const part of keys) {
    if (!isPlainObject(value)) return undefined;
    value = getOwn(value, part);
  }
  return value;
}

/**
 * The entry a `__strategy__: "replace"` marker would sit on for a blocking path: the workflow or
 * category entry (`workflows.<key>`), or the top-level `channel_types` / `channels` map.
 */
function replaceableEntry(keys: readonly string[]): readonly string[] | null {
  const [section] = keys;
  if (section === "workflows" || section === "categories") return keys.slice(0, 2);
  if (section === "channel_types" || section === "channels") return keys.slice(0, 1);
  return null;
}

/**
 * @internal The sentence for a blocked message: "categories.marketing = false in set default
 * (tenant acme)". The deciding set is the lowest one whose entry says `__strategy__: "replace"`
 * (it overrides every set above it), else the highest set that holds the value.
 */
export function explainBlock(
  blocked: { path: string; why: string; keys?: readonly string[] },
  sources: readonly PreferenceSource[],
): { path: string; detail: string } {
  const keys = blocked.keys ?? blocked.path.split(".");
  let origin: string | undefined;
  const entry = replaceableEntry(keys);
  if (entry) {
    origin = sources.find((source) => isReplace(preferenceValueAt(source.set, entry)))?.label;
  }
  for (let i = sources.length - 1; origin === undefined && i >= 0; i--) {
    const source = sources[i];
    if (source && preferenceValueAt(source.set, keys) !== undefined) origin = source.label;
  }
  const value = blocked.why === "false" ? "false" : "conditions not met";
  return { path: blocked.path, detail: `${blocked.path} = ${value} in ${origin ?? "defaults"}` };
}
