/**
 * @internal A message's activities: the triggers that went into it. A message of a run that did
 * not go through a batch has one, its run's trigger; a message made after a batch closed has one
 * per trigger the batch collected. Feed items carry them (as many as the message was rendered
 * with, and the totals), and `messages.listActivities` pages through all of them.
 */
import { cloneJson } from "../_internal/merge.js";
import type { PageInfo, PageParams } from "../_internal/paging.js";
import { ParamChecker } from "../_internal/params.js";
import type { EngineContext } from "../engine/context.js";
import { InvalidParamsError, NotFoundError } from "../errors.js";
import { checkId, keyToRef } from "../recipients/identify.js";
import type { RecipientReference } from "../recipients/types.js";
import { batchView } from "../steps/batch.js";
import type { BatchItem, StoredBatch } from "../store/types.js";
import type { CompiledWorkflow, Instruction } from "../workflows/compile.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import type { RunEvent, WorkflowRecipientRun } from "../workflows/run-types.js";
import type { Message } from "./types.js";

/** One activity of a message: a trigger that went into it. */
export interface Activity {
  __typename: "Activity";
  /** The recipient run the trigger started for the message's recipient. */
  id: string;
  /** The trigger's actor, or null. */
  actor: RecipientReference | null;
  /** The message's recipient. */
  recipient: RecipientReference;
  /** The trigger's data, as the run had it (at the batch step, for a batched message). */
  data: Record<string, unknown> | null;
  /** When the trigger reached the recipient's run (joined the batch, for a batched message). */
  inserted_at: string;
  updated_at: string;
}

/** What `messages.listActivities` returns: a message's activities, oldest first. */
export interface ActivityPage {
  entries: Activity[];
  page_info: PageInfo;
}

/** @internal A message's activities as a feed item shows them. */
export interface MessageActivities {
  /**
   * As the message was rendered: a batched message's activities in its batch step's
   * `batch_order`, at most its `batch_items_render_limit`; else the one activity.
   */
  shown: Activity[];
  /** Every activity, oldest first. */
  all: Activity[];
  total_activities: number;
  total_actors: number;
}

/**
 * The batch in effect when the run created the message, from the run's log: the last batch the
 * run continued with (`batch_closed`) before its `message_created` entry. Undefined when the log
 * has no such entry yet (a run writes its log when it parks or ends, after its messages).
 */
function batchInLog(log: readonly RunEvent[], messageId: string): string | null | undefined {
  let current: string | null = null;
  for (const entry of log) {
    if (entry.event === "batch_closed" && typeof entry.data.batch_id === "string")
      current = entry.data.batch_id;
    else if (entry.event === "message_created" && entry.data.message_id === messageId)
      return current;
  }
  return undefined;
}

function itemActivity(item: BatchItem, recipient: RecipientReference): Activity {
  return {
    __typename: "Activity",
    id: item.run_id,
    actor: item.actor ? keyToRef(item.actor) : null,
    recipient,
    data: item.data,
    inserted_at: item.inserted_at,
    updated_at: item.inserted_at,
  };
}

/** The one activity of a message whose run went through no batch before making it. */
function singleActivity(message: Message, run: WorkflowRecipientRun | null): MessageActivities {
  const activity: Activity = {
    __typename: "Activity",
    id: message.source.workflow_recipient_run_id,
    actor: run ? run.actor : (message.actors[0] ?? null),
    recipient: message.recipient,
    data: message.data,
    inserted_at: run?.inserted_at ?? message.inserted_at,
    updated_at: run?.inserted_at ?? message.inserted_at,
  };
  return {
    shown: [activity],
    all: [activity],
    total_activities: 1,
    total_actors: activity.actor === null ? 0 : 1,
  };
}

/** Each compiled workflow's batch step and the steps that can run after it (one batch step only). */
const afterBatch = new WeakMap<CompiledWorkflow, { batch: number; after: Set<number> } | null>();

/**
 * With exactly one batch step: its index, and the indexes of every step that can run after it
 * (following `next` and every branch arm; a program has no loops, so no such step can also run
 * before it). Null with no batch step or several.
 */
function stepsAfterBatch(compiled: CompiledWorkflow): { batch: number; after: Set<number> } | null {
  const known = afterBatch.get(compiled);
  if (known !== undefined) return known;
  const batches = compiled.program.filter((instruction) => instruction.type === "batch");
  let result: { batch: number; after: Set<number> } | null = null;
  if (batches.length === 1) {
    const batch = batches[0] as Instruction;
    const after = new Set<number>();
    const stack = [batch.next];
    while (stack.length > 0) {
      const index = stack.pop() as number;
      if (index < 0 || after.has(index)) continue;
      after.add(index);
      const instruction = compiled.program[index];
      if (!instruction) continue;
      stack.push(instruction.next);
      if (instruction.type === "branch") for (const arm of instruction.arms) stack.push(arm.target);
    }
    result = { batch: batch.index, after };
  }
  afterBatch.set(compiled, result);
  return result;
}

/**
 * Which batch (if any) a message of `run` was made with. A run that never reached a batch step
 * has none. With one batch step in the workflow, a message whose step can run after it was made
 * with the run's batch (the run waits at the batch step until the batch closes), with no read of
 * the log. With several (or the workflow version gone), the run's log says which, and a message
 * not in the log yet was made by the run's current job, with the run's batch.
 */
async function batchIdOf(
  message: Message,
  run: WorkflowRecipientRun,
  compiled: CompiledWorkflow | null,
  readLog: (runId: string) => Promise<readonly RunEvent[]>,
): Promise<string | null> {
  if (!run.batch_id) return null;
  const single = compiled ? stepsAfterBatch(compiled) : null;
  const step = compiled?.byRef.get(message.source.step_ref);
  if (single && step) return single.after.has(step.index) ? run.batch_id : null;
  const found = batchInLog(await readLog(run.id), message.id);
  return found === undefined ? run.batch_id : found;
}

/**
 * @internal The activities of each of `messages` (stored messages). Reads their runs in one call,
 * and each batch once (its step's settings from the run's workflow version); a run's log only
 * for a workflow with several batch steps.
 */
export async function activitiesOf(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  messages: readonly Message[],
): Promise<MessageActivities[]> {
  const runIds = [...new Set(messages.map((m) => m.source.workflow_recipient_run_id))];
  const read = ctx.store.getRecipientRuns
    ? await ctx.store.getRecipientRuns(runIds)
    : await Promise.all(runIds.map((id) => ctx.store.getRecipientRun(id)));
  const runs = new Map(runIds.map((id, i) => [id, read[i] ?? null]));
  const logs = new Map<string, Promise<readonly RunEvent[]>>();
  const readLog = (runId: string) => {
    let log = logs.get(runId);
    if (!log) {
      log = Promise.resolve(ctx.store.getRunEvents(runId));
      logs.set(runId, log);
    }
    return log;
  };
  const batches = new Map<string, Promise<StoredBatch | null>>();
  const versions = new Map<string, Promise<CompiledWorkflow | null>>();
  const compiledOf = (run: WorkflowRecipientRun) => {
    const key = `${run.workflow}\u0000${run.workflow_version}`;
    let compiled = versions.get(key);
    if (!compiled) {
      const cached = registry.cached(run.workflow, run.workflow_version);
      compiled = cached
        ? Promise.resolve(cached)
        : registry.compiled(run.workflow, run.workflow_version).catch((error: unknown) => {
            // The version is gone (a deleted workflow) or no longer compiles: the batch step's
            // defaults apply. A store that fails is an error.
            if (error instanceof NotFoundError || error instanceof InvalidParamsError) return null;
            throw error;
          });
      versions.set(key, compiled);
    }
    return compiled;
  };
  return Promise.all(
    messages.map(async (message): Promise<MessageActivities> => {
      const run = runs.get(message.source.workflow_recipient_run_id) ?? null;
      if (!run?.batch_id) return singleActivity(message, run);
      const compiled = await compiledOf(run);
      const batchId = await batchIdOf(message, run, compiled, readLog);
      if (!batchId) return singleActivity(message, run);
      let pending = batches.get(batchId);
      if (!pending) {
        pending = Promise.resolve(ctx.store.getBatch(batchId));
        batches.set(batchId, pending);
      }
      const batch = await pending;
      if (batch?.status !== "closed") return singleActivity(message, run);
      const view = batchView(batch, compiled);
      return {
        shown: view.shown.map((item) => itemActivity(item, message.recipient)),
        all: batch.items.map((item) => itemActivity(item, message.recipient)),
        total_activities: view.total_activities,
        total_actors: view.total_actors,
      };
    }),
  );
}

const CURSOR_PREFIX = "a1:";

function encodeCursor(index: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${index}`).toString("base64url");
}

function decodeCursor(cursor: string, field: "after" | "before"): number {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const digits = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : "";
  if (!/^\d{1,9}$/.test(digits)) {
    throw new InvalidParamsError(
      `Expected \`${field}\` to be a cursor from an earlier page of this message's activities, received "${cursor}".`,
      [{ field, type: "format", message: "expected a cursor returned by an earlier list call" }],
    );
  }
  return Number(digits);
}

/** Parameters of `messages.listActivities`: cursor paging (1–50 activities, default 50). */
export interface ActivityListParams extends PageParams {
  /** Knock's `trigger_data` filter. Not supported by crier: rejected with an `InvalidParamsError`. */
  trigger_data?: string;
}

/** @internal `messages.listActivities`. */
export async function listMessageActivities(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  id: unknown,
  params: unknown,
): Promise<ActivityPage> {
  const p = new ParamChecker(params);
  checkId(id, "id", p.issues, "a message id");
  p.known(["page_size", "after", "before"], {
    trigger_data:
      "is not supported by crier (it does not index activities' data); filter the entries on `data` yourself",
  });
  const request = p.page();
  p.done("activity list parameters");
  const messageId = id as string;
  const message = await ctx.store.getMessage(messageId);
  if (!message) throw new NotFoundError("message", messageId);
  const [activities] = await activitiesOf(ctx, registry, [message]);
  const all = activities?.all ?? [];
  // Oldest first; `after` the index of a page's last entry, `before` that of its first.
  let from = 0;
  let to = all.length;
  if (request.after) from = decodeCursor(request.after, "after") + 1;
  if (request.before) to = Math.min(to, decodeCursor(request.before, "before"));
  const start = request.before && !request.after ? Math.max(from, to - request.limit) : from;
  const end = Math.min(to, start + request.limit);
  const entries = start < end ? all.slice(start, end) : [];
  return {
    entries: cloneJson(entries),
    page_info: {
      __typename: "PageInfo",
      after: end < all.length && entries.length > 0 ? encodeCursor(end - 1) : null,
      before: start > 0 && entries.length > 0 ? encodeCursor(start) : null,
      page_size: request.limit,
    },
  };
}
