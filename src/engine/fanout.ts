/**
 * @internal The `fanout` job: turns a workflow run into recipient runs. Explicit recipients come
 * first, then each object recipient's subscribers (two levels deep), a page at a time; every
 * recipient gets one run (its id derived from the workflow run and the recipient, so a retried
 * fan-out creates nothing twice) and a `run` job. The actor is never notified as a subscriber.
 */
import { recipientKeyString, uuidV5 } from "../_internal/ids.js";
import type { JobData, JobInput } from "../queue/types.js";
import { keyToRef, refToKey, sameKey } from "../recipients/identify.js";
import { type RecipientKey, USERS_COLLECTION } from "../store/types.js";
import type { WorkflowRecipientRun, WorkflowRun } from "../workflows/run-types.js";
import { type EngineContext, nowIso, readWorkflowRun } from "./context.js";

/** Subscribers read per store page. */
const PAGE_SIZE = 500;
/** Recipient runs one fan-out job creates before it hands over to a continuation job. */
const RUNS_PER_JOB = 2000;
/** Objects whose subscribers are expanded: the object recipient (0) and its object subscribers (1). */
const MAX_EXPAND_DEPTH = 1;

/** @internal Where a fan-out stands: which explicit recipient, and the stack of objects being expanded. */
interface FanoutCursor {
  /** Index into the workflow run's recipients of the object being expanded (-1: explicit phase). */
  index: number;
  stack: Array<{ collection: string; id: string; depth: number; after: string | null }>;
}

/** @internal The id of the recipient run of `recipient` in a workflow run. */
export function recipientRunId(workflowRunId: string, recipient: RecipientKey): string {
  return uuidV5(`${workflowRunId}|${recipientKeyString(keyToRef(recipient))}`);
}

/** @internal The job that runs (or resumes) a recipient run at `cursor`. */
export function runJob(runId: string, cursor: number, runAt?: Date, suffix?: string): JobInput {
  const base = cursor === 0 ? runId : `${runId}:${cursor}`;
  const job: JobInput = {
    name: "run",
    id: suffix ? `${base}:${suffix}` : base,
    data: { run_id: runId, cursor },
  };
  if (runAt) job.runAt = runAt;
  return job;
}

/** The most runs one `runs` job starts. */
const MAX_RUNS_PER_PAGE = 50;

/**
 * @internal The jobs that start new runs (cursor 0). Runs go in pages, one `runs` job each, sized
 * so that every slot of the queue's concurrency gets a page when there are enough runs: a page
 * runs its runs one after another, so each slot still runs one run at a time, and a job's own
 * cost (its queue entry, its reads of the workflow and the participants) is shared by the
 * page's runs. A page of one is a plain `run` job; a queue that does not tell its concurrency
 * gets one job per run.
 */
export function startJobs(ctx: EngineContext, runIds: readonly string[]): JobInput[] {
  const slots = ctx.queue.concurrency;
  const size =
    slots === undefined || !(slots >= 1)
      ? 1
      : Math.min(MAX_RUNS_PER_PAGE, Math.ceil(runIds.length / slots));
  if (size <= 1) return runIds.map((id) => runJob(id, 0));
  const jobs: JobInput[] = [];
  for (let i = 0; i < runIds.length; i += size) {
    const page = runIds.slice(i, i + size);
    jobs.push({ name: "runs", id: `runs:${page[0]}`, data: { run_ids: page } });
  }
  return jobs;
}

/** @internal Handles one `fanout` job. */
export async function processFanout(ctx: EngineContext, data: JobData): Promise<void> {
  const workflowRunId = String(data.workflow_run_id);
  const run = await readWorkflowRun(ctx, workflowRunId);
  if (!run) return;
  const cursor = (data.cursor as FanoutCursor | undefined) ?? { index: -1, stack: [] };
  const actorKey = run.actor ? refToKey(run.actor) : null;
  const pending: WorkflowRecipientRun[] = [];

  if (cursor.index === -1) {
    run.recipients.forEach((ref, i) => {
      // `$trigger_data`: merged over the trigger's data, top-level keys only, for this run alone.
      const extra = run.recipient_data?.[i];
      pending.push(newRun(ctx, run, refToKey(ref), null, extra ? { ...run.data, ...extra } : null));
    });
    await flush(ctx, pending);
    cursor.index = 0;
  }

  // A schedule's object recipient is notified itself; its subscribers are not (as Knock's).
  if (run.trigger_source.type === "schedule") return;
  let created = 0;
  // Work remains while an object is being expanded (its stack) or an explicit recipient is left.
  // The stack is checked first: an object's object subscribers are pushed as its last page is
  // read, after `index` has moved past it, so the last explicit recipient's second level still
  // sits on the stack when `index` reaches the end.
  const hasWork = () => cursor.stack.length > 0 || cursor.index < run.recipients.length;
  while (hasWork()) {
    if (cursor.stack.length === 0) {
      const ref = run.recipients[cursor.index];
      const key = ref === undefined ? null : refToKey(ref);
      if (key && key.collection !== USERS_COLLECTION)
        cursor.stack.push({ ...key, depth: 0, after: null });
      if (cursor.stack.length === 0) {
        cursor.index += 1;
        continue;
      }
    }
    const top = cursor.stack[cursor.stack.length - 1];
    if (!top) break;
    const object: RecipientKey = { collection: top.collection, id: top.id };
    const page = await ctx.store.listSubscribers(object, { limit: PAGE_SIZE, after: top.after });
    top.after = page.after;
    if (page.after === null) {
      cursor.stack.pop();
      // The explicit object is done once its own page list is: its object subscribers pushed
      // below are expanded before the next explicit recipient is looked at.
      if (top.depth === 0) cursor.index += 1;
    }
    // A subscriber's run holds its subscription's properties and the object: runs of one page
    // share that object when their subscriptions share their properties (added together).
    const objectRef = Object.freeze(keyToRef(object));
    const scopes = new Map<Record<string, unknown> | null, Record<string, unknown>>();
    for (const subscription of page.items) {
      const subscriber = subscription.recipient;
      if (actorKey && sameKey(subscriber, actorKey)) continue;
      const properties = subscription.properties;
      let scope = scopes.get(properties);
      if (scope === undefined) {
        scope = Object.freeze({ ...(properties ?? {}), object: objectRef });
        scopes.set(properties, scope);
      }
      pending.push(newRun(ctx, run, subscriber, scope));
      if (subscriber.collection !== USERS_COLLECTION && top.depth < MAX_EXPAND_DEPTH) {
        // An object subscriber is notified, and so are its own subscribers (one level more).
        cursor.stack.push({ ...subscriber, depth: top.depth + 1, after: null });
      }
    }
    created += page.items.length;
    await flush(ctx, pending);
    if (created >= RUNS_PER_JOB && hasWork()) {
      await ctx.queue.add({
        name: "fanout",
        id: `fanout:${workflowRunId}:${cursor.index}:${cursor.stack.map((s) => `${s.collection}/${s.id}@${s.after}`).join(",")}`,
        data: { workflow_run_id: workflowRunId, cursor: cursor as unknown as JobData },
      });
      return;
    }
  }
}

/**
 * A new recipient run, frozen (its parts made here are frozen too, its subscription is frozen by
 * the caller, the rest come from the stored workflow run): the memory store keeps it without a
 * copy.
 */
function newRun(
  ctx: EngineContext,
  run: WorkflowRun,
  recipient: RecipientKey,
  subscription: Record<string, unknown> | null,
  data: Record<string, unknown> | null = null,
): WorkflowRecipientRun {
  const now = nowIso(ctx);
  return Object.freeze({
    __typename: "WorkflowRecipientRun",
    id: recipientRunId(run.id, recipient),
    workflow_run_id: run.id,
    workflow: run.workflow,
    workflow_version: run.workflow_version,
    status: "queued",
    recipient: Object.freeze(keyToRef(recipient)),
    actor: run.actor,
    tenant: run.tenant,
    data: data && Object.freeze(data),
    subscription,
    trigger_source: run.trigger_source,
    cursor: 0,
    version: 0,
    error_count: 0,
    inserted_at: now,
    updated_at: now,
  });
}

/**
 * Creates the pending runs and enqueues the jobs that start them, created or not: a retried
 * fan-out must enqueue what a crash kept it from enqueueing, and starting a run that is already
 * done is a no-op. The same runs make the same pages (the same job ids) every time.
 */
async function flush(ctx: EngineContext, pending: WorkflowRecipientRun[]): Promise<void> {
  if (pending.length === 0) return;
  const batch = pending.splice(0, pending.length);
  const created = await ctx.store.createRecipientRuns(batch);
  await ctx.queue.addBulk(
    startJobs(
      ctx,
      batch.map((run) => run.id),
    ),
  );
  if (ctx.emitter.has("run.queued")) {
    batch.forEach((run, i) => {
      if (!created[i]) return;
      ctx.emitter.emit("run.queued", {
        workflow: run.workflow,
        workflow_run_id: run.workflow_run_id,
        workflow_recipient_run_id: run.id,
        recipient: run.recipient,
        tenant: run.tenant,
        status: "queued",
      });
    });
  }
}
