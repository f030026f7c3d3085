/**
 * The `Store` contract: where every fact of crier lives.
 *
 * A store keeps recipients, subscriptions, workflows, runs and their logs, messages, idempotency
 * records and once-only claims, batches, throttle windows, cancellations, schedules and sources. The engine holds no state of its own between jobs: any process with
 * the same store (and queue) can pick up any run.
 *
 * Rules every implementation follows:
 * - Every method may be called concurrently, from one process or many. The ones marked **atomic**
 *   must behave as a single step under concurrency (a transaction or a single statement in a
 *   database; a synchronous section in memory).
 * - Values go in and come out as plain JSON data. A store never keeps a reference to a value it was
 *   given (it copies it). What it returns is read-only to callers: a store may hand out frozen
 *   shared objects, so the engine copies before it changes anything.
 * - Timestamps are ISO-8601 strings supplied by the caller (the engine's clock); a store never reads
 *   the system time for anything it returns.
 * - List methods page with opaque cursors ({@link PageRequest}): they never load more than one page.
 *
 * `testStore(factory)` from `crier/testing` is the executable form of this contract.
 *
 * @module
 */
import type { Message, MessageDeliveryStatus, MessageEngagementStatus } from "../messages/types.js";
import type { RecipientReference } from "../recipients/types.js";
import type { RepeatRule } from "../scheduling/repeat.js";
import type {
  RunEvent,
  RunStatus,
  WorkflowRecipientRun,
  WorkflowRun,
} from "../workflows/run-types.js";
import type { Workflow, WorkflowInput } from "../workflows/types.js";

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** The collection that holds users. */
export const USERS_COLLECTION = "$users";
/** The collection that holds tenants. */
export const TENANTS_COLLECTION = "$tenants";

/**
 * Identifies any recipient. Users live in the `$users` collection and tenants in `$tenants`;
 * every other collection holds objects.
 */
export interface RecipientKey {
  collection: string;
  id: string;
}

/** A recipient as a store keeps it. */
export interface StoredRecipient {
  collection: string;
  id: string;
  /** Every property but the reserved ones below, deep-merged over time. `null` values are kept. */
  properties: Record<string, unknown>;
  /** Channel data by channel key. */
  channel_data: Record<string, Record<string, unknown>>;
  /** Preference sets by set id (`default` or a tenant id). */
  preferences: Record<string, Record<string, unknown>>;
  /** The caller's own creation time, when it gave one. */
  created_at: string | null;
  inserted_at: string;
  updated_at: string;
}

/** What an identify call changes. Absent parts are left as they are. */
export interface RecipientPatch {
  /** Deep-merged into `properties`: objects merge key by key, anything else replaces, `null` is stored. */
  properties?: Record<string, unknown>;
  /** Replaces the data of each channel named; `null` removes a channel's data. */
  channel_data?: Record<string, Record<string, unknown> | null>;
  /** Deep-merged into each preference set named. */
  preferences?: Record<string, Record<string, unknown>>;
  created_at?: string | null;
}

/** A subscription as a store keeps it. */
export interface StoredSubscription {
  object: RecipientKey;
  recipient: RecipientKey;
  properties: Record<string, unknown> | null;
  inserted_at: string;
  updated_at: string;
}

/** One page's worth of a list request. `after` and `before` are cursors from an earlier result. */
export interface PageRequest {
  /** At most this many items (1–1000). */
  limit: number;
  /** Items after this cursor (the next page). */
  after?: string | null;
  /** Items before this cursor (the previous page). */
  before?: string | null;
}

/** One page of a list, with the cursors of its neighbours (`null` where there is none). */
export interface PageResult<T> {
  items: T[];
  /** Pass as `after` for the next page; `null` when this is the last. */
  after: string | null;
  /** Pass as `before` for the previous page; `null` when this is the first. */
  before: string | null;
}

/** Filters of `listRecipientRuns`. Every given filter must match. */
export interface RunFilter {
  workflow?: string;
  status?: RunStatus[];
  tenant?: string;
  has_errors?: boolean;
  recipient?: RecipientKey;
  workflow_run_id?: string;
  /** Runs inserted at or after this instant. */
  starting_at?: string;
  /** Runs inserted at or before this instant. */
  ending_at?: string;
}

/** A range of timestamps. */
export interface TimeRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

/** Filters of `listMessages`. Every given filter must match. */
export interface MessageFilter {
  recipient?: RecipientKey;
  status?: MessageDeliveryStatus[];
  /** Messages that have any of these engagement statuses (`unseen`, `unread` and `unarchived` match their absence). */
  engagement_status?: Array<MessageEngagementStatus | "unseen" | "unread" | "unarchived">;
  channel_id?: string;
  tenant?: string;
  /** true: only messages with a tenant; false: only messages without. */
  has_tenant?: boolean;
  workflow?: string;
  workflow_categories?: string[];
  workflow_run_id?: string;
  workflow_recipient_run_id?: string;
  message_ids?: string[];
  inserted_at?: TimeRange;
  /** Messages that have every one of these engagement statuses. */
  with_engagement?: MessageEngagementStatus[];
  /** Messages that have none of these engagement statuses (e.g. a feed's unread, unarchived items). */
  without_engagement?: MessageEngagementStatus[];
}

/** What `countMessages` counts among the messages that match its filter. */
export interface MessageCounts {
  /** Every matching message. */
  total: number;
  /** The matching messages without the `read` engagement status. */
  unread: number;
  /** The matching messages without the `seen` engagement status. */
  unseen: number;
}

/** What `updateEngagement` does to each message it names. */
export interface EngagementUpdate {
  /** The engagement status to add or remove. */
  status: MessageEngagementStatus;
  /**
   * `true` adds the status and sets its timestamp (`seen_at`, `read_at`, `interacted_at`,
   * `link_clicked_at` or `archived_at`) to `now`, unless the message already has the status (the
   * first time is kept); `false` removes the status and sets its timestamp to null.
   */
  set: boolean;
  /** With `set: true`: replaces the message's `metadata` (an interaction's details). */
  metadata?: Record<string, unknown> | null;
}

/** What `updateEngagement` did to one message. */
export interface EngagementResult {
  /** The message as stored after the update. */
  message: Message;
  /** Whether this call changed it: the status was added or removed, or `metadata` was given. */
  changed: boolean;
}

/** What `putWorkflow` is given: the definition, its hash, and when. */
export interface WorkflowWrite {
  definition: WorkflowInput;
  sha: string;
  now: string;
}

/** The result of claiming an idempotency key. */
export type IdempotencyClaim =
  | { claimed: true }
  | { claimed: false; fingerprint: string; result: Record<string, unknown> };

/** One trigger's contribution to a batch. */
export interface BatchItem {
  /** The recipient run that brought it. */
  run_id: string;
  /** That run's data at the batch step. */
  data: Record<string, unknown>;
  actor: RecipientKey | null;
  inserted_at: string;
}

/** A batch as a store keeps it. */
export interface StoredBatch {
  /** Given by the append that opened it (one key has many batches over time). */
  id: string;
  /** What groups triggers: workflow, step (or version), recipient and the rendered `batch_key`. */
  key: string;
  workflow: string;
  step_ref: string;
  recipient: RecipientKey;
  /**
   * The run that continues when the batch closes (null until one is parked on it: with
   * `flush_leading`, the first trigger goes on at once and the next one becomes the continuing run).
   */
  continuing_run_id: string | null;
  /** With `flush_leading`: the run that opened the batch and went on at once; else null. */
  leading_run_id: string | null;
  status: "open" | "closed";
  opened_at: string;
  /** When the window closes (moves later for sliding windows, never past `closes_by`). */
  closes_at: string;
  /** The latest a sliding window may close (opened_at + extension limit), or null. */
  closes_by: string | null;
  /** Items in arrival order. */
  items: BatchItem[];
  /** When it closed, or null while open. */
  closed_at: string | null;
}

/** What `appendToBatch` is asked to do. */
export interface BatchAppend {
  key: string;
  id: string;
  workflow: string;
  step_ref: string;
  recipient: RecipientKey;
  run_id: string;
  /** The item to add (ignored when a `leading` append opens the batch). */
  item: BatchItem | null;
  /** For a new batch: when its window closes. */
  closes_at: string;
  /** For a new batch: the latest a sliding window may close, or null. */
  closes_by: string | null;
  /** For a sliding window: where an append moves `closes_at` (capped at `closes_by`); null for fixed. */
  slide_to: string | null;
  /** Close the batch once it holds this many items (null: no limit). */
  max_items: number | null;
  /** When true, the run that opens the batch does not wait on it (flush_leading). */
  leading: boolean;
}

/** What `appendToBatch` did. */
export interface BatchAppendResult {
  batch: StoredBatch;
  /**
   * `opened`: this run opened the batch and waits for it to close; `leading`: this run opened it
   * and goes on at once (flush_leading); `continuing`: this run is the first item after a leading
   * one and waits for the batch; `joined`: the item joined an open batch and this run ends.
   */
  role: "opened" | "leading" | "continuing" | "joined";
  /** The append filled the batch to `max_items` and closed it. */
  closed: boolean;
}

/** A cancellation, kept so that runs created after it from earlier triggers are cancelled too. */
export interface StoredCancellation {
  /** Unique per cancellation: a trigger records the ids it saw, which do not apply to it. */
  id: string;
  workflow: string;
  cancellation_key: string;
  /** Only these recipients, or every one (null). */
  recipients: RecipientKey[] | null;
  cancelled_at: string;
  expires_at: string;
}

/** The state of a throttle window after counting one more execution. */
export interface ThrottleCount {
  /** Executions counted in the current window, this one included. */
  count: number;
  window_started_at: string;
  window_ends_at: string;
}

/** A schedule as a store keeps it: when to trigger a workflow for one recipient. */
export interface StoredSchedule {
  id: string;
  workflow: string;
  recipient: RecipientReference;
  actor: RecipientReference | null;
  tenant: string | null;
  data: Record<string, unknown>;
  /** The repeat rules; empty for a one-off schedule (which fires once, at `scheduled_at`). */
  repeats: RepeatRule[];
  /** The start of a recurring schedule, or the instant of a one-off. */
  scheduled_at: string | null;
  /** No occurrence after this instant. */
  ending_at: string | null;
  last_occurrence_at: string | null;
  /** The occurrence the schedule waits for; null when it will not fire again. */
  next_occurrence_at: string | null;
  /** Bumped on every write; writes name the version they read (compare-and-set). */
  version: number;
  inserted_at: string;
  updated_at: string;
}

/** Filters of `listSchedules`. Every given filter must match. */
export interface ScheduleFilter {
  workflow?: string;
  /** Schedules of any of these recipients. */
  recipients?: RecipientKey[];
  tenant?: string;
}

/** A source's mapping of incoming events to actions, as a store keeps it. */
export interface StoredSource {
  key: string;
  /** The definition as given to `sources.set` (validated). */
  definition: Record<string, unknown>;
  inserted_at: string;
  updated_at: string;
}

/**
 * Where crier keeps its state. See the module documentation for the rules every method follows.
 */
export interface Store {
  /** A short name for messages and logs (`memory`, `postgres`). */
  readonly name: string;

  // ── Recipients (users, objects, tenants) ────────────────────────────────────────────────────

  /** The recipient, or null. */
  getRecipient(key: RecipientKey): MaybePromise<StoredRecipient | null>;
  /** Many recipients at once, in the order asked, null where missing. */
  getRecipients(keys: readonly RecipientKey[]): MaybePromise<Array<StoredRecipient | null>>;
  /**
   * **Atomic.** Creates the recipient when missing, else applies `patch` to it (see
   * {@link RecipientPatch}); `inserted_at` is set on creation, `updated_at` on every call.
   */
  upsertRecipient(
    key: RecipientKey,
    patch: RecipientPatch,
    now: string,
  ): MaybePromise<StoredRecipient>;
  /**
   * **Atomic.** Applies `patch` to an existing recipient, as `upsertRecipient` does; returns null,
   * creating nothing, when the recipient does not exist. Optional: without it the engine reads,
   * then upserts (`unsetChannelData` could then bring back a recipient deleted in between).
   */
  updateRecipient?(
    key: RecipientKey,
    patch: RecipientPatch,
    now: string,
  ): MaybePromise<StoredRecipient | null>;
  /**
   * **Atomic.** Deletes the recipient and every subscription it is part of, on either side.
   * Returns whether it existed.
   */
  deleteRecipient(key: RecipientKey): MaybePromise<boolean>;
  /**
   * The recipients of one collection (`$users` for users, `$tenants` for tenants), oldest first
   * (in the order they were created; one deleted and created again comes last), one page at a
   * time. Optional: `users.list`, `objects.list` and `tenants.list` need it, and say so when a
   * store lacks it.
   */
  listRecipients?(collection: string, page: PageRequest): MaybePromise<PageResult<StoredRecipient>>;
  /**
   * **Atomic.** Replaces one preference set of an existing recipient (`null` deletes it).
   * Returns the updated recipient, or null when the recipient does not exist.
   */
  setPreferenceSet(
    key: RecipientKey,
    setId: string,
    set: Record<string, unknown> | null,
    now: string,
  ): MaybePromise<StoredRecipient | null>;

  // ── Subscriptions ───────────────────────────────────────────────────────────────────────────

  /**
   * **Atomic.** Subscribes each recipient to the object, replacing the properties of an existing
   * subscription (`inserted_at` kept). Returns the subscriptions in the order given.
   */
  upsertSubscriptions(
    object: RecipientKey,
    recipients: readonly RecipientKey[],
    properties: Record<string, unknown> | null,
    now: string,
  ): MaybePromise<StoredSubscription[]>;
  /** **Atomic.** Removes those subscriptions; returns the ones that existed. */
  deleteSubscriptions(
    object: RecipientKey,
    recipients: readonly RecipientKey[],
  ): MaybePromise<StoredSubscription[]>;
  /** The object's subscribers, oldest subscription first, one page at a time. */
  listSubscribers(
    object: RecipientKey,
    page: PageRequest,
  ): MaybePromise<PageResult<StoredSubscription>>;
  /** The subscriptions a recipient holds, oldest first. */
  listSubscriptionsOf(
    recipient: RecipientKey,
    page: PageRequest,
  ): MaybePromise<PageResult<StoredSubscription>>;

  // ── Workflows ───────────────────────────────────────────────────────────────────────────────

  /**
   * **Atomic.** Stores a workflow definition. When the current version has the same `sha` nothing
   * changes but `active` (when the definition names it); otherwise a new version (current + 1, or 1)
   * becomes current, keeping `active` from the definition, else from the current version, else true.
   * Earlier versions stay readable by number. Returns the current version.
   */
  putWorkflow(write: WorkflowWrite): MaybePromise<Workflow>;
  /** The current version, or the numbered one; null when missing. */
  getWorkflow(key: string, version?: number): MaybePromise<Workflow | null>;
  /** The current version of every workflow, by key. */
  listWorkflows(): MaybePromise<Workflow[]>;
  /** **Atomic.** Sets the current version's `active`; null when the workflow is missing. */
  setWorkflowActive(key: string, active: boolean, now: string): MaybePromise<Workflow | null>;

  // ── Runs ────────────────────────────────────────────────────────────────────────────────────

  /** **Atomic, idempotent.** Stores a workflow run unless one with its id exists. Returns whether it was created. */
  createWorkflowRun(run: WorkflowRun): MaybePromise<boolean>;
  /** The workflow run, or null. */
  getWorkflowRun(id: string): MaybePromise<WorkflowRun | null>;
  /**
   * **Atomic per run, idempotent.** Stores each recipient run unless one with its id exists.
   * Returns, in order, whether each was created.
   */
  createRecipientRuns(runs: readonly WorkflowRecipientRun[]): MaybePromise<boolean[]>;
  /** The recipient run (without `events`), or null. */
  getRecipientRun(id: string): MaybePromise<WorkflowRecipientRun | null>;
  /**
   * The runs with these ids, in the order asked (null where there is none). Optional: a store
   * without it has the engine call `getRecipientRun` for each; a database answers in one query.
   */
  getRecipientRuns?(ids: readonly string[]): MaybePromise<Array<WorkflowRecipientRun | null>>;
  /**
   * **Atomic compare-and-set.** When the run's `version` equals `expectedVersion`, applies `patch`,
   * sets `version` to `expectedVersion + 1` and appends `events` to its log, all at once, and returns
   * the updated run. Otherwise changes nothing and returns null (someone else advanced it).
   */
  updateRecipientRun(
    id: string,
    expectedVersion: number,
    patch: Partial<Omit<WorkflowRecipientRun, "id" | "version" | "events">>,
    events: readonly RunEvent[],
  ): MaybePromise<WorkflowRecipientRun | null>;
  /** Appends entries to a run's log (delivery attempts happen outside the run's own writes). */
  appendRunEvents(id: string, events: readonly RunEvent[]): MaybePromise<void>;
  /** A run's whole log, oldest first. */
  getRunEvents(id: string): MaybePromise<RunEvent[]>;
  /** Recipient runs matching the filter, newest first. */
  listRecipientRuns(
    filter: RunFilter,
    page: PageRequest,
  ): MaybePromise<PageResult<WorkflowRecipientRun>>;

  // ── Messages ────────────────────────────────────────────────────────────────────────────────

  /**
   * **Atomic, idempotent.** Stores the message unless one with its id exists; returns the stored
   * message and whether this call created it.
   */
  createMessage(message: Message): MaybePromise<{ message: Message; created: boolean }>;
  /** The message, or null. */
  getMessage(id: string): MaybePromise<Message | null>;
  /** **Atomic.** Applies `patch` to the message; null when missing. */
  updateMessage(
    id: string,
    patch: Partial<Omit<Message, "id" | "__typename">>,
  ): MaybePromise<Message | null>;
  /** Messages matching the filter, newest first. */
  listMessages(filter: MessageFilter, page: PageRequest): MaybePromise<PageResult<Message>>;
  /**
   * Counts the messages matching the filter (the same matching as `listMessages`), and how many of
   * them are unread and unseen: what a feed's badge shows. A count reflects every write that
   * finished before it began. A store answers without loading the messages where it can (the
   * memory store keeps per-recipient counters; a database counts with an index).
   */
  countMessages(filter: MessageFilter): MaybePromise<MessageCounts>;
  /**
   * **Atomic per message.** Adds or removes one engagement status on each message named (see
   * {@link EngagementUpdate}); `updated_at` becomes `now` on the messages it changes. Afterwards
   * `engagement_statuses` lists the message's statuses in the order seen, read, interacted,
   * link_clicked, archived. Two concurrent updates of one message (say seen and read) both take
   * effect. Returns, in the order asked, what happened to each message, or null where none has that
   * id (and nothing is created for it).
   */
  updateEngagement(
    ids: readonly string[],
    update: EngagementUpdate,
    now: string,
  ): MaybePromise<Array<EngagementResult | null>>;

  // ── Once-only records ───────────────────────────────────────────────────────────────────────

  /**
   * **Atomic.** Claims an idempotency key until `expiresAt`. The first claim (or one after the
   * earlier claim expired) stores `fingerprint` and `result` and returns `{ claimed: true }`; a
   * later claim returns what the first stored.
   */
  claimIdempotencyKey(
    key: string,
    fingerprint: string,
    result: Record<string, unknown>,
    expiresAt: string,
    now: string,
  ): MaybePromise<IdempotencyClaim>;
  /** Forgets an idempotency key (a claimed request that then failed). */
  releaseIdempotencyKey(key: string): MaybePromise<void>;
  /** **Atomic.** True for the first call with this key, false for every later one. */
  claimOnce(key: string, now: string): MaybePromise<boolean>;

  // ── Batches, throttles, cancellations ──────────────────────────────────────────────────────

  /**
   * **Atomic.** Adds a trigger to the open batch with `input.key`, or opens one (with `input.id`,
   * `closes_at`, `closes_by`) when none is open. On an append to an open batch: a sliding window's
   * `closes_at` moves to `slide_to` (never past `closes_by`); reaching `max_items` closes the batch
   * (`closed: true`, `closed_at` now). A `leading` open records no item and no continuing run; the
   * next append to that batch becomes its continuing run. Two appends with the same key at once
   * never open two batches. Appending a `run_id` the open batch already has (its continuing run or
   * an item: a retried job) changes nothing and returns that run's original role. (A retry that
   * arrives after its batch closed is not recognised and opens a new batch: a known gap.)
   * `max_items` is checked on the opening append too. `closes_at` never moves past `closes_by`.
   */
  appendToBatch(input: BatchAppend, now: string): MaybePromise<BatchAppendResult>;
  /** The batch, or null. */
  getBatch(id: string): MaybePromise<StoredBatch | null>;
  /**
   * **Atomic.** Closes an open batch whose `closes_at` is at or before `now` (or any open batch
   * when `force`), returning it; returns null when it is missing, already closed, or not yet due.
   */
  closeBatch(id: string, now: string, force?: boolean): MaybePromise<StoredBatch | null>;
  /**
   * **Atomic.** Removes a run's item from an open batch (a cancelled activity); the window is
   * unchanged. When `runId` is the batch's `continuing_run_id`, continuation passes, in the same
   * step, to the run of the earliest remaining item (the first of `items` after the removal), or to
   * null when no item remains (an empty batch sends nothing). A closed batch is never changed: its
   * activities are final. Returns the batch as it stands after the call; null when it is missing.
   */
  removeBatchItem(id: string, runId: string): MaybePromise<StoredBatch | null>;

  /**
   * **Atomic.** Counts one execution against the throttle window of `key`: a window that has ended
   * (or none) is replaced by a new one from `now` to `windowEndsAt`. Returns the count so far,
   * this execution included.
   */
  countThrottle(key: string, windowEndsAt: string, now: string): MaybePromise<ThrottleCount>;

  /** Stores a cancellation (and forgets expired ones). */
  putCancellation(cancellation: StoredCancellation): MaybePromise<void>;
  /** The unexpired cancellations of a workflow's cancellation key, in the order they were stored. */
  getCancellations(
    workflow: string,
    cancellationKey: string,
    now: string,
  ): MaybePromise<StoredCancellation[]>;
  /**
   * Recipient runs of `workflow` whose `trigger_source.cancellation_key` is `cancellationKey`, in
   * any status, one page at a time (oldest first).
   */
  listRunsByCancellationKey(
    workflow: string,
    cancellationKey: string,
    page: PageRequest,
  ): MaybePromise<PageResult<WorkflowRecipientRun>>;

  // ── Schedules ─────────────────────────────────────────────────────────────────────────────

  /**
   * **Atomic per schedule, idempotent.** Stores each schedule unless one with its id exists.
   * Returns, in order, whether each was created.
   */
  createSchedules(schedules: readonly StoredSchedule[]): MaybePromise<boolean[]>;
  /** Many schedules at once, in the order asked, null where missing. */
  getSchedules(ids: readonly string[]): MaybePromise<Array<StoredSchedule | null>>;
  /**
   * **Atomic compare-and-set.** When the schedule's `version` equals `expectedVersion`, applies
   * `patch` and sets `version` to `expectedVersion + 1`, returning the updated schedule; otherwise
   * (or when it is missing) changes nothing and returns null.
   */
  updateSchedule(
    id: string,
    expectedVersion: number,
    patch: Partial<Omit<StoredSchedule, "id" | "version" | "inserted_at">>,
  ): MaybePromise<StoredSchedule | null>;
  /** **Atomic.** Deletes the schedules; returns the ones that existed, in the order asked. */
  deleteSchedules(ids: readonly string[]): MaybePromise<StoredSchedule[]>;
  /** Schedules matching the filter, in the order they were created (oldest first). */
  listSchedules(
    filter: ScheduleFilter,
    page: PageRequest,
  ): MaybePromise<PageResult<StoredSchedule>>;

  // ── Sources ───────────────────────────────────────────────────────────────────────────────

  /**
   * **Atomic.** Stores (or replaces) a source's definition; `inserted_at` is kept on a
   * replacement. Returns the stored source.
   */
  putSource(
    key: string,
    definition: Record<string, unknown>,
    now: string,
  ): MaybePromise<StoredSource>;
  /** The source, or null. */
  getSource(key: string): MaybePromise<StoredSource | null>;

  /** Releases connections and timers. The store is not used after this. */
  close?(): MaybePromise<void>;
}
