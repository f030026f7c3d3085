/**
 * @internal `engine.explain(workflowRecipientRunId)`: a recipient run's log as sentences, for
 * tests and for logs. One line per log entry, prefixed with its time, e.g.
 * `step email_1 skipped: preferences: categories.marketing = false in set default (tenant acme)`,
 * then the messages the run created as they are now.
 */
import { describe } from "../_internal/describe.js";
import { InvalidParamsError, NotFoundError } from "../errors.js";
import type { Message } from "../messages/types.js";
import type { RecipientReference } from "../recipients/types.js";
import type { RunEvent, WorkflowRecipientRun } from "../workflows/run-types.js";
import type { EngineContext } from "./context.js";

function ref(recipient: RecipientReference): string {
  return typeof recipient === "string"
    ? `user ${recipient}`
    : `${recipient.collection} ${recipient.id}`;
}

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return JSON.stringify(value);
}

function list(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? value.map(text).join(", ") : "none";
}

/** Why a run ended, as words (the `reason` of `run_completed`). */
const ENDINGS: Record<string, string> = {
  completed: "run completed",
  batched: "run ended: its trigger joined a batch another run sends",
  throttled: "run ended: throttled",
  halted: "run halted after an error",
  trigger_conditions: "run ended: trigger conditions not met",
  recipient_not_found: "run ended: recipient not found",
  trigger_frequency: "run ended: trigger_frequency allows no second run",
  inactive_workflow: "run ended: the workflow is inactive",
  batch_empty: "run ended: its batch closed empty",
};

/** @internal One log entry as a sentence (without its time). */
export function describeRunEvent(entry: RunEvent): string {
  const d = entry.data;
  const step = entry.step_ref === null ? "" : `step ${entry.step_ref}`;
  const typed = entry.step_ref === null ? "" : `${step} (${entry.step_type ?? "step"})`;
  const attempt = entry.attempt > 1 ? ` (attempt ${entry.attempt})` : "";
  switch (entry.event) {
    case "run_started":
      return "run started";
    case "run_resumed":
      return "run resumed";
    case "run_paused":
      return d.until
        ? `run paused until ${text(d.until)}`
        : `run paused until batch ${text(d.batch_id)} closes`;
    case "run_cancelled":
      return d.cancellation_key
        ? `run cancelled (cancellation_key ${text(d.cancellation_key)})`
        : "run cancelled";
    case "run_completed":
      return ENDINGS[text(d.reason)] ?? `run completed: ${text(d.reason)}`;
    case "recipient_not_found":
      return `recipient ${ref(d.recipient as RecipientReference)} was not found: identify it (users.update, or an inline recipient) before triggering`;
    case "trigger_conditions_failed":
      return `trigger conditions failed: ${text(d.reason)}`;
    case "trigger_frequency_limited":
      return `trigger_frequency ${text(d.trigger_frequency)}: this recipient already ran this workflow`;
    case "step_skipped":
      return `${step} skipped: ${text(entry.reason)}: ${text(d.detail)}`;
    case "step_failed":
      return `${step} failed: ${text(d.error)}`;
    case "step_executed":
      if (entry.step_type === "update_data")
        return `${typed} merged data keys ${list(d.merged_keys)}`;
      if (entry.step_type === "delay") return `${typed} had nothing to wait for`;
      if (entry.step_type === "throttle")
        return `${typed} let execution ${text(d.count)} of ${text(d.limit)} through (window ends ${text(d.window_ends_at)})`;
      return `${typed} executed`;
    case "branch_taken":
      return d.branch === null
        ? `${typed} matched no branch and went on`
        : `${typed} took branch "${text(d.branch)}"${d.terminates ? " (which ends the run)" : ""}`;
    case "delay_started":
      return `${typed} waits until ${text(d.delayed_until)}`;
    case "batch_opened":
      return d.leading
        ? `${typed} opened batch ${text(d.batch_id)} closing at ${text(d.closes_at)}; flush_leading: this run goes on at once`
        : `${typed} opened batch ${text(d.batch_id)} closing at ${text(d.closes_at)}`;
    case "batch_continuing":
      return `${typed} continues batch ${text(d.batch_id)} (its leading run went on), closing at ${text(d.closes_at)}`;
    case "batch_joined":
      return `${typed} added this trigger to batch ${text(d.batch_id)} (${text(d.items)} items): the batch's own run sends it`;
    case "batch_closed":
      return `${typed} batch ${text(d.batch_id)} closed with ${text(d.total_activities)} activities`;
    case "batch_empty":
      return `${typed} batch ${text(d.batch_id)} closed empty: every activity was cancelled`;
    case "throttled":
      return `${typed} throttled: execution ${text(d.count)} is over the limit of ${text(d.limit)} until ${text(d.window_ends_at)}`;
    case "fetch_succeeded":
      return `${typed} fetched (status ${text(d.status)}), merged data keys ${list(d.merged_keys)}${attempt}`;
    case "fetch_retrying":
      return `${typed} attempt ${entry.attempt} failed: ${text(d.error)}; retrying at ${text(d.retry_at)}`;
    case "fetch_failed":
      return `${typed} failed after ${text(d.attempts)} attempts: ${text(d.error)}`;
    case "workflow_triggered":
      return `${typed} triggered workflow ${text(d.workflow)} (workflow run ${text(d.workflow_run_id)})`;
    case "message_created":
      return d.created === false
        ? `${step} found message ${text(d.message_id)} already created (a retried job)`
        : `${step} created message ${text(d.message_id)} on channel ${text(d.channel_key)}`;
    case "message_scheduled":
      return `${step}: message ${text(d.message_id)} waits for its send window, until ${text(d.send_at)} (${text(d.timezone)})`;
    case "message_sent":
      return `${step}: message ${text(d.message_id)} sent${attempt}`;
    case "message_delivered":
      return `${step}: message ${text(d.message_id)} delivered${attempt}`;
    case "delivery_failed":
      return `${step}: delivery attempt ${entry.attempt} of message ${text(d.message_id)} failed: ${text(d.error)}; retrying at ${text(d.retry_at)}`;
    case "message_undelivered":
      return `${step}: message ${text(d.message_id)} undelivered after ${text(d.attempts)} attempts: ${text(d.error)}`;
    default: {
      const details = Object.keys(d).length > 0 ? ` ${JSON.stringify(d)}` : "";
      return `${step ? `${step}: ` : ""}${entry.event}${details}`;
    }
  }
}

function describeMessage(message: Message): string {
  const engagement =
    message.engagement_statuses.length > 0 ? `; ${message.engagement_statuses.join(", ")}` : "";
  const error = message.last_error ? ` (last error: ${message.last_error})` : "";
  return `message ${message.id} (step ${message.source.step_ref}, channel ${message.channel_id}): ${message.status}${engagement}${error}`;
}

/** @internal The whole explanation of one run. */
export function explainText(
  run: WorkflowRecipientRun,
  events: readonly RunEvent[],
  messages: readonly Message[],
): string {
  const who = [ref(run.recipient)];
  if (run.tenant) who.push(`tenant ${run.tenant}`);
  if (run.actor) who.push(`actor ${ref(run.actor).replace(/^user /, "")}`);
  const lines = [
    `workflow recipient run ${run.id}: workflow ${run.workflow} v${run.workflow_version} for ${who.join(", ")} (${run.trigger_source.type} trigger, workflow run ${run.workflow_run_id})`,
    `status: ${run.status}${run.error_count > 0 ? ` with ${run.error_count} error${run.error_count === 1 ? "" : "s"}` : ""}`,
  ];
  for (const entry of events) {
    const mark = entry.status === "error" ? " [error]" : "";
    lines.push(`${entry.inserted_at}${mark} ${describeRunEvent(entry)}`);
  }
  if (messages.length > 0) {
    lines.push("messages now:");
    for (const message of messages) lines.push(`  ${describeMessage(message)}`);
  }
  return lines.join("\n");
}

/** @internal `engine.explain`. */
export async function explainRun(ctx: EngineContext, id: unknown): Promise<string> {
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidParamsError("Invalid explain call:", [
      {
        field: "workflowRecipientRunId",
        type: "type",
        message: `expected a workflow recipient run id (an entry's id from workflowRecipientRuns.list), received ${describe(id)}`,
      },
    ]);
  }
  const run = await ctx.store.getRecipientRun(id);
  if (!run)
    throw new NotFoundError(
      "workflow recipient run",
      id,
      "Find run ids with engine.workflowRecipientRuns.list({ workflow_run_id }).",
    );
  const [events, messages] = await Promise.all([
    ctx.store.getRunEvents(id),
    ctx.store.listMessages({ workflow_recipient_run_id: id }, { limit: 1000 }),
  ]);
  return explainText(run, events, [...messages.items].reverse());
}
