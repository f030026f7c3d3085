/**
 * @internal The filters of `workflowRecipientRuns.list`: Knock's parameters, validated, as a store
 * {@link RunFilter}.
 */
import { ParamChecker } from "../_internal/params.js";
import { normalizeRecipient } from "../recipients/identify.js";
import type { PageRequest, RunFilter } from "../store/types.js";
import type { RunStatus } from "./run-types.js";

const RUN_STATUSES: readonly RunStatus[] = [
  "queued",
  "processing",
  "paused",
  "completed",
  "cancelled",
];

const KNOWN = [
  "page_size",
  "after",
  "before",
  "workflow",
  "status",
  "tenant",
  "has_errors",
  "recipient",
  "workflow_run_id",
  "starting_at",
  "ending_at",
];

/**
 * @internal Validates `workflowRecipientRuns.list` parameters into `filter` and a page request;
 * throws InvalidParamsError naming each problem.
 */
export function toRunFilter(
  params: unknown,
  filter: RunFilter,
): { filter: RunFilter; request: PageRequest } {
  const p = new ParamChecker(params);
  p.known(KNOWN);
  const request = p.page();
  const workflow = p.string("workflow", "a workflow key");
  if (workflow) filter.workflow = workflow;
  const status = p.listOf("status", RUN_STATUSES);
  if (status) filter.status = status;
  const tenant = p.string("tenant", "a tenant id");
  if (tenant) filter.tenant = tenant;
  const hasErrors = p.boolean("has_errors");
  if (hasErrors !== undefined) filter.has_errors = hasErrors;
  const recipient = p.raw("recipient");
  if (recipient !== undefined) {
    const normalized = normalizeRecipient(recipient, "recipient", p.issues);
    if (normalized) filter.recipient = normalized.key;
  }
  const runId = p.string("workflow_run_id", "a workflow run id");
  if (runId) filter.workflow_run_id = runId;
  const starting = p.timestamp("starting_at");
  if (starting) filter.starting_at = starting;
  const ending = p.timestamp("ending_at");
  if (ending) filter.ending_at = ending;
  p.done("workflow recipient run list parameters");
  return { filter, request };
}
