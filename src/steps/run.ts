/**
 * @internal The step interpreter: the one place steps run, whatever the adapters. A `run` job
 * reads the recipient run, walks the compiled program from the run's cursor as far as it can go
 * without waiting, and writes the outcome back in one compare-and-set. Every effect on the way is
 * idempotent (message ids derive from the run and the step), so a job that runs twice, or a
 * process that dies half way, never doubles anything.
 */

import { cloneJson, deepMerge, isPlainObject } from "../_internal/merge.js";
import { isoString } from "../_internal/time.js";
import { executeChannelStep, messageId } from "../channels/execute.js";
import { renderTemplate } from "../channels/templates.js";
import { explainConditions, readPath } from "../conditions/evaluate.js";
import { cancellationApplies, cancelRun } from "../engine/cancel.js";
import { type EngineContext, readWorkflowRun } from "../engine/context.js";
import { runJob } from "../engine/fanout.js";
import { scheduleScope } from "../engine/schedules.js";
import { CrierError } from "../errors.js";
import type { PreferenceSource } from "../preferences/evaluate.js";
import type { PreferenceSetInput } from "../preferences/types.js";
import type { JobData } from "../queue/types.js";
import {
  addRead,
  type Participants,
  participantKeys,
  participantsFrom,
  type RecipientsRead,
  refToKey,
} from "../recipients/identify.js";
import type { RecipientReference } from "../recipients/types.js";
import { addDuration, isDuration, nominalDurationMs } from "../scheduling/duration.js";
import { recipientTimeZone, validateRepeatRule } from "../scheduling/repeat.js";
import { nextWindowInstant } from "../scheduling/windows.js";
import type { RecipientKey, StoredRecipient } from "../store/types.js";
import {
  type CompiledConditions,
  type CompiledWorkflow,
  END,
  type Instruction,
} from "../workflows/compile.js";
import { MAX_DELAY_DAYS, MAX_DELAY_MS } from "../workflows/limits.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import type {
  RunEvent,
  RunStatus,
  SkipReason,
  WorkflowRecipientRun,
  WorkflowRun,
} from "../workflows/run-types.js";
import type { Workflow } from "../workflows/types.js";
import { type BatchScope, ensureBatchClose, executeBatch, loadBatchScope } from "./batch.js";
import { executeHttpFetch } from "./http-fetch.js";
import { executeThrottle } from "./throttle.js";
import { executeTriggerWorkflow } from "./trigger-workflow.js";

/** @internal Everything a step sees while it runs. */
export interface RunState {
  ctx: EngineContext;
  run: WorkflowRecipientRun;
  workflowRun: WorkflowRun;
  compiled: CompiledWorkflow;
  recipient: StoredRecipient | null;
  /** The recipient as templates and conditions see it (shared between runs: never changed). */
  recipientScope: Readonly<Record<string, unknown>>;
  actorScope: Readonly<Record<string, unknown>> | null;
  tenantScope: Readonly<Record<string, unknown>> | null;
  /** The run's current data (copied before any change). */
  data: Record<string, unknown>;
  dataChanged: boolean;
  /** Log entries to write with the run. */
  events: RunEvent[];
  /** Engine events to emit once the run write succeeded. */
  deferred: Array<() => void>;
  now: Date;
  /** `now` as an ISO string, formatted once. */
  nowIso: string;
  /** `refs.<step_ref>` entries loaded for message-status conditions. */
  refs: Record<string, { delivery_status: string; engagement_status: string[] }>;
  /** The scope, built once and rebuilt only when data or refs change. */
  scope: Record<string, unknown> | undefined;
  /** The recipient's merged preferences, resolved once per job, and the sets they came from. */
  preferences: PreferenceSetInput;
  preferenceSources: PreferenceSource[];
  /** Run fields a step changes (batch_id, step_attempt), written with the run. */
  patch: Partial<WorkflowRecipientRun>;
  /** Work to do once the run's write succeeded (enqueue a batch close…). */
  afterWrite: Array<() => Promise<void>>;
  /** The closed batch this run continues with, as templates and conditions see it. */
  batch: BatchScope | null;
  /** That batch's actors (at most ten, most recent first): its messages' `actors`. */
  batchActors: RecipientReference[] | null;
  /** That batch's first activity's data: what preference conditions see after a batch (Knock). */
  batchFirstData: Record<string, unknown> | null;
}

/** The data of log entries that have none: one frozen object, which every such entry shares. */
const NO_DATA: Record<string, unknown> = Object.freeze({});

/** The data of `run_completed` entries, one frozen object per reason (a handful of them). */
const COMPLETED_DATA = new Map<string, Record<string, unknown>>();

function completedData(reason: string): Record<string, unknown> {
  let data = COMPLETED_DATA.get(reason);
  if (data === undefined) {
    data = Object.freeze({ reason });
    COMPLETED_DATA.set(reason, data);
  }
  return data;
}

/** @internal Handles one `run` job. */
export async function processRun(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  job: JobData,
): Promise<void> {
  const run = await ctx.store.getRecipientRun(String(job.run_id));
  if (run) await executeRun(ctx, registry, run, Number(job.cursor ?? 0), null);
}

/**
 * @internal What a page of runs reads once for all of them: the current version of each of their
 * workflows, and their recipients, actors and tenants.
 */
export interface PageReads {
  workflows: Map<string, Workflow | null>;
  participants: RecipientsRead;
}

/** @internal One run of a page that failed, and why; see {@link RunPageError}. */
export interface RunFailure {
  run_id: string;
  error: unknown;
}

/**
 * @internal Thrown by a `runs` job when some of its runs failed (the others ran): its retry runs
 * the page again, where every run that finished is a no-op. The engine reports each failed run
 * on its own once the job is given up on.
 */
export class RunPageError extends CrierError {
  readonly failures: RunFailure[];

  constructor(failures: RunFailure[]) {
    const first = failures[0]?.error;
    super(
      "adapter_error",
      `${failures.length} run(s) of a page failed; the first: ${first instanceof Error ? first.message : String(first)}`,
      { cause: first },
    );
    this.name = "RunPageError";
    this.failures = failures;
  }
}

/**
 * @internal Handles one `runs` job: starts a page of new runs (see `startJobs` in the fan-out),
 * one after another. The page reads its runs, their workflows and their participants up front,
 * in one store call each; every run then goes as a `run` job would. A run that throws does not
 * stop the others; the job fails at the end, naming them.
 */
export async function processRunPage(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  job: JobData,
): Promise<void> {
  const ids = (Array.isArray(job.run_ids) ? job.run_ids : []).map(String);
  const runs = ctx.store.getRecipientRuns
    ? await ctx.store.getRecipientRuns(ids)
    : await Promise.all(ids.map((id) => ctx.store.getRecipientRun(id)));
  const reads = await readForPage(ctx, runs);
  const failures: RunFailure[] = [];
  for (let i = 0; i < ids.length; i++) {
    const run = runs[i];
    if (!run) continue;
    try {
      await executeRun(ctx, registry, run, 0, reads);
    } catch (error) {
      failures.push({ run_id: ids[i] as string, error });
    }
  }
  if (failures.length > 0) throw new RunPageError(failures);
}

/** The object a subscriber's run came through (`recipient.subscription.object`), if any. */
function subscriptionObject(run: WorkflowRecipientRun): RecipientKey | null {
  const object = run.subscription?.object;
  if (object === null || typeof object !== "object") return null;
  const { id, collection } = object as Record<string, unknown>;
  return typeof id === "string" && typeof collection === "string" ? { collection, id } : null;
}

/** The workflows and participants of the runs of a page that are about to start. */
async function readForPage(
  ctx: EngineContext,
  runs: ReadonlyArray<WorkflowRecipientRun | null>,
): Promise<PageReads> {
  const workflows = new Map<string, Workflow | null>();
  const keys: RecipientKey[] = [];
  const seen = new Set<string>();
  for (const run of runs) {
    if (!run || run.status === "completed" || run.status === "cancelled") continue;
    workflows.set(run.workflow, null);
    const object = subscriptionObject(run);
    for (const key of object ? [...participantKeys(run), object] : participantKeys(run)) {
      const name = `${key.collection}\u0000${key.id}`;
      if (seen.has(name)) continue;
      seen.add(name);
      keys.push(key);
    }
  }
  const [current, loaded] = await Promise.all([
    Promise.all([...workflows.keys()].map((key) => ctx.store.getWorkflow(key))),
    keys.length > 0 ? ctx.store.getRecipients(keys) : [],
  ]);
  let i = 0;
  for (const key of workflows.keys()) workflows.set(key, current[i++] ?? null);
  const participants: RecipientsRead = new Map();
  addRead(participants, keys, loaded);
  return { workflows, participants };
}

/**
 * Runs (or resumes) `run` from `jobCursor`, reading what it needs; `reads` holds what its page
 * read for it already.
 */
async function executeRun(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  run: WorkflowRecipientRun,
  jobCursor: number,
  reads: PageReads | null,
): Promise<void> {
  const runId = run.id;
  // Done or cancelled: nothing to do.
  if (run.status === "completed" || run.status === "cancelled") return;
  if (run.cursor !== jobCursor) {
    // Already past this job's cursor: a duplicate delivery, or the retry of the job that parked
    // the run, which may have died (or failed) after writing the run and before enqueueing what
    // wakes it. That is enqueued again (a no-op when it is there); nothing else is done.
    if (run.status === "paused") await ensureWake(ctx, run);
    return;
  }
  // What a page or a cache holds already is not awaited: most runs start in pages.
  const known = reads?.workflows.get(run.workflow);
  const current = known === undefined ? await ctx.store.getWorkflow(run.workflow) : known;
  const workflowRun =
    ctx.workflowRuns.get(run.workflow_run_id) ?? (await readWorkflowRun(ctx, run.workflow_run_id));
  if (!workflowRun) return;
  const compiled =
    registry.cached(run.workflow, run.workflow_version) ??
    (await registry.compiled(run.workflow, run.workflow_version));
  // What the page read already; else one store call for the participants (and the object a
  // subscriber's run came through, for recipient.subscription.object).
  const objectKey = run.subscription ? subscriptionObject(run) : null;
  let read = reads?.participants;
  let participants: Participants | undefined = read && participantsFrom(read, run);
  if (
    !read ||
    !participants ||
    (objectKey && read.get(objectKey.collection)?.get(objectKey.id) === undefined)
  ) {
    read = new Map();
    const keys = objectKey ? [...participantKeys(run), objectKey] : participantKeys(run);
    addRead(read, keys, await ctx.store.getRecipients(keys));
    participants = participantsFrom(read, run);
  }
  const { recipient, actor, tenant } = participants as Participants;

  const now = ctx.clock.now();
  const view = ctx.views.recipient(recipient, refToKey(run.recipient).id, tenant, run.tenant);
  const state: RunState = {
    ctx,
    run,
    workflowRun,
    compiled,
    recipient,
    recipientScope: view.scope,
    actorScope: run.actor ? ctx.views.scope(actor, refToKey(run.actor).id) : null,
    tenantScope: run.tenant ? ctx.views.scope(tenant, run.tenant) : null,
    data: run.data ?? workflowRun.data,
    dataChanged: false,
    events: [],
    deferred: [],
    now,
    nowIso: isoString(now),
    refs: {},
    scope: undefined,
    preferences: view.preferences,
    preferenceSources: view.sources,
    patch: {},
    afterWrite: [],
    batch: null,
    batchActors: null,
    batchFirstData: null,
  };
  if (run.batch_id) {
    const loaded = await loadBatchScope(ctx, run.batch_id, compiled);
    if (loaded) {
      state.batch = loaded.scope;
      state.batchActors = loaded.actors;
      state.batchFirstData = loaded.firstData;
    }
  }
  if (run.subscription) {
    // Knock: `recipient.subscription.object` is the object itself (as it is now), not a reference.
    const object = objectKey ? read.get(objectKey.collection)?.get(objectKey.id) : null;
    const subscription =
      object && objectKey
        ? { ...run.subscription, object: ctx.views.scope(object, objectKey.id) }
        : run.subscription;
    state.recipientScope = { ...state.recipientScope, subscription };
  }
  const scheduleId = run.trigger_source.schedule_id;
  if (run.trigger_source.type === "schedule" && scheduleId) {
    const schedule = await scheduleScope(
      ctx,
      scheduleId,
      run.trigger_source.occurrence,
      recipient ?? null,
    );
    if (schedule) state.recipientScope = { ...state.recipientScope, schedule };
  }

  let version = run.version;
  if (
    run.status === "queued" &&
    workflowRun.cancellation_key &&
    (await cancelledBeforeStart(state))
  )
    return;
  if (run.status === "queued") {
    let stop = checkPreconditions(state, current?.active !== false);
    if (stop instanceof Promise) stop = await stop;
    if (stop) {
      await finish(state, version, "completed", run.cursor, stop);
      return;
    }
    log(state, "run_started", null, NO_DATA);
    const started = await ctx.store.updateRecipientRun(
      runId,
      version,
      { status: "processing", updated_at: state.nowIso },
      state.events,
    );
    if (!started) return;
    version = started.version;
    state.events = [];
    emitStatus(state, "run.processing", "processing");
  } else {
    if (!current?.active) {
      const instruction = compiled.program[run.cursor];
      if (instruction)
        skip(state, instruction, "inactive_workflow", `workflow "${run.workflow}" is inactive`);
      await finish(state, version, "completed", END, "inactive_workflow");
      return;
    }
    log(state, "run_resumed", null, NO_DATA);
    emitStatus(state, "run.processing", "processing");
  }

  let cursor = run.cursor;
  while (cursor !== END) {
    const instruction = compiled.program[cursor];
    if (!instruction) break;
    const outcome = await executeInstruction(state, instruction);
    if (outcome.kind === "wait" || outcome.kind === "park") {
      await park(state, version, outcome);
      return;
    }
    if (outcome.kind === "halt") {
      await finish(state, version, "completed", END, "halted", outcome.errors);
      return;
    }
    if (outcome.kind === "end") {
      await finish(state, version, "completed", END, outcome.reason);
      return;
    }
    cursor = outcome.next;
  }
  await finish(state, version, "completed", END, "completed");
}

/** @internal What executing one instruction leads to. */
export type Outcome =
  /** Go on to `next`. */
  | { kind: "next"; next: number }
  /** Park until `until`, then resume at `next` (a run job is enqueued; `jobSuffix` keeps retries apart). */
  | { kind: "wait"; next: number; until: Date; jobSuffix?: string }
  /** Park at `next` until another job (a batch closing) resumes the run. */
  | { kind: "park"; next: number }
  /** End the run here, without error (throttled, joined a batch…). */
  | { kind: "end"; reason: string }
  /** End the run here with errors. */
  | { kind: "halt"; errors: number };

async function executeInstruction(state: RunState, instruction: Instruction): Promise<Outcome> {
  if (instruction.type === "branch") return executeBranch(state, instruction);
  if (instruction.conditions && !(await conditionsHold(state, instruction.conditions))) {
    const explained = explainConditions(instruction.conditions.group, scopeOf(state), state.now);
    skip(state, instruction, "conditions", explained.text, { failed: explained.failed });
    return { kind: "next", next: instruction.next };
  }
  switch (instruction.type) {
    case "channel":
      return executeChannelStep(state, instruction);
    case "delay":
      return executeDelay(state, instruction);
    case "batch":
      return executeBatch(state, instruction);
    case "throttle":
      return executeThrottle(state, instruction);
    case "http_fetch":
      return executeHttpFetch(state, instruction);
    case "trigger_workflow":
      return executeTriggerWorkflow(state, instruction);
    case "update_data": {
      const rendered = renderTemplate(state.ctx.liquid, instruction.data, scopeOf(state));
      const patch = typeof rendered === "string" ? parseJsonObject(rendered) : rendered;
      if (!isPlainObject(patch)) {
        skip(
          state,
          instruction,
          "invalid_settings",
          "update_data settings.data did not render to a JSON object",
        );
        return { kind: "next", next: instruction.next };
      }
      state.data = deepMerge(state.data, patch);
      state.dataChanged = true;
      state.scope = undefined;
      log(state, "step_executed", instruction, { merged_keys: Object.keys(patch) });
      return { kind: "next", next: instruction.next };
    }
  }
}

async function executeBranch(
  state: RunState,
  instruction: Extract<Instruction, { type: "branch" }>,
): Promise<Outcome> {
  // Arms that test message statuses (`refs.<step>.*`) see them as step conditions do.
  const refs = new Set<string>();
  for (const arm of instruction.arms) for (const ref of arm.conditions?.refs ?? []) refs.add(ref);
  if (refs.size > 0) await loadRefs(state, [...refs]);
  const scope = scopeOf(state);
  for (const arm of instruction.arms) {
    if (arm.conditions === null || arm.conditions.test(scope, state.now)) {
      log(state, "branch_taken", instruction, { branch: arm.name, terminates: arm.terminates });
      return { kind: "next", next: arm.target };
    }
  }
  // Validation makes the last arm a default; without one the branch falls through.
  log(state, "branch_taken", instruction, { branch: null });
  return { kind: "next", next: instruction.next };
}

function executeDelay(
  state: RunState,
  instruction: Extract<Instruction, { type: "delay" }>,
): Outcome {
  if (state.workflowRun.settings?.skip_delay) {
    log(state, "delay_skipped", instruction, { reason: "skip_delay" });
    return { kind: "next", next: instruction.next };
  }
  let until: Date | null = null;
  if (instruction.delayUntilFieldPath) {
    const value = readPath(scopeOf(state), instruction.delayUntilFieldPath);
    if (typeof value === "string" && !Number.isNaN(Date.parse(value))) until = new Date(value);
    else if (isDuration(value)) until = addDuration(state.now, value);
    else if (isPlainObject(value) && "frequency" in value) {
      // A window rule ("Monday at 9am"), read in the recipient's timezone.
      const problems = validateRepeatRule(value, instruction.delayUntilFieldPath);
      if (problems.length > 0) {
        skip(
          state,
          instruction,
          "invalid_settings",
          `delay_until_field_path "${instruction.delayUntilFieldPath}" is not a valid window rule: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`,
        );
        return { kind: "next", next: instruction.next };
      }
      const timeZone = recipientTimeZone(state.recipientScope, state.ctx.defaultTimezone);
      until = nextWindowInstant(value, timeZone, state.now);
    }
    if (!until) {
      skip(
        state,
        instruction,
        "invalid_settings",
        `delay_until_field_path "${instruction.delayUntilFieldPath}" is ${JSON.stringify(value) ?? "missing"}: expected an ISO-8601 timestamp, a Duration, or a window rule such as { "frequency": "weekly", "days": ["mon"], "hours": 9 }`,
      );
      return { kind: "next", next: instruction.next };
    }
    if (instruction.delayFor) until = addDuration(until, instruction.delayFor);
    if (typeof value === "string" && until.getTime() <= state.now.getTime()) {
      // Knock: a timestamp must be in the future; one already past skips the step (the run goes on).
      skip(
        state,
        instruction,
        "invalid_settings",
        `delay_until_field_path "${instruction.delayUntilFieldPath}" is ${value}${instruction.delayFor ? " (plus delay_for)" : ""}, already past: expected a time in the future`,
      );
      return { kind: "next", next: instruction.next };
    }
    // Knock's limit: a Duration counts nominally (a month is 30 days), a date from now.
    const span = isDuration(value)
      ? nominalDurationMs(value) +
        (instruction.delayFor ? nominalDurationMs(instruction.delayFor) : 0)
      : until.getTime() - state.now.getTime();
    if (span > MAX_DELAY_MS) {
      skip(
        state,
        instruction,
        "invalid_settings",
        `delay_until_field_path "${instruction.delayUntilFieldPath}" would wait ${(span / 86_400_000).toFixed(1)} days: expected at most ${MAX_DELAY_DAYS} days (Knock's limit)`,
      );
      return { kind: "next", next: instruction.next };
    }
  } else if (instruction.delayFor) {
    until = addDuration(state.now, instruction.delayFor);
  }
  if (!until || until.getTime() <= state.now.getTime()) {
    log(state, "step_executed", instruction, { delayed_until: null });
    return { kind: "next", next: instruction.next };
  }
  log(state, "delay_started", instruction, { delayed_until: until.toISOString() });
  return { kind: "wait", next: instruction.next, until };
}

/** A cancel that overtook its trigger's fan-out: the run is cancelled as it starts. */
async function cancelledBeforeStart(state: RunState): Promise<boolean> {
  const { ctx, run, workflowRun } = state;
  const key = workflowRun.cancellation_key;
  if (!key) return false;
  const cancellations = await ctx.store.getCancellations(run.workflow, key, state.nowIso);
  if (!cancellations.some((c) => cancellationApplies(c, run, workflowRun))) return false;
  return cancelRun(ctx, run);
}

/**
 * Trigger conditions, a missing recipient, trigger frequency: reasons a run ends before its first
 * step. Answers at once unless it has to read the store (message-status conditions, once-only
 * frequencies).
 */
function checkPreconditions(
  state: RunState,
  active: boolean,
): string | null | Promise<string | null> {
  const { run, compiled } = state;
  if (!active) {
    const first = compiled.program[0];
    if (first) skip(state, first, "inactive_workflow", `workflow "${run.workflow}" is inactive`);
    return "inactive_workflow";
  }
  if (!state.recipient) {
    log(state, "recipient_not_found", null, { recipient: run.recipient }, "error");
    return "recipient_not_found";
  }
  const conditions = compiled.conditions;
  if (conditions && conditions.refs.length > 0)
    return loadRefs(state, conditions.refs).then(() => conditionsAndFrequency(state));
  return conditionsAndFrequency(state);
}

/** The trigger conditions (their refs loaded), then the trigger frequency. */
function conditionsAndFrequency(state: RunState): string | null | Promise<string | null> {
  const { run, compiled, ctx } = state;
  if (compiled.conditions && !compiled.conditions.test(scopeOf(state), state.now)) {
    const explained = explainConditions(compiled.conditions.group, scopeOf(state), state.now);
    log(state, "trigger_conditions_failed", null, {
      reason: explained.text,
      failed: explained.failed,
    });
    return "trigger_conditions";
  }
  const frequency = compiled.workflow.trigger_frequency;
  if (frequency !== "once_per_recipient" && frequency !== "once_per_recipient_per_tenant")
    return null;
  const key = refToKey(run.recipient);
  const scopeKey =
    frequency === "once_per_recipient"
      ? `once:${run.workflow}:${key.collection}:${key.id}`
      : `once:${run.workflow}:${key.collection}:${key.id}:tenant:${run.tenant ?? ""}`;
  return Promise.resolve(ctx.store.claimOnce(scopeKey, state.nowIso)).then((claimed) => {
    if (claimed) return null;
    log(state, "trigger_frequency_limited", null, { trigger_frequency: frequency });
    return "trigger_frequency";
  });
}

async function conditionsHold(state: RunState, conditions: CompiledConditions): Promise<boolean> {
  if (conditions.refs.length > 0) await loadRefs(state, conditions.refs);
  return conditions.test(scopeOf(state), state.now);
}

/** Reads the messages of the steps that `refs.*` conditions name (the highest status counts). */
async function loadRefs(state: RunState, refs: readonly string[]): Promise<void> {
  const messages = await Promise.all(
    refs.map((ref) => state.ctx.store.getMessage(messageId(state.run.id, ref))),
  );
  refs.forEach((ref, i) => {
    const message = messages[i];
    state.refs[ref] = message
      ? { delivery_status: message.status, engagement_status: [...message.engagement_statuses] }
      : { delivery_status: "", engagement_status: [] };
  });
  state.scope = undefined;
}

/**
 * @internal The scope conditions and templates read: the data's keys at the top level (as Knock's
 * templates use them), then the namespaces.
 */
export function scopeOf(state: RunState): Record<string, unknown> {
  if (state.scope) return state.scope;
  return buildScope(state);
}

function buildScope(state: RunState): Record<string, unknown> {
  const { compiled } = state;
  state.scope = {
    ...state.data,
    data: state.data,
    recipient: state.recipientScope,
    actor: state.actorScope,
    tenant: state.tenantScope,
    vars: state.ctx.vars,
    workflow: {
      id: compiled.workflow.key,
      key: compiled.workflow.key,
      name: compiled.workflow.name ?? compiled.workflow.key,
      categories: compiled.workflow.categories ?? [],
      cancellation_key: state.workflowRun.cancellation_key,
    },
    run: {
      id: state.run.id,
      workflow_run_id: state.run.workflow_run_id,
      total_activities: state.batch?.total_activities ?? 0,
      total_actors: state.batch?.total_actors ?? 0,
    },
    refs: state.refs,
    ...(state.batch ?? {}),
  };
  return state.scope;
}

/**
 * @internal Moves the run's instant to the clock's time after an await that takes real time (a
 * provider's answer, an HTTP fetch): what the run logs and decides after it (its later steps'
 * conditions and windows, a retry's due time, its final write) is then stamped with the time it
 * happened, not the time the job started. Time never goes back.
 */
export function catchUp(state: RunState): void {
  const now = state.ctx.clock.now();
  if (now.getTime() <= state.now.getTime()) return;
  state.now = now;
  state.nowIso = isoString(now);
}

/**
 * @internal Appends an entry to the run's log. The entry and its `data` (a fresh object, frozen
 * here) are frozen as they are made: nothing changes them after, and the memory store keeps a
 * deeply frozen entry without copying it.
 */
export function log(
  state: RunState,
  event: string,
  instruction: Instruction | null,
  data: Record<string, unknown>,
  status: "ok" | "error" = "ok",
  extra: { reason?: SkipReason | string; attempt?: number } = {},
): void {
  const step_ref = instruction?.ref ?? null;
  const step_type = instruction?.type ?? null;
  const attempt = extra.attempt ?? 1;
  const inserted_at = state.nowIso;
  Object.freeze(data);
  // Two literals, so that each entry is laid out in one block (see store/frozen.ts).
  const entry: RunEvent =
    extra.reason === undefined
      ? { event, status, step_ref, step_type, attempt, data, inserted_at }
      : { event, status, step_ref, step_type, attempt, data, inserted_at, reason: extra.reason };
  state.events.push(Object.freeze(entry));
}

/** @internal Records a skipped step in the log and (after the write) as a `step.skipped` event. */
export function skip(
  state: RunState,
  instruction: Instruction,
  reason: SkipReason,
  detail: string,
  data: Record<string, unknown> = {},
): void {
  log(state, "step_skipped", instruction, { ...data, detail }, "ok", { reason });
  const { run } = state;
  state.deferred.push(() =>
    state.ctx.emitter.emit("step.skipped", {
      workflow: run.workflow,
      workflow_run_id: run.workflow_run_id,
      workflow_recipient_run_id: run.id,
      recipient: run.recipient,
      tenant: run.tenant,
      step_ref: instruction.ref,
      step_type: instruction.type,
      reason,
      detail,
    }),
  );
}

function emitStatus(
  state: RunState,
  event: "run.processing" | "run.paused" | "run.completed",
  status: RunStatus,
  reason?: string,
): void {
  if (!state.ctx.emitter.has(event)) return;
  const { run } = state;
  const payload = {
    workflow: run.workflow,
    workflow_run_id: run.workflow_run_id,
    workflow_recipient_run_id: run.id,
    recipient: run.recipient,
    tenant: run.tenant,
    status,
    ...(reason === undefined ? {} : { reason }),
  };
  state.ctx.emitter.emit(event, payload);
}

async function park(
  state: RunState,
  version: number,
  outcome: Extract<Outcome, { kind: "wait" | "park" }>,
): Promise<void> {
  const { ctx, run } = state;
  log(
    state,
    "run_paused",
    null,
    outcome.kind === "wait"
      ? { until: outcome.until.toISOString() }
      : { batch_id: state.patch.batch_id ?? run.batch_id ?? null },
  );
  const patch: Partial<WorkflowRecipientRun> = {
    ...state.patch,
    status: "paused",
    cursor: outcome.next,
    updated_at: state.nowIso,
    // What wakes the run, kept with it: see ensureWake.
    wake:
      outcome.kind === "wait"
        ? {
            cursor: outcome.next,
            at: outcome.until.toISOString(),
            job_suffix: outcome.jobSuffix ?? null,
          }
        : null,
  };
  if (state.dataChanged) patch.data = cloneJson(state.data);
  const written = await ctx.store.updateRecipientRun(run.id, version, patch, state.events);
  if (!written) return;
  if (outcome.kind === "wait")
    await ctx.queue.add(runJob(run.id, outcome.next, outcome.until, outcome.jobSuffix));
  for (const after of state.afterWrite) await after();
  for (const emit of state.deferred) emit();
  emitStatus(state, "run.paused", "paused");
}

/**
 * Enqueues again what wakes a parked run: its resume job when it waits (a delay, a fetch retry),
 * or the close job of the batch it waits on. Both have ids derived from the run or
 * the batch, so when the first enqueue happened this is a no-op.
 */
async function ensureWake(ctx: EngineContext, run: WorkflowRecipientRun): Promise<void> {
  const wake = run.wake;
  if (wake && wake.cursor === run.cursor) {
    await ctx.queue.add(
      runJob(run.id, wake.cursor, new Date(wake.at), wake.job_suffix ?? undefined),
    );
  } else if (run.batch_id) {
    await ensureBatchClose(ctx, run.batch_id);
  }
}

async function finish(
  state: RunState,
  version: number,
  status: "completed",
  cursor: number,
  reason: string,
  errors = 0,
): Promise<void> {
  const { ctx, run } = state;
  log(state, "run_completed", null, completedData(reason), errors > 0 ? "error" : "ok");
  const patch: Partial<WorkflowRecipientRun> = {
    ...state.patch,
    status,
    cursor,
    updated_at: state.nowIso,
  };
  if (errors > 0) patch.error_count = (state.patch.error_count ?? run.error_count) + errors;
  if (state.dataChanged) patch.data = cloneJson(state.data);
  const written = await ctx.store.updateRecipientRun(run.id, version, patch, state.events);
  if (!written) return;
  for (const after of state.afterWrite) await after();
  for (const emit of state.deferred) emit();
  emitStatus(state, "run.completed", status, reason);
}

function parseJsonObject(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
