/**
 * @internal Validating and normalising recipient requests, and shaping stored recipients for the
 * API and for run scopes.
 */

import { describe } from "../_internal/describe.js";
import { isPlainObject } from "../_internal/merge.js";
import type { ValidationIssue } from "../errors.js";
import { validatePreferenceSet } from "../preferences/validate.js";
import { isValidTimeZone } from "../scheduling/repeat.js";
import {
  type RecipientKey,
  type RecipientPatch,
  type Store,
  type StoredRecipient,
  TENANTS_COLLECTION,
  USERS_COLLECTION,
} from "../store/types.js";
import type { RecipientObject, RecipientReference, Tenant, User } from "./types.js";

/**
 * @internal On an inline recipient of a trigger: data merged over the trigger's `data` for that
 * recipient's run only (never stored as a property).
 */
export const TRIGGER_DATA_KEY = "$trigger_data";

/** @internal Keys of an identify request that are not plain properties. */
const RESERVED_KEYS = new Set([
  "id",
  "collection",
  "channel_data",
  "preferences",
  "created_at",
  "__typename",
  TRIGGER_DATA_KEY,
]);

/** @internal Custom properties above this serialized size are rejected (as Knock's 256 kB). */
const MAX_PROPERTIES_BYTES = 256 * 1024;

/** @internal A recipient request, validated and split into what identifies it and what to merge. */
export interface NormalizedRecipient {
  key: RecipientKey;
  ref: RecipientReference;
  /** What to upsert, or null for a bare reference. */
  patch: RecipientPatch | null;
  /** The request's `$trigger_data` (a copy), or null when it has none. */
  triggerData: Record<string, unknown> | null;
}

/** @internal Checks an id as Knock does: a non-empty string of at most 256 chars without `/` or `#`. */
export function checkId(
  id: unknown,
  field: string,
  issues: ValidationIssue[],
  what = "id",
): id is string {
  if (typeof id !== "string") {
    issues.push({
      field,
      type: "type",
      message: `expected ${what} to be a string, received ${describe(id)}`,
    });
    return false;
  }
  if (id.length === 0 || id.length > 256) {
    issues.push({
      field,
      type: "length",
      message: `expected ${what} of 1 to 256 characters, received ${id.length} characters`,
    });
    return false;
  }
  if (id.includes("/") || id.includes("#")) {
    issues.push({
      field,
      type: "format",
      message: `expected ${what} without "/" or "#", received "${id}"`,
    });
    return false;
  }
  return true;
}

/** @internal The store key of a reference. */
export function refToKey(ref: RecipientReference): RecipientKey {
  return typeof ref === "string"
    ? { collection: USERS_COLLECTION, id: ref }
    : { collection: ref.collection, id: ref.id };
}

/** @internal The reference of a store key. */
export function keyToRef(key: RecipientKey): RecipientReference {
  return key.collection === USERS_COLLECTION ? key.id : { id: key.id, collection: key.collection };
}

/** @internal True when two keys name the same recipient. */
export function sameKey(a: RecipientKey, b: RecipientKey): boolean {
  return a.id === b.id && a.collection === b.collection;
}

/**
 * @internal Validates identify properties (everything but `id`/`collection`) and splits them into a
 * patch. Issues are reported under `field`.
 */
export function propertiesToPatch(
  props: Record<string, unknown>,
  field: string,
  issues: ValidationIssue[],
): RecipientPatch {
  const patch: RecipientPatch = {};
  const properties: Record<string, unknown> = {};
  for (const key of Object.keys(props)) {
    if (RESERVED_KEYS.has(key)) continue;
    const value = props[key];
    if (value !== undefined)
      Object.defineProperty(properties, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  const timezone = properties.timezone;
  if (timezone !== undefined && timezone !== null && !isValidTimeZone(timezone)) {
    issues.push({
      field: `${field}.timezone`,
      type: "format",
      message: `expected a tz database timezone such as "America/New_York" (or null to clear it), received ${describe(timezone)}`,
    });
  }
  if (Object.keys(properties).length > 0) {
    const size = jsonSize(properties, `${field}`, issues);
    if (size > MAX_PROPERTIES_BYTES) {
      issues.push({
        field,
        type: "size",
        message: `expected custom properties of at most 256 kB, received ${Math.round(size / 1024)} kB`,
      });
    }
    patch.properties = properties;
  }
  const channelData = props.channel_data;
  if (channelData !== undefined && channelData !== null) {
    if (!isPlainObject(channelData)) {
      issues.push({
        field: `${field}.channel_data`,
        type: "type",
        message: `expected an object of channel key to data, received ${describe(channelData)}`,
      });
    } else {
      const entries: Record<string, Record<string, unknown>> = {};
      for (const [channel, data] of Object.entries(channelData)) {
        const wrapped = isPlainObject(data) && isPlainObject(data.data) ? data.data : data;
        if (!isPlainObject(wrapped)) {
          issues.push({
            field: `${field}.channel_data.${channel}`,
            type: "type",
            message: `expected an object, received ${describe(data)}`,
          });
        } else entries[channel] = wrapped;
      }
      patch.channel_data = entries;
    }
  }
  const preferences = props.preferences;
  if (preferences !== undefined && preferences !== null) {
    if (!isPlainObject(preferences)) {
      issues.push({
        field: `${field}.preferences`,
        type: "type",
        message: `expected an object of preference set id to preference set, received ${describe(preferences)}`,
      });
    } else {
      const sets: Record<string, Record<string, unknown>> = {};
      for (const [setId, set] of Object.entries(preferences)) {
        const setField = `${field}.preferences.${setId}`;
        if (checkId(setId, setField, issues, "a preference set id")) {
          sets[setId] = validatePreferenceSet(set, setField, issues).set as Record<string, unknown>;
        }
      }
      patch.preferences = sets;
    }
  }
  if (props.created_at !== undefined) {
    if (
      props.created_at !== null &&
      (typeof props.created_at !== "string" || Number.isNaN(Date.parse(props.created_at)))
    ) {
      issues.push({
        field: `${field}.created_at`,
        type: "format",
        message: `expected an ISO-8601 timestamp or null, received ${describe(props.created_at)}`,
      });
    } else patch.created_at = props.created_at;
  }
  return patch;
}

/**
 * @internal Validates one recipient request (a user id, an object reference, or an inline user or
 * object) and normalises it. Returns null after pushing issues when it is invalid.
 */
export function normalizeRecipient(
  input: unknown,
  field: string,
  issues: ValidationIssue[],
): NormalizedRecipient | null {
  if (typeof input === "string") {
    if (!checkId(input, field, issues, "a user id")) return null;
    return {
      key: { collection: USERS_COLLECTION, id: input },
      ref: input,
      patch: null,
      triggerData: null,
    };
  }
  if (!isPlainObject(input)) {
    issues.push({
      field,
      type: "type",
      message: `expected a user id, { id, collection } or an inline recipient object, received ${describe(input)}`,
    });
    return null;
  }
  const before = issues.length;
  checkId(input.id, `${field}.id`, issues);
  const collection = input.collection;
  if (collection !== undefined) checkId(collection, `${field}.collection`, issues, "a collection");
  if (issues.length > before) return null;
  const id = input.id as string;
  const triggerData = readTriggerData(input, field, issues);
  if (typeof collection === "string") {
    // `{ id, collection }` alone references an object; with properties it identifies it.
    const extraKeys = Object.keys(input).filter(
      (key) => key !== "id" && key !== "collection" && key !== TRIGGER_DATA_KEY,
    );
    const patch = extraKeys.length > 0 ? propertiesToPatch(input, field, issues) : null;
    return { key: { collection, id }, ref: { id, collection }, patch, triggerData };
  }
  // A user given as an object is identified inline, even with no other property.
  return {
    key: { collection: USERS_COLLECTION, id },
    ref: id,
    patch: propertiesToPatch(input, field, issues),
    triggerData,
  };
}

/** `$trigger_data`: a JSON object (copied), or null when absent or null. */
function readTriggerData(
  input: Record<string, unknown>,
  field: string,
  issues: ValidationIssue[],
): Record<string, unknown> | null {
  if (!Object.hasOwn(input, TRIGGER_DATA_KEY)) return null;
  const value = input[TRIGGER_DATA_KEY];
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) {
    issues.push({
      field: `${field}.${TRIGGER_DATA_KEY}`,
      type: "type",
      message: `expected a JSON object merged over the trigger's data for this recipient, received ${describe(value)}`,
    });
    return null;
  }
  const before = issues.length;
  jsonSize(value, `${field}.${TRIGGER_DATA_KEY}`, issues);
  return issues.length > before
    ? null
    : (JSON.parse(JSON.stringify(value)) as Record<string, unknown>);
}

/** @internal The serialized size of a JSON value, or an issue when it is not JSON. */
export function jsonSize(value: unknown, field: string, issues: ValidationIssue[]): number {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 0 : Buffer.byteLength(text, "utf8");
  } catch (error) {
    issues.push({
      field,
      type: "type",
      message: `expected JSON data, received a value that cannot be serialized (${(error as Error).message})`,
    });
    return 0;
  }
}

/** @internal A stored user as the API returns it. */
export function toUser(stored: StoredRecipient): User {
  return {
    __typename: "User",
    id: stored.id,
    ...stored.properties,
    created_at: stored.created_at,
    updated_at: stored.updated_at,
  } as User;
}

/** @internal A stored object as the API returns it. */
export function toObject(stored: StoredRecipient): RecipientObject {
  return {
    __typename: "Object",
    id: stored.id,
    collection: stored.collection,
    properties: { ...stored.properties },
    created_at: stored.created_at,
    updated_at: stored.updated_at,
  };
}

/**
 * @internal A tenant's properties as a patch. Its `settings.preference_set` is kept as the tenant's
 * `default` preference set (merged, or replaced when it says `__persistence_strategy__: "replace"`).
 */
export function tenantToPatch(
  props: Record<string, unknown>,
  field: string,
  issues: ValidationIssue[],
): { patch: RecipientPatch; replacePreferences: Record<string, unknown> | null } {
  const settings = props.settings;
  let preferenceSet: Record<string, unknown> | null = null;
  let replace = false;
  let rest = props;
  if (isPlainObject(settings) && settings.preference_set !== undefined) {
    const { preference_set, ...otherSettings } = settings;
    rest = { ...props, settings: otherSettings };
    if (preference_set !== null) {
      const validated = validatePreferenceSet(
        preference_set,
        `${field}.settings.preference_set`,
        issues,
      );
      preferenceSet = validated.set as Record<string, unknown>;
      replace = validated.strategy === "replace";
    }
  }
  const patch = propertiesToPatch(rest, field, issues);
  if (preferenceSet && !replace)
    patch.preferences = { ...patch.preferences, default: preferenceSet };
  return { patch, replacePreferences: replace ? preferenceSet : null };
}

/** @internal A stored tenant as the API returns it (its default preference set as `settings.preference_set`). */
export function toTenant(stored: StoredRecipient): Tenant {
  const settings = isPlainObject(stored.properties.settings) ? stored.properties.settings : {};
  const preferenceSet = stored.preferences.default ?? null;
  const tenant: Record<string, unknown> = {
    __typename: "Tenant",
    id: stored.id,
    ...stored.properties,
    created_at: stored.created_at,
    updated_at: stored.updated_at,
  };
  if (preferenceSet || stored.properties.settings !== undefined)
    tenant.settings = { ...settings, preference_set: preferenceSet };
  return tenant as Tenant;
}

/**
 * @internal A recipient as templates and conditions see it: properties at the top level with `id`
 * (and `collection` for objects).
 */
export function toScopeRecipient(stored: StoredRecipient): Record<string, unknown> {
  if (stored.collection === USERS_COLLECTION) return toUser(stored);
  if (stored.collection === TENANTS_COLLECTION) return toTenant(stored);
  return {
    __typename: "Object",
    ...stored.properties,
    id: stored.id,
    collection: stored.collection,
    created_at: stored.created_at,
    updated_at: stored.updated_at,
  };
}

/** @internal Who a run involves: its recipient, and its actor and tenant when it has them. */
type RunParties = {
  recipient: RecipientReference;
  actor: RecipientReference | null;
  tenant: string | null;
};

/** @internal A run's recipient, actor and tenant as stored (null where missing or unset). */
export interface Participants {
  recipient: StoredRecipient | null;
  actor: StoredRecipient | null;
  tenant: StoredRecipient | null;
}

/** @internal The keys of a run's recipient, actor (when set) and tenant (when set), in that order. */
export function participantKeys(run: RunParties): RecipientKey[] {
  const keys = [refToKey(run.recipient)];
  if (run.actor) keys.push(refToKey(run.actor));
  if (run.tenant) keys.push({ collection: TENANTS_COLLECTION, id: run.tenant });
  return keys;
}

/** @internal Recipients read together, by collection, then id (null: read, and not found). */
export type RecipientsRead = Map<string, Map<string, StoredRecipient | null>>;

/** @internal Adds recipients read for `keys` (in their order) to `read`. */
export function addRead(
  read: RecipientsRead,
  keys: readonly RecipientKey[],
  loaded: ReadonlyArray<StoredRecipient | null>,
): void {
  keys.forEach((key, i) => {
    let ofCollection = read.get(key.collection);
    if (!ofCollection) {
      ofCollection = new Map();
      read.set(key.collection, ofCollection);
    }
    ofCollection.set(key.id, loaded[i] ?? null);
  });
}

/** A recipient read already (undefined: not read). */
function readOne(
  read: RecipientsRead,
  ref: RecipientReference,
): StoredRecipient | null | undefined {
  return typeof ref === "string"
    ? read.get(USERS_COLLECTION)?.get(ref)
    : read.get(ref.collection)?.get(ref.id);
}

/** @internal A run's recipient, actor and tenant, read in one store call (null where missing or unset). */
export async function loadParticipants(store: Store, run: RunParties): Promise<Participants> {
  const loaded = await store.getRecipients(participantKeys(run));
  return {
    recipient: loaded[0] ?? null,
    actor: run.actor ? (loaded[1] ?? null) : null,
    tenant: run.tenant ? (loaded[run.actor ? 2 : 1] ?? null) : null,
  };
}

/**
 * @internal A run's participants from recipients read already; undefined when one of them was
 * not read.
 */
export function participantsFrom(read: RecipientsRead, run: RunParties): Participants | undefined {
  const recipient = readOne(read, run.recipient);
  if (recipient === undefined) return undefined;
  const actor = run.actor ? readOne(read, run.actor) : null;
  if (actor === undefined) return undefined;
  const tenant = run.tenant ? read.get(TENANTS_COLLECTION)?.get(run.tenant) : null;
  if (tenant === undefined) return undefined;
  return { recipient, actor, tenant };
}
