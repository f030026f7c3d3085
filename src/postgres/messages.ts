/**
 * @internal Messages in PostgreSQL: one JSONB document each, with generated columns (and indexes)
 * for what lists filter on. `createMessage` inserts only when the id is absent, which is what
 * makes a redelivered job's message a no-op.
 */
import type { Message } from "../messages/types.js";
import type { MessageFilter, Store, TimeRange } from "../store/types.js";
import type { Db } from "./db.js";
import { listPage } from "./paging.js";
import { filterTime, Where } from "./runs.js";

type MessageMethods = Pick<
  Store,
  "createMessage" | "getMessage" | "updateMessage" | "listMessages"
>;

const ABSENT_ENGAGEMENT: Record<string, string> = {
  unseen: "seen",
  unread: "read",
  unarchived: "archived",
};

function timeRange(w: Where, range: TimeRange, field: string): void {
  const ops: Array<[keyof TimeRange, string]> = [
    ["gt", ">"],
    ["gte", ">="],
    ["lt", "<"],
    ["lte", "<="],
  ];
  for (const [key, op] of ops) {
    const value = range[key];
    if (value !== undefined)
      w.add(`inserted_ms ${op} ${w.p(filterTime(value, `${field}.${key}`))}::bigint`);
  }
}

/** @internal The SQL of a message filter (shared with feed queries). */
export function messageWhere(filter: MessageFilter): Where {
  const w = new Where();
  if (filter.recipient !== undefined) {
    w.add(`recipient_collection = ${w.p(filter.recipient.collection)}`);
    w.add(`recipient_id = ${w.p(filter.recipient.id)}`);
  }
  if (filter.status !== undefined) w.add(`status = ANY(${w.p(filter.status)}::text[])`);
  if (filter.engagement_status !== undefined) {
    const any = filter.engagement_status.map((status) => {
      const absent = ABSENT_ENGAGEMENT[status];
      return absent === undefined
        ? `(doc -> 'engagement_statuses') ? ${w.p(status)}`
        : `NOT ((doc -> 'engagement_statuses') ? ${w.p(absent)})`;
    });
    w.add(any.length === 0 ? "FALSE" : `(${any.join(" OR ")})`);
  }
  if (filter.channel_id !== undefined) w.add(`channel_id = ${w.p(filter.channel_id)}`);
  if (filter.tenant !== undefined) w.add(`tenant = ${w.p(filter.tenant)}`);
  if (filter.has_tenant !== undefined)
    w.add(filter.has_tenant ? "tenant IS NOT NULL" : "tenant IS NULL");
  if (filter.workflow !== undefined) w.add(`workflow = ${w.p(filter.workflow)}`);
  if (filter.workflow_categories !== undefined)
    w.add(`(doc -> 'source' -> 'categories') ?| ${w.p(filter.workflow_categories)}::text[]`);
  if (filter.workflow_run_id !== undefined)
    w.add(`workflow_run_id = ${w.p(filter.workflow_run_id)}`);
  if (filter.workflow_recipient_run_id !== undefined)
    w.add(`workflow_recipient_run_id = ${w.p(filter.workflow_recipient_run_id)}`);
  if (filter.message_ids !== undefined) w.add(`id = ANY(${w.p(filter.message_ids)}::text[])`);
  if (filter.inserted_at !== undefined) timeRange(w, filter.inserted_at, "inserted_at");
  // The feed's filters (read through a wider type: the contract adds them with the feed).
  const engagement = filter as { with_engagement?: string[]; without_engagement?: string[] };
  if (engagement.with_engagement !== undefined)
    w.add(`(doc -> 'engagement_statuses') ?& ${w.p(engagement.with_engagement)}::text[]`);
  if (engagement.without_engagement !== undefined)
    w.add(`NOT ((doc -> 'engagement_statuses') ?| ${w.p(engagement.without_engagement)}::text[])`);
  return w;
}

/** @internal The message methods of the PostgreSQL store. */
export function messageMethods(db: Db): MessageMethods {
  const M = `${db.s}.messages`;
  return {
    async createMessage(message) {
      const inserted = await db.query<{ doc: Message }>(
        `INSERT INTO ${M} (id, doc) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING RETURNING doc`,
        [message.id, JSON.stringify(message)],
      );
      if (inserted[0]) return { message: inserted[0].doc, created: true };
      // The insert waited for the row that won; a new statement sees it committed.
      const existing = await db.query<{ doc: Message }>(`SELECT doc FROM ${M} WHERE id = $1`, [
        message.id,
      ]);
      return { message: existing[0]!.doc, created: false };
    },

    async getMessage(id) {
      const rows = await db.query<{ doc: Message }>(`SELECT doc FROM ${M} WHERE id = $1`, [id]);
      return rows[0]?.doc ?? null;
    },

    async updateMessage(id, patch) {
      const changes: Record<string, unknown> = {};
      for (const key of Object.keys(patch)) {
        if (key === "id" || key === "__typename") continue;
        const value = (patch as Record<string, unknown>)[key];
        if (value !== undefined) changes[key] = value;
      }
      const rows = await db.query<{ doc: Message }>(
        `UPDATE ${M} SET doc = doc || $2::jsonb WHERE id = $1 RETURNING doc`,
        [id, JSON.stringify(changes)],
      );
      return rows[0]?.doc ?? null;
    },

    async listMessages(filter, page) {
      const w = messageWhere(filter);
      const result = await listPage<{ seq: string; doc: Message }>(
        db,
        { from: M, select: "seq, doc", where: w.sql, params: w.params, order: "desc" },
        page,
      );
      return { ...result, items: result.items.map((row) => row.doc) };
    },
  };
}
