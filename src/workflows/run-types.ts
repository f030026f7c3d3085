/**
 * Workflow runs: one per trigger, and one recipient run per recipient, with its event log.
 *
 * @module
 */
import type { RecipientReference } from "../recipients/types.js";

/** A recipient run's status. */
export type RunStatus = "queued" | "processing" | "paused" | "completed" | "cancelled";

/** What caused a run. */
export interface TriggerSource {
  type: "api" | "schedule" | "workflow_step" | "integration" | "broadcast" | "audience";
  cancellation_key?: string | null;
  /** For `schedule`: the schedule that fired… */
  schedule_id?: string;
  /** …and the occurrence (ISO time) that fired. */
  occurrence?: string;
  /** For `integration`: the source key of `sources.receive`… */
  source_key?: string;
  /** …and the event name that was received. */
  source_event?: string;
  parent_workflow_recipient_run_id?: string;
}

/** Why a step (or a whole run) did not do its work. */
export type SkipReason =
  | "conditions"
  | "preferences"
  | "no_channel_data"
  | "channel_not_configured"
  | "invalid_settings"
  | "inactive_workflow";

/** One entry of a recipient run's log. */
export interface RunEvent {
  /**
   * What happened: `run_started`, `trigger_conditions_failed`, `recipient_not_found`,
   * `trigger_frequency_limited`, `step_executed`, `step_skipped`, `branch_taken`, `message_created`,
   * `message_sent`, `message_delivered`, `delivery_failed`, `message_undelivered`, `step_failed`,
   * `delay_started`, `batch_opened`, `batch_joined`, `batch_closed`, `throttled`, `fetch_retrying`,
   * `run_paused`, `run_resumed`, `run_cancelled`, `run_completed`, … (`engine.explain` reads them
   * as sentences).
   */
  event: string;
  status: "ok" | "error";
  step_ref: string | null;
  step_type: string | null;
  /** The delivery or step attempt this entry is about, from 1. */
  attempt: number;
  /** For skips: why. */
  reason?: SkipReason | string;
  /** Details: the failed condition and the values it saw, the message id, the error text… */
  data: Record<string, unknown>;
  inserted_at: string;
}

/** The trigger that started one or more recipient runs. */
export interface WorkflowRun {
  id: string;
  workflow: string;
  workflow_version: number;
  /** The recipients as the trigger named them, already identified. */
  recipients: RecipientReference[];
  actor: RecipientReference | null;
  tenant: string | null;
  data: Record<string, unknown>;
  /**
   * Per explicit recipient (same order as `recipients`), the `$trigger_data` its request carried,
   * or null; absent when no recipient had any. Merged over `data` for that recipient's run.
   */
  recipient_data?: Array<Record<string, unknown> | null>;
  cancellation_key: string | null;
  trigger_source: TriggerSource;
  /**
   * Ids of the cancellations of its cancellation key that existed when it was triggered: they
   * came before the trigger, so they never cancel its runs. Absent when there were none.
   */
  prior_cancellations?: string[];
  /** The trigger's `settings` that are on (`sandbox_mode`, `skip_delay`); absent when none is. */
  settings?: { sandbox_mode?: true; skip_delay?: true };
  inserted_at: string;
}

/** A workflow's run for one recipient. */
export interface WorkflowRecipientRun {
  __typename: "WorkflowRecipientRun";
  /** Derived from `workflow_run_id` and the recipient. */
  id: string;
  workflow_run_id: string;
  workflow: string;
  workflow_version: number;
  status: RunStatus;
  recipient: RecipientReference;
  actor: RecipientReference | null;
  tenant: string | null;
  /**
   * The run's own data when a step changed it (http_fetch, update_data, a batch): else null, and the
   * run reads its workflow run's `data` (a trigger's data is stored once, not once per recipient).
   */
  data: Record<string, unknown> | null;
  /** `recipient.subscription` when the recipient came from an object's subscribers. */
  subscription: Record<string, unknown> | null;
  trigger_source: TriggerSource;
  /** Where the run stands: the index of the next instruction of the compiled workflow. */
  cursor: number;
  /** Bumped on every write; writes name the version they read (compare-and-set). */
  version: number;
  error_count: number;
  /** Failed attempts of the step at `cursor` so far (an http_fetch waiting to retry). */
  step_attempt?: number;
  /** The batch this run waits on or continues with (set by a batch step). */
  batch_id?: string | null;
  /**
   * The job that resumes this run when it parks on a wait (a delay, a send window, a fetch
   * retry): the cursor it resumes at, when, and its id's suffix. Written with the park, so that a
   * redelivered job can enqueue it again if the job that parked the run died (or failed) after
   * the write and before the enqueue. Null when the run parked on a batch.
   */
  wake?: { cursor: number; at: string; job_suffix: string | null } | null;
  inserted_at: string;
  updated_at: string;
  /** Filled by `workflowRecipientRuns.get`; absent in lists. */
  events?: RunEvent[];
}
