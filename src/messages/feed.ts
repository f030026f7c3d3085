/**
 * @internal The in-app feed: a view of a user's delivered messages on one `in_app_feed` channel,
 * with badge counts, and the `feed.changed` event that tells a server when to push new counts.
 *
 * A feed holds the messages whose recipient is the user, whose `channel_id` is the channel's key
 * and whose delivery status is `delivered` (in-app messages go straight there; one still queued
 * or given up on is not in the feed).
 */
import { cloneJson, isPlainObject } from "../_internal/merge.js";
import { type PageInfo, type PageParams, pageInfo } from "../_internal/paging.js";
import { ParamChecker } from "../_internal/params.js";
import type { EngineContext } from "../engine/context.js";
import type { FeedChangedEvent, FeedMeta } from "../engine/events.js";
import { checkId, refToKey } from "../recipients/identify.js";
import type { RecipientReference } from "../recipients/types.js";
import {
  type MessageCounts,
  type MessageFilter,
  type RecipientKey,
  USERS_COLLECTION,
} from "../store/types.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import { type Activity, activitiesOf, type MessageActivities } from "./activities.js";
import type { Message, MessageEngagementStatus } from "./types.js";

/** Parameters of `users.feeds.listItems`: Knock's, with cursor paging (1–50 items, default 50). */
export interface FeedListParams extends PageParams {
  /** Which items by read/seen state. @default "all" */
  status?: "unread" | "read" | "unseen" | "seen" | "all";
  /** Archived items: left out, shown with the others, or shown alone. @default "exclude" */
  archived?: "exclude" | "include" | "only";
  /** Only this tenant's items; the counts in `meta` are this tenant's too. */
  tenant?: string;
  /** true: only items with a tenant; false: only items without one. */
  has_tenant?: boolean;
  /** Only items of this workflow (by key). */
  source?: string;
  /** Only items of workflows in any of these categories. */
  workflow_categories?: string[];
  /** Only items inserted in this range (ISO-8601 bounds); `total_count` counts within it too. */
  inserted_at?: { gt?: string; gte?: string; lt?: string; lte?: string };
  /**
   * Comma-separated item fields to leave out of `entries` (e.g. `"data,blocks"`): any of
   * `blocks`, `content`, `data`, `metadata`, `source`, `actors`, `activities` (which also leaves
   * out `total_activities` and `total_actors`: none of them is read, where a batched message's
   * take a read of its batch).
   */
  exclude?: string;
  /** Knock's `trigger_data` filter. Not supported by crier: rejected with an `InvalidParamsError`. */
  trigger_data?: string;
  /** Knock's `mode` (`compact` | `rich`). Not supported by crier: rejected with an `InvalidParamsError`. */
  mode?: "compact" | "rich";
  /** Knock's `locale` (custom translations). Not supported by crier: rejected with an `InvalidParamsError`. */
  locale?: string;
}

/** The item fields `exclude` may name. */
const EXCLUDABLE = [
  "blocks",
  "content",
  "data",
  "metadata",
  "source",
  "actors",
  "activities",
] as const;

/** One block of a feed item's content, as Knock's feed gives it. */
export type FeedBlock =
  | {
      type: "markdown" | "text";
      /** The template field: `body` for `markdown_body`, else the field's own name (`action_url`…). */
      name: string;
      /** The rendered template field (Liquid applied). */
      content: string;
      /**
       * The content as HTML that is safe to insert: escaped, with blank lines as paragraphs and line
       * breaks as `<br>`. crier renders no Markdown; run `content` through a Markdown library for that.
       */
      rendered: string;
    }
  | {
      type: "button_set";
      name: string;
      buttons: Array<{ name: string; label: string; action: string }>;
    };

/** An item of a user's in-app feed: one delivered message. */
export interface FeedItem {
  __typename: "FeedItem";
  /** The message's id (pass it to `messages.markAsRead` and the other engagement calls). */
  id: string;
  channel_id: string;
  /** The user whose feed it is. */
  recipient: RecipientReference;
  /**
   * References of the actors: the trigger's actor, or for a batched message the batch's actors
   * (at most ten, most recent first).
   */
  actors: RecipientReference[];
  /**
   * The triggers that went into the message: its run's trigger, or for a batched message the
   * batch's activities as the message was rendered with them (in the batch step's
   * `batch_order`, at most its `batch_items_render_limit`). All of them:
   * `messages.listActivities(id)`.
   */
  activities: Activity[];
  /** How many activities went into the message (1, or the batch's count). */
  total_activities: number;
  /** How many distinct actors those activities had. */
  total_actors: number;
  /** The content as blocks (see {@link FeedBlock}). */
  blocks: FeedBlock[];
  /** The rendered template, field by field (`markdown_body`, `action_url`, …). */
  content: Record<string, unknown>;
  /** The trigger data the message was rendered with. */
  data: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  source: Message["source"];
  tenant: string | null;
  engagement_statuses: MessageEngagementStatus[];
  seen_at: string | null;
  read_at: string | null;
  interacted_at: string | null;
  link_clicked_at: string | null;
  archived_at: string | null;
  inserted_at: string;
  updated_at: string;
}

/** What `users.feeds.listItems` returns. */
export interface FeedPage {
  /** Newest first. */
  entries: FeedItem[];
  /**
   * `total_count`: the items matching every parameter (across all pages). `unread_count` and
   * `unseen_count`: the badge counts of the feed as scoped by `tenant`, `has_tenant`, `source` and
   * `workflow_categories`, over unarchived items, whatever `status` and `archived` say.
   */
  meta: FeedMeta;
  page_info: PageInfo;
  /** The engine's `vars`, as Knock's feed returns its environment variables. */
  vars: Record<string, unknown>;
}

const KNOWN = [
  "page_size",
  "after",
  "before",
  "status",
  "archived",
  "tenant",
  "has_tenant",
  "source",
  "workflow_categories",
  "inserted_at",
  "exclude",
];

const UNSUPPORTED: Record<string, string> = {
  trigger_data:
    "is not supported by crier (it does not index message data); filter the entries on `data` yourself",
  mode: "is not supported by crier: items always carry their data and content",
  locale: "is not supported by crier: items are rendered once, when the message is created",
};

/** The store filter of a user's feed: its delivered messages on one channel. */
function feedScope(user: RecipientKey, channelId: string): MessageFilter {
  return { recipient: user, channel_id: channelId, status: ["delivered"] };
}

function meta(counts: MessageCounts): FeedMeta {
  return {
    __typename: "FeedMetadata",
    total_count: counts.total,
    unread_count: counts.unread,
    unseen_count: counts.unseen,
  };
}

/** @internal `users.feeds.listItems`. */
export async function listFeedItems(
  ctx: EngineContext,
  registry: WorkflowRegistry,
  userId: unknown,
  channelId: unknown,
  params: unknown,
): Promise<FeedPage> {
  const p = new ParamChecker(params);
  checkId(userId, "userId", p.issues, "a user id");
  checkId(channelId, "channelId", p.issues, "the key of an in_app_feed channel");
  if (typeof channelId === "string") {
    const channel = ctx.channels.get(channelId);
    if (channel && channel.type !== "in_app_feed") {
      p.issues.push({
        field: "channelId",
        type: "channel_type",
        message: `expected the key of an in_app_feed channel, but "${channelId}" is a ${channel.type} channel; a feed lists in-app messages`,
      });
    }
  }
  p.known(KNOWN, UNSUPPORTED);
  const request = p.page();
  const status = p.oneOf("status", ["unread", "read", "unseen", "seen", "all"] as const) ?? "all";
  const archived = p.oneOf("archived", ["exclude", "include", "only"] as const) ?? "exclude";
  const scope = feedScope(
    { collection: USERS_COLLECTION, id: userId as string },
    channelId as string,
  );
  const tenant = p.string("tenant", "a tenant id");
  if (tenant) scope.tenant = tenant;
  const hasTenant = p.boolean("has_tenant");
  if (hasTenant !== undefined) scope.has_tenant = hasTenant;
  const source = p.string("source", "a workflow key");
  if (source) scope.workflow = source;
  const categories = p.strings("workflow_categories", 100);
  if (categories) scope.workflow_categories = categories;
  const inserted = p.range("inserted_at");
  const excludeText = p.string("exclude", "a comma-separated list of item fields");
  const excluded = new Set<string>();
  for (const name of excludeText?.split(",").map((part) => part.trim()) ?? []) {
    if ((EXCLUDABLE as readonly string[]).includes(name)) excluded.add(name);
    else
      p.issues.push({
        field: "exclude",
        type: "enum",
        message: `expected item fields among ${EXCLUDABLE.join(", ")}, received "${name}"`,
      });
  }
  p.done("feed parameters");

  const listed: MessageFilter = { ...scope };
  if (inserted) listed.inserted_at = inserted;
  const withStatus: MessageEngagementStatus[] = [];
  const withoutStatus: MessageEngagementStatus[] = [];
  if (status === "read" || status === "seen") withStatus.push(status);
  if (status === "unread") withoutStatus.push("read");
  if (status === "unseen") withoutStatus.push("seen");
  if (archived === "only") withStatus.push("archived");
  if (archived === "exclude") withoutStatus.push("archived");
  if (withStatus.length > 0) listed.with_engagement = withStatus;
  if (withoutStatus.length > 0) listed.without_engagement = withoutStatus;
  const badge: MessageFilter = { ...scope, without_engagement: ["archived"] };
  const sameAsBadge = status === "all" && archived === "exclude" && !inserted;

  const [page, badgeCounts, listedCounts] = await Promise.all([
    ctx.store.listMessages(listed, request),
    ctx.store.countMessages(badge),
    sameAsBadge ? null : ctx.store.countMessages(listed),
  ]);
  const activities = excluded.has("activities")
    ? null
    : await activitiesOf(ctx, registry, page.items);
  return {
    entries: page.items.map((message, i) => {
      const item = toFeedItem(message, activities?.[i] ?? null);
      for (const name of excluded) delete (item as unknown as Record<string, unknown>)[name];
      if (!activities) {
        // Not read: the totals are left out with the activities rather than shown wrong.
        delete (item as Partial<FeedItem>).total_activities;
        delete (item as Partial<FeedItem>).total_actors;
      }
      return item;
    }),
    meta: {
      ...meta(badgeCounts),
      total_count: (listedCounts ?? badgeCounts).total,
    },
    page_info: pageInfo(page, request),
    vars: cloneJson(ctx.vars),
  };
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Escaped text, blank lines as paragraphs, line breaks as `<br>`. */
function renderText(text: string): string {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => `<p>${escapeHtml(part).replace(/\r?\n/g, "<br>")}</p>`)
    .join("");
}

function toBlocks(content: Record<string, unknown>): FeedBlock[] {
  const blocks: FeedBlock[] = [];
  const body = content.markdown_body;
  if (typeof body === "string")
    blocks.push({ type: "markdown", name: "body", content: body, rendered: renderText(body) });
  for (const [name, value] of Object.entries(content)) {
    if (name === "markdown_body") continue;
    if (typeof value === "string") {
      blocks.push({ type: "text", name, content: value, rendered: escapeHtml(value) });
    } else if (name === "action_buttons" && Array.isArray(value)) {
      const buttons = value.filter(isPlainObject).map((button, i) => ({
        name: typeof button.name === "string" ? button.name : `button_${i + 1}`,
        label: String(button.label ?? ""),
        action: String(button.action ?? button.url ?? ""),
      }));
      blocks.push({ type: "button_set", name: "actions", buttons });
    }
  }
  return blocks;
}

/**
 * @internal A stored message as a feed item (a copy: the store's objects may be frozen), with its
 * activities (null when they were not read: the item leaves them out).
 */
function toFeedItem(message: Message, activities: MessageActivities | null): FeedItem {
  const copy = cloneJson(message);
  return {
    __typename: "FeedItem",
    id: copy.id,
    channel_id: copy.channel_id,
    recipient: copy.recipient,
    actors: copy.actors,
    activities: activities ? cloneJson(activities.shown) : [],
    total_activities: activities?.total_activities ?? 0,
    total_actors: activities?.total_actors ?? 0,
    blocks: toBlocks(copy.content),
    content: copy.content,
    data: copy.data,
    metadata: copy.metadata,
    source: copy.source,
    tenant: copy.tenant,
    engagement_statuses: copy.engagement_statuses,
    seen_at: copy.seen_at,
    read_at: copy.read_at,
    interacted_at: copy.interacted_at,
    link_clicked_at: copy.link_clicked_at,
    archived_at: copy.archived_at,
    inserted_at: copy.inserted_at,
    updated_at: copy.updated_at,
  };
}

/** @internal What {@link feedChanged} reads of each changed message. */
export type FeedMessage = Pick<
  Message,
  "id" | "recipient" | "channel_id" | "channel_type" | "status" | "tenant"
>;

/** True when the message is in a user's feed (an in-app message delivered to a user). */
export function inFeed(message: FeedMessage): boolean {
  return (
    message.channel_type === "in_app_feed" &&
    message.status === "delivered" &&
    refToKey(message.recipient).collection === USERS_COLLECTION
  );
}

/**
 * @internal Emits one `feed.changed` per feed among `messages` (already written), with the counts
 * after the write. Does nothing (no count is read) when nobody listens. A failing count is reported
 * as an `error` event: it never fails the write that caused it.
 */
export async function feedChanged(
  ctx: EngineContext,
  messages: readonly FeedMessage[],
  cause: FeedChangedEvent["cause"],
): Promise<void> {
  if (!ctx.emitter.has("feed.changed")) return;
  const feeds = new Map<
    string,
    { user: RecipientKey; channel: string; ids: string[]; tenants: Set<string> }
  >();
  for (const message of messages) {
    if (!inFeed(message)) continue;
    const user = refToKey(message.recipient);
    const key = JSON.stringify([user.id, message.channel_id]);
    let feed = feeds.get(key);
    if (!feed) {
      feed = { user, channel: message.channel_id, ids: [], tenants: new Set() };
      feeds.set(key, feed);
    }
    feed.ids.push(message.id);
    if (message.tenant !== null) feed.tenants.add(message.tenant);
  }
  for (const feed of feeds.values()) {
    try {
      const scope: MessageFilter = {
        ...feedScope(feed.user, feed.channel),
        without_engagement: ["archived"],
      };
      const tenants = [...feed.tenants];
      const [all, byTenant] = await Promise.all([
        ctx.store.countMessages(scope),
        Promise.all(tenants.map((tenant) => ctx.store.countMessages({ ...scope, tenant }))),
      ]);
      const event: FeedChangedEvent = {
        user_id: feed.user.id,
        channel_id: feed.channel,
        cause,
        message_ids: feed.ids,
        meta: meta(all),
        tenant_meta: Object.fromEntries(
          byTenant.map((counts, i) => [tenants[i] as string, meta(counts)]),
        ),
      };
      ctx.emitter.emit("feed.changed", event);
    } catch (error) {
      ctx.emitter.emit("error", { error, source: "feed.changed" });
    }
  }
}
