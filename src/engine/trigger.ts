/**
 * @internal `workflows.trigger`: validate everything, claim the idempotency key, identify inline
 * recipients, actor and tenant, store the workflow run, and enqueue its fan-out. Nothing is stored
 * before every check has passed.
 */

import { describe } from "../_internal/describe.js";
import { hashJson, uuidV4 } from "../_internal/ids.js";
import { isPlainObject } from "../_internal/merge.js";
import {
  EngineClosedError,
  IdempotencyConflictError,
  InvalidParamsError,
  type ValidationIssue,
  WorkflowInactiveError,
  WorkflowNotFoundError,
} from "../errors.js";
import {
  checkId,
  jsonSize,
  type NormalizedRecipient,
  normalizeRecipient,
  tenantToPatch,
} from "../recipients/identify.js";
import type { RecipientRequest, TenantRequest } from "../recipients/types.js";
import { type RecipientKey, type RecipientPatch, TENANTS_COLLECTION } from "../store/types.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import type { TriggerSource, WorkflowRun } from "../workflows/run-types.js";
import { type EngineContext, nowIso } from "./context.js";
import type { RequestOptions } from "./request-options.js";

/** The parameters of `workflows.trigger`. */
export interface TriggerParams<TData = Record<string, unknown>> {
  /** 1 to 1,000 recipients: user ids, object references, or inline users and objects. */
  recipients: RecipientRequest[];
  /** Who caused the notification (excluded from subscriber fan-out). */
  actor?: RecipientRequest | null;
  /** A JSON object of at most 10 MB, validated against `trigger_data_json_schema` when the workflow has one. */
  data?: TData | null;
  /** Lets `workflows.cancel` stop this trigger's parked runs. */
  cancellation_key?: string | null;
  /** A tenant id, or a tenant identified inline. */
  tenant?: string | TenantRequest | null;
  /** Knock's trigger settings: a sandboxed or delay-free run, for testing a workflow. */
  settings?: TriggerSettings | null;
}

/** Knock's trigger `settings`, for trying a workflow out. */
export interface TriggerSettings {
  /** Every message is created as `not_sent` (event `message.not_sent`) and no provider is called. */
  sandbox_mode?: boolean | null;
  /** Every delay step continues at once (logged `delay_skipped`). */
  skip_delay?: boolean | null;
}

/**
 * Options of `workflows.trigger`: Knock's request options, of which `idempotencyKey` counts.
 */
export interface TriggerOptions extends RequestOptions {
  /** The same key within 24 hours returns the first call's result and runs nothing again. */
  idempotencyKey?: string;
}

/** What `workflows.trigger` returns. */
export interface TriggerResult {
  workflow_run_id: string;
}

const MAX_RECIPIENTS = 1000;
const MAX_DATA_BYTES = 10 * 1024 * 1024;
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** @internal A trigger that passed validation. */
export interface ValidTrigger {
  recipients: NormalizedRecipient[];
  actor: NormalizedRecipient | null;
  tenant: {
    id: string;
    patch: RecipientPatch | null;
    replacePreferences: Record<string, unknown> | null;
  } | null;
  data: Record<string, unknown>;
  cancellationKey: string | null;
}

/** @internal Runs the trigger pipeline. `source` says what caused it (API, schedule, source event…). */
export async function triggerWorkflow(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  key: unknown,
  params: unknown,
  options: TriggerOptions | undefined,
  source: TriggerSource = { type: "api" },
): Promise<TriggerResult> {
  if (ctx.closed) throw new EngineClosedError("workflows.trigger");
  await ctx.ready;
  if (typeof key !== "string" || key.length === 0) {
    throw new InvalidParamsError(`Expected a workflow key string, received ${describe(key)}.`, [
      { field: "key", type: "type", message: `expected a workflow key, received ${describe(key)}` },
    ]);
  }
  const workflow = await ctx.store.getWorkflow(key);
  if (!workflow) throw new WorkflowNotFoundError(key);
  if (!workflow.active) throw new WorkflowInactiveError(key);

  const issues: ValidationIssue[] = [];
  const valid = validateParams(params, issues);
  const settings = validateSettings(isPlainObject(params) ? params.settings : undefined, issues);
  const compiled = await registry.compiled(key, workflow.version);
  if (valid && compiled.validateData) {
    const dataIssues = compiled.validateData(valid.data);
    issues.push(...dataIssues);
    // A recipient's run gets its `$trigger_data` merged over `data`: that merge must pass too.
    // Checked once everything else passed: `valid.recipients` then holds every recipient, so
    // their indexes are the request's.
    if (issues.length === 0) issues.push(...triggerDataIssues(valid, compiled.validateData));
  }
  const idempotencyKey = options?.idempotencyKey;
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== "string" ||
      idempotencyKey.length === 0 ||
      idempotencyKey.length > 255)
  ) {
    issues.push({
      field: "idempotencyKey",
      type: "format",
      message: `expected a string of 1 to 255 characters, received ${describe(idempotencyKey)}`,
    });
  }
  if (!valid || issues.length > 0) {
    throw new InvalidParamsError(`Invalid trigger of workflow "${key}":`, issues);
  }

  // The engine may have closed while this call validated: still nothing is stored.
  if (ctx.closed) throw new EngineClosedError("workflows.trigger");
  const workflowRunId = uuidV4();
  const claimKey = idempotencyKey === undefined ? null : `trigger:${idempotencyKey}`;
  if (claimKey) {
    const now = ctx.clock.now();
    const claim = await ctx.store.claimIdempotencyKey(
      claimKey,
      hashJson({ key, params }),
      { workflow_run_id: workflowRunId },
      new Date(now.getTime() + IDEMPOTENCY_WINDOW_MS).toISOString(),
      now.toISOString(),
    );
    if (!claim.claimed) {
      if (claim.fingerprint !== hashJson({ key, params }))
        throw new IdempotencyConflictError(idempotencyKey as string);
      return { workflow_run_id: String(claim.result.workflow_run_id) };
    }
  }

  try {
    await identifyAll(ctx, valid);
    const now = nowIso(ctx);
    // Cancellations already made with this key came before this trigger: they never cancel it.
    const prior = valid.cancellationKey
      ? (await ctx.store.getCancellations(key, valid.cancellationKey, now)).map((c) => c.id)
      : [];
    const run: WorkflowRun = {
      id: workflowRunId,
      workflow: key,
      workflow_version: workflow.version,
      recipients: valid.recipients.map((r) => r.ref),
      actor: valid.actor?.ref ?? null,
      tenant: valid.tenant?.id ?? null,
      data: valid.data,
      ...(valid.recipients.some((r) => r.triggerData)
        ? { recipient_data: valid.recipients.map((r) => r.triggerData) }
        : {}),
      cancellation_key: valid.cancellationKey,
      trigger_source: { ...source, cancellation_key: valid.cancellationKey },
      ...(prior.length > 0 ? { prior_cancellations: prior } : {}),
      ...(settings ? { settings } : {}),
      inserted_at: now,
    };
    await ctx.store.createWorkflowRun(run);
    await ctx.queue.add({
      name: "fanout",
      id: `fanout:${workflowRunId}`,
      data: { workflow_run_id: workflowRunId },
    });
  } catch (error) {
    if (claimKey) await ctx.store.releaseIdempotencyKey(claimKey);
    throw error;
  }
  ctx.emitter.emit("workflow.triggered", {
    workflow: key,
    workflow_run_id: workflowRunId,
    recipients: valid.recipients.map((r) => r.ref),
    actor: valid.actor?.ref ?? null,
    tenant: valid.tenant?.id ?? null,
    cancellation_key: valid.cancellationKey,
  });
  return { workflow_run_id: workflowRunId };
}

/** Failing recipients named one by one, at most; the rest are counted in one more issue. */
const MAX_TRIGGER_DATA_FAILURES = 10;

/**
 * The schema issues of each explicit recipient's run data (`$trigger_data` merged over `data`,
 * top-level keys), named `recipients[i].$trigger_data…` (`data` passed on its own).
 */
function triggerDataIssues(
  valid: ValidTrigger,
  validateData: (data: unknown) => ValidationIssue[],
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  let failing = 0;
  valid.recipients.forEach((recipient, i) => {
    if (!recipient.triggerData) return;
    const found = validateData({ ...valid.data, ...recipient.triggerData });
    if (found.length === 0) return;
    failing++;
    if (failing > MAX_TRIGGER_DATA_FAILURES) return;
    for (const issue of found) {
      const path = issue.field === "data" ? "" : issue.field.replace(/^data/, "");
      issues.push({
        ...issue,
        field: `recipients[${i}].$trigger_data${path}`,
        message: `${issue.message} (in $trigger_data merged over data, this recipient's run data)`,
      });
    }
  });
  if (failing > MAX_TRIGGER_DATA_FAILURES) {
    issues.push({
      field: "recipients",
      type: "trigger_data",
      message: `${failing - MAX_TRIGGER_DATA_FAILURES} more recipients' $trigger_data merged over data fail the workflow's trigger_data_json_schema`,
    });
  }
  return issues;
}

/**
 * @internal Validates trigger parameters (recipients, actor, tenant, data, cancellation key),
 * pushing every problem to `issues`; null when `params` is not an object at all.
 */
export function validateParams(
  params: unknown,
  issues: ValidationIssue[],
  maxRecipients = MAX_RECIPIENTS,
): ValidTrigger | null {
  if (!isPlainObject(params)) {
    issues.push({
      field: "params",
      type: "type",
      message: `expected an object with recipients, received ${describe(params)}`,
    });
    return null;
  }
  const recipients: NormalizedRecipient[] = [];
  const list = params.recipients;
  if (!Array.isArray(list)) {
    issues.push({
      field: "recipients",
      type: "required",
      message: `expected an array of 1 to ${maxRecipients} recipients, received ${describe(list)}`,
    });
  } else if (list.length === 0 || list.length > maxRecipients) {
    issues.push({
      field: "recipients",
      type: "length",
      message: `expected 1 to ${maxRecipients} recipients, received ${list.length}; ${maxRecipients === MAX_RECIPIENTS ? "split larger audiences into several triggers or subscribe them to an object" : "split them over several calls"}`,
    });
  } else {
    list.forEach((item, i) => {
      const normalized = normalizeRecipient(item, `recipients[${i}]`, issues);
      if (normalized) recipients.push(normalized);
    });
  }
  let actor: NormalizedRecipient | null = null;
  if (params.actor !== undefined && params.actor !== null)
    actor = normalizeRecipient(params.actor, "actor", issues);

  const tenant = validateTenant(params.tenant, issues);
  const data = validateData(params.data, issues);
  const perRecipient = recipients.reduce(
    (sum, r) => sum + (r.triggerData ? Buffer.byteLength(JSON.stringify(r.triggerData)) : 0),
    0,
  );
  if (perRecipient > 0 && perRecipient + jsonBytes(data) > MAX_DATA_BYTES) {
    issues.push({
      field: "recipients",
      type: "size",
      message: `expected data and every recipient's $trigger_data to total at most 10 MB, received ${((perRecipient + jsonBytes(data)) / 1024 / 1024).toFixed(1)} MB; store large content elsewhere and pass its id`,
    });
  }

  const cancellationKey = params.cancellation_key;
  if (
    cancellationKey !== undefined &&
    cancellationKey !== null &&
    (typeof cancellationKey !== "string" || cancellationKey.length === 0)
  ) {
    issues.push({
      field: "cancellation_key",
      type: "type",
      message: `expected a non-empty string or null, received ${describe(cancellationKey)}`,
    });
  }
  return {
    recipients,
    actor,
    tenant,
    data,
    cancellationKey:
      typeof cancellationKey === "string" && cancellationKey.length > 0 ? cancellationKey : null,
  };
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "");
}

/** Validates Knock's trigger `settings`; returns the flags that are on, or undefined for none. */
function validateSettings(
  input: unknown,
  issues: ValidationIssue[],
): WorkflowRun["settings"] | undefined {
  if (input === undefined || input === null) return undefined;
  if (!isPlainObject(input)) {
    issues.push({
      field: "settings",
      type: "type",
      message: `expected { sandbox_mode?, skip_delay? } or null, received ${describe(input)}`,
    });
    return undefined;
  }
  const on: NonNullable<WorkflowRun["settings"]> = {};
  for (const [name, value] of Object.entries(input)) {
    if (name !== "sandbox_mode" && name !== "skip_delay") {
      issues.push({
        field: `settings.${name}`,
        type: "additionalProperties",
        message: `expected only sandbox_mode and skip_delay, received "${name}"; remove it`,
      });
    } else if (value !== undefined && value !== null && typeof value !== "boolean") {
      issues.push({
        field: `settings.${name}`,
        type: "type",
        message: `expected true, false or null, received ${describe(value)}`,
      });
    } else if (value === true) on[name] = true;
  }
  return Object.keys(on).length > 0 ? on : undefined;
}

/** @internal Validates a trigger's `tenant`: an id, a tenant object with an id, or nothing. */
export function validateTenant(
  tenantInput: unknown,
  issues: ValidationIssue[],
): ValidTrigger["tenant"] {
  let tenant: ValidTrigger["tenant"] = null;
  if (typeof tenantInput === "string") {
    if (checkId(tenantInput, "tenant", issues, "a tenant id"))
      tenant = { id: tenantInput, patch: null, replacePreferences: null };
  } else if (isPlainObject(tenantInput)) {
    if (checkId(tenantInput.id, "tenant.id", issues, "a tenant id")) {
      tenant = { id: tenantInput.id as string, ...tenantToPatch(tenantInput, "tenant", issues) };
    }
  } else if (tenantInput !== undefined && tenantInput !== null) {
    issues.push({
      field: "tenant",
      type: "type",
      message: `expected a tenant id or a tenant object with an id, received ${describe(tenantInput)}`,
    });
  }
  return tenant;
}

/** @internal Validates trigger `data`: a JSON object of at most 10 MB (copied), or nothing (`{}`). */
export function validateData(input: unknown, issues: ValidationIssue[]): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (!isPlainObject(input)) {
    issues.push({
      field: "data",
      type: "type",
      message: `expected a JSON object, received ${describe(input)}`,
    });
    return {};
  }
  const size = jsonSize(input, "data", issues);
  if (size > MAX_DATA_BYTES) {
    issues.push({
      field: "data",
      type: "size",
      message: `expected at most 10 MB of data, received ${(size / 1024 / 1024).toFixed(1)} MB; store large content elsewhere and pass its id`,
    });
    return {};
  }
  return JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
}

/** @internal Upserts inline recipients, the actor and the tenant (a stub tenant when it does not exist). */
export async function identifyAll(ctx: EngineContext, trigger: ValidTrigger): Promise<void> {
  const now = nowIso(ctx);
  // In order, so that a recipient listed twice ends with the later properties on every store.
  for (const recipient of [...trigger.recipients, ...(trigger.actor ? [trigger.actor] : [])]) {
    if (recipient.patch) await ctx.store.upsertRecipient(recipient.key, recipient.patch, now);
  }
  if (trigger.tenant) {
    const key: RecipientKey = { collection: TENANTS_COLLECTION, id: trigger.tenant.id };
    const { patch, replacePreferences } = trigger.tenant;
    // A tenant named by id only is created as a stub when it does not exist.
    if (patch) await ctx.store.upsertRecipient(key, patch, now);
    else if (!(await ctx.store.getRecipient(key))) await ctx.store.upsertRecipient(key, {}, now);
    if (replacePreferences)
      await ctx.store.setPreferenceSet(key, "default", replacePreferences, now);
  }
}
