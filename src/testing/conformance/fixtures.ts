/**
 * @internal Small factories of store records for the conformance suites: complete, valid values
 * with overridable fields.
 */
import type { Message } from "../../messages/types.js";
import type {
  BatchAppend,
  BatchItem,
  StoredCancellation,
  StoredSchedule,
} from "../../store/types.js";
import type { RunEvent, WorkflowRecipientRun, WorkflowRun } from "../../workflows/run-types.js";
import type { WorkflowInput } from "../../workflows/types.js";

/** @internal The fixed instant the fixtures count from. */
const EPOCH = Date.UTC(2030, 0, 1);

/** @internal The ISO timestamp `seconds` after the fixtures' epoch (2030-01-01T00:00:00.000Z). */
export function at(seconds: number): string {
  return new Date(EPOCH + seconds * 1000).toISOString();
}

/** @internal A workflow run (one trigger). */
export function workflowRunFixture(overrides: Partial<WorkflowRun> & { id: string }): WorkflowRun {
  return {
    workflow: "welcome",
    workflow_version: 1,
    recipients: ["u1"],
    actor: null,
    tenant: null,
    data: { order: { id: "o-1", items: [1, 2] } },
    cancellation_key: null,
    trigger_source: { type: "api" },
    inserted_at: at(0),
    ...overrides,
  };
}

/** @internal A queued recipient run for user `u1`. */
export function recipientRunFixture(
  overrides: Partial<WorkflowRecipientRun> & { id: string },
): WorkflowRecipientRun {
  return {
    __typename: "WorkflowRecipientRun",
    workflow_run_id: "wr-1",
    workflow: "welcome",
    workflow_version: 1,
    status: "queued",
    recipient: "u1",
    actor: null,
    tenant: null,
    data: null,
    subscription: null,
    trigger_source: { type: "api" },
    cursor: 0,
    version: 0,
    error_count: 0,
    inserted_at: at(0),
    updated_at: at(0),
    ...overrides,
  };
}

/** @internal A queued email message for user `u1`. */
export function messageFixture(
  overrides: Partial<Omit<Message, "source">> & { id: string; source?: Partial<Message["source"]> },
): Message {
  const { source, ...rest } = overrides;
  return {
    __typename: "Message",
    channel_id: "email",
    channel_type: "email",
    recipient: "u1",
    actors: [],
    workflow: "welcome",
    tenant: null,
    source: {
      __typename: "NotificationSource",
      key: overrides.workflow ?? "welcome",
      version_id: "1",
      categories: [],
      step_ref: "email_1",
      workflow_run_id: "wr-1",
      workflow_recipient_run_id: "rr-1",
      ...source,
    },
    status: "queued",
    engagement_statuses: [],
    seen_at: null,
    read_at: null,
    interacted_at: null,
    link_clicked_at: null,
    archived_at: null,
    data: { greeting: "hello" },
    content: { subject: "Hi" },
    metadata: null,
    attempts: 0,
    provider_message_id: null,
    last_error: null,
    inserted_at: at(0),
    updated_at: at(0),
    ...rest,
  };
}

/** @internal One log entry. */
export function runEventFixture(event: string, overrides: Partial<RunEvent> = {}): RunEvent {
  return {
    event,
    status: "ok",
    step_ref: null,
    step_type: null,
    attempt: 1,
    data: {},
    inserted_at: at(0),
    ...overrides,
  };
}

/** @internal A one-step workflow definition. */
export function workflowFixture(
  key: string,
  overrides: Partial<WorkflowInput> = {},
): WorkflowInput {
  return {
    key,
    name: key,
    categories: ["updates"],
    steps: [
      {
        ref: "email_1",
        type: "channel",
        channel_key: "email",
        template: { subject: "Hello {{ recipient.name }}" },
      },
    ],
    ...overrides,
  };
}

/** @internal One trigger's item for a batch, brought by recipient run `runId`. */
export function batchItemFixture(runId: string, overrides: Partial<BatchItem> = {}): BatchItem {
  return {
    run_id: runId,
    data: { order: { id: `o-${runId}`, lines: [1, 2] } },
    actor: null,
    inserted_at: at(0),
    ...overrides,
  };
}

/**
 * @internal An append of run `run_id` (with its item) to the fixed-window batch of user `u1`'s
 * `batch_1` step of `welcome`, closing 60 seconds after the epoch, with no item limit.
 */
export function batchAppendFixture(
  overrides: Partial<BatchAppend> & { id: string; run_id: string },
): BatchAppend {
  return {
    key: "welcome:batch_1:$users:u1",
    workflow: "welcome",
    step_ref: "batch_1",
    recipient: { collection: "$users", id: "u1" },
    item: batchItemFixture(overrides.run_id),
    closes_at: at(60),
    closes_by: null,
    slide_to: null,
    max_items: null,
    leading: false,
    ...overrides,
  };
}

/** @internal A cancellation of every recipient's runs of `welcome` with key `order-1`. */
export function cancellationFixture(
  overrides: Partial<StoredCancellation> = {},
): StoredCancellation {
  return {
    id: `c-${overrides.cancelled_at ?? at(0)}-${overrides.workflow ?? "welcome"}`,
    workflow: "welcome",
    cancellation_key: "order-1",
    recipients: null,
    cancelled_at: at(0),
    expires_at: at(3600),
    ...overrides,
  };
}

/** @internal A daily 09:00 schedule of "welcome" for a user, with every field filled. */
export function scheduleFixture(
  overrides: Partial<StoredSchedule> & { id: string },
): StoredSchedule {
  return {
    workflow: "welcome",
    recipient: "u1",
    actor: null,
    tenant: null,
    data: { edition: "morning" },
    repeats: [{ frequency: "daily", hours: 9 }],
    scheduled_at: null,
    ending_at: null,
    last_occurrence_at: null,
    next_occurrence_at: at(3600),
    version: 0,
    inserted_at: at(0),
    updated_at: at(0),
    ...overrides,
  };
}
