/**
 * The engine's events: names fixed by the API contract, payloads plain data.
 *
 * @module
 */
import type { Message } from "../messages/types.js";
import type { RecipientReference } from "../recipients/types.js";
import type { RunStatus, SkipReason } from "../workflows/run-types.js";

/** Fields every run-related event carries. */
export interface RunEventBase {
  workflow: string;
  workflow_run_id: string;
  workflow_recipient_run_id: string;
  recipient: RecipientReference;
  tenant: string | null;
}

/** `workflow.triggered`: a trigger was accepted. */
export interface WorkflowTriggeredEvent {
  workflow: string;
  workflow_run_id: string;
  recipients: RecipientReference[];
  actor: RecipientReference | null;
  tenant: string | null;
  cancellation_key: string | null;
}

/** `run.*`: a recipient run changed status. */
export interface RunStatusEvent extends RunEventBase {
  status: RunStatus;
  /** For `run.completed`: why the run ended where it did (`completed`, `trigger_conditions`, …). */
  reason?: string;
}

/** `step.skipped`: a step did not do its work. */
export interface StepSkippedEvent extends RunEventBase {
  step_ref: string;
  step_type: string;
  reason: SkipReason;
  /** Words saying precisely why: the failed condition and the values it saw, the missing address… */
  detail: string;
}

/** `message.*`: a message was created or changed status. */
export interface MessageEvent extends RunEventBase {
  message: Message;
  /** For `message.undelivered` and failed attempts: the provider's error. */
  error?: string;
}

/** A feed's counts, as `users.feeds.listItems` returns them in `meta` (archived items excluded). */
export interface FeedMeta {
  __typename: "FeedMetadata";
  /** Items in the feed. */
  total_count: number;
  /** Items not marked read. */
  unread_count: number;
  /** Items not marked seen (what a badge usually shows). */
  unseen_count: number;
}

/**
 * `feed.changed`: a user's in-app feed changed (a message was delivered to it, or an item was
 * seen, read, archived… or the reverse). One event per feed per write, emitted after the write,
 * with the feed's counts after it: what a server pushes to the browser showing the feed.
 */
export interface FeedChangedEvent {
  /** The user whose feed it is. */
  user_id: string;
  /** The in-app feed channel's key. */
  channel_id: string;
  /**
   * What changed the feed: the message event behind it (`message.delivered`, `message.seen`,
   * `message.unread`…), or `user.merged` when `users.merge` moved messages between two users'
   * feeds (one event for each user's feed).
   */
  cause: MessageEventName | "user.merged";
  /** The messages that changed, in the order they were written. */
  message_ids: string[];
  /** The whole feed's counts after the write (every tenant: what an unscoped feed shows). */
  meta: FeedMeta;
  /**
   * For each tenant of the changed messages: that tenant-scoped feed's counts after the write
   * (what `listItems(userId, channelId, { tenant })` shows in `meta`).
   */
  tenant_meta: Record<string, FeedMeta>;
}

/** The names of the `message.*` events. */
export type MessageEventName =
  | "message.created"
  | "message.sent"
  | "message.delivered"
  | "message.undelivered"
  | "message.not_sent"
  | "message.seen"
  | "message.unseen"
  | "message.read"
  | "message.unread"
  | "message.interacted"
  | "message.archived"
  | "message.unarchived";

/** `error`: something failed outside a run's own handling (a listener, a job). */
export interface ErrorEvent {
  error: unknown;
  /** Where: `listener:<event>`, `job:<name>`, … */
  source: string;
  workflow?: string;
  workflow_run_id?: string;
  workflow_recipient_run_id?: string;
}

/** `schedule.fired`: a schedule's occurrence triggered its workflow. */
export interface ScheduleFiredEvent {
  schedule_id: string;
  workflow: string;
  workflow_run_id: string;
  /** The occurrence that fired (ISO-8601). */
  occurrence: string;
  /** The next occurrence, or null when the schedule is done. */
  next_occurrence_at: string | null;
}

/** `schedule.skipped`: a schedule's occurrence came but its workflow could not be triggered. */
export interface ScheduleSkippedEvent {
  schedule_id: string;
  workflow: string;
  occurrence: string;
  /** The error code: `workflow_inactive`, `workflow_missing`, `invalid_params`, … */
  reason: string;
  detail: string;
  next_occurrence_at: string | null;
}

/** `source.skipped`: an action of a received source event did not run. */
export interface SourceSkippedEvent {
  source: string;
  event: string;
  /** The action's workflow. */
  workflow: string;
  action: "trigger" | "cancel";
  /** Why: the missing field and where it was looked for, or the error the action met. */
  reason: string;
}

/** Every event the engine emits, with its payload. */
export interface EngineEvents {
  "workflow.triggered": [WorkflowTriggeredEvent];
  "run.queued": [RunStatusEvent];
  "run.processing": [RunStatusEvent];
  "run.paused": [RunStatusEvent];
  "run.completed": [RunStatusEvent];
  "run.cancelled": [RunStatusEvent];
  "step.skipped": [StepSkippedEvent];
  "message.created": [MessageEvent];
  "message.sent": [MessageEvent];
  "message.delivered": [MessageEvent];
  "message.undelivered": [MessageEvent];
  "message.not_sent": [MessageEvent];
  "message.seen": [MessageEvent];
  "message.read": [MessageEvent];
  "message.interacted": [MessageEvent];
  "message.unseen": [MessageEvent];
  "message.unread": [MessageEvent];
  "message.unarchived": [MessageEvent];
  "feed.changed": [FeedChangedEvent];
  "message.archived": [MessageEvent];
  "schedule.fired": [ScheduleFiredEvent];
  "schedule.skipped": [ScheduleSkippedEvent];
  "source.skipped": [SourceSkippedEvent];
  error: [ErrorEvent];
}

/** An event name. */
export type EngineEventName = keyof EngineEvents;
