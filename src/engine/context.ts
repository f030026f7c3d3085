/**
 * @internal What every part of a running engine shares.
 */
import type { Liquid } from "liquidjs";
import type { GenerationalCache } from "../_internal/cache.js";
import { isoString } from "../_internal/time.js";
import type { ChannelConfig } from "../channels/types.js";
import type { PreferenceSetInput } from "../preferences/types.js";
import type { Queue } from "../queue/types.js";
import type { Clock } from "../scheduling/clock.js";
import type { Views } from "../steps/views.js";
import type { RecipientKey, RecipientPatch, Store, StoredRecipient } from "../store/types.js";
import type { TriggerSource, WorkflowRun } from "../workflows/run-types.js";
import type { ChannelType } from "../workflows/types.js";
import type { SafeEmitter } from "./emitter.js";
import type { TriggerOptions, TriggerParams, TriggerResult } from "./trigger.js";

/** @internal */
export interface EngineContext {
  store: Store;
  queue: Queue;
  clock: Clock;
  emitter: SafeEmitter;
  liquid: Liquid;
  channels: Map<string, ChannelConfig>;
  /** Resolves a channel key no `channels` entry names (the test engine captures it); else undefined. */
  channelFallback:
    | ((key: string, stepType: ChannelType | undefined) => ChannelConfig | undefined)
    | undefined;
  vars: Record<string, unknown>;
  /** Recipients', actors' and tenants' scopes and preferences, per stored record. */
  views: Views;
  /** Workflow runs read lately, by id (see {@link readWorkflowRun}). */
  workflowRuns: GenerationalCache<string, WorkflowRun>;
  defaultTimezone: string;
  defaultPreferences: PreferenceSetInput | undefined;
  fetch: typeof fetch | undefined;
  deliveryAttempts: number;
  deliveryBackoff: (attempt: number) => number;
  /** True once `close()` was called: calls that would store or enqueue throw EngineClosedError. */
  closed: boolean;
  /** Resolves once the engine's start-up (queue start, `workflows` option) is done. */
  ready: Promise<void>;
  /** The trigger pipeline, for steps that trigger workflows (and, later, schedules and sources). */
  trigger: (
    key: string,
    params: TriggerParams,
    options: TriggerOptions | undefined,
    source: TriggerSource,
  ) => Promise<TriggerResult>;
}

/** @internal How many workflow runs {@link readWorkflowRun} remembers (per generation). */
export const WORKFLOW_RUNS_KEPT = 1000;

/**
 * @internal Reads a workflow run, remembering those read lately (one to two thousand). A
 * workflow run never changes once stored, and each of a trigger's recipient runs reads it (a
 * query each, on a durable store): the thousand recipients of one trigger read it once.
 */
export async function readWorkflowRun(ctx: EngineContext, id: string): Promise<WorkflowRun | null> {
  const kept = ctx.workflowRuns.get(id);
  if (kept) return kept;
  const run = await ctx.store.getWorkflowRun(id);
  if (run) ctx.workflowRuns.set(id, run);
  return run;
}

/** @internal The clock's now as an ISO string. */
export function nowIso(ctx: EngineContext): string {
  return isoString(ctx.clock.now());
}

/**
 * @internal Applies `patch` to an existing recipient, at the clock's now: update-only where the
 * store can (`Store.updateRecipient`, so one deleted meanwhile stays deleted: null), else an
 * upsert.
 */
export async function updateExistingRecipient(
  ctx: EngineContext,
  key: RecipientKey,
  patch: RecipientPatch,
): Promise<StoredRecipient | null> {
  return ctx.store.updateRecipient
    ? ctx.store.updateRecipient(key, patch, nowIso(ctx))
    : ctx.store.upsertRecipient(key, patch, nowIso(ctx));
}
