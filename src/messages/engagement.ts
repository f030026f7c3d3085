/**
 * @internal Message engagement: `messages.markAsSeen` and its six siblings, one message at a time
 * or in batches. Each call validates everything first (a bad id or a missing message changes
 * nothing), writes through the store's atomic `updateEngagement`, then emits, for every message it
 * changed, its `message.*` event and one `feed.changed` per feed it touched.
 */

import { describe } from "../_internal/describe.js";
import { cloneJson, isPlainObject } from "../_internal/merge.js";
import { type EngineContext, nowIso } from "../engine/context.js";
import type { MessageEventName } from "../engine/events.js";
import type { RequestOptions } from "../engine/request-options.js";
import { InvalidParamsError, NotFoundError, type ValidationIssue } from "../errors.js";
import type { EngagementUpdate } from "../store/types.js";
import { emitMessage } from "./emit.js";
import { feedChanged } from "./feed.js";
import type { Message } from "./types.js";

/** The engagement calls, each with the store update it makes and the event it emits. */
const ACTIONS = {
  markAsSeen: { status: "seen", set: true, event: "message.seen" },
  markAsUnseen: { status: "seen", set: false, event: "message.unseen" },
  markAsRead: { status: "read", set: true, event: "message.read" },
  markAsUnread: { status: "read", set: false, event: "message.unread" },
  markAsInteracted: { status: "interacted", set: true, event: "message.interacted" },
  archive: { status: "archived", set: true, event: "message.archived" },
  unarchive: { status: "archived", set: false, event: "message.unarchived" },
} as const satisfies Record<
  string,
  { status: EngagementUpdate["status"]; set: boolean; event: MessageEventName }
>;

type Action = keyof typeof ACTIONS;

/** The most messages one batch call changes. */
const MAX_BATCH = 1000;

/** Options of `messages.markAsInteracted` (and its batch form). */
export interface InteractedOptions {
  /** What the interaction was (a button, a link…): stored as the message's `metadata`. */
  metadata?: Record<string, unknown> | null;
}

/**
 * What the `messages.batch.*` calls take: the message ids, or Knock's body `{ message_ids }`
 * (with `metadata` for `markAsInteracted`).
 */
export type BatchMessageIds =
  | readonly string[]
  | { message_ids: readonly string[]; metadata?: Record<string, unknown> | null };

function checkMetadata(value: unknown, field: string, issues: ValidationIssue[]): void {
  if (value === undefined || value === null || isPlainObject(value)) return;
  issues.push({
    field,
    type: "type",
    message: `expected a JSON object of interaction details (or null), received ${describe(value)}`,
  });
}

function checkIds(value: unknown, field: string, issues: ValidationIssue[]): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_BATCH) {
    issues.push({
      field,
      type: "length",
      message: `expected an array of 1 to ${MAX_BATCH} message ids, received ${describe(value)}`,
    });
    return [];
  }
  value.forEach((id, i) => {
    if (typeof id !== "string" || id.length === 0)
      issues.push({
        field: `${field}[${i}]`,
        type: "type",
        message: `expected a message id string, received ${describe(id)}`,
      });
  });
  return value as string[];
}

/** Reads the messages of `ids` (deduplicated), throwing NotFoundError for any missing, before anything changes. */
async function requireMessages(ctx: EngineContext, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids)];
  // One list call (the store finds messages by id through an index) rather than one read per id.
  const page = await ctx.store.listMessages({ message_ids: unique }, { limit: unique.length });
  const found = new Set(page.items.map((message) => message.id));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length === 0) return;
  const [first, ...others] = missing;
  const shown = others.slice(0, 5).map((id) => `"${id}"`);
  const more = others.length > 5 ? ` and ${others.length - 5} more` : "";
  throw new NotFoundError(
    "message",
    first as string,
    `${others.length > 0 ? `Nor do ${others.length} other ids given: ${shown.join(", ")}${more}. ` : ""}` +
      "Nothing was changed. Use the `id` of a message from messages.list, users.listMessages or users.feeds.listItems.",
  );
}

async function apply(
  ctx: EngineContext,
  action: Action,
  ids: readonly string[],
  metadata: Record<string, unknown> | null | undefined,
): Promise<Message[]> {
  await requireMessages(ctx, ids);
  const { status, set, event } = ACTIONS[action];
  const update: EngagementUpdate = { status, set };
  if (metadata !== undefined) update.metadata = metadata;
  const results = await ctx.store.updateEngagement(ids, update, nowIso(ctx));
  const changed: Message[] = [];
  const messages = results.map((result, i) => {
    if (!result) throw new NotFoundError("message", ids[i] as string);
    if (result.changed) changed.push(result.message);
    return result.message;
  });
  for (const message of changed) emitMessage(ctx, event, message);
  await feedChanged(ctx, changed, event);
  return messages.map((message) => cloneJson(message));
}

function one(ctx: EngineContext, action: Action) {
  return async (id: string, _options?: RequestOptions): Promise<Message> => {
    if (typeof id !== "string" || id.length === 0) {
      throw new InvalidParamsError(`Invalid ${action} call:`, [
        {
          field: "id",
          type: "type",
          message: `expected a message id string, received ${describe(id)}`,
        },
      ]);
    }
    const [message] = await apply(ctx, action, [id], undefined);
    return message as Message;
  };
}

function many(ctx: EngineContext, action: Action) {
  return (
    body: BatchMessageIds,
    given?: (InteractedOptions & RequestOptions) | null,
  ): Promise<Message[]> => {
    const options = given ?? undefined;
    const issues: ValidationIssue[] = [];
    let ids: string[] = [];
    let metadata: Record<string, unknown> | null | undefined;
    if (Array.isArray(body)) {
      ids = checkIds(body, "ids", issues);
    } else if (isPlainObject(body)) {
      ids = checkIds(body.message_ids, "message_ids", issues);
      metadata = body.metadata as Record<string, unknown> | null | undefined;
      checkMetadata(metadata, "metadata", issues);
    } else {
      issues.push({
        field: "ids",
        type: "type",
        message: `expected an array of message ids or { message_ids }, received ${describe(body)}`,
      });
    }
    if (options !== undefined && !isPlainObject(options)) {
      issues.push({
        field: "options",
        type: "type",
        message: `expected { metadata? }, received ${describe(options)}`,
      });
    } else if (options?.metadata !== undefined) {
      checkMetadata(options.metadata, "options.metadata", issues);
      metadata = (options as InteractedOptions).metadata;
    }
    if (metadata !== undefined && action !== "markAsInteracted")
      issues.push({
        field: "metadata",
        type: "unknown",
        message: `is only taken by markAsInteracted, not ${action}`,
      });
    if (issues.length > 0)
      return Promise.reject(new InvalidParamsError(`Invalid batch.${action} call:`, issues));
    return apply(ctx, action, ids, metadata);
  };
}

/** @internal The engagement methods of `engine.messages`. */
export function engagementApi(ctx: EngineContext) {
  return {
    /** Marks a message seen (sets `seen_at`, adds `seen`); emits `message.seen` when it changed. */
    markAsSeen: one(ctx, "markAsSeen"),
    /** Marks a message unseen (clears `seen_at`); emits `message.unseen` when it changed. */
    markAsUnseen: one(ctx, "markAsUnseen"),
    /** Marks a message read (sets `read_at`, adds `read`); emits `message.read` when it changed. */
    markAsRead: one(ctx, "markAsRead"),
    /** Marks a message unread (clears `read_at`); emits `message.unread` when it changed. */
    markAsUnread: one(ctx, "markAsUnread"),
    /** Archives a message (sets `archived_at`): feeds leave it out by default; emits `message.archived`. */
    archive: one(ctx, "archive"),
    /** Unarchives a message (clears `archived_at`); emits `message.unarchived` when it changed. */
    unarchive: one(ctx, "unarchive"),
    /**
     * Records an interaction (sets `interacted_at` the first time, adds `interacted`); `metadata`,
     * when given, replaces the message's `metadata`. Emits `message.interacted`.
     */
    markAsInteracted(
      id: string,
      body?: InteractedOptions | null,
      _options?: RequestOptions,
    ): Promise<Message> {
      const options = body ?? undefined;
      const issues: ValidationIssue[] = [];
      if (typeof id !== "string" || id.length === 0)
        issues.push({
          field: "id",
          type: "type",
          message: `expected a message id string, received ${describe(id)}`,
        });
      if (options !== undefined && !isPlainObject(options))
        issues.push({
          field: "options",
          type: "type",
          message: `expected { metadata? }, received ${describe(options)}`,
        });
      else checkMetadata(options?.metadata, "options.metadata", issues);
      if (issues.length > 0)
        return Promise.reject(new InvalidParamsError("Invalid markAsInteracted call:", issues));
      return apply(
        ctx,
        "markAsInteracted",
        [id],
        (options as InteractedOptions | undefined)?.metadata,
      ).then((messages) => messages[0] as Message);
    },
    /** The same seven calls for up to 1,000 messages at once; each returns the messages in the order given. */
    batch: {
      /** Marks messages seen (ids, or Knock's `{ message_ids }`). */
      markAsSeen: many(ctx, "markAsSeen"),
      /** Marks messages unseen. */
      markAsUnseen: many(ctx, "markAsUnseen"),
      /** Marks messages read. */
      markAsRead: many(ctx, "markAsRead"),
      /** Marks messages unread. */
      markAsUnread: many(ctx, "markAsUnread"),
      /** Records an interaction with each message; `metadata` (in the body or the options) replaces theirs. */
      markAsInteracted: many(ctx, "markAsInteracted"),
      /** Archives messages. */
      archive: many(ctx, "archive"),
      /** Unarchives messages. */
      unarchive: many(ctx, "unarchive"),
    },
  };
}
