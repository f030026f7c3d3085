/**
 * @internal Frozen copies, as the memory store keeps its values: deep copies of JSON data with
 * every object and array frozen, so that nothing a caller holds reaches stored state and nothing a
 * caller is handed can change it.
 *
 * The records a store holds by the hundred thousand (recipient runs, their log entries, messages)
 * are copied by functions that know their fields: an object literal with every field lays the
 * copy out in one block, where an object grown key by key keeps all but its first four properties
 * in a second, separate array (some 800 bytes more per recipient run, and a slower read of every
 * field). Each takes that way only when its input has exactly the fields it knows, in the engine's
 * order, none undefined; anything else is copied generically, with the same result. And each
 * keeps its input as it is, with no copy at all, when that input is frozen all through already
 * (the engine freezes the runs, log entries and messages it writes as it makes them).
 *
 * @module
 */

import { getOwn, isPlainObject, setOwn } from "../_internal/merge.js";
import type { Message } from "../messages/types.js";
import type { RunEvent, WorkflowRecipientRun } from "../workflows/run-types.js";

/** The one frozen empty array every empty array is stored as. */
const EMPTY: readonly unknown[] = Object.freeze([]);
/** The one frozen empty object every empty object is stored as (many log entries have no data). */
export const EMPTY_OBJECT: Readonly<Record<string, never>> = Object.freeze({});

/**
 * True when `value` is already what {@link freezeCopy} would make of it, so that it can be kept
 * as it is: a primitive, an object `freezeCopy` keeps as it is (not a plain object or array), a
 * value in `shared` (frozen by the store already), or a frozen plain object or array whose values
 * are all such, with no `undefined` object value (a copy drops those). Nothing can change such a
 * value, so keeping it is as safe as copying it: the engine freezes the records it writes (log
 * entries, messages, new runs) for the memory store to keep without a copy.
 */
export function isDeepFrozen(value: unknown, shared?: WeakSet<object>): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (shared?.has(value)) return true;
  if (Array.isArray(value)) {
    if (!Object.isFrozen(value)) return false;
    for (let i = 0; i < value.length; i++) if (!isDeepFrozen(value[i], shared)) return false;
    return true;
  }
  if (!isPlainObject(value)) return true;
  if (!Object.isFrozen(value)) return false;
  for (const key in value) {
    const item = value[key];
    if (item === undefined || !isDeepFrozen(item, shared)) return false;
  }
  return true;
}

/**
 * A deep copy of JSON data with every object and array frozen. Keys such as `__proto__` become own
 * data properties; `undefined` object values are dropped (as JSON drops them). A value that is
 * deeply frozen already ({@link isDeepFrozen}) is returned as it is.
 */
export function freezeCopy<T>(value: T, omit?: string): T {
  if (typeof value !== "object" || value === null) return value;
  if (
    Object.isFrozen(value) &&
    (omit === undefined || !Object.hasOwn(value, omit)) &&
    isDeepFrozen(value)
  )
    return value;
  if (Array.isArray(value)) {
    if (value.length === 0) return EMPTY as T;
    const copy: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = freezeCopy(value[i]);
    return Object.freeze(copy) as T;
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return EMPTY_OBJECT as T;
    const copy: Record<string, unknown> = {};
    for (const key of keys) {
      const item = value[key];
      if (item === undefined || key === omit) continue;
      // Only `__proto__` is an accessor on plain objects; every other key assigns an own property.
      if (key === "__proto__") setOwn(copy, key, freezeCopy(item));
      else copy[key] = freezeCopy(item);
    }
    return Object.freeze(copy) as T;
  }
  return value;
}

/** {@link freezeCopy} of an object, but with `key` set to `shared` (a value frozen already) as is. */
export function freezeWith<T extends object>(value: T, key: string, shared: unknown): T {
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[name];
    if (item === undefined) continue;
    if (name === key) copy[name] = shared;
    else if (name === "__proto__") setOwn(copy, name, freezeCopy(item));
    else copy[name] = freezeCopy(item);
  }
  return Object.freeze(copy) as T;
}

/**
 * Identify's deep merge (as `deepMerge` in `_internal/merge.ts`: objects merge key by key, anything
 * else replaces, `null` is stored, `undefined` ignored) over a frozen base: the result shares the
 * base's untouched frozen values and is itself frozen.
 */
export function mergeFrozen(
  base: Readonly<Record<string, unknown>>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(base)) setOwn(out, key, getOwn(base, key));
  for (const key of Object.keys(patch)) {
    const next = patch[key];
    if (next === undefined) continue;
    const current = getOwn(out, key);
    setOwn(
      out,
      key,
      isPlainObject(current) && isPlainObject(next) ? mergeFrozen(current, next) : freezeCopy(next),
    );
  }
  return Object.freeze(out);
}

/** A frozen copy of `base` with `key` set to `value` (or removed when `value` is undefined). */
export function withKey(
  base: Readonly<Record<string, unknown>>,
  key: string,
  value: unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(base)) if (k !== key) setOwn(out, k, getOwn(base, k));
  if (value !== undefined) setOwn(out, key, value);
  return Object.freeze(out);
}

/** True for a value that is not an object (or is null): nothing to copy or freeze. */
function scalar(value: unknown): boolean {
  return typeof value !== "object" || value === null;
}

/**
 * True when the own enumerable keys of `value` (a plain object) are exactly `expected`, in order.
 * A `for…in` walk allocates nothing where `Object.keys` makes an array per call.
 */
function keysAre(value: object, expected: readonly string[]): boolean {
  let i = 0;
  for (const key in value) {
    if (key !== expected[i]) return false;
    i++;
  }
  return i === expected.length;
}

const RUN_EVENT_KEYS = [
  "event",
  "status",
  "step_ref",
  "step_type",
  "attempt",
  "data",
  "inserted_at",
] as const;
const RUN_EVENT_KEYS_WITH_REASON = [...RUN_EVENT_KEYS, "reason"] as const;

/** @internal A frozen copy of a run-log entry. */
export function freezeRunEvent(event: RunEvent): RunEvent {
  const withReason = Object.hasOwn(event, "reason");
  if (!keysAre(event, withReason ? RUN_EVENT_KEYS_WITH_REASON : RUN_EVENT_KEYS))
    return freezeCopy(event);
  const { status, step_ref, step_type, attempt, data, inserted_at, reason } = event;
  const name = event.event;
  if (
    name === undefined ||
    status === undefined ||
    step_ref === undefined ||
    step_type === undefined ||
    attempt === undefined ||
    data === undefined ||
    inserted_at === undefined ||
    (withReason && reason === undefined)
  )
    return freezeCopy(event);
  if (
    Object.isFrozen(event) &&
    scalar(name) &&
    scalar(status) &&
    scalar(step_ref) &&
    scalar(step_type) &&
    scalar(attempt) &&
    scalar(inserted_at) &&
    scalar(reason) &&
    isDeepFrozen(data)
  )
    return event;
  // Two literals, not one with `reason` added after: a property added to a literal lands in a
  // second array, which is what these copies exist to avoid.
  const copy: RunEvent = withReason
    ? {
        event: freezeCopy(name),
        status: freezeCopy(status),
        step_ref: freezeCopy(step_ref),
        step_type: freezeCopy(step_type),
        attempt: freezeCopy(attempt),
        data: freezeCopy(data),
        inserted_at: freezeCopy(inserted_at),
        reason: freezeCopy(reason),
      }
    : {
        event: freezeCopy(name),
        status: freezeCopy(status),
        step_ref: freezeCopy(step_ref),
        step_type: freezeCopy(step_type),
        attempt: freezeCopy(attempt),
        data: freezeCopy(data),
        inserted_at: freezeCopy(inserted_at),
      };
  return Object.freeze(copy);
}

const RECIPIENT_RUN_KEYS = [
  "__typename",
  "id",
  "workflow_run_id",
  "workflow",
  "workflow_version",
  "status",
  "recipient",
  "actor",
  "tenant",
  "data",
  "subscription",
  "trigger_source",
  "cursor",
  "version",
  "error_count",
  "inserted_at",
  "updated_at",
] as const;

/**
 * @internal A frozen copy of a new recipient run, without its `events`. Values in `shared`
 * (frozen by the store already: its workflow run's data and trigger source) are kept as they are.
 */
export function freezeRecipientRun(
  run: WorkflowRecipientRun,
  shared: WeakSet<object>,
): WorkflowRecipientRun {
  if (!keysAre(run, RECIPIENT_RUN_KEYS)) return freezeCopy(run, "events");
  for (const key of RECIPIENT_RUN_KEYS)
    if (run[key] === undefined) return freezeCopy(run, "events");
  if (
    Object.isFrozen(run) &&
    scalar(run.__typename) &&
    scalar(run.id) &&
    scalar(run.workflow_run_id) &&
    scalar(run.workflow) &&
    scalar(run.workflow_version) &&
    scalar(run.status) &&
    isDeepFrozen(run.recipient) &&
    isDeepFrozen(run.actor) &&
    scalar(run.tenant) &&
    isDeepFrozen(run.data, shared) &&
    isDeepFrozen(run.subscription) &&
    isDeepFrozen(run.trigger_source, shared) &&
    scalar(run.cursor) &&
    scalar(run.version) &&
    scalar(run.error_count) &&
    scalar(run.inserted_at) &&
    scalar(run.updated_at)
  )
    return run;
  return Object.freeze({
    __typename: run.__typename,
    id: freezeCopy(run.id),
    workflow_run_id: freezeCopy(run.workflow_run_id),
    workflow: freezeCopy(run.workflow),
    workflow_version: freezeCopy(run.workflow_version),
    status: freezeCopy(run.status),
    recipient: freezeCopy(run.recipient),
    actor: freezeCopy(run.actor),
    tenant: freezeCopy(run.tenant),
    data: keepShared(run.data, shared),
    subscription: freezeCopy(run.subscription),
    trigger_source: keepShared(run.trigger_source, shared),
    cursor: freezeCopy(run.cursor),
    version: freezeCopy(run.version),
    error_count: freezeCopy(run.error_count),
    inserted_at: freezeCopy(run.inserted_at),
    updated_at: freezeCopy(run.updated_at),
  });
}

const MESSAGE_KEYS = [
  "__typename",
  "id",
  "channel_id",
  "channel_type",
  "recipient",
  "actors",
  "workflow",
  "tenant",
  "source",
  "status",
  "engagement_statuses",
  "seen_at",
  "read_at",
  "interacted_at",
  "link_clicked_at",
  "archived_at",
  "data",
  "content",
  "metadata",
  "attempts",
  "provider_message_id",
  "last_error",
  "inserted_at",
  "updated_at",
] as const;

const SOURCE_KEYS = [
  "__typename",
  "key",
  "version_id",
  "categories",
  "step_ref",
  "workflow_run_id",
  "workflow_recipient_run_id",
] as const;

/**
 * @internal A frozen copy of a new message. Its `data`, when in `shared` (its workflow run's data,
 * frozen by the store already), is kept as it is.
 */
export function freezeMessage(message: Message, shared: WeakSet<object>): Message {
  const data = message.data;
  const sharedData = data !== null && shared.has(data);
  const source = message.source;
  if (!keysAre(message, MESSAGE_KEYS) || !isPlainObject(source) || !keysAre(source, SOURCE_KEYS))
    return sharedData ? freezeWith(message, "data", data) : freezeCopy(message);
  for (const key of MESSAGE_KEYS) if (message[key] === undefined) return freezeCopy(message);
  for (const key of SOURCE_KEYS) if (source[key] === undefined) return freezeCopy(message);
  if (
    Object.isFrozen(message) &&
    Object.isFrozen(source) &&
    scalar(message.__typename) &&
    scalar(message.id) &&
    scalar(message.channel_id) &&
    scalar(message.channel_type) &&
    isDeepFrozen(message.recipient) &&
    isDeepFrozen(message.actors) &&
    scalar(message.workflow) &&
    scalar(message.tenant) &&
    scalar(source.__typename) &&
    scalar(source.key) &&
    scalar(source.version_id) &&
    isDeepFrozen(source.categories) &&
    scalar(source.step_ref) &&
    scalar(source.workflow_run_id) &&
    scalar(source.workflow_recipient_run_id) &&
    scalar(message.status) &&
    isDeepFrozen(message.engagement_statuses) &&
    scalar(message.seen_at) &&
    scalar(message.read_at) &&
    scalar(message.interacted_at) &&
    scalar(message.link_clicked_at) &&
    scalar(message.archived_at) &&
    isDeepFrozen(data, shared) &&
    isDeepFrozen(message.content) &&
    isDeepFrozen(message.metadata) &&
    scalar(message.attempts) &&
    scalar(message.provider_message_id) &&
    scalar(message.last_error) &&
    scalar(message.inserted_at) &&
    scalar(message.updated_at)
  )
    return message;
  return Object.freeze({
    __typename: message.__typename,
    id: freezeCopy(message.id),
    channel_id: freezeCopy(message.channel_id),
    channel_type: freezeCopy(message.channel_type),
    recipient: freezeCopy(message.recipient),
    actors: freezeCopy(message.actors),
    workflow: freezeCopy(message.workflow),
    tenant: freezeCopy(message.tenant),
    source: Object.freeze({
      __typename: source.__typename,
      key: freezeCopy(source.key),
      version_id: freezeCopy(source.version_id),
      categories: freezeCopy(source.categories),
      step_ref: freezeCopy(source.step_ref),
      workflow_run_id: freezeCopy(source.workflow_run_id),
      workflow_recipient_run_id: freezeCopy(source.workflow_recipient_run_id),
    }),
    status: freezeCopy(message.status),
    engagement_statuses: freezeCopy(message.engagement_statuses),
    seen_at: freezeCopy(message.seen_at),
    read_at: freezeCopy(message.read_at),
    interacted_at: freezeCopy(message.interacted_at),
    link_clicked_at: freezeCopy(message.link_clicked_at),
    archived_at: freezeCopy(message.archived_at),
    data: sharedData ? data : freezeCopy(data),
    content: freezeCopy(message.content),
    metadata: freezeCopy(message.metadata),
    attempts: freezeCopy(message.attempts),
    provider_message_id: freezeCopy(message.provider_message_id),
    last_error: freezeCopy(message.last_error),
    inserted_at: freezeCopy(message.inserted_at),
    updated_at: freezeCopy(message.updated_at),
  });
}

/** `value` itself when the store froze it already (it is in `shared`), else its frozen copy. */
function keepShared<T>(value: T, shared: WeakSet<object>): T {
  return typeof value === "object" && value !== null && shared.has(value)
    ? value
    : freezeCopy(value);
}

/** True when every key of `patch` is one of `allowed`. */
function keysWithin(patch: object, allowed: ReadonlySet<string>): boolean {
  for (const key in patch) if (!allowed.has(key)) return false;
  return true;
}

const RECIPIENT_RUN_KEY_SET: ReadonlySet<string> = new Set([...RECIPIENT_RUN_KEYS, "events"]);

/**
 * @internal The frozen next version of a stored recipient run: `patch` (its defined values
 * copied) over `previous`, at `version`; `id`, `version` and `events` in the patch are ignored.
 */
export function patchRecipientRun(
  previous: WorkflowRecipientRun,
  patch: Partial<WorkflowRecipientRun>,
  version: number,
): WorkflowRecipientRun {
  const given = patch as Record<string, unknown>;
  if (!keysAre(previous, RECIPIENT_RUN_KEYS) || !keysWithin(patch, RECIPIENT_RUN_KEY_SET)) {
    const next: Record<string, unknown> = { ...previous };
    for (const key of Object.keys(patch)) {
      if (key === "id" || key === "version" || key === "events") continue;
      const value = given[key];
      if (value !== undefined) setOwn(next, key, freezeCopy(value));
    }
    next.version = version;
    return Object.freeze(next) as unknown as WorkflowRecipientRun;
  }
  // The previous version's fields read one by one lay the copy out in one block; the patch's
  // few defined values then replace theirs (every key of the patch is a known field).
  const next: WorkflowRecipientRun = {
    __typename: previous.__typename,
    id: previous.id,
    workflow_run_id: previous.workflow_run_id,
    workflow: previous.workflow,
    workflow_version: previous.workflow_version,
    status: previous.status,
    recipient: previous.recipient,
    actor: previous.actor,
    tenant: previous.tenant,
    data: previous.data,
    subscription: previous.subscription,
    trigger_source: previous.trigger_source,
    cursor: previous.cursor,
    version,
    error_count: previous.error_count,
    inserted_at: previous.inserted_at,
    updated_at: previous.updated_at,
  };
  const fields = next as unknown as Record<string, unknown>;
  for (const key in patch) {
    if (key === "id" || key === "version" || key === "events") continue;
    const value = given[key];
    if (value !== undefined) fields[key] = freezeCopy(value);
  }
  return Object.freeze(next);
}

const MESSAGE_KEY_SET: ReadonlySet<string> = new Set(MESSAGE_KEYS);

/**
 * @internal The frozen next version of a stored message: `patch` (its defined values copied)
 * over `previous`; `id` and `__typename` in the patch are ignored.
 */
export function patchMessage(previous: Message, patch: Partial<Message>): Message {
  const given = patch as Record<string, unknown>;
  if (!keysAre(previous, MESSAGE_KEYS) || !keysWithin(patch, MESSAGE_KEY_SET)) {
    const next: Record<string, unknown> = { ...previous };
    for (const key of Object.keys(patch)) {
      if (key === "id" || key === "__typename") continue;
      const value = given[key];
      if (value !== undefined) setOwn(next, key, freezeCopy(value));
    }
    return Object.freeze(next) as unknown as Message;
  }
  const next: Message = {
    __typename: previous.__typename,
    id: previous.id,
    channel_id: previous.channel_id,
    channel_type: previous.channel_type,
    recipient: previous.recipient,
    actors: previous.actors,
    workflow: previous.workflow,
    tenant: previous.tenant,
    source: previous.source,
    status: previous.status,
    engagement_statuses: previous.engagement_statuses,
    seen_at: previous.seen_at,
    read_at: previous.read_at,
    interacted_at: previous.interacted_at,
    link_clicked_at: previous.link_clicked_at,
    archived_at: previous.archived_at,
    data: previous.data,
    content: previous.content,
    metadata: previous.metadata,
    attempts: previous.attempts,
    provider_message_id: previous.provider_message_id,
    last_error: previous.last_error,
    inserted_at: previous.inserted_at,
    updated_at: previous.updated_at,
  };
  const fields = next as unknown as Record<string, unknown>;
  for (const key in patch) {
    if (key === "id" || key === "__typename") continue;
    const value = given[key];
    if (value !== undefined) fields[key] = freezeCopy(value);
  }
  return Object.freeze(next);
}
