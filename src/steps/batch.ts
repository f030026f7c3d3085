/**
 * @internal The batch step, and the `batch_close` job. Triggers for the same recipient, workflow
 * step and rendered `batch_key` collect in one batch while its window is open: the run that opened
 * it waits; the others add their activity and end. When the window closes, the waiting run goes on
 * with `activities`, `actors`, `total_activities` and `total_actors` in scope. Opening, appending
 * and closing are single atomic store operations.
 */

import { recipientKeyString, uuidV5 } from "../_internal/ids.js";
import { renderTemplate } from "../channels/templates.js";
import { readPath } from "../conditions/evaluate.js";
import type { EngineContext } from "../engine/context.js";
import { runJob } from "../engine/fanout.js";
import type { JobData, JobInput } from "../queue/types.js";
import { keyToRef, refToKey, toScopeRecipient } from "../recipients/identify.js";
import type { RecipientReference } from "../recipients/types.js";
import { addDuration, isDuration } from "../scheduling/duration.js";
import type { BatchItem, RecipientKey, StoredBatch } from "../store/types.js";
import type { BatchInstruction, CompiledWorkflow } from "../workflows/compile.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import { log, type Outcome, type RunState, scopeOf, skip } from "./run.js";

/** @internal What templates and conditions see after a batch closed. */
export interface BatchScope {
  activities: Array<{
    id: string;
    actor: Record<string, unknown> | null;
    data: Record<string, unknown>;
    inserted_at: string;
  }>;
  actors: Array<Record<string, unknown>>;
  total_activities: number;
  total_actors: number;
}

const DEFAULT_RENDER_LIMIT = 10;
const MAX_ACTORS = 10;
const MAX_MERGED_STRING = 256;

/** The rendered batch key, or undefined when it renders empty. */
function batchKeyValue(state: RunState, instruction: BatchInstruction): string {
  if (instruction.key)
    return String(renderTemplate(state.ctx.liquid, instruction.key, scopeOf(state)) ?? "");
  if (instruction.keyPath) {
    const value = readPath(scopeOf(state), instruction.keyPath);
    return value === undefined || value === null
      ? ""
      : typeof value === "string"
        ? value
        : JSON.stringify(value);
  }
  return "";
}

/** @internal Runs a batch step. */
export async function executeBatch(
  state: RunState,
  instruction: BatchInstruction,
): Promise<Outcome> {
  const { ctx, run } = state;
  const settings = instruction.settings;
  let closesAt: Date | null = null;
  if (settings.batch_until_field_path) {
    const value = readPath(scopeOf(state), settings.batch_until_field_path);
    if (typeof value === "string" && !Number.isNaN(Date.parse(value))) closesAt = new Date(value);
    else if (isDuration(value)) closesAt = addDuration(state.now, value);
  } else if (settings.batch_window) {
    closesAt = addDuration(state.now, settings.batch_window);
  }
  if (!closesAt || closesAt.getTime() <= state.now.getTime()) {
    skip(
      state,
      instruction,
      "invalid_settings",
      "the batch window is missing, invalid or already over: expected batch_window or a future timestamp or Duration at batch_until_field_path",
    );
    return { kind: "next", next: instruction.next };
  }
  const sliding = settings.batch_window_type === "sliding";
  const closesBy =
    sliding && settings.batch_window_extension_limit
      ? addDuration(state.now, settings.batch_window_extension_limit)
      : null;
  const keyValue = batchKeyValue(state, instruction);
  const scopeKey =
    settings.workflow_version_mode === "latest" || settings.workflow_version_mode === undefined
      ? instruction.ref
      : `${instruction.ref}@${run.workflow_version}`;
  const key = `${run.workflow}|${scopeKey}|${recipientKeyString(run.recipient)}|${keyValue}`;
  const leading = settings.batch_execution_mode === "flush_leading";
  const now = state.now.toISOString();
  const result = await ctx.store.appendToBatch(
    {
      key,
      id: uuidV5(`${key}|${run.id}`),
      workflow: run.workflow,
      step_ref: instruction.ref,
      recipient: refToKey(run.recipient),
      run_id: run.id,
      item: {
        run_id: run.id,
        data: state.data,
        actor: run.actor ? refToKey(run.actor) : null,
        inserted_at: now,
      },
      closes_at: closesAt.toISOString(),
      closes_by: closesBy ? closesBy.toISOString() : null,
      slide_to:
        sliding && settings.batch_window
          ? addDuration(state.now, settings.batch_window).toISOString()
          : null,
      max_items: settings.batch_items_max_limit ?? null,
      leading,
    },
    now,
  );
  const { batch } = result;
  const scheduleClose = async () => {
    await ctx.queue.add(batchCloseJob(batch, result.closed ? state.now : null));
  };
  switch (result.role) {
    case "leading":
      log(state, "batch_opened", instruction, {
        batch_id: batch.id,
        closes_at: batch.closes_at,
        leading: true,
      });
      // The window closes on time even when no trigger follows (else a trigger days later would
      // find the batch still open and flush it at once). Its own job: the run that continues with
      // the batch, if one comes, adds the usual one once it is parked, and whichever runs second
      // finds the batch closed and resumes that run, once. Added now, not after the run's write:
      // it resumes no run, so nothing needs to be written first.
      await ctx.queue.add({
        ...batchCloseJob(batch, null),
        id: `batch:${batch.id}:${batch.closes_at}:leading`,
      });
      return { kind: "next", next: instruction.next };
    case "opened":
    case "continuing":
      log(state, result.role === "opened" ? "batch_opened" : "batch_continuing", instruction, {
        batch_id: batch.id,
        closes_at: batch.closes_at,
      });
      state.patch.batch_id = batch.id;
      state.afterWrite.push(scheduleClose);
      return { kind: "park", next: instruction.next };
    case "joined":
      log(state, "batch_joined", instruction, { batch_id: batch.id, items: batch.items.length });
      state.patch.batch_id = batch.id;
      // A sliding window moved, or the batch filled up: its close job must follow.
      if (result.closed || sliding) state.afterWrite.push(scheduleClose);
      return { kind: "end", reason: "batched" };
  }
}

/**
 * The job that closes `batch`: when it is due (at `closes_at`), or, with `fullAt`, at once because
 * it filled up. Its id names the batch and its closing time, so adding it again is a no-op.
 */
function batchCloseJob(batch: StoredBatch, fullAt: Date | null): JobInput {
  return {
    name: "batch_close",
    id: `batch:${batch.id}:${batch.closes_at}:${fullAt ? "full" : "due"}`,
    data: { batch_id: batch.id },
    runAt: fullAt ?? new Date(batch.closes_at),
  };
}

/**
 * @internal Enqueues the job that closes the batch a run is parked on, if the batch is still
 * open (for a redelivered job, whose first run may have died before enqueueing it). A no-op
 * when the job is already there.
 */
export async function ensureBatchClose(ctx: EngineContext, batchId: string): Promise<void> {
  const batch = await ctx.store.getBatch(batchId);
  if (batch?.status === "open") await ctx.queue.add(batchCloseJob(batch, null));
}

/**
 * @internal Handles a `batch_close` job: closes a due batch and resumes its continuing run (the
 * run that opened it, or, when that one was cancelled, the earliest remaining activity's run).
 */
export async function processBatchClose(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  data: JobData,
): Promise<void> {
  const id = String(data.batch_id);
  const now = ctx.clock.now().toISOString();
  let batch = await ctx.store.getBatch(id);
  if (!batch) return;
  if (batch.status === "open") {
    const closed = await ctx.store.closeBatch(id, now);
    if (!closed) {
      // A sliding window moved on: close it when it is due.
      const current = await ctx.store.getBatch(id);
      if (current?.status === "open") {
        await ctx.queue.add(batchCloseJob(current, null));
        return;
      }
      if (!current) return;
      batch = current;
    } else batch = closed;
  }
  await resumeContinuingRun(ctx, registry, batch);
}

function batchEvent(batch: StoredBatch, event: string, at: string, data: Record<string, unknown>) {
  return {
    event,
    status: "ok" as const,
    step_ref: batch.step_ref,
    step_type: "batch",
    attempt: 1,
    data: { batch_id: batch.id, ...data },
    inserted_at: at,
  };
}

/**
 * Resumes the run that continues with a closed batch, once (a duplicate `batch_close` job finds
 * it resumed and does nothing). That is the run parked on the batch; or a run whose activity
 * joined it and that ended there, when continuation passed to it because the run ahead of it
 * was cancelled: it is parked again at the step after the batch, in its own workflow version.
 */
async function resumeContinuingRun(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  batch: StoredBatch,
): Promise<void> {
  // Nobody continues: flush_leading with nothing after the first, or every activity cancelled.
  // An empty batch sends nothing.
  if (!batch.continuing_run_id) return;
  const run = await ctx.store.getRecipientRun(batch.continuing_run_id);
  if (!run || run.batch_id !== batch.id) return;
  const compiled = await registry.compiled(run.workflow, run.workflow_version);
  const step = compiled.byRef.get(batch.step_ref);
  if (!step) return;
  const at = ctx.clock.now().toISOString();
  if (run.status === "completed") {
    // A handed-over activity run: resumed once, so a run that already went on is left alone.
    if (!batch.items.some((item) => item.run_id === run.id)) return;
    const log = await ctx.store.getRunEvents(run.id);
    if (log.some((e) => e.event === "batch_closed" && e.data.batch_id === batch.id)) return;
    const resumed = await ctx.store.updateRecipientRun(
      run.id,
      run.version,
      {
        status: "paused",
        cursor: step.next,
        data: mergedBatchData(batch, compiled),
        updated_at: at,
        wake: { cursor: step.next, at, job_suffix: null },
      },
      [
        batchEvent(batch, "batch_continuing", at, {
          reason: "the run that was to continue with the batch was cancelled",
        }),
        batchEvent(batch, "batch_closed", at, { total_activities: batch.items.length }),
      ],
    );
    if (resumed) await ctx.queue.add(runJob(run.id, step.next));
    return;
  }
  // Parked on this batch still (not already resumed and parked further on).
  if (run.status !== "paused" || run.cursor !== step.next) return;
  if (run.wake && run.wake.cursor === run.cursor) {
    // Resumed already (by another close job of this batch: one per way it can close, and jobs
    // run at least once), or waiting at the next step (a fetch retry): what wakes it is enqueued
    // again, a no-op when it is there. Writing the run again would race the job that resumes it.
    await ctx.queue.add(
      runJob(run.id, run.wake.cursor, new Date(run.wake.at), run.wake.job_suffix ?? undefined),
    );
    return;
  }
  if (batch.items.length === 0) {
    // Every activity was cancelled: an empty batch sends nothing.
    const ended = await ctx.store.updateRecipientRun(
      run.id,
      run.version,
      { status: "completed", cursor: -1, updated_at: at },
      [batchEvent(batch, "batch_empty", at, {})],
    );
    if (ended)
      ctx.emitter.emit("run.completed", {
        workflow: run.workflow,
        workflow_run_id: run.workflow_run_id,
        workflow_recipient_run_id: run.id,
        recipient: run.recipient,
        tenant: run.tenant,
        status: "completed",
        reason: "batch_empty",
      });
    return;
  }
  const updated = await ctx.store.updateRecipientRun(
    run.id,
    run.version,
    {
      data: mergedBatchData(batch, compiled),
      updated_at: at,
      // What wakes it, kept with it: a second close job of the batch finds it resumed.
      wake: { cursor: run.cursor, at, job_suffix: null },
    },
    [batchEvent(batch, "batch_closed", at, { total_activities: batch.items.length })],
  );
  if (updated) await ctx.queue.add(runJob(run.id, run.cursor));
}

/**
 * Knock's batch data: a shallow merge, in arrival order, of the activities the batch shows (the
 * first or the last ones, by `batch_order`, up to the render limit), nested values dropped and
 * strings cut at 256.
 */
function mergedBatchData(batch: StoredBatch, compiled: CompiledWorkflow): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const item of batchView(batch, compiled).shown) {
    for (const [key, value] of Object.entries(item.data)) {
      if (value !== null && typeof value === "object") continue;
      merged[key] =
        typeof value === "string" && value.length > MAX_MERGED_STRING
          ? value.slice(0, MAX_MERGED_STRING)
          : value;
    }
  }
  return merged;
}

/**
 * @internal What a closed batch shows, by its step's settings: the first or last activities (by
 * `batch_order`) up to `batch_items_render_limit`, oldest first; the distinct actors, most recent
 * first (at most ten); and the totals. Templates see it (with the actors' records), and so do the
 * message's `actors` and a feed item's `activities`.
 */
export interface BatchView {
  /** The items shown (the first or last, by `batch_order`), oldest first. */
  shown: BatchItem[];
  /** The distinct actors, most recent first, at most {@link MAX_ACTORS}. */
  actors: RecipientKey[];
  total_activities: number;
  total_actors: number;
}

/** @internal See {@link BatchView}; `compiled` is the workflow version of the batch's step. */
export function batchView(batch: StoredBatch, compiled: CompiledWorkflow | null): BatchView {
  const instruction = compiled?.byRef.get(batch.step_ref);
  const step = instruction?.type === "batch" ? instruction.settings : undefined;
  const order = step?.batch_order ?? "asc";
  const limit = step?.batch_items_render_limit ?? DEFAULT_RENDER_LIMIT;
  // Knock: `batch_order` picks the first or the last activities; either way they are listed
  // oldest first.
  const shown = order === "desc" ? batch.items.slice(-limit) : batch.items.slice(0, limit);
  const actorKeys = new Map<string, RecipientKey>();
  // Most recent actors first, as a digest shows them.
  for (let i = batch.items.length - 1; i >= 0; i--) {
    const actor = batch.items[i]?.actor;
    if (actor) actorKeys.set(actorName(actor), actor);
  }
  return {
    shown,
    actors: [...actorKeys.values()].slice(0, MAX_ACTORS),
    total_activities: batch.items.length,
    total_actors: actorKeys.size,
  };
}

function actorName(key: RecipientKey): string {
  return `${key.collection}\u0000${key.id}`;
}

/**
 * @internal What a run continuing with a closed batch sees (`scope`), the actors its messages
 * name (Knock's message `actors`: up to ten, most recent first, for a batched message), and the
 * first activity's data (what its preference conditions see).
 */
export async function loadBatchScope(
  ctx: EngineContext,
  batchId: string,
  compiled: CompiledWorkflow,
): Promise<{
  scope: BatchScope;
  actors: RecipientReference[];
  firstData: Record<string, unknown> | null;
} | null> {
  const batch = await ctx.store.getBatch(batchId);
  if (batch?.status !== "closed") return null;
  const view = batchView(batch, compiled);
  const needed = new Map(view.actors.map((a) => [actorName(a), a]));
  for (const item of view.shown) if (item.actor) needed.set(actorName(item.actor), item.actor);
  const keys = [...needed.values()];
  const loaded = await ctx.store.getRecipients(keys);
  const actorScope = new Map<string, Record<string, unknown>>();
  keys.forEach((key, i) => {
    const stored = loaded[i];
    actorScope.set(actorName(key), stored ? toScopeRecipient(stored) : { id: key.id });
  });
  return {
    scope: {
      activities: view.shown.map((item) => ({
        id: item.run_id,
        actor: item.actor ? (actorScope.get(actorName(item.actor)) ?? null) : null,
        data: item.data,
        inserted_at: item.inserted_at,
      })),
      actors: view.actors.map((a) => actorScope.get(actorName(a)) ?? { id: a.id }),
      total_activities: view.total_activities,
      total_actors: view.total_actors,
    },
    // Frozen, as the message that holds them will be.
    actors: Object.freeze(
      view.actors.map((key) => Object.freeze(keyToRef(key))),
    ) as RecipientReference[],
    firstData: batch.items[0]?.data ?? null,
  };
}
