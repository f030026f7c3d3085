/**
 * @internal The filters of `messages.list`, `users.listMessages` and `objects.listMessages`:
 * Knock's parameters, validated, as a store {@link MessageFilter}.
 */
import { ParamChecker } from "../_internal/params.js";
import type { MessageFilter, PageRequest } from "../store/types.js";
import type { MessageDeliveryStatus, MessageEngagementStatus } from "./types.js";

/** @internal Every delivery status, in Knock's order. */
export const DELIVERY_STATUSES: readonly MessageDeliveryStatus[] = [
  "queued",
  "sent",
  "delivered",
  "delivery_attempted",
  "undelivered",
  "not_sent",
  "bounced",
];

/** @internal Every engagement status, in the order messages list them. */
export const ENGAGEMENT_STATUSES: readonly MessageEngagementStatus[] = [
  "seen",
  "read",
  "interacted",
  "link_clicked",
  "archived",
];

/** An engagement status filter: a status, or `unseen` / `unread` / `unarchived` for its absence. */
export type EngagementStatusFilter = MessageEngagementStatus | "unseen" | "unread" | "unarchived";

const ENGAGEMENT_FILTERS: readonly EngagementStatusFilter[] = [
  ...ENGAGEMENT_STATUSES,
  "unseen",
  "unread",
  "unarchived",
];

const KNOWN = [
  "page_size",
  "after",
  "before",
  "status",
  "engagement_status",
  "channel_id",
  "tenant",
  "has_tenant",
  "source",
  "workflow",
  "workflow_categories",
  "workflow_run_id",
  "workflow_recipient_run_id",
  "message_ids",
  "inserted_at",
];

/**
 * @internal Validates list parameters into `filter` (which may already name a recipient) and a
 * page request; throws InvalidParamsError naming every problem.
 */
export function toMessageFilter(
  params: unknown,
  filter: MessageFilter,
): { filter: MessageFilter; request: PageRequest } {
  const p = new ParamChecker(params);
  p.known(KNOWN, {
    trigger_data:
      "is not supported by crier (messages keep their data, but crier does not index it); filter the items on `data` yourself",
  });
  const request = p.page();
  const status = p.listOf("status", DELIVERY_STATUSES);
  if (status) filter.status = status;
  const engagement = p.listOf("engagement_status", ENGAGEMENT_FILTERS);
  if (engagement) filter.engagement_status = engagement;
  const channel = p.string("channel_id", "a channel key");
  if (channel) filter.channel_id = channel;
  const tenant = p.string("tenant", "a tenant id");
  if (tenant) filter.tenant = tenant;
  const hasTenant = p.boolean("has_tenant");
  if (hasTenant !== undefined) filter.has_tenant = hasTenant;
  const source = p.string("source", "a workflow key");
  const workflow = p.string("workflow", "a workflow key");
  if (source && workflow && source !== workflow) {
    p.issues.push({
      field: "workflow",
      type: "conflict",
      message: `names the workflow filter twice with different keys ("${source}" as source, "${workflow}" as workflow); give one`,
    });
  }
  if (source ?? workflow) filter.workflow = (source ?? workflow) as string;
  const categories = p.strings("workflow_categories", 100);
  if (categories) filter.workflow_categories = categories;
  const runId = p.string("workflow_run_id", "a workflow run id");
  if (runId) filter.workflow_run_id = runId;
  const recipientRunId = p.string("workflow_recipient_run_id", "a workflow recipient run id");
  if (recipientRunId) filter.workflow_recipient_run_id = recipientRunId;
  const ids = p.strings("message_ids", 50);
  if (ids) filter.message_ids = ids;
  const inserted = p.range("inserted_at");
  if (inserted) filter.inserted_at = inserted;
  p.done("message list parameters");
  return { filter, request };
}
