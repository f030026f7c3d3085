/**
 * @internal The batch rules every store applies atomically in its own way (a synchronous section
 * in memory, a locked transaction in PostgreSQL): what an append or a removal does to a batch, as
 * pure functions of the batch as it stands. One definition keeps the stores' semantics the same.
 */
import type { BatchAppend, BatchAppendResult, StoredBatch } from "./types.js";

/**
 * @internal What an append does to the open batch of its key (null when none is open): the batch
 * to write (null when nothing changes) and the result. The contract of `appendToBatch`.
 */
export function planAppend(
  open: StoredBatch | null,
  input: BatchAppend,
  now: string,
  /** Whether a run already has an item in `open` (a store with an index of them answers in O(1)). */
  hasItem: (batch: StoredBatch, runId: string) => boolean = scanItems,
): { write: StoredBatch | null; result: BatchAppendResult } {
  if (!open) {
    const items = input.item && !input.leading ? [input.item] : [];
    const full = input.max_items !== null && items.length >= input.max_items;
    const batch: StoredBatch = {
      id: input.id,
      key: input.key,
      workflow: input.workflow,
      step_ref: input.step_ref,
      recipient: { collection: input.recipient.collection, id: input.recipient.id },
      continuing_run_id: input.leading ? null : input.run_id,
      leading_run_id: input.leading ? input.run_id : null,
      status: full ? "closed" : "open",
      opened_at: now,
      closes_at: input.closes_at,
      closes_by: input.closes_by,
      items,
      closed_at: full ? now : null,
    };
    return {
      write: batch,
      result: { batch, role: input.leading ? "leading" : "opened", closed: full },
    };
  }
  // A retried job: the run is already part of this batch.
  if (open.leading_run_id === input.run_id)
    return { write: null, result: { batch: open, role: "leading", closed: false } };
  if (open.continuing_run_id === input.run_id) {
    const role = open.leading_run_id ? "continuing" : "opened";
    return { write: null, result: { batch: open, role, closed: false } };
  }
  if (hasItem(open, input.run_id))
    return { write: null, result: { batch: open, role: "joined", closed: false } };
  const items = input.item ? [...open.items, input.item] : [...open.items];
  const continuing = open.continuing_run_id === null;
  let closesAt = open.closes_at;
  if (input.slide_to !== null && Date.parse(input.slide_to) > Date.parse(closesAt)) {
    closesAt =
      open.closes_by !== null && Date.parse(input.slide_to) > Date.parse(open.closes_by)
        ? open.closes_by
        : input.slide_to;
  }
  const full = input.max_items !== null && items.length >= input.max_items;
  const batch: StoredBatch = {
    ...open,
    items,
    closes_at: closesAt,
    continuing_run_id: continuing ? input.run_id : open.continuing_run_id,
    status: full ? "closed" : "open",
    closed_at: full ? now : null,
  };
  return {
    write: batch,
    result: { batch, role: continuing ? "continuing" : "joined", closed: full },
  };
}

function scanItems(batch: StoredBatch, runId: string): boolean {
  return batch.items.some((item) => item.run_id === runId);
}

/**
 * @internal What `removeBatchItem` does to a batch: the run's item leaves an open batch, and when
 * the run was the batch's continuing run, continuation passes to the earliest remaining item's
 * run (or to nobody). Returns `batch` itself when nothing changes (a closed batch never does).
 */
export function planRemoval(batch: StoredBatch, runId: string): StoredBatch {
  if (batch.status !== "open") return batch;
  const items = batch.items.filter((item) => item.run_id !== runId);
  const handOver = batch.continuing_run_id === runId;
  if (items.length === batch.items.length && !handOver) return batch;
  return {
    ...batch,
    items,
    continuing_run_id: handOver ? (items[0]?.run_id ?? null) : batch.continuing_run_id,
  };
}
