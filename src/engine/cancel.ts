/**
 * @internal `workflows.cancel`: stops the runs of a workflow's cancellation key that have not
 * finished — queued, or parked in a delay, a batch window or a fetch backoff — optionally only for
 * some recipients. The cancellation is also recorded for a while, so runs that a trigger made
 * before it but that are created after it (a fan-out still under way) are cancelled when they start.
 */

import { describe } from "../_internal/describe.js";
import { uuidV4 } from "../_internal/ids.js";
import { isPlainObject } from "../_internal/merge.js";
import {
  EngineClosedError,
  InvalidParamsError,
  type ValidationIssue,
  WorkflowNotFoundError,
} from "../errors.js";
import { normalizeRecipient, refToKey, sameKey } from "../recipients/identify.js";
import type { RecipientReferenceInput } from "../recipients/types.js";
import type { RecipientKey, StoredCancellation } from "../store/types.js";
import type { WorkflowRecipientRun, WorkflowRun } from "../workflows/run-types.js";
import { type EngineContext, nowIso } from "./context.js";

/** Parameters of `workflows.cancel`. */
export interface CancelParams {
  /** The `cancellation_key` the runs were triggered with. */
  cancellation_key: string;
  /** Only these recipients' runs (default: every recipient's). */
  recipients?: RecipientReferenceInput[] | null;
}

/** How long a cancellation still catches runs created after it from earlier triggers. */
const TOMBSTONE_MS = 24 * 60 * 60 * 1000;
const PAGE = 500;

/** @internal Runs `workflows.cancel`. */
export async function cancelWorkflow(
  ctx: EngineContext,
  key: unknown,
  params: unknown,
): Promise<void> {
  if (ctx.closed) throw new EngineClosedError("workflows.cancel");
  await ctx.ready;
  const issues: ValidationIssue[] = [];
  if (typeof key !== "string" || key.length === 0) {
    issues.push({
      field: "key",
      type: "type",
      message: `expected a workflow key, received ${describe(key)}`,
    });
  }
  const input = isPlainObject(params) ? params : {};
  if (!isPlainObject(params))
    issues.push({
      field: "params",
      type: "type",
      message: `expected { cancellation_key, recipients? }, received ${describe(params)}`,
    });
  const cancellationKey = input.cancellation_key;
  if (typeof cancellationKey !== "string" || cancellationKey.length === 0) {
    issues.push({
      field: "cancellation_key",
      type: "required",
      message: `expected a non-empty string, received ${describe(cancellationKey)}`,
    });
  }
  let recipients: RecipientKey[] | null = null;
  if (input.recipients !== undefined && input.recipients !== null) {
    if (!Array.isArray(input.recipients) || input.recipients.length === 0) {
      issues.push({
        field: "recipients",
        type: "type",
        message: `expected a non-empty array of recipient references, received ${describe(input.recipients)}`,
      });
    } else {
      recipients = [];
      input.recipients.forEach((item, i) => {
        const normalized = normalizeRecipient(item, `recipients[${i}]`, issues);
        if (normalized) recipients?.push(normalized.key);
      });
    }
  }
  if (issues.length > 0) throw new InvalidParamsError("Invalid cancel:", issues);
  const workflow = key as string;
  if (!(await ctx.store.getWorkflow(workflow))) throw new WorkflowNotFoundError(workflow);

  const now = ctx.clock.now();
  const cancellation: StoredCancellation = {
    id: uuidV4(),
    workflow,
    cancellation_key: cancellationKey as string,
    recipients,
    cancelled_at: now.toISOString(),
    expires_at: new Date(now.getTime() + TOMBSTONE_MS).toISOString(),
  };
  await ctx.store.putCancellation(cancellation);

  let after: string | null = null;
  do {
    const page = await ctx.store.listRunsByCancellationKey(
      workflow,
      cancellation.cancellation_key,
      { limit: PAGE, after },
    );
    for (const run of page.items) {
      if (recipients && !recipients.some((r) => sameKey(r, refToKey(run.recipient)))) continue;
      await cancelRun(ctx, run);
    }
    after = page.after;
  } while (after);
}

/**
 * @internal True when a stored cancellation applies to a run of `workflowRun`: the trigger did not
 * see it (it was stored after the trigger looked, even within the same millisecond), and it
 * names the run's recipient or every recipient.
 */
export function cancellationApplies(
  cancellation: StoredCancellation,
  run: WorkflowRecipientRun,
  workflowRun: WorkflowRun,
): boolean {
  if (workflowRun.prior_cancellations?.includes(cancellation.id)) return false;
  return (
    cancellation.recipients === null ||
    cancellation.recipients.some((r) => sameKey(r, refToKey(run.recipient)))
  );
}

/**
 * @internal Cancels one run unless it has finished. A run that is part of an open batch (the one
 * waiting on it, or one whose activity joined it) leaves it first: its activity is removed, and
 * when it was the run waiting on the batch, continuation passes to the earliest remaining
 * activity's run (one atomic store operation), so the batch still sends when its window closes.
 * The window itself is unchanged. Once a batch has closed its activities are final: only the run
 * continuing with it can still be cancelled.
 */
export async function cancelRun(ctx: EngineContext, run: WorkflowRecipientRun): Promise<boolean> {
  if (run.status === "cancelled") return false;
  const batch = run.batch_id ? await ctx.store.getBatch(run.batch_id) : null;
  const inOpenBatch =
    batch?.status === "open" &&
    (batch.continuing_run_id === run.id || batch.items.some((item) => item.run_id === run.id));
  if (run.status === "completed" && !inOpenBatch) return false;
  if (batch && inOpenBatch) {
    // Leave the batch before the run's own write: were the batch to close in between, it would
    // otherwise wait on a cancelled run and never send.
    const after = await ctx.store.removeBatchItem(batch.id, run.id);
    const stillIn = after?.items.some((item) => item.run_id === run.id) ?? false;
    // The batch closed first: a joined activity is part of the digest now, and stays.
    if (run.status === "completed" && stillIn) return false;
  }
  const at = nowIso(ctx);
  let current: WorkflowRecipientRun | null = run;
  // Retry the compare-and-set if a job moved the run meanwhile.
  for (let tries = 0; current && tries < 5; tries++) {
    if (current.status === "cancelled") return false;
    if (current.status === "completed" && !inOpenBatch) return false;
    const written = await ctx.store.updateRecipientRun(
      current.id,
      current.version,
      { status: "cancelled", updated_at: at },
      [
        {
          event: "run_cancelled",
          status: "ok",
          step_ref: null,
          step_type: null,
          attempt: 1,
          data: { cancellation_key: run.trigger_source.cancellation_key ?? null },
          inserted_at: at,
        },
      ],
    );
    if (written) {
      await ctx.queue.remove(written.cursor === 0 ? written.id : `${written.id}:${written.cursor}`);
      ctx.emitter.emit("run.cancelled", {
        workflow: written.workflow,
        workflow_run_id: written.workflow_run_id,
        workflow_recipient_run_id: written.id,
        recipient: written.recipient,
        tenant: written.tenant,
        status: "cancelled",
      });
      return true;
    }
    current = await ctx.store.getRecipientRun(run.id);
  }
  return false;
}
