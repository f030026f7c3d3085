/**
 * @internal `engine.schedules` and the `schedule` job. A schedule lives in the store; its next
 * occurrence is a delayed job whose id names the schedule and the occurrence, so enqueueing it
 * twice does nothing. Firing triggers the workflow with an idempotency key derived from the
 * occurrence, then moves the schedule to its next occurrence with a compare-and-set: a job that
 * runs twice (a redelivery, two workers) triggers once and advances once.
 */

import { describe } from "../_internal/describe.js";
import { uuidV4 } from "../_internal/ids.js";
import { cloneJson, isPlainObject } from "../_internal/merge.js";
import { type PageParams, pageInfo, toPageRequest } from "../_internal/paging.js";
import {
  CrierError,
  InvalidParamsError,
  NotFoundError,
  type ValidationIssue,
  WorkflowNotFoundError,
} from "../errors.js";
import type { JobData, JobInput } from "../queue/types.js";
import {
  type NormalizedRecipient,
  normalizeRecipient,
  refToKey,
  toScopeRecipient,
} from "../recipients/identify.js";
import type { RecipientReference, RecipientReferenceInput } from "../recipients/types.js";
import { recipientTimeZone } from "../scheduling/repeat.js";
import {
  checkTiming,
  MAX_SCHEDULES_PER_CALL,
  nextScheduleOccurrence,
  type Schedule,
  type ScheduleCreateParams,
  type ScheduleDeleteParams,
  type ScheduleTiming,
  type ScheduleUpdateParams,
  stubRecipient,
  toSchedule,
  validateInstant,
  validateRepeats,
} from "../scheduling/schedules.js";
import type {
  RecipientKey,
  ScheduleFilter,
  StoredRecipient,
  StoredSchedule,
} from "../store/types.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import { cancelWorkflow } from "./cancel.js";
import { type EngineContext, nowIso } from "./context.js";
import type { Page } from "./namespaces.js";
import type { RequestOptions } from "./request-options.js";
import {
  identifyAll,
  type ValidTrigger,
  validateData,
  validateParams,
  validateTenant,
} from "./trigger.js";

/** Parameters of `schedules.list`. */
export interface ScheduleListParams extends PageParams {
  /** The workflow key (required). */
  workflow: string;
  /** Only the schedules of these recipients. */
  recipients?: RecipientReferenceInput[];
  /** Only the schedules with this tenant. */
  tenant?: string;
}

/** Parameters of `users.listSchedules`. */
export interface UserScheduleListParams extends PageParams {
  /** Only the schedules of this workflow. */
  workflow?: string;
  /** Only the schedules with this tenant. */
  tenant?: string;
}

/** How many times a write retries its compare-and-set when a concurrent write moved the schedule. */
const CAS_TRIES = 5;

function invalid(message: string, issues: ValidationIssue[]): never {
  throw new InvalidParamsError(message, issues);
}

/** @internal The job that fires a schedule's occurrence. */
export function scheduleJob(scheduleId: string, occurrence: string): JobInput {
  return {
    name: "schedule",
    id: `schedule:${scheduleId}:${occurrence}`,
    data: { schedule_id: scheduleId, occurrence },
    runAt: new Date(occurrence),
  };
}

/** The timezone a schedule's rules are read in: its recipient's, else the engine's default. */
function timeZoneOf(ctx: EngineContext, recipient: StoredRecipient | null): string {
  return recipientTimeZone(recipient?.properties, ctx.defaultTimezone);
}

/** The public form of stored schedules, with their recipients and actors loaded. */
async function present(
  ctx: EngineContext,
  schedules: readonly StoredSchedule[],
): Promise<Schedule[]> {
  const keys: RecipientKey[] = [];
  for (const s of schedules) {
    keys.push(refToKey(s.recipient));
    if (s.actor) keys.push(refToKey(s.actor));
  }
  const loaded = keys.length === 0 ? [] : await ctx.store.getRecipients(keys);
  let i = 0;
  const next = (ref: RecipientReference): Schedule["recipient"] => {
    const stored = loaded[i++];
    return stored ? (toScopeRecipient(stored) as Schedule["recipient"]) : stubRecipient(ref);
  };
  return schedules.map((s) => {
    const recipient = next(s.recipient);
    const actor = s.actor ? next(s.actor) : null;
    return cloneJson(toSchedule(s, recipient, actor));
  });
}

function requireParams(params: unknown, what: string): Record<string, unknown> {
  if (!isPlainObject(params)) {
    invalid(`Invalid ${what}:`, [
      {
        field: "params",
        type: "type",
        message: `expected an object, received ${describe(params)}`,
      },
    ]);
  }
  return params;
}

function validateWorkflowKey(value: unknown, issues: ValidationIssue[]): string | null {
  if (typeof value === "string" && value.length > 0) return value;
  issues.push({
    field: "workflow",
    type: "required",
    message: `expected a workflow key, received ${describe(value)}`,
  });
  return null;
}

function validateScheduleIds(value: unknown, issues: ValidationIssue[]): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > MAX_SCHEDULES_PER_CALL ||
    value.some((id) => typeof id !== "string" || id.length === 0)
  ) {
    issues.push({
      field: "schedule_ids",
      type: "length",
      message: `expected 1 to ${MAX_SCHEDULES_PER_CALL} schedule id strings, received ${describe(value)}`,
    });
    return [];
  }
  return [...new Set(value as string[])];
}

/** Checks `data` against the workflow's `trigger_data_json_schema`, as a trigger would. */
async function checkData(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  workflow: string,
  data: Record<string, unknown>,
  issues: ValidationIssue[],
): Promise<void> {
  const stored = await ctx.store.getWorkflow(workflow);
  if (!stored) throw new WorkflowNotFoundError(workflow);
  const compiled = await registry.compiled(workflow, stored.version);
  if (compiled.validateData) issues.push(...compiled.validateData(data));
}

/** @internal `engine.schedules`. */
export function schedulesNamespace(ctx: EngineContext, registry: WorkflowRegistry) {
  return {
    /**
     * Creates one schedule per recipient (1 to 100, identified inline like a trigger's), each
     * firing `workflow` on `repeats` in its recipient's timezone (else the engine's
     * `defaultTimezone`), or once at `scheduled_at`. Nothing is stored when anything is invalid.
     */
    async create(params: ScheduleCreateParams, _options?: RequestOptions): Promise<Schedule[]> {
      await ctx.ready;
      const input = requireParams(params, "schedule");
      const issues: ValidationIssue[] = [];
      const workflow = validateWorkflowKey(input.workflow, issues);
      const trigger = validateParams(
        {
          recipients: input.recipients,
          actor: input.actor,
          tenant: input.tenant,
          data: input.data,
        },
        issues,
        MAX_SCHEDULES_PER_CALL,
      );
      const repeats = validateRepeats(input.repeats, issues);
      const scheduledAt = validateInstant(input.scheduled_at, "scheduled_at", issues);
      const endingAt = validateInstant(input.ending_at, "ending_at", issues);
      const now = nowIso(ctx);
      const timing: ScheduleTiming | null =
        repeats && scheduledAt !== undefined && endingAt !== undefined
          ? {
              repeats,
              scheduled_at: scheduledAt,
              ending_at: endingAt,
              last_occurrence_at: null,
              inserted_at: now,
            }
          : null;
      if (timing) checkTiming(timing, issues);
      if (workflow && trigger) await checkData(ctx, registry, workflow, trigger.data, issues);
      if (!workflow || !trigger || !timing || issues.length > 0)
        invalid("Invalid schedule:", issues);

      await identifyAll(ctx, trigger);
      const recipients = await ctx.store.getRecipients(trigger.recipients.map((r) => r.key));
      const schedules = trigger.recipients.map((recipient, i): StoredSchedule => {
        const next = nextScheduleOccurrence(
          timing,
          timeZoneOf(ctx, recipients[i] ?? null),
          ctx.clock.now(),
        );
        return {
          id: uuidV4(),
          workflow,
          recipient: recipient.ref,
          actor: trigger.actor?.ref ?? null,
          tenant: trigger.tenant?.id ?? null,
          data: trigger.data,
          ...timing,
          next_occurrence_at: next?.toISOString() ?? null,
          version: 0,
          updated_at: now,
        };
      });
      await ctx.store.createSchedules(schedules);
      await ctx.queue.addBulk(
        schedules.flatMap((s) =>
          s.next_occurrence_at ? [scheduleJob(s.id, s.next_occurrence_at)] : [],
        ),
      );
      return present(ctx, schedules);
    },

    /**
     * Changes the given fields of every schedule named (1 to 100 ids) and recomputes when each
     * fires next. Throws NotFoundError, changing nothing, when an id does not exist.
     */
    async update(params: ScheduleUpdateParams, _options?: RequestOptions): Promise<Schedule[]> {
      await ctx.ready;
      const input = requireParams(params, "schedule update");
      const issues: ValidationIssue[] = [];
      const ids = validateScheduleIds(input.schedule_ids, issues);
      const has = (field: string) => input[field] !== undefined;
      const repeats = has("repeats") ? validateRepeats(input.repeats, issues) : undefined;
      const scheduledAt = has("scheduled_at")
        ? validateInstant(input.scheduled_at, "scheduled_at", issues)
        : undefined;
      const endingAt = has("ending_at")
        ? validateInstant(input.ending_at, "ending_at", issues)
        : undefined;
      const data = has("data") ? validateData(input.data, issues) : undefined;
      const tenant = has("tenant") ? validateTenant(input.tenant, issues) : undefined;
      let actor: NormalizedRecipient | null | undefined;
      if (has("actor"))
        actor = input.actor === null ? null : normalizeRecipient(input.actor, "actor", issues);
      const fields = ["repeats", "scheduled_at", "ending_at", "data", "tenant", "actor"];
      if (!fields.some(has)) {
        issues.push({
          field: "params",
          type: "required",
          message: `expected at least one field to change (${fields.join(", ")})`,
        });
      }
      if (issues.length > 0) invalid("Invalid schedule update:", issues);

      const found = await ctx.store.getSchedules(ids);
      const missing = ids.filter((_, i) => !found[i]);
      if (missing.length > 0)
        throw new NotFoundError("schedule", missing.join(", "), "List them with schedules.list.");
      const current = found as StoredSchedule[];
      for (const s of current) {
        checkTiming(
          {
            repeats: repeats ?? s.repeats,
            scheduled_at: scheduledAt === undefined ? s.scheduled_at : scheduledAt,
            ending_at: endingAt === undefined ? s.ending_at : endingAt,
            last_occurrence_at: s.last_occurrence_at,
            inserted_at: s.inserted_at,
          },
          issues,
        );
        if (data) await checkData(ctx, registry, s.workflow, data, issues);
        if (issues.length > 0) invalid(`Invalid update of schedule "${s.id}":`, issues);
      }

      const identify: ValidTrigger = {
        recipients: [],
        actor: actor ?? null,
        tenant: tenant ?? null,
        data: {},
        cancellationKey: null,
      };
      await identifyAll(ctx, identify);
      const patch: Partial<StoredSchedule> = { updated_at: nowIso(ctx) };
      if (repeats) patch.repeats = repeats;
      if (scheduledAt !== undefined) patch.scheduled_at = scheduledAt;
      if (endingAt !== undefined) patch.ending_at = endingAt;
      if (data) patch.data = data;
      if (tenant !== undefined) patch.tenant = tenant?.id ?? null;
      if (actor !== undefined) patch.actor = actor?.ref ?? null;
      const updated: StoredSchedule[] = [];
      for (const s of current) {
        const written = await writeWithRetry(ctx, s, patch);
        if (written) updated.push(written);
      }
      return present(ctx, updated);
    },

    /**
     * Deletes the schedules named (ids that do not exist are ignored) and returns the deleted
     * ones. Their next occurrence never fires, and runs they started that have not finished
     * (queued, or parked in a delay, a batch or a fetch backoff) are cancelled.
     */
    async delete(params: ScheduleDeleteParams, _options?: RequestOptions): Promise<Schedule[]> {
      await ctx.ready;
      const input = requireParams(params, "schedule delete");
      const issues: ValidationIssue[] = [];
      const ids = validateScheduleIds(input.schedule_ids, issues);
      if (issues.length > 0) invalid("Invalid schedule delete:", issues);
      const deleted = await ctx.store.deleteSchedules(ids);
      for (const s of deleted) {
        if (s.next_occurrence_at)
          await ctx.queue.remove(scheduleJob(s.id, s.next_occurrence_at).id!);
        // A schedule's runs carry its id as their cancellation key.
        if (await ctx.store.getWorkflow(s.workflow))
          await cancelWorkflow(ctx, s.workflow, { cancellation_key: s.id });
      }
      return present(ctx, deleted);
    },

    /** The schedules of a workflow (optionally only some recipients' or a tenant's), oldest first. */
    async list(params: ScheduleListParams, _options?: RequestOptions): Promise<Page<Schedule>> {
      await ctx.ready;
      const input = requireParams(params, "schedule list");
      const issues: ValidationIssue[] = [];
      const workflow = validateWorkflowKey(input.workflow, issues);
      const filter: ScheduleFilter = {};
      if (workflow) filter.workflow = workflow;
      if (input.recipients !== undefined) {
        if (!Array.isArray(input.recipients)) {
          issues.push({
            field: "recipients",
            type: "type",
            message: `expected an array of recipient references, received ${describe(input.recipients)}`,
          });
        } else {
          filter.recipients = input.recipients.flatMap((ref, i) => {
            const normalized = normalizeRecipient(ref, `recipients[${i}]`, issues);
            return normalized ? [normalized.key] : [];
          });
        }
      }
      if (input.tenant !== undefined) {
        if (typeof input.tenant === "string") filter.tenant = input.tenant;
        else
          issues.push({
            field: "tenant",
            type: "type",
            message: `expected a tenant id, received ${describe(input.tenant)}`,
          });
      }
      if (issues.length > 0) invalid("Invalid schedule list:", issues);
      return listSchedules(ctx, filter, params);
    },
  };
}

/** @internal A page of schedules matching `filter`. */
export async function listSchedules(
  ctx: EngineContext,
  filter: ScheduleFilter,
  params: PageParams | undefined,
): Promise<Page<Schedule>> {
  const request = toPageRequest(params);
  const page = await ctx.store.listSchedules(filter, request);
  return { entries: await present(ctx, page.items), page_info: pageInfo(page, request) };
}

/**
 * Writes `patch` with a compare-and-set, re-reading and retrying when a concurrent write moved
 * the schedule; recomputes the next occurrence and moves its job. Returns the written schedule,
 * or null when it was deleted meanwhile.
 */
async function writeWithRetry(
  ctx: EngineContext,
  schedule: StoredSchedule,
  patch: Partial<StoredSchedule>,
): Promise<StoredSchedule | null> {
  let current: StoredSchedule | null = schedule;
  for (let tries = 0; current && tries < CAS_TRIES; tries++) {
    const changes = { ...patch };
    const merged = { ...current, ...changes };
    const [recipient] = await ctx.store.getRecipients([refToKey(merged.recipient)]);
    const next = nextScheduleOccurrence(
      merged,
      timeZoneOf(ctx, recipient ?? null),
      ctx.clock.now(),
    );
    changes.next_occurrence_at = next?.toISOString() ?? null;
    const written = await ctx.store.updateSchedule(current.id, current.version, changes);
    if (written) {
      if (current.next_occurrence_at && current.next_occurrence_at !== written.next_occurrence_at)
        await ctx.queue.remove(scheduleJob(current.id, current.next_occurrence_at).id!);
      if (written.next_occurrence_at)
        await ctx.queue.add(scheduleJob(written.id, written.next_occurrence_at));
      return written;
    }
    current = (await ctx.store.getSchedules([schedule.id]))[0] ?? null;
  }
  if (current) {
    throw new CrierError(
      "adapter_error",
      `Expected to update schedule "${schedule.id}", but it kept changing under ${CAS_TRIES} attempts; retry the call.`,
    );
  }
  return null;
}

/** @internal Handles a `schedule` job: fires one occurrence and moves on to the next. */
export async function processScheduleFire(ctx: EngineContext, job: JobData): Promise<void> {
  const id = String(job.schedule_id);
  const occurrence = String(job.occurrence);
  let [schedule] = await ctx.store.getSchedules([id]);
  if (!schedule) return;
  if (schedule.next_occurrence_at !== occurrence) {
    // A stale job (the schedule fired already, or was updated): keep its current occurrence armed.
    if (schedule.next_occurrence_at)
      await ctx.queue.add(scheduleJob(schedule.id, schedule.next_occurrence_at));
    return;
  }

  let fired: { workflow_run_id: string } | null = null;
  let failure: CrierError | null = null;
  try {
    fired = await ctx.trigger(
      schedule.workflow,
      {
        recipients: [schedule.recipient],
        actor: schedule.actor,
        tenant: schedule.tenant,
        data: schedule.data,
        cancellation_key: schedule.id,
      },
      { idempotencyKey: `schedule:${schedule.id}:${occurrence}` },
      { type: "schedule", schedule_id: schedule.id, occurrence },
    );
  } catch (error) {
    // A workflow that is inactive, missing, or now rejects the data skips this occurrence only;
    // anything else (the store failing) is retried by the queue.
    if (!(error instanceof CrierError) || error.code === "adapter_error") throw error;
    failure = error;
  }

  const [recipient] = await ctx.store.getRecipients([refToKey(schedule.recipient)]);
  const timeZone = timeZoneOf(ctx, recipient ?? null);
  const nowMs = ctx.clock.now().getTime();
  // Occurrences missed while nothing ran (every process down) are not made up: the next one is
  // the first after now.
  const after = new Date(Math.max(Date.parse(occurrence), nowMs));
  for (let tries = 0; schedule && tries < CAS_TRIES; tries++) {
    const next = nextScheduleOccurrence(
      { ...schedule, last_occurrence_at: occurrence },
      timeZone,
      after,
    );
    const nextAt = next?.toISOString() ?? null;
    const written = await ctx.store.updateSchedule(schedule.id, schedule.version, {
      last_occurrence_at: occurrence,
      next_occurrence_at: nextAt,
      updated_at: new Date(nowMs).toISOString(),
    });
    if (written) {
      if (nextAt) await ctx.queue.add(scheduleJob(schedule.id, nextAt));
      if (fired) {
        ctx.emitter.emit("schedule.fired", {
          schedule_id: schedule.id,
          workflow: schedule.workflow,
          workflow_run_id: fired.workflow_run_id,
          occurrence,
          next_occurrence_at: nextAt,
        });
      } else if (failure) {
        ctx.emitter.emit("schedule.skipped", {
          schedule_id: schedule.id,
          workflow: schedule.workflow,
          occurrence,
          reason: failure.code,
          detail: failure.message,
          next_occurrence_at: nextAt,
        });
      }
      return;
    }
    [schedule] = await ctx.store.getSchedules([id]);
    if (schedule && schedule.next_occurrence_at !== occurrence) {
      // Updated meanwhile: the update armed its own next occurrence.
      if (schedule.next_occurrence_at)
        await ctx.queue.add(scheduleJob(schedule.id, schedule.next_occurrence_at));
      return;
    }
  }
}

/**
 * @internal The schedule of a schedule-triggered run, as `recipient.schedule` shows it: as it is
 * now, and at least as `occurrence` (the one that started the run) left it. The fire job
 * triggers the workflow and then writes the schedule; a run that reads it in between (a queue
 * that runs jobs at once) sees it as that write will leave it.
 */
export async function scheduleScope(
  ctx: EngineContext,
  scheduleId: string,
  occurrence: string | undefined,
  recipient: StoredRecipient | null,
): Promise<Record<string, unknown> | null> {
  let [stored] = await ctx.store.getSchedules([scheduleId]);
  if (!stored) return null;
  if (occurrence !== undefined && stored.next_occurrence_at === occurrence) {
    const after = new Date(Math.max(Date.parse(occurrence), ctx.clock.now().getTime()));
    const next = nextScheduleOccurrence(
      { ...stored, last_occurrence_at: occurrence },
      timeZoneOf(ctx, recipient),
      after,
    );
    stored = {
      ...stored,
      last_occurrence_at: occurrence,
      next_occurrence_at: next?.toISOString() ?? null,
    };
  }
  return toSchedule(
    stored,
    stubRecipient(stored.recipient),
    stored.actor ? stubRecipient(stored.actor) : null,
  ) as unknown as Record<string, unknown>;
}
