/**
 * @internal `engine.sources`: map the events another system sends (a Segment `track` call, a
 * webhook of your own) to workflow triggers and cancellations. A source's definition is stored;
 * `receive` reads the event name from the payload, and each action its fields, through dot paths.
 * A field that is missing skips its action and says why; nothing a payload holds makes `receive`
 * throw.
 */

import { describe } from "../_internal/describe.js";
import { hashJson } from "../_internal/ids.js";
import { cloneJson, isPlainObject } from "../_internal/merge.js";
import { readPath } from "../conditions/path.js";
import {
  CrierError,
  IdempotencyConflictError,
  InvalidParamsError,
  NotFoundError,
  type ValidationIssue,
} from "../errors.js";
import { checkId } from "../recipients/identify.js";
import type { RecipientReference, RecipientRequest, TenantRequest } from "../recipients/types.js";
import type { StoredSource } from "../store/types.js";
import { cancelWorkflow } from "./cancel.js";
import { type EngineContext, nowIso } from "./context.js";
import type { TriggerParams } from "./trigger.js";

/** A trigger action: each field but `workflow` is a dot path into the payload. */
export interface SourceTriggerAction {
  /** @default "trigger" */
  action?: "trigger";
  /** The workflow key (a literal, not a path). */
  workflow: string;
  /** Where the recipients are: one user id, one recipient object, or a list of them. Required. */
  recipients: string;
  actor?: string;
  /** Where the trigger data is (an object). */
  data?: string;
  /** Where the tenant is (an id, or a tenant object). */
  tenant?: string;
  cancellation_key?: string;
}

/** A cancel action: cancels the workflow's runs with the cancellation key found in the payload. */
export interface SourceCancelAction {
  action: "cancel";
  workflow: string;
  /** Where the cancellation key is. Required. */
  cancellation_key: string;
  /** Where the recipients to cancel for are (default: every recipient). */
  recipients?: string;
}

/** What an event does. */
export type SourceAction = SourceTriggerAction | SourceCancelAction;

/** A source's mapping of event names to actions. */
export interface SourceDefinition {
  /** Where the event name is in a payload. @default "event" */
  event_path?: string;
  /** Event name → an action, or a list of actions run in order. */
  events: Record<string, SourceAction | SourceAction[]>;
}

/** A stored source, as `sources.set` and `sources.get` return it. */
export interface Source extends SourceDefinition {
  __typename: "Source";
  key: string;
  event_path: string;
  inserted_at: string;
  updated_at: string;
}

/** Options of `sources.receive`. */
export interface ReceiveOptions {
  /** The same key within 24 hours replays the first call: nothing is triggered or cancelled again. */
  idempotencyKey?: string;
}

/** What `sources.receive` did. */
export interface ReceiveResult {
  /** The triggers made, in action order. */
  triggered: Array<{ event: string; workflow: string; workflow_run_id: string }>;
  /** The actions that did not run, and why. */
  skipped: Array<{ event: string; workflow: string; action: "trigger" | "cancel"; reason: string }>;
  /** The cancellations made, in action order. */
  cancelled: Array<{ event: string; workflow: string; cancellation_key: string }>;
}

const DEFAULT_EVENT_PATH = "event";
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const TRIGGER_FIELDS = new Set([
  "action",
  "workflow",
  "recipients",
  "actor",
  "data",
  "tenant",
  "cancellation_key",
]);
const CANCEL_FIELDS = new Set(["action", "workflow", "cancellation_key", "recipients"]);

function invalid(message: string, issues: ValidationIssue[]): never {
  throw new InvalidParamsError(message, issues);
}

function requireSourceKey(key: unknown): string {
  const issues: ValidationIssue[] = [];
  if (!checkId(key, "key", issues, "a source key")) invalid("Invalid source key:", issues);
  return key as string;
}

function checkPath(
  value: unknown,
  field: string,
  required: boolean,
  issues: ValidationIssue[],
): void {
  if (value === undefined && !required) return;
  if (typeof value === "string" && value.length > 0) return;
  issues.push({
    field,
    type: value === undefined ? "required" : "type",
    message: `expected a dot path into the payload such as "properties.order_id", received ${describe(value)}`,
  });
}

function validateAction(action: unknown, field: string, issues: ValidationIssue[]): void {
  if (!isPlainObject(action)) {
    issues.push({
      field,
      type: "type",
      message: `expected an action such as { "workflow": "order-placed", "recipients": "userId" }, received ${describe(action)}`,
    });
    return;
  }
  const kind = action.action ?? "trigger";
  if (kind !== "trigger" && kind !== "cancel") {
    issues.push({
      field: `${field}.action`,
      type: "enum",
      message: `expected "trigger" or "cancel", received ${describe(action.action)}`,
    });
    return;
  }
  if (typeof action.workflow !== "string" || action.workflow.length === 0) {
    issues.push({
      field: `${field}.workflow`,
      type: action.workflow === undefined ? "required" : "type",
      message: `expected a workflow key (a literal, not a path), received ${describe(action.workflow)}`,
    });
  }
  const allowed = kind === "trigger" ? TRIGGER_FIELDS : CANCEL_FIELDS;
  for (const name of Object.keys(action)) {
    if (!allowed.has(name)) {
      issues.push({
        field: `${field}.${name}`,
        type: "unknown",
        message: `expected only ${[...allowed].join(", ")} on a ${kind} action, received "${name}"`,
      });
    }
  }
  if (kind === "trigger") {
    checkPath(action.recipients, `${field}.recipients`, true, issues);
    for (const name of ["actor", "data", "tenant", "cancellation_key"] as const)
      checkPath(action[name], `${field}.${name}`, false, issues);
  } else {
    checkPath(action.cancellation_key, `${field}.cancellation_key`, true, issues);
    checkPath(action.recipients, `${field}.recipients`, false, issues);
  }
}

/** @internal Validates a source definition; returns it normalized (event_path filled in). */
function validateDefinition(input: unknown): Required<SourceDefinition> {
  const issues: ValidationIssue[] = [];
  if (!isPlainObject(input)) {
    invalid("Invalid source:", [
      {
        field: "source",
        type: "type",
        message: `expected { event_path?, events: { "<event name>": action } }, received ${describe(input)}`,
      },
    ]);
  }
  checkPath(input.event_path, "event_path", false, issues);
  if (!isPlainObject(input.events)) {
    issues.push({
      field: "events",
      type: input.events === undefined ? "required" : "type",
      message: `expected an object of event name to action, received ${describe(input.events)}`,
    });
  } else {
    for (const [name, value] of Object.entries(input.events)) {
      const field = `events[${JSON.stringify(name)}]`;
      if (Array.isArray(value)) {
        if (value.length === 0)
          issues.push({ field, type: "length", message: "expected at least one action" });
        for (const [i, action] of value.entries()) validateAction(action, `${field}[${i}]`, issues);
      } else validateAction(value, field, issues);
    }
    for (const name of Object.keys(input)) {
      if (name !== "event_path" && name !== "events")
        issues.push({
          field: name,
          type: "unknown",
          message: `expected only event_path and events, received "${name}"`,
        });
    }
  }
  if (issues.length > 0) invalid("Invalid source:", issues);
  return {
    event_path: (input.event_path as string | undefined) ?? DEFAULT_EVENT_PATH,
    events: cloneJson(input.events) as SourceDefinition["events"],
  };
}

function toSource(stored: StoredSource): Source {
  const definition = stored.definition as unknown as Required<SourceDefinition>;
  return cloneJson({
    __typename: "Source",
    key: stored.key,
    event_path: definition.event_path,
    events: definition.events,
    inserted_at: stored.inserted_at,
    updated_at: stored.updated_at,
  });
}

/** The value at `path` as recipients: one id or object, or a list; null when absent or empty. */
function asRecipients(value: unknown): RecipientRequest[] | null {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  const recipients = list
    .filter((item) => item !== null && item !== undefined && item !== "")
    .map((item) => (typeof item === "number" ? String(item) : item)) as RecipientRequest[];
  return recipients.length > 0 ? recipients : null;
}

/** A scalar key read from the payload (numbers become strings); null when absent. */
function asKey(value: unknown): string | null {
  if (typeof value === "string" && value.length > 0) return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** The actions of `event` in a definition (own properties only). */
function actionsOf(definition: Required<SourceDefinition>, event: string): SourceAction[] {
  if (!Object.hasOwn(definition.events, event)) return [];
  const value = definition.events[event];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** @internal `engine.sources`. */
export function sourcesNamespace(ctx: EngineContext) {
  return {
    /**
     * Stores (or replaces) a source: which workflow each event name triggers or cancels, and
     * where in the payload each field is. Throws InvalidParamsError naming every problem.
     */
    async set(key: string, source: SourceDefinition): Promise<Source> {
      await ctx.ready;
      const id = requireSourceKey(key);
      const definition = validateDefinition(source);
      return toSource(
        await ctx.store.putSource(
          id,
          definition as unknown as Record<string, unknown>,
          nowIso(ctx),
        ),
      );
    },

    /** The source; throws NotFoundError when it was never set. */
    async get(key: string): Promise<Source> {
      await ctx.ready;
      const stored = await ctx.store.getSource(requireSourceKey(key));
      if (!stored)
        throw new NotFoundError("source", key, "Define it with engine.sources.set(key, source).");
      return toSource(stored);
    },

    /**
     * Runs the actions an incoming event maps to. An event the source does not map does
     * nothing; an action whose required field is missing (or whose trigger is refused: an
     * unknown or inactive workflow, invalid data) is skipped, reported in `skipped` and as a
     * `source.skipped` event, and the other actions still run. Throws only for a source that was
     * never set, a payload that is not an object, or an idempotency key reused with another payload.
     */
    async receive(
      key: string,
      payload: Record<string, unknown>,
      options: ReceiveOptions = {},
    ): Promise<ReceiveResult> {
      await ctx.ready;
      const id = requireSourceKey(key);
      if (!isPlainObject(payload)) {
        invalid("Invalid source payload:", [
          {
            field: "payload",
            type: "type",
            message: `expected the event as a JSON object, received ${describe(payload)}`,
          },
        ]);
      }
      const idempotencyKey = options.idempotencyKey;
      if (
        idempotencyKey !== undefined &&
        (typeof idempotencyKey !== "string" ||
          idempotencyKey.length === 0 ||
          idempotencyKey.length > 255)
      ) {
        invalid("Invalid idempotencyKey:", [
          {
            field: "idempotencyKey",
            type: "format",
            message: `expected a string of 1 to 255 characters, received ${describe(idempotencyKey)}`,
          },
        ]);
      }
      const stored = await ctx.store.getSource(id);
      if (!stored)
        throw new NotFoundError("source", id, "Define it with engine.sources.set(key, source).");
      const definition = stored.definition as unknown as Required<SourceDefinition>;
      const nothing: ReceiveResult = { triggered: [], skipped: [], cancelled: [] };
      const event = asKey(readPath(payload, definition.event_path));
      if (event === null) return nothing;
      const actions = actionsOf(definition, event);
      if (actions.length === 0) return nothing;

      if (idempotencyKey === undefined) return runActions(ctx, id, event, actions, payload, null);
      // The first call's result is stored under a second key once it finished: a replay (same
      // key, same payload, within 24 hours) returns it as it was, and runs nothing again.
      const now = ctx.clock.now();
      const expires = new Date(now.getTime() + IDEMPOTENCY_WINDOW_MS).toISOString();
      const fingerprint = hashJson({ event, payload });
      const callKey = `source:${hashJson([id, idempotencyKey])}`;
      const resultKey = `source-result:${hashJson([id, idempotencyKey])}`;
      const claim = await ctx.store.claimIdempotencyKey(
        callKey,
        fingerprint,
        {},
        expires,
        now.toISOString(),
      );
      if (!claim.claimed) {
        if (claim.fingerprint !== fingerprint) throw new IdempotencyConflictError(idempotencyKey);
        const stored = await ctx.store.claimIdempotencyKey(
          resultKey,
          fingerprint,
          {},
          expires,
          now.toISOString(),
        );
        if (!stored.claimed) return cloneJson(stored.result) as unknown as ReceiveResult;
        // The first call did not finish: this one finishes in its place. Its triggers replay
        // by their own idempotency keys (the same runs); its cancels run again.
        await ctx.store.releaseIdempotencyKey(resultKey);
      }
      let result: ReceiveResult;
      try {
        result = await runActions(ctx, id, event, actions, payload, idempotencyKey);
      } catch (error) {
        // A failing store or queue: forget the call, so that a retry runs it afresh.
        if (claim.claimed) await ctx.store.releaseIdempotencyKey(callKey);
        throw error;
      }
      await ctx.store.claimIdempotencyKey(
        resultKey,
        fingerprint,
        result as unknown as Record<string, unknown>,
        expires,
        ctx.clock.now().toISOString(),
      );
      return result;
    },
  };
}

/**
 * Runs an event's actions in order (see `receive`). Triggers made with an idempotency key get
 * one derived from it and the action's position, so running the actions twice makes no run twice.
 */
async function runActions(
  ctx: EngineContext,
  id: string,
  event: string,
  actions: readonly SourceAction[],
  payload: Record<string, unknown>,
  idempotencyKey: string | null,
): Promise<ReceiveResult> {
  const result: ReceiveResult = { triggered: [], skipped: [], cancelled: [] };
  const skip = (action: SourceAction, reason: string) => {
    const entry = {
      event,
      workflow: action.workflow,
      action: action.action ?? "trigger",
      reason,
    } as const;
    result.skipped.push(entry);
    ctx.emitter.emit("source.skipped", { source: id, ...entry });
  };
  const missing = (field: string, path: string) =>
    `missing required field "${field}": nothing at "${path}" in the payload`;

  for (const [index, action] of actions.entries()) {
    try {
      if (action.action === "cancel") {
        const cancellationKey = asKey(readPath(payload, action.cancellation_key));
        if (cancellationKey === null) {
          skip(action, missing("cancellation_key", action.cancellation_key));
          continue;
        }
        let recipients: RecipientReference[] | null = null;
        if (action.recipients !== undefined) {
          recipients = asRecipients(readPath(payload, action.recipients)) as
            | RecipientReference[]
            | null;
          if (recipients === null) {
            skip(action, missing("recipients", action.recipients));
            continue;
          }
        }
        await cancelWorkflow(ctx, action.workflow, {
          cancellation_key: cancellationKey,
          ...(recipients ? { recipients } : {}),
        });
        result.cancelled.push({
          event,
          workflow: action.workflow,
          cancellation_key: cancellationKey,
        });
        continue;
      }
      const recipients = asRecipients(readPath(payload, action.recipients));
      if (recipients === null) {
        skip(action, missing("recipients", action.recipients));
        continue;
      }
      const params: TriggerParams = { recipients };
      if (action.actor !== undefined) {
        const actor = readPath(payload, action.actor);
        if (actor !== undefined && actor !== null)
          params.actor = (typeof actor === "number" ? String(actor) : actor) as RecipientRequest;
      }
      if (action.data !== undefined) {
        const data = readPath(payload, action.data);
        if (data !== undefined && data !== null && !isPlainObject(data)) {
          skip(action, `expected an object at "${action.data}" for data, found ${describe(data)}`);
          continue;
        }
        if (data) params.data = data;
      }
      if (action.tenant !== undefined) {
        const tenant = readPath(payload, action.tenant);
        if (tenant !== undefined && tenant !== null)
          params.tenant = (typeof tenant === "number" ? String(tenant) : tenant) as
            | string
            | TenantRequest;
      }
      if (action.cancellation_key !== undefined) {
        const cancellationKey = asKey(readPath(payload, action.cancellation_key));
        if (cancellationKey !== null) params.cancellation_key = cancellationKey;
      }
      const triggered = await ctx.trigger(
        action.workflow,
        params,
        idempotencyKey === null
          ? undefined
          : { idempotencyKey: `source:${hashJson([id, idempotencyKey, index])}` },
        { type: "integration", source_key: id, source_event: event },
      );
      result.triggered.push({
        event,
        workflow: action.workflow,
        workflow_run_id: triggered.workflow_run_id,
      });
    } catch (error) {
      // A refused trigger or cancel (unknown or inactive workflow, invalid fields) skips this
      // action; a failing store or queue is the caller's to see.
      if (!(error instanceof CrierError) || error.code === "adapter_error") throw error;
      skip(action, error.message);
    }
  }
  return result;
}
