/**
 * `createEngine`: crier's entry point.
 *
 * @module
 */

import { GenerationalCache } from "../_internal/cache.js";
import { cloneJson } from "../_internal/merge.js";
import { processDeliver } from "../channels/execute.js";
import { createLiquid } from "../channels/templates.js";
import type { ChannelConfig } from "../channels/types.js";
import { CrierError, InvalidParamsError, type ValidationIssue } from "../errors.js";
import type { PreferenceSetInput } from "../preferences/types.js";
import { validatePreferenceSet } from "../preferences/validate.js";
import { memoryQueue } from "../queue/memory.js";
import type { Job } from "../queue/types.js";
import { systemClock } from "../scheduling/clock.js";
import { isValidTimeZone } from "../scheduling/repeat.js";
import { processBatchClose } from "../steps/batch.js";
import { processRun, processRunPage, RunPageError } from "../steps/run.js";
import { Views } from "../steps/views.js";
import { memoryStore } from "../store/memory.js";
import type { AnyTriggerData, TriggerData } from "../workflows/define-workflow.js";
import { WorkflowRegistry } from "../workflows/registry.js";
import { CHANNEL_TYPES, type Workflow, type WorkflowInput } from "../workflows/types.js";
import { BulkLedger } from "./bulk.js";
import { type CancelParams, cancelWorkflow } from "./cancel.js";
import { type EngineContext, WORKFLOW_RUNS_KEPT } from "./context.js";
import { SafeEmitter } from "./emitter.js";
import type { EngineEventName, EngineEvents } from "./events.js";
import { explainRun } from "./explain.js";
import { processFanout } from "./fanout.js";
import {
  bulkOperationsNamespace,
  messagesNamespace,
  objectsNamespace,
  runsNamespace,
  tenantsNamespace,
  usersNamespace,
} from "./namespaces.js";
import type { EngineOptions } from "./options.js";
import type { RequestOptions } from "./request-options.js";
import { processScheduleFire, schedulesNamespace } from "./schedules.js";
import { sourcesNamespace } from "./sources.js";
import {
  type TriggerOptions,
  type TriggerParams,
  type TriggerResult,
  triggerWorkflow,
} from "./trigger.js";

/** @internal Options only crier's own helpers pass (the test engine's capturing channels). */
export interface InternalEngineOptions {
  channelFallback?: EngineContext["channelFallback"];
}

/**
 * What an engine that knows no workflow's data type knows: every key takes any data. An engine's
 * knowledge is otherwise a map of workflow key to trigger data type, such as
 * `{ welcome: { plan: "free" | "pro" } }` (see {@link KnownWorkflows}).
 *
 * It is `any` so that an engine that knows its workflows is still an `Engine`: a function that
 * takes an `Engine` takes every engine.
 */
export type NoKnownWorkflows = any;

/**
 * What an engine knows of a list of definitions, a map of key to trigger data type: each
 * definition with a literal `key` (from {@link defineWorkflow}) maps its key to its
 * {@link TriggerData}. Definitions typed only as `WorkflowInput` add nothing.
 */
export type KnownWorkflows<TDefinitions extends readonly unknown[]> = OrNone<{
  [TDefinition in TDefinitions[number] as TDefinition extends {
    readonly key: infer TKey extends string;
  }
    ? string extends TKey
      ? never
      : TKey
    : never]: TriggerData<TDefinition>;
}>;

/** The map, or {@link NoKnownWorkflows} when it is empty. */
type OrNone<TMap> = [keyof TMap] extends [never] ? NoKnownWorkflows : TMap;

/** True for `any` only. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * The data `workflows.trigger(key, …)` takes: the known workflow's {@link TriggerData} for a
 * literal key the engine knows, else any JSON object (workflows may be upserted at run time).
 */
export type TriggerDataFor<TWorkflows, TKey extends string> =
  IsAny<TWorkflows> extends true
    ? AnyTriggerData
    : [TKey] extends [keyof TWorkflows]
      ? TWorkflows[TKey]
      : AnyTriggerData;

/**
 * The parameters of a trigger that takes `TData`: `data` is required when `TData` has a required
 * field (a known workflow whose schema requires one).
 */
export type TriggerParamsFor<TData> =
  Record<string, never> extends TData
    ? TriggerParams<TData>
    : TriggerParams<TData> & { data: TData };

/**
 * The workflows namespace. With known workflows (see {@link KnownWorkflows}) `trigger` checks
 * `params.data` against the workflow's data type.
 */
export interface WorkflowsApi<TWorkflows extends object = NoKnownWorkflows> {
  /** Validates and stores a definition (a new version when it changed); throws InvalidParamsError with `errors[]`. */
  upsert(definition: WorkflowInput): Promise<Workflow>;
  /** The current version; throws NotFoundError. */
  get(key: string): Promise<Workflow>;
  /** Every workflow's current version. */
  list(): Promise<Workflow[]>;
  /** Turns a workflow on or off: an inactive workflow cannot be triggered, and parked runs end at their next step. */
  setActive(key: string, active: boolean): Promise<Workflow>;
  /**
   * Triggers a workflow for 1 to 1,000 recipients. For a key the engine knows, `params.data` is
   * checked at compile time against that workflow's trigger data type; any other key takes any
   * data (checked at run time against the stored workflow's schema).
   */
  trigger<TKey extends (keyof TWorkflows & string) | (string & {})>(
    key: TKey,
    params: TriggerParamsFor<TriggerDataFor<TWorkflows, TKey>>,
    options?: TriggerOptions,
  ): Promise<TriggerResult>;
  /**
   * Cancels the runs triggered with `cancellation_key` that have not finished (queued, or parked in
   * a delay, batch window or fetch backoff), optionally only for some recipients.
   */
  cancel(key: string, params: CancelParams, options?: RequestOptions): Promise<void>;
}

/**
 * A crier engine: every namespace of the API, events, and lifecycle. `TWorkflows` is what it knows
 * of its workflows' trigger data (see {@link KnownWorkflows}); `Engine` alone knows none.
 */
export interface Engine<TWorkflows extends object = NoKnownWorkflows> {
  readonly workflows: WorkflowsApi<TWorkflows>;
  readonly users: ReturnType<typeof usersNamespace>;
  readonly objects: ReturnType<typeof objectsNamespace>;
  readonly tenants: ReturnType<typeof tenantsNamespace>;
  readonly messages: ReturnType<typeof messagesNamespace>;
  readonly workflowRecipientRuns: ReturnType<typeof runsNamespace>;
  /** Schedules: workflows triggered on repeat rules in each recipient's timezone, or once. */
  readonly schedules: ReturnType<typeof schedulesNamespace>;
  /** Sources: events from other systems mapped to workflow triggers and cancellations. */
  readonly sources: ReturnType<typeof sourcesNamespace>;
  /** The bulk operations (`users.bulk.*`, `objects.bulk.*`, `tenants.bulk.*`) this engine ran lately. */
  readonly bulkOperations: ReturnType<typeof bulkOperationsNamespace>;
  /** Listens to an event (see {@link EngineEvents}); a listener that throws is reported as `error`. */
  on<E extends EngineEventName>(event: E, listener: (...args: EngineEvents[E]) => unknown): this;
  /** Listens to the next occurrence of an event only. */
  once<E extends EngineEventName>(event: E, listener: (...args: EngineEvents[E]) => unknown): this;
  /** Stops listening (every listener of the event when none is named). */
  off<E extends EngineEventName>(event: E, listener?: (...args: EngineEvents[E]) => unknown): this;
  /**
   * A recipient run's log as readable text, for tests and logs: a header (workflow, recipient,
   * tenant, status), then one line per entry (every step executed or skipped and precisely why,
   * messages created, delivery attempts and errors, pauses and resumes), then the run's messages
   * as they are now. Throws NotFoundError for an unknown id.
   *
   * @example
   * ```ts
   * const [run] = (await engine.workflowRecipientRuns.list({ workflow_run_id })).entries;
   * console.log(await engine.explain(run.id));
   * // … step email_1 skipped: preferences: categories.marketing = false in set default (tenant acme)
   * ```
   */
  explain(workflowRecipientRunId: string): Promise<string>;
  /** Resolves when no run is queued or running now (parked work does not count). */
  idle(): Promise<void>;
  /** Stops timers and workers; pending durable work stays in its store. */
  close(): Promise<void>;
}

function validateChannels(channels: ChannelConfig[] | undefined): Map<string, ChannelConfig> {
  const map = new Map<string, ChannelConfig>();
  (channels ?? []).forEach((channel, i) => {
    const field = `channels[${i}]`;
    if (!channel || typeof channel.key !== "string" || channel.key.length === 0) {
      throw new InvalidParamsError("Invalid engine option `channels`:", [
        { field: `${field}.key`, type: "required", message: "expected a channel key string" },
      ]);
    }
    if (!CHANNEL_TYPES.includes(channel.type)) {
      throw new InvalidParamsError("Invalid engine option `channels`:", [
        {
          field: `${field}.type`,
          type: "enum",
          message: `expected one of ${CHANNEL_TYPES.join(", ")}, received ${JSON.stringify(channel.type)}`,
        },
      ]);
    }
    if (channel.provider !== undefined && typeof channel.provider?.send !== "function") {
      throw new InvalidParamsError("Invalid engine option `channels`:", [
        {
          field: `${field}.provider`,
          type: "type",
          message: "expected an object with a send(message) method",
        },
      ]);
    }
    if (map.has(channel.key)) {
      throw new InvalidParamsError("Invalid engine option `channels`:", [
        {
          field: `${field}.key`,
          type: "unique",
          message: `expected unique channel keys, received "${channel.key}" twice`,
        },
      ]);
    }
    map.set(channel.key, channel);
  });
  return map;
}

/**
 * Creates an engine. With no options it runs entirely in memory, on real time. Given workflows
 * made with {@link defineWorkflow}, it knows their trigger data types: `workflows.trigger(key, …)`
 * checks `data` for those keys at compile time.
 *
 * @example
 * ```ts
 * const engine = createEngine({
 *   channels: [{ key: "email", type: "email", provider: { send: async (m) => console.log(m.content) } }],
 *   workflows: [{ key: "welcome", steps: [{ ref: "email_1", type: "channel", channel_key: "email",
 *     template: { subject: "Welcome, {{ recipient.name }}", html_body: "<p>Hi!</p>" } }] }],
 * });
 * await engine.workflows.trigger("welcome", { recipients: [{ id: "u1", name: "Ada", email: "ada@example.com" }] });
 * await engine.idle();
 * ```
 */
export function createEngine<const TDefinitions extends readonly WorkflowInput[] = []>(
  options: EngineOptions & { workflows?: TDefinitions } = {},
): Engine<KnownWorkflows<TDefinitions>> {
  return new CrierEngine(options, {}) as Engine as Engine<KnownWorkflows<TDefinitions>>;
}

/** @internal */
export class CrierEngine implements Engine {
  readonly workflows: WorkflowsApi;
  readonly users: ReturnType<typeof usersNamespace>;
  readonly objects: ReturnType<typeof objectsNamespace>;
  readonly tenants: ReturnType<typeof tenantsNamespace>;
  readonly messages: ReturnType<typeof messagesNamespace>;
  readonly workflowRecipientRuns: ReturnType<typeof runsNamespace>;
  readonly schedules: ReturnType<typeof schedulesNamespace>;
  readonly sources: ReturnType<typeof sourcesNamespace>;
  readonly bulkOperations: ReturnType<typeof bulkOperationsNamespace>;
  /** @internal */
  readonly context: EngineContext;

  constructor(options: EngineOptions, internal: InternalEngineOptions) {
    const retry = options.deliveryRetry ?? {};
    const attempts = retry.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new InvalidParamsError("Invalid engine option `deliveryRetry.attempts`:", [
        {
          field: "deliveryRetry.attempts",
          type: "range",
          message: `expected an integer of at least 1, received ${String(attempts)}`,
        },
      ]);
    }
    const defaultTimezone = options.defaultTimezone ?? "Etc/UTC";
    if (!isValidTimeZone(defaultTimezone)) {
      throw new InvalidParamsError("Invalid engine option `defaultTimezone`:", [
        {
          field: "defaultTimezone",
          type: "format",
          message: `expected a tz database timezone such as "America/New_York", received ${JSON.stringify(defaultTimezone)}`,
        },
      ]);
    }
    let defaultPreferences: PreferenceSetInput | undefined;
    if (options.defaultPreferences !== undefined) {
      const issues: ValidationIssue[] = [];
      // Copied: a caller changing its object later changes nothing here.
      defaultPreferences = cloneJson(
        validatePreferenceSet(options.defaultPreferences, "defaultPreferences", issues).set,
      );
      if (issues.length > 0)
        throw new InvalidParamsError("Invalid engine option `defaultPreferences`:", issues);
    }
    // The context's trigger closes over the registry, which is made from the context just below.
    let registry: WorkflowRegistry;
    const ctx: EngineContext = {
      store: options.store ?? memoryStore(),
      queue: options.queue ?? memoryQueue({ concurrency: 32 }),
      clock: options.clock ?? systemClock,
      emitter: new SafeEmitter(),
      liquid: createLiquid(),
      channels: validateChannels(options.channels),
      channelFallback: internal.channelFallback,
      vars: options.vars ?? {},
      views: new Views(defaultPreferences),
      workflowRuns: new GenerationalCache(WORKFLOW_RUNS_KEPT),
      defaultTimezone,
      defaultPreferences,
      fetch: options.fetch,
      deliveryAttempts: attempts,
      deliveryBackoff: retry.backoff ?? ((attempt) => 1000 * 4 ** (attempt - 2)),
      closed: false,
      ready: Promise.resolve(),
      trigger: (key, params, triggerOptions, source) =>
        triggerWorkflow(ctx, registry, key, params, triggerOptions, source),
    };
    registry = new WorkflowRegistry(ctx);
    this.context = ctx;
    const handler = (job: Job): Promise<void> => {
      switch (job.name) {
        case "fanout":
          return processFanout(ctx, job.data);
        case "run":
          return processRun(ctx, registry, job.data);
        case "runs":
          return processRunPage(ctx, registry, job.data);
        case "deliver":
          return processDeliver(ctx, job.data);
        case "batch_close":
          return processBatchClose(ctx, registry, job.data);
        case "schedule":
          return processScheduleFire(ctx, job.data);
        default:
          return Promise.reject(
            new CrierError(
              "invalid_params",
              `Expected a crier job (fanout, run, runs, deliver, batch_close, schedule), received "${job.name}".`,
            ),
          );
      }
    };
    const start = async () => {
      await ctx.queue.start({
        clock: ctx.clock,
        handler,
        onFailed: (job, error) => {
          if (error instanceof RunPageError) {
            // A page's runs are reported one by one, as their own `run` jobs would be.
            for (const failure of error.failures) {
              ctx.emitter.emit("error", {
                error: failure.error,
                source: "job:run",
                workflow_recipient_run_id: failure.run_id,
              });
            }
            return;
          }
          const data = job.data;
          ctx.emitter.emit("error", {
            error,
            source: `job:${job.name}`,
            ...(typeof data.run_id === "string" ? { workflow_recipient_run_id: data.run_id } : {}),
            ...(typeof data.workflow_run_id === "string"
              ? { workflow_run_id: data.workflow_run_id }
              : {}),
          });
        },
      });
      for (const workflow of options.workflows ?? []) await registry.upsert(workflow);
    };
    ctx.ready = start();
    // Start-up failures surface on the first call that awaits readiness; never as an unhandled rejection.
    ctx.ready.catch(() => {});

    this.workflows = {
      upsert: async (definition) => {
        await ctx.ready;
        return registry.upsert(definition);
      },
      get: async (key) => {
        await ctx.ready;
        return registry.get(key);
      },
      list: async () => {
        await ctx.ready;
        return registry.list();
      },
      setActive: async (key, active) => {
        await ctx.ready;
        return registry.setActive(key, active);
      },
      trigger: (key, params, triggerOptions) =>
        triggerWorkflow(ctx, registry, key, params, triggerOptions),
      cancel: (key, params) => cancelWorkflow(ctx, key, params),
    };
    const ledger = new BulkLedger(ctx);
    this.users = usersNamespace(ctx, registry, ledger);
    this.objects = objectsNamespace(ctx, ledger);
    this.tenants = tenantsNamespace(ctx, ledger);
    this.bulkOperations = bulkOperationsNamespace(ledger);
    this.messages = messagesNamespace(ctx, registry);
    this.workflowRecipientRuns = runsNamespace(ctx);
    this.schedules = schedulesNamespace(ctx, registry);
    this.sources = sourcesNamespace(ctx);
  }

  on<E extends EngineEventName>(event: E, listener: (...args: EngineEvents[E]) => unknown): this {
    this.context.emitter.on(event, listener);
    return this;
  }

  once<E extends EngineEventName>(event: E, listener: (...args: EngineEvents[E]) => unknown): this {
    this.context.emitter.once(event, listener);
    return this;
  }

  off<E extends EngineEventName>(event: E, listener?: (...args: EngineEvents[E]) => unknown): this {
    this.context.emitter.off(event, listener);
    return this;
  }

  explain(workflowRecipientRunId: string): Promise<string> {
    return explainRun(this.context, workflowRecipientRunId);
  }

  async idle(): Promise<void> {
    await this.context.ready;
    await this.context.queue.idle();
  }

  async close(): Promise<void> {
    if (this.context.closed) return;
    this.context.closed = true;
    await this.context.ready.catch(() => {});
    await this.context.queue.close();
    await this.context.store.close?.();
    this.context.emitter.removeAll();
  }
}
