/**
 * @internal Channel steps: resolve the channel, check the recipient can be reached, render the
 * template, create the message (once: its id derives from the run and the step), and deliver it.
 * The first attempt happens inside the run's job; failed attempts are retried by `deliver` jobs
 * with backoff, and the run goes on either way.
 */

import { uuidV5 } from "../_internal/ids.js";
import { deepFreeze, isPlainObject } from "../_internal/merge.js";
import { isoString } from "../_internal/time.js";
import { type EngineContext, readWorkflowRun } from "../engine/context.js";
import { emitMessage } from "../messages/emit.js";
import { feedChanged } from "../messages/feed.js";
import type { Message, MessageDeliveryStatus } from "../messages/types.js";
import { evaluatePreferences, explainBlock } from "../preferences/evaluate.js";
import type { JobData, JobInput } from "../queue/types.js";
import { loadParticipants, refToKey, toScopeRecipient } from "../recipients/identify.js";
import { recipientTimeZone } from "../scheduling/repeat.js";
import { catchUp, log, type Outcome, type RunState, scopeOf, skip } from "../steps/run.js";
import { USERS_COLLECTION } from "../store/types.js";
import type { ChannelInstruction } from "../workflows/compile.js";
import type { RunEvent, WorkflowRecipientRun } from "../workflows/run-types.js";
import type { ChannelType } from "../workflows/types.js";
import { renderTemplate } from "./templates.js";
import type { ChannelConfig, DeliveryResult, OutboundMessage } from "./types.js";

/** The one frozen empty list new messages share (no actors, no engagement). */
const NONE = Object.freeze([]) as never[];

/** @internal The id of the message a run's step creates. */
export function messageId(runId: string, stepRef: string): string {
  return uuidV5(`${runId}|message|${stepRef}`);
}

/** @internal Resolves a step's channel: the configured one, else the fallback (test engine), else none. */
export function resolveChannel(
  ctx: EngineContext,
  key: string,
  stepType: ChannelType | undefined,
): ChannelConfig | undefined {
  return ctx.channels.get(key) ?? ctx.channelFallback?.(key, stepType);
}

/** What address a channel type needs, or why the recipient cannot be reached on it. */
function missingAddress(
  type: ChannelType,
  recipient: Record<string, unknown>,
  isUser: boolean,
  channelData: Record<string, unknown> | undefined,
): string | null {
  switch (type) {
    case "email":
      return typeof recipient.email === "string" && recipient.email.length > 0
        ? null
        : "recipient has no email";
    case "sms":
      return typeof recipient.phone_number === "string" && recipient.phone_number.length > 0
        ? null
        : "recipient has no phone_number";
    case "push":
    case "chat":
      return channelData && Object.keys(channelData).length > 0
        ? null
        : "recipient has no channel data for this channel";
    case "in_app_feed":
      return isUser ? null : "in-app feeds belong to users; an object recipient has none";
    case "http":
      return null;
  }
}

/**
 * What preference conditions see: the run's scope, except after a batch, where Knock evaluates
 * them against the first activity only: `data` is the first activity's (not the batch's merged
 * data).
 */
function preferenceScope(state: RunState): Record<string, unknown> {
  const scope = scopeOf(state);
  return state.batchFirstData ? { ...scope, data: state.batchFirstData } : scope;
}

/** @internal Runs a channel step for the run in `state`. */
export async function executeChannelStep(
  state: RunState,
  instruction: ChannelInstruction,
): Promise<Outcome> {
  const { ctx, run } = state;
  const next: Outcome = { kind: "next", next: instruction.next };
  const channel = resolveChannel(
    ctx,
    instruction.channelKey,
    instruction.channelType as ChannelType | undefined,
  );
  if (!channel) {
    skip(
      state,
      instruction,
      "channel_not_configured",
      `no channel with key "${instruction.channelKey}" is configured`,
    );
    return next;
  }
  const channelData = state.recipient?.channel_data[channel.key];
  const recipient = run.recipient;
  const missing = missingAddress(
    channel.type,
    state.recipientScope,
    typeof recipient === "string" || recipient.collection === USERS_COLLECTION,
    channelData,
  );
  if (missing) {
    skip(
      state,
      instruction,
      "no_channel_data",
      `${missing} (channel "${channel.key}", type ${channel.type})`,
    );
    return next;
  }
  const workflow = state.compiled.workflow;
  const blocked = evaluatePreferences(
    state.preferences,
    {
      workflowKey: workflow.key,
      categories: workflow.categories ?? [],
      channelKey: channel.key,
      channelType: channel.type,
      isCommercial: workflow.settings?.is_commercial === true,
      overridePreferences: workflow.settings?.override_preferences === true,
    },
    preferenceScope(state),
    state.now,
  );
  if (blocked) {
    const { path, detail } = explainBlock(blocked, state.preferenceSources);
    skip(state, instruction, "preferences", detail, { path });
    return next;
  }
  // Send windows come last (Knock's order): the message is made now and waits, queued, for them.
  let sendAt = state.now;
  let timeZone: string | null = null;
  if (instruction.sendWindows) {
    timeZone = recipientTimeZone(state.recipientScope, ctx.defaultTimezone);
    const opens = instruction.sendWindows(timeZone, state.now);
    if (!opens) {
      skip(
        state,
        instruction,
        "invalid_settings",
        `the step's send windows never open in ${timeZone}`,
      );
      return next;
    }
    sendAt = opens;
  }

  let content: Record<string, unknown>;
  try {
    const rendered = renderTemplate(ctx.liquid, instruction.template, scopeOf(state));
    // Rendering makes every object and array anew: frozen here, it is stored without a copy.
    content = deepFreeze(isPlainObject(rendered) ? rendered : { body: rendered });
  } catch (error) {
    log(
      state,
      "step_failed",
      instruction,
      { error: `template did not render: ${(error as Error).message}` },
      "error",
    );
    return { kind: "halt", errors: 1 };
  }

  const now = state.nowIso;
  const sandbox = state.workflowRun.settings?.sandbox_mode === true;
  // The built-in feed (no provider of its own), outside any send window: nothing to hand over.
  const feedNow =
    !sandbox &&
    channel.type === "in_app_feed" &&
    !channel.provider &&
    sendAt.getTime() <= state.now.getTime();
  const message: Message = {
    __typename: "Message",
    id: messageId(run.id, instruction.ref),
    channel_id: channel.key,
    channel_type: channel.type,
    recipient: run.recipient,
    // A batched message names the batch's actors (Knock: up to ten, most recent first).
    actors: state.batchActors ?? (run.actor ? [run.actor] : NONE),
    workflow: run.workflow,
    tenant: run.tenant,
    source: {
      __typename: "NotificationSource",
      key: run.workflow,
      version_id: String(run.workflow_version),
      categories: state.compiled.workflow.categories ?? NONE,
      step_ref: instruction.ref,
      workflow_run_id: run.workflow_run_id,
      workflow_recipient_run_id: run.id,
    },
    // Knock's sandbox_mode: the message is made, and never handed to a provider. The built-in
    // feed delivers by storing: its message is created delivered, in one write.
    status: sandbox ? "not_sent" : feedNow ? "delivered" : "queued",
    engagement_statuses: NONE,
    seen_at: null,
    read_at: null,
    interacted_at: null,
    link_clicked_at: null,
    archived_at: null,
    data: state.data,
    content,
    metadata: null,
    attempts: feedNow ? 1 : 0,
    provider_message_id: null,
    last_error: null,
    inserted_at: now,
    updated_at: now,
  };
  // Frozen as it is made (its data, recipient and content are frozen already), so that the memory
  // store keeps it without a copy.
  Object.freeze(message.actors);
  Object.freeze(message.source);
  Object.freeze(message);
  const { message: stored, created } = await ctx.store.createMessage(message);
  log(state, "message_created", instruction, {
    message_id: stored.id,
    channel_key: channel.key,
    created,
  });
  if (created) emitMessage(ctx, "message.created", stored);
  if (created && stored.status === "not_sent") emitMessage(ctx, "message.not_sent", stored);
  if (created && feedNow) {
    state.events.push(deliveryEntry(stored, 1, now, "message_delivered", "ok", {}));
    emitMessage(ctx, "message.delivered", stored);
    if (ctx.emitter.has("feed.changed")) await feedChanged(ctx, [stored], "message.delivered");
    return next;
  }
  if (stored.status !== "queued") return next;
  if (stored.attempts > 0) {
    // A retried job: an earlier one made the first attempt, which failed, and may have died
    // before enqueueing the retry. It is enqueued again (a no-op when it is there), and the
    // failed attempt is logged with this run's write unless the log has it.
    const retry = await ensureRetry(ctx, stored);
    if (retry && !(await isLogged(ctx, run.id, retry))) state.events.push(retry);
    return next;
  }
  if (sendAt.getTime() > state.now.getTime()) {
    // Outside the send window: the first attempt is a `deliver` job due when the window opens.
    await ctx.queue.add(deliverJob(stored.id, 1, sendAt));
    log(state, "message_scheduled", instruction, {
      message_id: stored.id,
      send_at: sendAt.toISOString(),
      timezone: timeZone,
      reason: "send_window",
    });
  } else {
    const outbound = buildOutbound(
      stored,
      channel,
      state.recipientScope,
      state.actorScope,
      state.tenantScope,
      channelData ?? null,
      state.data,
      1,
    );
    const entries = await attemptDelivery(ctx, channel, stored, outbound, 1);
    catchUp(state);
    state.events.push(...entries);
    // A message given up on is one of the run's errors (`error_count`, `has_errors`).
    if (entries.some(isUndelivered))
      state.patch.error_count = (state.patch.error_count ?? state.run.error_count) + 1;
  }
  return next;
}

function isUndelivered(entry: RunEvent): boolean {
  return entry.event === "message_undelivered";
}

/**
 * The retry a queued message waits for after a failed attempt, enqueued again: a job that dies
 * between recording the failure on the message and enqueueing the retry would otherwise leave
 * the message queued for good. The retry's id is derived from the message and the attempt, so
 * enqueueing it when it is already there does nothing. Returns the failed attempt's log entry,
 * or null when the message waits for no retry (not yet attempted, or out of attempts).
 */
async function ensureRetry(ctx: EngineContext, message: Message): Promise<RunEvent | null> {
  const attempt = message.attempts;
  if (message.status !== "queued" || attempt < 1 || attempt >= ctx.deliveryAttempts) return null;
  const retryAt = retryTime(ctx, Date.parse(message.updated_at), attempt);
  await ctx.queue.add(deliverJob(message.id, attempt + 1, retryAt));
  return deliveryEntry(message, attempt, message.updated_at, "delivery_failed", "error", {
    error: message.last_error,
    retry_at: retryAt.toISOString(),
  });
}

/** When the attempt after failed attempt `attempt`, made at `failedAt` (epoch ms), is due. */
function retryTime(ctx: EngineContext, failedAt: number, attempt: number): Date {
  return new Date(failedAt + ctx.deliveryBackoff(attempt + 1));
}

/** The job that makes delivery attempt `attempt` of a message at `runAt`. */
function deliverJob(messageId: string, attempt: number, runAt: Date): JobInput {
  return {
    name: "deliver",
    id: `deliver:${messageId}:${attempt}`,
    data: { message_id: messageId, attempt },
    runAt,
  };
}

function buildOutbound(
  message: Message,
  channel: ChannelConfig,
  recipient: Record<string, unknown>,
  actor: Record<string, unknown> | null,
  tenant: Record<string, unknown> | null,
  channelData: Record<string, unknown> | null,
  data: Record<string, unknown>,
  attempt: number,
): OutboundMessage {
  return {
    id: message.id,
    channel_key: channel.key,
    channel_type: channel.type,
    recipient,
    recipient_ref: message.recipient,
    actor,
    tenant,
    content: message.content,
    channel_data: channelData,
    workflow: message.workflow,
    step_ref: message.source.step_ref,
    workflow_run_id: message.source.workflow_run_id,
    workflow_recipient_run_id: message.source.workflow_recipient_run_id,
    data,
    attempt,
  };
}

/** The run-log entry of a delivery attempt's outcome (frozen, as `log` makes its entries). */
function deliveryEntry(
  message: Message,
  attempt: number,
  at: string,
  event: string,
  status: "ok" | "error",
  data: Record<string, unknown>,
): RunEvent {
  return Object.freeze({
    event,
    status,
    step_ref: message.source.step_ref,
    step_type: "channel",
    attempt,
    data: Object.freeze({ message_id: message.id, ...data }),
    inserted_at: at,
  });
}

/**
 * Makes one delivery attempt and records its outcome on the message. Returns the run-log entries
 * to write (the caller writes them with the run, or appends them).
 */
async function attemptDelivery(
  ctx: EngineContext,
  channel: ChannelConfig,
  message: Message,
  outbound: OutboundMessage,
  attempt: number,
): Promise<RunEvent[]> {
  // The outcome is stamped with the time the provider answered (or failed).
  let at = "";
  const entry = (event: string, status: "ok" | "error", data: Record<string, unknown>) =>
    deliveryEntry(message, attempt, at, event, status, data);
  let result: DeliveryResult | void;
  try {
    result = await send(ctx, channel, outbound);
    at = isoString(ctx.clock.now());
  } catch (error) {
    at = isoString(ctx.clock.now());
    const text = error instanceof Error ? error.message : String(error);
    if (attempt >= ctx.deliveryAttempts) {
      const updated = await ctx.store.updateMessage(message.id, {
        status: "undelivered",
        attempts: attempt,
        last_error: text,
        updated_at: at,
      });
      if (updated) emitMessage(ctx, "message.undelivered", updated, text);
      return [entry("message_undelivered", "error", { error: text, attempts: attempt })];
    }
    await ctx.store.updateMessage(message.id, {
      attempts: attempt,
      last_error: text,
      updated_at: at,
    });
    // Due from the time recorded on the message, as `ensureRetry` computes it again.
    const retryAt = retryTime(ctx, Date.parse(at), attempt);
    await ctx.queue.add(deliverJob(message.id, attempt + 1, retryAt));
    return [entry("delivery_failed", "error", { error: text, retry_at: retryAt.toISOString() })];
  }
  // Knock's statuses: in-app messages are delivered once stored; push and chat never go above
  // sent, whatever the provider says; email, sms and webhooks are delivered when the provider
  // (or a 2xx answer) says so.
  const status: MessageDeliveryStatus =
    channel.type === "in_app_feed"
      ? "delivered"
      : channel.type === "push" || channel.type === "chat"
        ? "sent"
        : result && result.status === "delivered"
          ? "delivered"
          : "sent";
  const updated = await ctx.store.updateMessage(message.id, {
    status,
    attempts: attempt,
    last_error: null,
    provider_message_id: result?.provider_message_id ?? null,
    updated_at: at,
  });
  if (updated) {
    emitMessage(ctx, status === "delivered" ? "message.delivered" : "message.sent", updated);
    if (status === "delivered" && ctx.emitter.has("feed.changed"))
      await feedChanged(ctx, [updated], "message.delivered");
  }
  return [entry(status === "delivered" ? "message_delivered" : "message_sent", "ok", {})];
}

/** Hands a message to its channel: the provider, the built-in webhook, or the built-in feed. */
async function send(
  ctx: EngineContext,
  channel: ChannelConfig,
  outbound: OutboundMessage,
): Promise<DeliveryResult | void> {
  if (channel.provider) return channel.provider.send(outbound);
  if (channel.type === "in_app_feed") return { status: "delivered" };
  if (channel.type === "http") return sendWebhook(ctx, outbound);
  throw new Error(
    `channel "${channel.key}" (${channel.type}) has no provider: give it one in the engine's \`channels\` option`,
  );
}

async function sendWebhook(ctx: EngineContext, outbound: OutboundMessage): Promise<DeliveryResult> {
  const fetchFn = ctx.fetch ?? globalThis.fetch;
  const content = outbound.content;
  if (typeof content.url !== "string" || content.url.length === 0)
    throw new Error("webhook template has no url");
  const url = new URL(content.url);
  for (const pair of asPairs(content.query_params)) url.searchParams.append(pair.key, pair.value);
  const headers = new Headers();
  for (const pair of asPairs(content.headers)) headers.append(pair.key, pair.value);
  const method = typeof content.method === "string" ? content.method.toUpperCase() : "POST";
  let body: string | undefined;
  if (method !== "GET" && method !== "HEAD") {
    if (typeof content.body === "string" && content.body.length > 0) body = content.body;
    else
      body = JSON.stringify({
        id: outbound.id,
        workflow: outbound.workflow,
        step_ref: outbound.step_ref,
        recipient: outbound.recipient,
        actor: outbound.actor,
        tenant: outbound.tenant,
        data: outbound.data,
      });
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const response = await fetchFn(
    url,
    body === undefined ? { method, headers } : { method, headers, body },
  );
  if (!response.ok) throw new Error(`webhook answered ${response.status} ${response.statusText}`);
  return { status: "delivered" };
}

function asPairs(value: unknown): Array<{ key: string; value: string }> {
  if (!Array.isArray(value)) return [];
  return value
    .filter(
      (pair): pair is { key: string; value: string } =>
        isPlainObject(pair) && typeof pair.key === "string" && pair.value !== undefined,
    )
    .map((pair) => ({ key: pair.key, value: String(pair.value) }));
}

/**
 * A duplicate or retried `deliver` job of an attempt already made: the next attempt is enqueued
 * again (a no-op when it is there), and the failed attempt's log entry is appended unless the
 * run's log has it.
 */
async function ensureLoggedRetry(ctx: EngineContext, message: Message): Promise<void> {
  const runId = message.source.workflow_recipient_run_id;
  const entry = await ensureRetry(ctx, message);
  if (entry && !(await isLogged(ctx, runId, entry)))
    await ctx.store.appendRunEvents(runId, [entry]);
}

/** Whether run `runId`'s log already has `entry` (a delivery attempt's outcome for a message). */
async function isLogged(ctx: EngineContext, runId: string, entry: RunEvent): Promise<boolean> {
  const messageId = entry.data.message_id;
  return (await ctx.store.getRunEvents(runId)).some(
    (event) =>
      event.event === entry.event &&
      event.attempt === entry.attempt &&
      event.data.message_id === messageId,
  );
}

/**
 * @internal Handles a `deliver` job: a delivery attempt made outside the run's own job (a retry,
 * or the first attempt of a message that waited for its send window).
 */
export async function processDeliver(ctx: EngineContext, data: JobData): Promise<void> {
  const id = String(data.message_id);
  const attempt = Number(data.attempt);
  const message = await ctx.store.getMessage(id);
  // Delivered, given up on, or a later attempt already made: nothing to do.
  if (message?.status !== "queued" || message.attempts > attempt) return;
  if (message.attempts === attempt) {
    // This attempt was made, and failed, by a job that may have died before enqueueing the
    // next attempt or logging this one: both are done now, unless already done.
    await ensureLoggedRetry(ctx, message);
    return;
  }
  const run = await ctx.store.getRecipientRun(message.source.workflow_recipient_run_id);
  const workflowRun = run ? await readWorkflowRun(ctx, run.workflow_run_id) : null;
  const channel = resolveChannel(ctx, message.channel_id, message.channel_type as ChannelType);
  if (!run || !workflowRun || !channel) {
    const at = isoString(ctx.clock.now());
    const updated = await ctx.store.updateMessage(id, {
      status: "undelivered",
      last_error: "channel or run no longer exists",
      updated_at: at,
    });
    if (updated)
      emitMessage(ctx, "message.undelivered", updated, "channel or run no longer exists");
    // The run's log says why its message was given up on (when the run is still there).
    if (run) {
      const error = channel
        ? "its workflow run no longer exists"
        : `channel "${message.channel_id}" is no longer configured`;
      await ctx.store.appendRunEvents(run.id, [
        {
          event: "message_undelivered",
          status: "error",
          step_ref: message.source.step_ref,
          step_type: "channel",
          attempt,
          data: { message_id: id, error, attempts: message.attempts },
          inserted_at: at,
        },
      ]);
    }
    return;
  }
  // The message's recipient, which is the run's unless users.merge moved the message since.
  const { recipient, actor, tenant } = await loadParticipants(ctx.store, {
    recipient: message.recipient,
    actor: run.actor,
    tenant: run.tenant,
  });
  const outbound = buildOutbound(
    message,
    channel,
    recipient ? toScopeRecipient(recipient) : { id: refToKey(message.recipient).id },
    actor ? toScopeRecipient(actor) : null,
    tenant ? toScopeRecipient(tenant) : null,
    recipient?.channel_data[channel.key] ?? null,
    run.data ?? workflowRun.data,
    attempt,
  );
  const entries = await attemptDelivery(ctx, channel, message, outbound, attempt);
  if (!entries.some(isUndelivered)) {
    await ctx.store.appendRunEvents(run.id, entries);
    return;
  }
  // Given up on: count the error on the run with its log entries, in one compare-and-set
  // (re-read when the run's own job moved it meanwhile).
  let current: WorkflowRecipientRun | null = run;
  for (let tries = 0; current && tries < 5; tries++) {
    const written = await ctx.store.updateRecipientRun(
      current.id,
      current.version,
      { error_count: current.error_count + 1, updated_at: ctx.clock.now().toISOString() },
      entries,
    );
    if (written) return;
    current = await ctx.store.getRecipientRun(run.id);
  }
  await ctx.store.appendRunEvents(run.id, entries);
}
