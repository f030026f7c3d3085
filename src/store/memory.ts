/**
 * `memoryStore()`: the {@link Store} that keeps everything in the process's memory.
 *
 * The default store of `createEngine` and `createTestEngine`. State lives as long as the store
 * object; nothing is shared between two stores.
 *
 * How it is built:
 * - **Copied in, frozen, shared out.** Every value given to the store is copied and deeply frozen
 *   in one pass (`Object.freeze` on every copied object and array), so nothing a caller holds can
 *   reach stored state and nothing a caller is handed can change it. Reads return the stored frozen
 *   objects themselves, without copying: mutating one throws a `TypeError` (ES modules run in
 *   strict mode). Writes build a new frozen object that shares the untouched frozen parts of the
 *   old one (a run update copies only its patch; an identify merge copies only the merged paths).
 * - **Every method is one synchronous section** and returns its value directly (not a promise),
 *   which makes each method atomic in a single process.
 * - **Sequence numbers and ordered indexes.** Each subscription, recipient run and message gets an
 *   increasing sequence number when it is first stored. Secondary indexes (subscribers of an
 *   object, subscriptions of a recipient, runs and messages of a recipient, runs of a workflow run,
 *   messages of a recipient run) are sorted arrays of sequence numbers kept in chunks of a few
 *   hundred: appending is O(1), deleting or seeking is O(log n + chunk). A cursor is the sequence
 *   number of a page's edge item (base64url-encoded), so a page is found by binary search and read
 *   in O(page), and a cursor stays valid when its item, or any other, is deleted.
 * - Lists without an index for their filters scan newest first until the page is full.
 * - **Message counters.** Each recipient's messages are counted per channel, tenant, delivery
 *   status and engagement set (32 combinations of the five statuses), updated on every message
 *   write. `countMessages` with a recipient and filters on those fields only (a feed's badge
 *   counts) sums a handful of counters and reads no message; other counts scan the smallest index.
 *
 * @module
 */

import { getOwn, isPlainObject, setOwn } from "../_internal/merge.js";
import { InvalidParamsError } from "../errors.js";
import type { Message, MessageEngagementStatus } from "../messages/types.js";
import type { RecipientReference } from "../recipients/types.js";
import type { RunEvent, WorkflowRecipientRun, WorkflowRun } from "../workflows/run-types.js";
import type { Workflow } from "../workflows/types.js";
import { planAppend, planRemoval } from "./batches.js";
import {
  EMPTY_OBJECT,
  freezeCopy,
  freezeMessage,
  freezeRecipientRun,
  freezeRunEvent,
  freezeWith,
  mergeFrozen,
  patchMessage,
  patchRecipientRun,
  withKey,
} from "./frozen.js";
import {
  type BatchItem,
  type EngagementResult,
  type EngagementUpdate,
  type IdempotencyClaim,
  type MessageCounts,
  type MessageFilter,
  type PageRequest,
  type PageResult,
  type RecipientKey,
  type RecipientPatch,
  type RunFilter,
  type Store,
  type StoredBatch,
  type StoredCancellation,
  type StoredRecipient,
  type StoredSchedule,
  type StoredSource,
  type StoredSubscription,
  type ThrottleCount,
  USERS_COLLECTION,
} from "./types.js";

/**
 * Options of {@link memoryStore}. There are none yet; the parameter exists so that options can be
 * added without changing the signature.
 */
export type MemoryStoreOptions = Record<string, never>;

// ── Keys ──────────────────────────────────────────────────────────────────────────────────────

/** An unambiguous map key for a recipient (the length prefix keeps any collection/id apart). */
function recipientId(collection: string, id: string): string {
  return `${collection.length}:${collection}:${id}`;
}

function keyOf(key: RecipientKey): string {
  return recipientId(key.collection, key.id);
}

/** The map key of a reference as runs and messages hold it (a string is a user id). */
function refKey(ref: RecipientReference): string {
  return typeof ref === "string"
    ? recipientId(USERS_COLLECTION, ref)
    : recipientId(ref.collection, ref.id);
}

/** True when two references name one recipient (a user may be named by its id or as a key). */
function sameRef(a: RecipientReference, b: RecipientReference): boolean {
  if (a === b) return true;
  const ak = typeof a === "string" ? { collection: USERS_COLLECTION, id: a } : a;
  return refIs(b, ak);
}

/** True when a reference (a user id, or `{ collection, id }`) names `key`. */
function refIs(ref: RecipientReference, key: RecipientKey): boolean {
  return typeof ref === "string"
    ? key.collection === USERS_COLLECTION && key.id === ref
    : ref.collection === key.collection && ref.id === key.id;
}

// ── Ordered indexes of sequence numbers ───────────────────────────────────────────────────────

/** Anything that can be walked in sequence order from a position. */
interface SeqSource {
  /** Visits the sequence numbers greater than `from` (all when null), ascending, while `visit` returns true. */
  ascending(from: number | null, visit: (seq: number) => boolean): void;
  /** Visits the sequence numbers less than `from` (all when null), descending, while `visit` returns true. */
  descending(from: number | null, visit: (seq: number) => boolean): void;
}

/** Chunk size of {@link SeqIndex}: small enough for cheap splices, large enough for few chunks. */
const CHUNK = 256;

function lowerBound(values: readonly number[], target: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sorted set of sequence numbers, kept as an array of sorted chunks. Appending a new largest
 * number (the usual case) is O(1); inserting elsewhere, deleting and seeking are O(log n + CHUNK).
 * Most indexes hold one number (a recipient's single run, a run's single message): until a second
 * arrives, that number is kept in a field and no array is allocated.
 */
class SeqIndex implements SeqSource {
  /** The chunks, or null while the index holds at most one number (in `#single`). */
  #chunks: number[][] | null = null;
  #single = 0;
  /** How many numbers the index holds. */
  size = 0;

  /** An index over numbers already sorted ascending, without duplicates. */
  static of(sorted: number[]): SeqIndex {
    const index = new SeqIndex();
    if (sorted.length > 0) {
      index.#chunks = [sorted];
      index.size = sorted.length;
    }
    return index;
  }

  /** The chunks, allocating them from the single number when needed. */
  #materialize(): number[][] {
    if (this.#chunks === null) this.#chunks = this.size === 0 ? [] : [[this.#single]];
    return this.#chunks;
  }

  add(seq: number): void {
    if (this.#chunks === null) {
      if (this.size === 0) {
        this.#single = seq;
        this.size = 1;
        return;
      }
      if (this.#single === seq) return;
    }
    const chunks = this.#materialize();
    const last = chunks[chunks.length - 1];
    if (last === undefined) {
      chunks.push([seq]);
    } else if (seq > last[last.length - 1]!) {
      if (last.length >= CHUNK) chunks.push([seq]);
      else last.push(seq);
    } else {
      const ci = this.#chunkAtLeast(seq);
      const chunk = chunks[ci]!;
      const pos = lowerBound(chunk, seq);
      if (chunk[pos] === seq) return;
      chunk.splice(pos, 0, seq);
      if (chunk.length > 2 * CHUNK) chunks.splice(ci + 1, 0, chunk.splice(CHUNK));
    }
    this.size++;
  }

  delete(seq: number): boolean {
    if (this.#chunks === null) {
      if (this.size === 0 || this.#single !== seq) return false;
      this.size = 0;
      return true;
    }
    const chunks = this.#chunks;
    const ci = this.#chunkAtLeast(seq);
    const chunk = chunks[ci];
    if (chunk === undefined) return false;
    const pos = lowerBound(chunk, seq);
    if (chunk[pos] !== seq) return false;
    chunk.splice(pos, 1);
    if (chunk.length === 0) chunks.splice(ci, 1);
    this.size--;
    return true;
  }

  toArray(): number[] {
    if (this.#chunks === null) return this.size === 0 ? [] : [this.#single];
    return this.#chunks.flat();
  }

  /** The index of the first chunk whose largest number is >= seq; the chunk count when none. */
  #chunkAtLeast(seq: number): number {
    const chunks = this.#materialize();
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (chunk[chunk.length - 1]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  ascending(from: number | null, visit: (seq: number) => boolean): void {
    if (this.#chunks === null) {
      if (this.size === 1 && (from === null || this.#single > from)) visit(this.#single);
      return;
    }
    const chunks = this.#chunks;
    let ci = 0;
    let pos = 0;
    if (from !== null) {
      ci = this.#chunkAtLeast(from + 1);
      const chunk = chunks[ci];
      if (chunk !== undefined) pos = lowerBound(chunk, from + 1);
    }
    for (; ci < chunks.length; ci++, pos = 0) {
      const chunk = chunks[ci]!;
      for (; pos < chunk.length; pos++) if (!visit(chunk[pos]!)) return;
    }
  }

  descending(from: number | null, visit: (seq: number) => boolean): void {
    if (this.#chunks === null) {
      if (this.size === 1 && (from === null || this.#single < from)) visit(this.#single);
      return;
    }
    const chunks = this.#chunks;
    let ci = chunks.length - 1;
    let pos = Number.POSITIVE_INFINITY;
    if (from !== null) {
      const at = this.#chunkAtLeast(from);
      if (at < chunks.length) {
        ci = at;
        pos = lowerBound(chunks[at]!, from) - 1;
      }
    }
    for (; ci >= 0; ci--, pos = Number.POSITIVE_INFINITY) {
      const chunk = chunks[ci]!;
      for (let p = Math.min(pos, chunk.length - 1); p >= 0; p--) if (!visit(chunk[p]!)) return;
    }
  }
}

/** Every sequence number from 1 to `entries.length` (runs and messages are never deleted). */
class DenseSeqs implements SeqSource {
  readonly #entries: readonly unknown[];

  constructor(entries: readonly unknown[]) {
    this.#entries = entries;
  }

  ascending(from: number | null, visit: (seq: number) => boolean): void {
    const end = this.#entries.length;
    for (let seq = from === null ? 1 : Math.max(from + 1, 1); seq <= end; seq++) {
      if (!visit(seq)) return;
    }
  }

  descending(from: number | null, visit: (seq: number) => boolean): void {
    const end = this.#entries.length;
    for (let seq = from === null ? end : Math.min(from - 1, end); seq >= 1; seq--) {
      if (!visit(seq)) return;
    }
  }
}

const EMPTY: SeqSource = SeqIndex.of([]);

/** The most numbers a {@link Held} set keeps in a plain sorted array. */
const SMALL = 8;

/**
 * A small set of sequence numbers as indexes hold them: most hold one number or a few (a
 * recipient's one run, a run's two messages), so the only number is held as it is, up to
 * {@link SMALL} in a sorted array (one allocation), and a {@link SeqIndex} beyond.
 */
type Held = SeqIndex | number[] | number | undefined;

/** `held` with `seq` added (the same array or index, changed, or a new holder). */
function heldAdd(held: Held, seq: number): Held {
  if (held === undefined) return seq;
  if (typeof held === "number") {
    if (held === seq) return held;
    return held < seq ? [held, seq] : [seq, held];
  }
  if (Array.isArray(held)) {
    const at = lowerBound(held, seq);
    if (held[at] === seq) return held;
    if (held.length < SMALL) {
      held.splice(at, 0, seq);
      return held;
    }
    const index = SeqIndex.of(held);
    index.add(seq);
    return index;
  }
  held.add(seq);
  return held;
}

/** `held` without `seq` (undefined once empty). */
function heldDelete(held: Held, seq: number): Held {
  if (held === undefined) return undefined;
  if (typeof held === "number") return held === seq ? undefined : held;
  if (Array.isArray(held)) {
    const at = lowerBound(held, seq);
    if (held[at] !== seq) return held;
    held.splice(at, 1);
    return held.length === 1 ? held[0] : held;
  }
  held.delete(seq);
  return held.size === 0 ? undefined : held;
}

/** The numbers of `held` as an index to read (small sets are copied). */
function heldIndex(held: Held): SeqIndex | undefined {
  if (held === undefined) return undefined;
  if (typeof held === "number") return SeqIndex.of([held]);
  return Array.isArray(held) ? SeqIndex.of(held.slice()) : held;
}

/**
 * A set of sequence numbers per key (see {@link Held}).
 *
 * @internal Exported for its tests.
 */
export class IndexMap {
  readonly #map = new Map<string, Held>();

  /** Adds `seq` to the index of `key`. */
  add(key: string, seq: number): void {
    const held = this.#map.get(key);
    const next = heldAdd(held, seq);
    if (next !== held) this.#map.set(key, next);
  }

  /** Removes `seq` from the index of `key`, dropping the key when its index empties. */
  delete(key: string, seq: number): void {
    const held = this.#map.get(key);
    if (held === undefined) return;
    const next = heldDelete(held, seq);
    if (next === undefined) this.#map.delete(key);
    else if (next !== held) this.#map.set(key, next);
  }

  /** The index of `key`, or undefined when it holds nothing. */
  get(key: string): SeqIndex | undefined {
    return heldIndex(this.#map.get(key));
  }

  /** Removes `key` and returns what it held. */
  take(key: string): Held {
    const held = this.#map.get(key);
    if (held !== undefined) this.#map.delete(key);
    return held;
  }
}

// ── Paging ────────────────────────────────────────────────────────────────────────────────────

const MAX_LIMIT = 1000;

function checkLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    const received = typeof limit === "number" ? String(limit) : typeof limit;
    throw new InvalidParamsError(
      `[crier] [store:memory] Expected a page limit from 1 to ${MAX_LIMIT}, received ${received}.`,
      [{ field: "limit", type: "range", message: `expected an integer from 1 to ${MAX_LIMIT}` }],
    );
  }
  return limit;
}

const CURSOR_PREFIX = "m1:";

function encodeCursor(seq: number): string {
  return btoa(`${CURSOR_PREFIX}${seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string | null | undefined, field: string): number | null {
  if (cursor === undefined || cursor === null || cursor === "") return null;
  let text = "";
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    // Reported below.
  }
  const digits = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : "";
  if (!/^\d{1,15}$/.test(digits)) {
    throw new InvalidParamsError(
      `[crier] [store:memory] Expected \`${field}\` to be a cursor from an earlier page of this store, received "${cursor}".`,
      [{ field, type: "format", message: "expected a cursor returned by an earlier list call" }],
    );
  }
  return Number(digits);
}

/**
 * One page of `source` in list order (`asc`: oldest first; `desc`: newest first). `get` returns the
 * item of a sequence number when it exists and matches the list's filters. Reads the page plus at
 * most one matching item beyond each edge (to tell whether a next and a previous page exist).
 */
function listPage<T>(
  source: SeqSource,
  order: "asc" | "desc",
  request: PageRequest,
  get: (seq: number) => T | undefined,
): PageResult<T> {
  const limit = checkLimit(request.limit);
  const after = decodeCursor(request.after, "after");
  const before = decodeCursor(request.before, "before");
  const asc = order === "asc";
  const forward = (from: number | null, visit: (seq: number) => boolean) =>
    asc ? source.ascending(from, visit) : source.descending(from, visit);
  const backward = (from: number | null, visit: (seq: number) => boolean) =>
    asc ? source.descending(from, visit) : source.ascending(from, visit);
  // The position just before / just after `seq` in list order, as an exclusive bound.
  const stepBack = (seq: number) => (asc ? seq - 1 : seq + 1);
  const stepForward = (seq: number) => (asc ? seq + 1 : seq - 1);
  const exists = (scan: typeof forward, from: number): boolean => {
    let found = false;
    scan(from, (seq) => {
      found = get(seq) !== undefined;
      return !found;
    });
    return found;
  };

  const items: T[] = [];
  const seqs: number[] = [];
  let more = false;
  const collect = (seq: number, inRange: boolean): boolean => {
    const item = get(seq);
    if (item === undefined) return true;
    if (items.length === limit || !inRange) {
      more = true;
      return false;
    }
    items.push(item);
    seqs.push(seq);
    return true;
  };

  if (before !== null && after === null) {
    // The `limit` items just before `before`, in list order.
    backward(before, (seq) => collect(seq, true));
    items.reverse();
    seqs.reverse();
    const hasNext = exists(forward, stepBack(before));
    const last = seqs[seqs.length - 1] ?? stepBack(before);
    return {
      items,
      after: hasNext ? encodeCursor(last) : null,
      before: more ? encodeCursor(seqs[0]!) : null,
    };
  }

  forward(after, (seq) => collect(seq, before === null || (asc ? seq < before : seq > before)));
  const hasPrevious = after !== null && exists(backward, stepForward(after));
  const first = seqs[0] ?? (after === null ? 0 : stepForward(after));
  const last = seqs[seqs.length - 1] ?? after ?? 0;
  return {
    items,
    after: more ? encodeCursor(last) : null,
    before: hasPrevious ? encodeCursor(first) : null,
  };
}

// ── Filters ───────────────────────────────────────────────────────────────────────────────────

function parseTime(value: string, field: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new InvalidParamsError(
      `[crier] [store:memory] Expected \`${field}\` to be an ISO-8601 timestamp, received "${value}".`,
      [{ field, type: "format", message: "expected an ISO-8601 timestamp" }],
    );
  }
  return time;
}

/** A test on a timestamp string, or null when the range is empty. */
function timeTest(
  range: { gt?: string; gte?: string; lt?: string; lte?: string },
  field: string,
): ((value: string) => boolean) | null {
  const gt = range.gt === undefined ? null : parseTime(range.gt, `${field}.gt`);
  const gte = range.gte === undefined ? null : parseTime(range.gte, `${field}.gte`);
  const lt = range.lt === undefined ? null : parseTime(range.lt, `${field}.lt`);
  const lte = range.lte === undefined ? null : parseTime(range.lte, `${field}.lte`);
  if (gt === null && gte === null && lt === null && lte === null) return null;
  return (value) => {
    const time = Date.parse(value);
    return (
      (gt === null || time > gt) &&
      (gte === null || time >= gte) &&
      (lt === null || time < lt) &&
      (lte === null || time <= lte)
    );
  };
}

const ABSENT_ENGAGEMENT: Record<string, string> = {
  unseen: "seen",
  unread: "read",
  unarchived: "archived",
};

function messageTest(filter: MessageFilter): (message: Message) => boolean {
  const recipient = filter.recipient ?? null;
  const statuses = filter.status ? new Set<string>(filter.status) : null;
  const engagement = filter.engagement_status ?? null;
  const categories = filter.workflow_categories ?? null;
  const ids = filter.message_ids ? new Set(filter.message_ids) : null;
  const inserted = filter.inserted_at ? timeTest(filter.inserted_at, "inserted_at") : null;
  return (m) =>
    (recipient === null || refIs(m.recipient, recipient)) &&
    (statuses === null || statuses.has(m.status)) &&
    (engagement === null ||
      engagement.some((status) => {
        const absent = ABSENT_ENGAGEMENT[status];
        return absent === undefined
          ? m.engagement_statuses.includes(status as Message["engagement_statuses"][number])
          : !m.engagement_statuses.includes(absent as Message["engagement_statuses"][number]);
      })) &&
    (filter.channel_id === undefined || m.channel_id === filter.channel_id) &&
    (filter.tenant === undefined || m.tenant === filter.tenant) &&
    (filter.has_tenant === undefined || (m.tenant !== null) === filter.has_tenant) &&
    (filter.workflow === undefined || m.workflow === filter.workflow) &&
    (categories === null || categories.some((c) => m.source.categories.includes(c))) &&
    (filter.workflow_run_id === undefined || m.source.workflow_run_id === filter.workflow_run_id) &&
    (filter.workflow_recipient_run_id === undefined ||
      m.source.workflow_recipient_run_id === filter.workflow_recipient_run_id) &&
    (ids === null || ids.has(m.id)) &&
    (inserted === null || inserted(m.inserted_at)) &&
    (filter.with_engagement === undefined ||
      filter.with_engagement.every((status) => m.engagement_statuses.includes(status))) &&
    (filter.without_engagement === undefined ||
      !filter.without_engagement.some((status) => m.engagement_statuses.includes(status)));
}

function runTest(filter: RunFilter): (run: WorkflowRecipientRun) => boolean {
  const recipient = filter.recipient ?? null;
  const statuses = filter.status ? new Set<string>(filter.status) : null;
  const inserted = timeTest(
    {
      ...(filter.starting_at === undefined ? {} : { gte: filter.starting_at }),
      ...(filter.ending_at === undefined ? {} : { lte: filter.ending_at }),
    },
    "starting_at/ending_at",
  );
  return (r) =>
    (filter.workflow === undefined || r.workflow === filter.workflow) &&
    (statuses === null || statuses.has(r.status)) &&
    (filter.tenant === undefined || r.tenant === filter.tenant) &&
    (filter.has_errors === undefined || r.error_count > 0 === filter.has_errors) &&
    (recipient === null || refIs(r.recipient, recipient)) &&
    (filter.workflow_run_id === undefined || r.workflow_run_id === filter.workflow_run_id) &&
    (inserted === null || inserted(r.inserted_at));
}

/** The smallest of the candidate indexes (null entries are filters not given), or `fallback`. */
function smallest(candidates: Array<SeqIndex | null | undefined>, fallback: SeqSource): SeqSource {
  let best: SeqSource = fallback;
  let bestSize = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === null) continue;
    // undefined: the filter was given but nothing has that key.
    if (candidate === undefined) return EMPTY;
    if (candidate.size < bestSize) {
      best = candidate;
      bestSize = candidate.size;
    }
  }
  return best;
}

// ── Message counts ────────────────────────────────────────────────────────────────────────

/** The engagement statuses in their canonical order, each with its bit in a message's mask. */
const ENGAGEMENT_ORDER: readonly MessageEngagementStatus[] = [
  "seen",
  "read",
  "interacted",
  "link_clicked",
  "archived",
];
const ENGAGEMENT_BIT: Readonly<Record<string, number>> = {
  seen: 1,
  read: 2,
  interacted: 4,
  link_clicked: 8,
  archived: 16,
};
/** How many engagement masks there are (every subset of the five statuses). */
const MASKS = 32;

function engagementMask(statuses: readonly string[]): number {
  let mask = 0;
  for (const status of statuses) mask |= ENGAGEMENT_BIT[status] ?? 0;
  return mask;
}

/**
 * A recipient's messages of one channel, tenant and delivery status, counted by engagement mask:
 * enough to answer any count whose other filters are about those fields, without reading messages.
 */
interface CountBucket {
  readonly channel_id: string;
  readonly tenant: string | null;
  readonly status: string;
  /**
   * The counts as pairs: an engagement mask, then how many messages have it. Only masks with
   * messages are kept: a feed has one or two (unseen; seen and unread…), where an array of all 32
   * would take some 300 bytes per recipient.
   */
  readonly byMask: number[];
  total: number;
}

/** The only delivery status the counters count: feeds list delivered messages. */
const COUNTED_STATUS = "delivered";

/** The filter fields a count can answer from {@link CountBucket}s (with `recipient`). */
const COUNTABLE = new Set([
  "recipient",
  "channel_id",
  "status",
  "tenant",
  "has_tenant",
  "engagement_status",
  "with_engagement",
  "without_engagement",
]);

/** Which engagement masks the filter's engagement fields accept. */
function acceptedMasks(filter: MessageFilter): boolean[] {
  const accepted: boolean[] = [];
  const any = filter.engagement_status;
  const all = filter.with_engagement === undefined ? 0 : engagementMask(filter.with_engagement);
  // A status the store does not know never matches `with_engagement`.
  const impossible = (filter.with_engagement ?? []).some((s) => ENGAGEMENT_BIT[s] === undefined);
  const none =
    filter.without_engagement === undefined ? 0 : engagementMask(filter.without_engagement);
  for (let mask = 0; mask < MASKS; mask++) {
    accepted.push(
      !impossible &&
        (mask & all) === all &&
        (mask & none) === 0 &&
        (any === undefined ||
          any.some((status) => {
            const absent = ABSENT_ENGAGEMENT[status];
            const bit = ENGAGEMENT_BIT[absent ?? status];
            if (bit === undefined) return false;
            return absent === undefined ? (mask & bit) !== 0 : (mask & bit) === 0;
          })),
    );
  }
  return accepted;
}

// ── Entries ───────────────────────────────────────────────────────────────────────────────────

interface SubscriptionEntry {
  readonly seq: number;
  readonly objectKey: string;
  readonly recipientKey: string;
  sub: StoredSubscription;
}

interface ObjectSubscribers {
  /** Sequence numbers of the object's subscriptions, oldest first. */
  readonly index: SeqIndex;
  /** Subscription sequence number by subscriber key. */
  readonly bySubscriber: Map<string, number>;
}

/**
 * What the store keeps per recipient, found with one lookup: the recipient itself, and the
 * indexes of its runs and messages and its feed counters. A run or a message touches its
 * recipient's slot, not one map per index.
 */
interface RecipientSlot {
  /** The recipient (undefined: not stored, or deleted; its runs and messages stay listed). */
  record: StoredRecipient | undefined;
  /** Sequence numbers of its runs. */
  runs: Held;
  /** Sequence numbers of its messages. */
  messages: Held;
  /**
   * Counts of its delivered messages by channel, tenant and status: a feed's badge counts
   * (delivered in-app messages) read no message. Other counts scan an index.
   */
  counters: CountBucket[] | undefined;
  /** The record's place in its collection's list (`listRecipients`), given when it was created. */
  listed: number | undefined;
}

const NO_EVENTS: readonly RunEvent[] = Object.freeze([]);

/** `log` with frozen copies of `added` after it, in an array of exactly their length. */
function withEvents(log: readonly RunEvent[], added: readonly RunEvent[]): readonly RunEvent[] {
  if (added.length === 0) return log;
  const next = new Array<RunEvent>(log.length + added.length);
  for (let i = 0; i < log.length; i++) next[i] = log[i] as RunEvent;
  for (let i = 0; i < added.length; i++)
    next[log.length + i] = freezeRunEvent(added[i] as RunEvent);
  return next;
}

interface ScheduleEntry {
  readonly seq: number;
  schedule: StoredSchedule;
}

interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly result: Record<string, unknown>;
  readonly expiresAt: number;
}

/** How many expired idempotency records one claim removes at most (amortized clean-up). */
const SWEEP_PER_CLAIM = 8;

/**
 * Creates a store that keeps everything in memory: the default store, and the reference
 * implementation of the {@link Store} contract.
 *
 * Values are deep-copied and deep-frozen on the way in (`Object.freeze` on every object and array
 * of the copy); reads return those frozen objects without copying, so a caller that wants to change
 * one copies it first. Every method runs synchronously and returns plain values, which makes each
 * one atomic. Lists page by binary search over per-index sorted sequence numbers (O(log n + page)),
 * with cursors that stay valid when items are deleted.
 *
 * @example
 * ```ts
 * const engine = createEngine({ store: memoryStore() });
 * ```
 */
export function memoryStore(_options: MemoryStoreOptions = {}): Store {
  /** The frozen `data` and `trigger_source` of every stored workflow run, which its runs and their messages share. */
  const sharedData = new WeakSet<object>();
  /** Recipient slots: users by id, every other collection by `keyOf`. */
  const userSlots = new Map<string, RecipientSlot>();
  const otherSlots = new Map<string, RecipientSlot>();
  /** Each collection's recipients in creation order (`listRecipients`): places, and their slots. */
  const listedIn = new Map<string, { index: SeqIndex; slots: Map<number, RecipientSlot> }>();
  let listedSeq = 0;

  function listRecipient(collection: string, slot: RecipientSlot): void {
    let listed = listedIn.get(collection);
    if (!listed) {
      listed = { index: new SeqIndex(), slots: new Map() };
      listedIn.set(collection, listed);
    }
    slot.listed = ++listedSeq;
    listed.index.add(slot.listed);
    listed.slots.set(slot.listed, slot);
  }

  function unlistRecipient(collection: string, slot: RecipientSlot): void {
    const listed = listedIn.get(collection);
    if (listed && slot.listed !== undefined) {
      listed.index.delete(slot.listed);
      listed.slots.delete(slot.listed);
    }
    slot.listed = undefined;
  }

  function slotOf(collection: string, id: string): RecipientSlot | undefined {
    return collection === USERS_COLLECTION
      ? userSlots.get(id)
      : otherSlots.get(recipientId(collection, id));
  }

  function slotOfRef(ref: RecipientReference): RecipientSlot | undefined {
    return typeof ref === "string" ? userSlots.get(ref) : slotOf(ref.collection, ref.id);
  }

  function ensureSlot(collection: string, id: string): RecipientSlot {
    const users = collection === USERS_COLLECTION;
    const key = users ? id : recipientId(collection, id);
    const slots = users ? userSlots : otherSlots;
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = {
        record: undefined,
        runs: undefined,
        messages: undefined,
        counters: undefined,
        listed: undefined,
      };
      slots.set(key, slot);
    }
    return slot;
  }

  function ensureSlotOfRef(ref: RecipientReference): RecipientSlot {
    return typeof ref === "string"
      ? ensureSlot(USERS_COLLECTION, ref)
      : ensureSlot(ref.collection, ref.id);
  }

  /** The sequence numbers of a recipient's runs or messages (undefined: none). */
  function slotIndex(key: RecipientKey, field: "runs" | "messages"): SeqIndex | undefined {
    return heldIndex(slotOf(key.collection, key.id)?.[field]);
  }

  /** Moves `seq` between recipients' runs or messages when a write changed its recipient. */
  function moveSlot(
    field: "runs" | "messages",
    before: RecipientReference,
    after: RecipientReference,
    seq: number,
  ): void {
    if (sameRef(before, after)) return;
    const from = slotOfRef(before);
    if (from) from[field] = heldDelete(from[field], seq);
    const to = ensureSlotOfRef(after);
    to[field] = heldAdd(to[field], seq);
  }

  let subscriptionSeq = 0;
  const subscriptions = new Map<number, SubscriptionEntry>();
  const subscribersOf = new Map<string, ObjectSubscribers>();
  const subscriptionsOf = new IndexMap();

  const workflows = new Map<string, Workflow[]>();

  const workflowRuns = new Map<string, WorkflowRun>();
  /** Run sequence numbers by id (a number in a map holds nothing for the collector to trace). */
  const runs = new Map<string, number>();
  /** Runs by sequence number - 1. */
  const runsBySeq: WorkflowRecipientRun[] = [];
  /**
   * Run logs by sequence number - 1. A log is replaced, not grown, on each write: an array grown
   * by push keeps room for 17 entries.
   */
  const eventsBySeq: Array<readonly RunEvent[]> = [];
  const allRuns = new DenseSeqs(runsBySeq);

  /** The run with this id, if any. */
  function runOf(id: string): WorkflowRecipientRun | undefined {
    const seq = runs.get(id);
    return seq === undefined ? undefined : runsBySeq[seq - 1];
  }
  const runsByWorkflowRun = new IndexMap();

  /** Message sequence numbers by id (a number in a map holds nothing for the collector to trace). */
  const messages = new Map<string, number>();
  /** Messages by sequence number - 1. */
  const messagesBySeq: Message[] = [];
  const allMessages = new DenseSeqs(messagesBySeq);
  /** The messages of each run, by the run's sequence number - 1 (see `messagesOfRun`). */
  const runMessages: Held[] = [];
  /** The messages of runs the store does not have, by run id: moved to a run when it is created. */
  const orphanMessages = new IndexMap();

  /** Adds (`add`) or removes message `seq` in the index of run `runId`'s messages. */
  function indexRunMessage(runId: string, seq: number, add: boolean): void {
    const runSeq = runs.get(runId);
    if (runSeq === undefined) {
      if (add) orphanMessages.add(runId, seq);
      else orphanMessages.delete(runId, seq);
      return;
    }
    const held = runMessages[runSeq - 1];
    runMessages[runSeq - 1] = add ? heldAdd(held, seq) : heldDelete(held, seq);
  }

  /** The sequence numbers of run `runId`'s messages. */
  function messagesOfRun(runId: string): SeqIndex | undefined {
    const runSeq = runs.get(runId);
    return runSeq === undefined ? orphanMessages.get(runId) : heldIndex(runMessages[runSeq - 1]);
  }

  /** Adds (`delta` 1) or removes (-1) a delivered message's contribution to its recipient's counters. */
  function countMessage(message: Message, delta: 1 | -1): void {
    if (message.status !== COUNTED_STATUS) return;
    const slot = ensureSlotOfRef(message.recipient);
    const mask = engagementMask(message.engagement_statuses);
    const buckets = slot.counters;
    let index = -1;
    if (buckets !== undefined) {
      for (let i = 0; i < buckets.length; i++) {
        const b = buckets[i] as CountBucket;
        if (
          b.channel_id === message.channel_id &&
          b.tenant === message.tenant &&
          b.status === message.status
        ) {
          index = i;
          break;
        }
      }
    }
    if (index === -1) {
      const bucket: CountBucket = {
        channel_id: message.channel_id,
        tenant: message.tenant,
        status: message.status,
        byMask: [mask, delta],
        total: delta,
      };
      if (buckets === undefined) slot.counters = [bucket];
      else buckets.push(bucket);
      return;
    }
    const list = buckets as CountBucket[];
    const bucket = list[index] as CountBucket;
    const pairs = bucket.byMask;
    let at = 0;
    while (at < pairs.length && pairs[at] !== mask) at += 2;
    if (at === pairs.length) {
      pairs.push(mask, delta);
    } else {
      const count = (pairs[at + 1] as number) + delta;
      if (count === 0) pairs.splice(at, 2);
      else pairs[at + 1] = count;
    }
    bucket.total += delta;
    if (bucket.total === 0) {
      list.splice(index, 1);
      if (list.length === 0) slot.counters = undefined;
    }
  }

  /** Stores a changed version of message `seq`, keeping the indexes and counters in step. */
  function writeMessage(seq: number, patch: Partial<Omit<Message, "id" | "__typename">>): Message {
    const previous = messagesBySeq[seq - 1] as Message;
    const message = patchMessage(previous, patch);
    moveSlot("messages", previous.recipient, message.recipient, seq);
    const oldRun = previous.source.workflow_recipient_run_id;
    const newRun = message.source.workflow_recipient_run_id;
    if (oldRun !== newRun) {
      indexRunMessage(oldRun, seq, false);
      indexRunMessage(newRun, seq, true);
    }
    countMessage(previous, -1);
    countMessage(message, 1);
    messagesBySeq[seq - 1] = message;
    return message;
  }

  const idempotency = new Map<string, IdempotencyRecord>();
  const claimed = new Set<string>();

  const runsByCancellationKey = new IndexMap();
  const batches = new Map<string, StoredBatch>();
  /** The open batch of each batch key. */
  const openBatches = new Map<string, string>();
  const throttles = new Map<string, ThrottleCount>();
  const cancellations = new Map<string, StoredCancellation[]>();
  const cancellationIndexKey = (workflow: string, key: string) => `${workflow}\u0000${key}`;

  const schedules = new Map<string, ScheduleEntry>();
  /** Schedule entries by sequence number - 1 (undefined once deleted). */
  const schedulesBySeq: Array<ScheduleEntry | undefined> = [];
  const allSchedules = new DenseSeqs(schedulesBySeq);
  const schedulesByWorkflow = new IndexMap();
  const schedulesByRecipient = new IndexMap();

  const sources = new Map<string, StoredSource>();

  /** The run ids of each open batch's items, for the appends' "already in it?" test. */
  const openBatchRuns = new Map<string, Set<string>>();
  const batchHasItem = (batch: StoredBatch, runId: string): boolean =>
    openBatchRuns.get(batch.id)?.has(runId) ?? batch.items.some((item) => item.run_id === runId);

  /**
   * Stores a batch. Items it shares with the stored version (an append keeps every earlier one,
   * in place) are frozen copies already and are kept as they are: only new items are copied, and
   * an append costs one pass over the item pointers, not a copy of each item.
   */
  function writeBatch(batch: StoredBatch): StoredBatch {
    const previous = batches.get(batch.id);
    const before: readonly BatchItem[] = previous?.items ?? [];
    const given = batch.items;
    // The items kept in place: all of them, for an append or a status change.
    let same = 0;
    while (same < given.length && same < before.length && given[same] === before[same]) same++;
    let items: readonly BatchItem[];
    if (same === given.length && same === before.length && previous) {
      items = before;
    } else {
      const moved = same < before.length ? new Set<BatchItem>(before.slice(same)) : null;
      const next = before.slice(0, same);
      for (let i = same; i < given.length; i++) {
        const item = given[i] as BatchItem;
        next.push(moved?.has(item) ? item : freezeCopy(item));
      }
      items = Object.freeze(next);
    }
    const frozen = freezeWith(batch, "items", items);
    batches.set(batch.id, frozen);
    if (frozen.status === "open") {
      openBatches.set(frozen.key, frozen.id);
      let runIds = openBatchRuns.get(frozen.id);
      if (runIds === undefined || same < before.length) {
        runIds = new Set(items.map((item) => item.run_id));
        openBatchRuns.set(frozen.id, runIds);
      } else {
        for (let i = same; i < items.length; i++) runIds.add((items[i] as BatchItem).run_id);
      }
    } else {
      openBatchRuns.delete(frozen.id);
      if (openBatches.get(frozen.key) === frozen.id) openBatches.delete(frozen.key);
    }
    return frozen;
  }

  function removeSubscription(entry: SubscriptionEntry): void {
    subscriptions.delete(entry.seq);
    const subscribers = subscribersOf.get(entry.objectKey);
    if (subscribers) {
      subscribers.index.delete(entry.seq);
      subscribers.bySubscriber.delete(entry.recipientKey);
      if (subscribers.index.size === 0) subscribersOf.delete(entry.objectKey);
    }
    subscriptionsOf.delete(entry.recipientKey, entry.seq);
  }

  /** Applies a recipient patch (see {@link RecipientPatch}) to the slot's record, or creates it. */
  function writeRecipientPatch(
    key: RecipientKey,
    slot: RecipientSlot,
    patch: RecipientPatch,
    now: string,
  ): StoredRecipient {
    const current = slot.record;
    let properties: Readonly<Record<string, unknown>> = current?.properties ?? EMPTY_OBJECT;
    if (patch.properties) properties = mergeFrozen(properties, patch.properties);
    let channelData: Readonly<Record<string, unknown>> = current?.channel_data ?? EMPTY_OBJECT;
    if (patch.channel_data) {
      for (const channel of Object.keys(patch.channel_data)) {
        const data = patch.channel_data[channel];
        // `null` removes a channel's data.
        if (data !== undefined)
          channelData = withKey(channelData, channel, data === null ? undefined : freezeCopy(data));
      }
    }
    let preferences: Readonly<Record<string, unknown>> = current?.preferences ?? EMPTY_OBJECT;
    if (patch.preferences) {
      for (const setId of Object.keys(patch.preferences)) {
        const set = patch.preferences[setId];
        if (set === undefined) continue;
        const base = getOwn(preferences, setId);
        const merged =
          set === null
            ? undefined
            : isPlainObject(base) && isPlainObject(set)
              ? mergeFrozen(base, set)
              : freezeCopy(set);
        preferences = withKey(preferences, setId, merged);
      }
    }
    const stored: StoredRecipient = Object.freeze({
      collection: key.collection,
      id: key.id,
      properties,
      channel_data: channelData as StoredRecipient["channel_data"],
      preferences: preferences as StoredRecipient["preferences"],
      created_at: patch.created_at === undefined ? (current?.created_at ?? null) : patch.created_at,
      inserted_at: current?.inserted_at ?? now,
      updated_at: now,
    });
    if (!current) listRecipient(key.collection, slot);
    slot.record = stored;
    return stored;
  }

  function writeRecipient(
    current: StoredRecipient,
    changes: Partial<StoredRecipient>,
  ): StoredRecipient {
    const next = Object.freeze({ ...current, ...changes });
    ensureSlot(current.collection, current.id).record = next;
    return next;
  }

  return {
    name: "memory",

    // ── Recipients ──────────────────────────────────────────────────────────────────────────

    getRecipient(key) {
      return slotOf(key.collection, key.id)?.record ?? null;
    },

    getRecipients(keys) {
      return keys.map((key) => slotOf(key.collection, key.id)?.record ?? null);
    },

    upsertRecipient(key, patch: RecipientPatch, now) {
      return writeRecipientPatch(key, ensureSlot(key.collection, key.id), patch, now);
    },

    updateRecipient(key, patch: RecipientPatch, now) {
      const slot = slotOf(key.collection, key.id);
      return slot?.record ? writeRecipientPatch(key, slot, patch, now) : null;
    },

    deleteRecipient(key) {
      const id = keyOf(key);
      const slot = slotOf(key.collection, key.id);
      const existed = slot?.record !== undefined;
      if (slot) {
        slot.record = undefined;
        unlistRecipient(key.collection, slot);
      }
      const subscribers = subscribersOf.get(id);
      if (subscribers) {
        for (const seq of subscribers.index.toArray()) {
          const entry = subscriptions.get(seq);
          if (entry) removeSubscription(entry);
        }
      }
      const held = subscriptionsOf.get(id);
      if (held) {
        for (const seq of held.toArray()) {
          const entry = subscriptions.get(seq);
          if (entry) removeSubscription(entry);
        }
      }
      return existed;
    },

    listRecipients(collection, page) {
      const listed = listedIn.get(collection);
      return listPage(
        listed?.index ?? new SeqIndex(),
        "asc",
        page,
        (seq) => listed?.slots.get(seq)?.record,
      );
    },

    setPreferenceSet(key, setId, set, now) {
      const current = slotOf(key.collection, key.id)?.record;
      if (!current) return null;
      const preferences = withKey(
        current.preferences,
        setId,
        set === null ? undefined : freezeCopy(set),
      ) as StoredRecipient["preferences"];
      return writeRecipient(current, { preferences, updated_at: now });
    },

    // ── Subscriptions ───────────────────────────────────────────────────────────────────────

    upsertSubscriptions(object, subscribers, properties, now) {
      const objectKey = keyOf(object);
      const objectRef = Object.freeze({ collection: object.collection, id: object.id });
      const props = properties === null ? null : freezeCopy(properties);
      let ofObject = subscribersOf.get(objectKey);
      if (!ofObject) {
        ofObject = { index: new SeqIndex(), bySubscriber: new Map() };
        subscribersOf.set(objectKey, ofObject);
      }
      const result: StoredSubscription[] = [];
      for (const recipient of subscribers) {
        const recipientKey = keyOf(recipient);
        const existingSeq = ofObject.bySubscriber.get(recipientKey);
        const existing = existingSeq === undefined ? undefined : subscriptions.get(existingSeq);
        if (existing) {
          existing.sub = Object.freeze({ ...existing.sub, properties: props, updated_at: now });
          result.push(existing.sub);
          continue;
        }
        const seq = ++subscriptionSeq;
        const sub: StoredSubscription = Object.freeze({
          object: objectRef,
          recipient: Object.freeze({ collection: recipient.collection, id: recipient.id }),
          properties: props,
          inserted_at: now,
          updated_at: now,
        });
        subscriptions.set(seq, { seq, objectKey, recipientKey, sub });
        ofObject.index.add(seq);
        ofObject.bySubscriber.set(recipientKey, seq);
        subscriptionsOf.add(recipientKey, seq);
        result.push(sub);
      }
      if (ofObject.index.size === 0) subscribersOf.delete(objectKey);
      return result;
    },

    deleteSubscriptions(object, subscribers) {
      const ofObject = subscribersOf.get(keyOf(object));
      const removed: StoredSubscription[] = [];
      if (!ofObject) return removed;
      for (const recipient of subscribers) {
        const seq = ofObject.bySubscriber.get(keyOf(recipient));
        const entry = seq === undefined ? undefined : subscriptions.get(seq);
        if (!entry) continue;
        removeSubscription(entry);
        removed.push(entry.sub);
      }
      return removed;
    },

    listSubscribers(object, page) {
      const source = subscribersOf.get(keyOf(object))?.index ?? EMPTY;
      return listPage(source, "asc", page, (seq) => subscriptions.get(seq)?.sub);
    },

    listSubscriptionsOf(recipient, page) {
      const source = subscriptionsOf.get(keyOf(recipient)) ?? EMPTY;
      return listPage(source, "asc", page, (seq) => subscriptions.get(seq)?.sub);
    },

    // ── Workflows ───────────────────────────────────────────────────────────────────────────

    putWorkflow({ definition, sha, now }) {
      const versions = workflows.get(definition.key);
      const current = versions?.[versions.length - 1];
      if (versions && current && current.sha === sha) {
        if (definition.active === undefined || definition.active === current.active) return current;
        const next = Object.freeze({ ...current, active: definition.active, updated_at: now });
        versions[versions.length - 1] = next;
        return next;
      }
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(definition)) {
        setOwn(copy, key, (definition as unknown as Record<string, unknown>)[key]);
      }
      copy.active = definition.active ?? current?.active ?? true;
      copy.version = (current?.version ?? 0) + 1;
      copy.sha = sha;
      copy.valid = true;
      copy.inserted_at = current?.inserted_at ?? now;
      copy.updated_at = now;
      const workflow = freezeCopy(copy) as unknown as Workflow;
      if (versions) versions.push(workflow);
      else workflows.set(definition.key, [workflow]);
      return workflow;
    },

    getWorkflow(key, version) {
      const versions = workflows.get(key);
      if (!versions) return null;
      if (version === undefined) return versions[versions.length - 1] ?? null;
      const found = versions[version - 1];
      return found?.version === version ? found : null;
    },

    listWorkflows() {
      return [...workflows.keys()].sort().map((key) => {
        const versions = workflows.get(key)!;
        return versions[versions.length - 1]!;
      });
    },

    setWorkflowActive(key, active, now) {
      const versions = workflows.get(key);
      const current = versions?.[versions.length - 1];
      if (!versions || !current) return null;
      const next = Object.freeze({ ...current, active, updated_at: now });
      versions[versions.length - 1] = next;
      return next;
    },

    // ── Runs ────────────────────────────────────────────────────────────────────────────────

    createWorkflowRun(run) {
      if (workflowRuns.has(run.id)) return false;
      const frozen = freezeCopy(run);
      workflowRuns.set(run.id, frozen);
      sharedData.add(frozen.data);
      sharedData.add(frozen.trigger_source);
      return true;
    },

    getWorkflowRun(id) {
      return workflowRuns.get(id) ?? null;
    },

    createRecipientRuns(given) {
      return given.map((input) => {
        if (runs.has(input.id)) return false;
        const events = input.events;
        const run = freezeRecipientRun(input, sharedData);
        const seq = runsBySeq.push(run);
        eventsBySeq.push(events ? events.map(freezeRunEvent) : NO_EVENTS);
        // Messages stored for this run before the run itself (the contract allows it) join it.
        runMessages.push(orphanMessages.take(run.id));
        runs.set(run.id, seq);
        const slot = ensureSlotOfRef(run.recipient);
        slot.runs = heldAdd(slot.runs, seq);
        runsByWorkflowRun.add(run.workflow_run_id, seq);
        const cancellationKey = run.trigger_source.cancellation_key;
        if (cancellationKey) {
          runsByCancellationKey.add(cancellationIndexKey(run.workflow, cancellationKey), seq);
        }
        return true;
      });
    },

    getRecipientRun(id) {
      return runOf(id) ?? null;
    },

    getRecipientRuns(ids) {
      return ids.map((id) => runOf(id) ?? null);
    },

    updateRecipientRun(id, expectedVersion, patch, events) {
      const seq = runs.get(id);
      if (seq === undefined) return null;
      const previous = runsBySeq[seq - 1] as WorkflowRecipientRun;
      if (previous.version !== expectedVersion) return null;
      const run = patchRecipientRun(previous, patch, expectedVersion + 1);
      moveSlot("runs", previous.recipient, run.recipient, seq);
      if (previous.workflow_run_id !== run.workflow_run_id) {
        runsByWorkflowRun.delete(previous.workflow_run_id, seq);
        runsByWorkflowRun.add(run.workflow_run_id, seq);
      }
      runsBySeq[seq - 1] = run;
      eventsBySeq[seq - 1] = withEvents(eventsBySeq[seq - 1] as readonly RunEvent[], events);
      return run;
    },

    appendRunEvents(id, events) {
      // A log belongs to a run: events for a run that does not exist are dropped.
      const seq = runs.get(id);
      if (seq === undefined) return;
      eventsBySeq[seq - 1] = withEvents(eventsBySeq[seq - 1] as readonly RunEvent[], events);
    },

    getRunEvents(id) {
      const seq = runs.get(id);
      return seq === undefined ? [] : (eventsBySeq[seq - 1] as readonly RunEvent[]).slice();
    },

    listRecipientRuns(filter, page) {
      const matches = runTest(filter);
      const source = smallest(
        [
          filter.recipient ? slotIndex(filter.recipient, "runs") : null,
          filter.workflow_run_id === undefined
            ? null
            : runsByWorkflowRun.get(filter.workflow_run_id),
        ],
        allRuns,
      );
      return listPage(source, "desc", page, (seq) => {
        const run = runsBySeq[seq - 1];
        return run && matches(run) ? run : undefined;
      });
    },

    // ── Messages ────────────────────────────────────────────────────────────────────────────

    createMessage(input) {
      const existing = messages.get(input.id);
      if (existing !== undefined)
        return { message: messagesBySeq[existing - 1] as Message, created: false };
      // Most messages carry their workflow run's data, already frozen here: shared, not copied.
      const message = freezeMessage(input, sharedData);
      const seq = messagesBySeq.push(message);
      messages.set(message.id, seq);
      const slot = ensureSlotOfRef(message.recipient);
      slot.messages = heldAdd(slot.messages, seq);
      indexRunMessage(message.source.workflow_recipient_run_id, seq, true);
      countMessage(message, 1);
      return { message, created: true };
    },

    getMessage(id) {
      const seq = messages.get(id);
      return seq === undefined ? null : (messagesBySeq[seq - 1] ?? null);
    },

    updateMessage(id, patch) {
      const seq = messages.get(id);
      return seq === undefined ? null : writeMessage(seq, patch);
    },

    listMessages(filter, page) {
      const matches = messageTest(filter);
      let byIds: SeqIndex | null = null;
      if (filter.message_ids) {
        const seqs = new Set<number>();
        for (const id of filter.message_ids) {
          const seq = messages.get(id);
          if (seq !== undefined) seqs.add(seq);
        }
        byIds = SeqIndex.of([...seqs].sort((a, b) => a - b));
      }
      const source = smallest(
        [
          byIds,
          filter.recipient ? slotIndex(filter.recipient, "messages") : null,
          filter.workflow_recipient_run_id === undefined
            ? null
            : messagesOfRun(filter.workflow_recipient_run_id),
        ],
        allMessages,
      );
      return listPage(source, "desc", page, (seq) => {
        const message = messagesBySeq[seq - 1];
        return message && matches(message) ? message : undefined;
      });
    },

    countMessages(filter): MessageCounts {
      const counts: MessageCounts = { total: 0, unread: 0, unseen: 0 };
      const given = Object.keys(filter).filter(
        (key) => (filter as Record<string, unknown>)[key] !== undefined,
      );
      if (
        filter.recipient &&
        filter.status?.every((status) => status === COUNTED_STATUS) &&
        given.every((key) => COUNTABLE.has(key))
      ) {
        // From the recipient's counters: O(channels × tenants × statuses), no message read.
        const accepted = acceptedMasks(filter);
        const statuses = filter.status ? new Set<string>(filter.status) : null;
        const slot = slotOf(filter.recipient.collection, filter.recipient.id);
        for (const bucket of slot?.counters ?? []) {
          if (filter.channel_id !== undefined && bucket.channel_id !== filter.channel_id) continue;
          if (filter.tenant !== undefined && bucket.tenant !== filter.tenant) continue;
          if (filter.has_tenant !== undefined && (bucket.tenant !== null) !== filter.has_tenant)
            continue;
          if (statuses !== null && !statuses.has(bucket.status)) continue;
          const pairs = bucket.byMask;
          for (let at = 0; at < pairs.length; at += 2) {
            const mask = pairs[at] as number;
            const count = pairs[at + 1] as number;
            if (count === 0 || !accepted[mask]) continue;
            counts.total += count;
            if ((mask & ENGAGEMENT_BIT.read!) === 0) counts.unread += count;
            if ((mask & ENGAGEMENT_BIT.seen!) === 0) counts.unseen += count;
          }
        }
        return counts;
      }
      // Other filters: scan the smallest index that applies, as listMessages does.
      const matches = messageTest(filter);
      const source = smallest(
        [
          filter.recipient ? slotIndex(filter.recipient, "messages") : null,
          filter.workflow_recipient_run_id === undefined
            ? null
            : messagesOfRun(filter.workflow_recipient_run_id),
        ],
        allMessages,
      );
      const tally = (message: Message) => {
        counts.total++;
        if (!message.engagement_statuses.includes("read")) counts.unread++;
        if (!message.engagement_statuses.includes("seen")) counts.unseen++;
      };
      if (filter.message_ids) {
        for (const id of new Set(filter.message_ids)) {
          const seq = messages.get(id);
          const message = seq === undefined ? undefined : messagesBySeq[seq - 1];
          if (message && matches(message)) tally(message);
        }
        return counts;
      }
      source.ascending(null, (seq) => {
        const message = messagesBySeq[seq - 1];
        if (message && matches(message)) tally(message);
        return true;
      });
      return counts;
    },

    updateEngagement(ids, update: EngagementUpdate, now) {
      if (ENGAGEMENT_BIT[update.status] === undefined) {
        throw new InvalidParamsError(
          `[crier] [store:memory] Expected an engagement status (${ENGAGEMENT_ORDER.join(", ")}), received "${String(update.status)}".`,
          [
            {
              field: "status",
              type: "enum",
              message: `expected one of ${ENGAGEMENT_ORDER.join(", ")}`,
            },
          ],
        );
      }
      const field = `${update.status}_at` as
        | "seen_at"
        | "read_at"
        | "interacted_at"
        | "link_clicked_at"
        | "archived_at";
      return ids.map((id): EngagementResult | null => {
        const seq = messages.get(id);
        if (seq === undefined) return null;
        const previous = messagesBySeq[seq - 1] as Message;
        const had = previous.engagement_statuses.includes(update.status);
        const metadata = update.set && update.metadata !== undefined;
        if (had === update.set && !metadata) return { message: previous, changed: false };
        const statuses = new Set<string>(previous.engagement_statuses);
        if (update.set) statuses.add(update.status);
        else statuses.delete(update.status);
        const patch: Partial<Message> = {
          engagement_statuses: ENGAGEMENT_ORDER.filter((status) => statuses.has(status)),
          [field]: update.set ? (had ? (previous[field] ?? now) : now) : null,
          updated_at: now,
        };
        if (metadata) patch.metadata = update.metadata ?? null;
        return { message: writeMessage(seq, patch), changed: true };
      });
    },

    // ── Once-only records ───────────────────────────────────────────────────────────────────

    claimIdempotencyKey(key, fingerprint, result, expiresAt, now): IdempotencyClaim {
      const nowTime = parseTime(now, "now");
      const expiry = parseTime(expiresAt, "expiresAt");
      // Amortized clean-up: records are in claim order, so expired ones gather at the front.
      let swept = 0;
      for (const [oldKey, record] of idempotency) {
        if (swept >= SWEEP_PER_CLAIM || record.expiresAt > nowTime) break;
        idempotency.delete(oldKey);
        swept++;
      }
      const existing = idempotency.get(key);
      if (existing && existing.expiresAt > nowTime) {
        return { claimed: false, fingerprint: existing.fingerprint, result: existing.result };
      }
      // Delete first so that the new record moves to the end of the claim order.
      idempotency.delete(key);
      idempotency.set(key, { fingerprint, result: freezeCopy(result), expiresAt: expiry });
      return { claimed: true };
    },

    releaseIdempotencyKey(key) {
      idempotency.delete(key);
    },

    claimOnce(key) {
      if (claimed.has(key)) return false;
      claimed.add(key);
      return true;
    },

    // ── Batches, throttles, cancellations ──────────────────────────────────────────────────

    appendToBatch(input, now) {
      const openId = openBatches.get(input.key);
      const { write, result } = planAppend(
        (openId === undefined ? undefined : batches.get(openId)) ?? null,
        input,
        now,
        batchHasItem,
      );
      if (!write) return result;
      const batch = writeBatch(write);
      return { ...result, batch };
    },

    getBatch(id) {
      return batches.get(id) ?? null;
    },

    closeBatch(id, now, force = false) {
      const batch = batches.get(id);
      if (batch?.status !== "open") return null;
      if (!force && Date.parse(batch.closes_at) > Date.parse(now)) return null;
      return writeBatch({ ...batch, status: "closed", closed_at: now });
    },

    removeBatchItem(id, runId) {
      const batch = batches.get(id);
      if (!batch) return null;
      const next = planRemoval(batch, runId);
      return next === batch ? batch : writeBatch(next);
    },

    countThrottle(key, windowEndsAt, now) {
      const current = throttles.get(key);
      const nowTime = Date.parse(now);
      const next: ThrottleCount =
        current && Date.parse(current.window_ends_at) > nowTime
          ? { ...current, count: current.count + 1 }
          : { count: 1, window_started_at: now, window_ends_at: windowEndsAt };
      const frozen = Object.freeze(next);
      throttles.set(key, frozen);
      return frozen;
    },

    putCancellation(cancellation) {
      const key = cancellationIndexKey(cancellation.workflow, cancellation.cancellation_key);
      const cancelledAt = Date.parse(cancellation.cancelled_at);
      const kept = (cancellations.get(key) ?? []).filter(
        (c) => Date.parse(c.expires_at) > cancelledAt,
      );
      kept.push(freezeCopy(cancellation));
      cancellations.set(key, kept);
    },

    getCancellations(workflow, cancellationKey, now) {
      const nowTime = Date.parse(now);
      return (cancellations.get(cancellationIndexKey(workflow, cancellationKey)) ?? []).filter(
        (c) => Date.parse(c.expires_at) > nowTime,
      );
    },

    listRunsByCancellationKey(workflow, cancellationKey, page) {
      const source = runsByCancellationKey.get(cancellationIndexKey(workflow, cancellationKey));
      return listPage(source ?? new SeqIndex(), "asc", page, (seq) => runsBySeq[seq - 1]);
    },

    // ── Schedules ───────────────────────────────────────────────────────────────────────────

    createSchedules(given) {
      return given.map((input) => {
        if (schedules.has(input.id)) return false;
        const entry: ScheduleEntry = {
          seq: schedulesBySeq.length + 1,
          schedule: freezeCopy(input),
        };
        schedules.set(input.id, entry);
        schedulesBySeq.push(entry);
        schedulesByWorkflow.add(input.workflow, entry.seq);
        schedulesByRecipient.add(refKey(input.recipient), entry.seq);
        return true;
      });
    },

    getSchedules(ids) {
      return ids.map((id) => schedules.get(id)?.schedule ?? null);
    },

    updateSchedule(id, expectedVersion, patch) {
      const entry = schedules.get(id);
      if (!entry || entry.schedule.version !== expectedVersion) return null;
      const previous = entry.schedule;
      const next = freezeCopy({ ...previous, ...patch, id, version: expectedVersion + 1 });
      if (next.workflow !== previous.workflow) {
        schedulesByWorkflow.delete(previous.workflow, entry.seq);
        schedulesByWorkflow.add(next.workflow, entry.seq);
      }
      if (refKey(next.recipient) !== refKey(previous.recipient)) {
        schedulesByRecipient.delete(refKey(previous.recipient), entry.seq);
        schedulesByRecipient.add(refKey(next.recipient), entry.seq);
      }
      entry.schedule = next;
      return next;
    },

    deleteSchedules(ids) {
      const deleted: StoredSchedule[] = [];
      for (const id of ids) {
        const entry = schedules.get(id);
        if (!entry) continue;
        schedules.delete(id);
        schedulesBySeq[entry.seq - 1] = undefined;
        schedulesByWorkflow.delete(entry.schedule.workflow, entry.seq);
        schedulesByRecipient.delete(refKey(entry.schedule.recipient), entry.seq);
        deleted.push(entry.schedule);
      }
      return deleted;
    },

    listSchedules(filter, page) {
      const recipients = filter.recipients ? new Set(filter.recipients.map(keyOf)) : null;
      const onlyRecipient =
        recipients?.size === 1 ? schedulesByRecipient.get([...recipients][0]!) : null;
      const source = smallest(
        [
          filter.workflow === undefined ? null : schedulesByWorkflow.get(filter.workflow),
          recipients === null ? null : recipients.size === 0 ? undefined : onlyRecipient,
        ],
        allSchedules,
      );
      return listPage(source, "asc", page, (seq) => {
        const schedule = schedulesBySeq[seq - 1]?.schedule;
        if (!schedule) return undefined;
        if (filter.workflow !== undefined && schedule.workflow !== filter.workflow)
          return undefined;
        if (filter.tenant !== undefined && schedule.tenant !== filter.tenant) return undefined;
        if (recipients !== null && !recipients.has(refKey(schedule.recipient))) return undefined;
        return schedule;
      });
    },

    // ── Sources ─────────────────────────────────────────────────────────────────────────────

    putSource(key, definition, now) {
      const current = sources.get(key);
      const source = freezeCopy({
        key,
        definition,
        inserted_at: current?.inserted_at ?? now,
        updated_at: now,
      });
      sources.set(key, source);
      return source;
    },

    getSource(key) {
      return sources.get(key) ?? null;
    },
  };
}
