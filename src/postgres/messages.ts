/**
 * @internal Messages in PostgreSQL: one JSONB document each, with generated columns (and indexes)
 * for what lists filter on. `createMessage` inserts only when the id is absent, which is what
 * makes a redelivered job's message a no-op.
 *
 * Concurrent `createMessage`, `getMessage` and `updateMessage` calls are grouped ({@link Group}):
 * each kind goes as one multi-row statement, with each call's own result; two calls for one
 * message id never share a write statement.
 */
import type { Message } from "../messages/types.js";
import type { MessageFilter, Store, TimeRange } from "../store/types.js";
import type { Db } from "./db.js";
import { Group } from "./group.js";
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
  /**
   * Inserts-if-absent: one `INSERT … ON CONFLICT DO NOTHING` for every call, which also reads the
   * rows that were there before it began. Gives the created message, or the one that was there, or
   * `undefined` for a row that another transaction inserted while the statement ran (it is not in
   * the statement's snapshot: the insert waited for it, so a later read finds it committed).
   */
  const creates = new Group<
    { id: string; doc: string },
    { message: Message; created: boolean } | undefined
  >({
    key: (call) => call.id,
    async run(calls) {
      const rows = await db.query<{ created: Message | null; existing: Message | null }>(
        `WITH given AS (
           SELECT id, doc, ord FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS g(id, doc, ord)
         ), created AS (
           INSERT INTO ${M} (id, doc)
           SELECT id, doc FROM given ORDER BY ord
           ON CONFLICT (id) DO NOTHING
           RETURNING id, doc
         )
         SELECT c.doc AS created,
                CASE WHEN c.id IS NULL THEN (SELECT m.doc FROM ${M} m WHERE m.id = g.id) END AS existing
         FROM given g LEFT JOIN created c ON c.id = g.id
         ORDER BY g.ord`,
        [calls.map((call) => call.id), calls.map((call) => call.doc)],
      );
      return rows.map((row) => {
        if (row.created) return { message: row.created, created: true };
        return row.existing ? { message: row.existing, created: false } : undefined;
      });
    },
  });
  /** Reads by id: every concurrent `getMessage` in one `id = ANY(…)`. */
  const reads = new Group<string, Message | null>({
    async run(ids) {
      const rows = await db.query<{ doc: Message }>(
        `SELECT doc FROM ${M} WHERE id = ANY($1::text[])`,
        [[...new Set(ids)]],
      );
      const found = new Map(rows.map((row) => [row.doc.id, row.doc]));
      return ids.map((id) => found.get(id) ?? null);
    },
  });
  /** Patches: one `UPDATE … FROM unnest(…)`, each row merged with its own call's patch. */
  const updates = new Group<{ id: string; changes: string }, Message | null>({
    key: (call) => call.id,
    async run(calls) {
      const rows = await db.query<{ id: string; doc: Message }>(
        `UPDATE ${M} m SET doc = m.doc || g.changes
         FROM unnest($1::text[], $2::jsonb[]) AS g(id, changes)
         WHERE m.id = g.id
         RETURNING m.id, m.doc`,
        [calls.map((call) => call.id), calls.map((call) => call.changes)],
      );
      const byId = new Map(rows.map((row) => [row.id, row.doc]));
      return calls.map((call) => byId.get(call.id) ?? null);
    },
  });
  return {
    async createMessage(message) {
      // Serialized now: the caller may change its object once this returns.
      const result = await creates.call({ id: message.id, doc: JSON.stringify(message) });
      if (result) return result;
      // Inserted by another transaction while ours ran: a new statement sees it committed.
      return { message: (await reads.call(message.id))!, created: false };
    },

    async getMessage(id) {
      return reads.call(id);
    },

    async updateMessage(id, patch) {
      const changes: Record<string, unknown> = {};
      for (const key of Object.keys(patch)) {
        if (key === "id" || key === "__typename") continue;
        const value = (patch as Record<string, unknown>)[key];
        if (value !== undefined) changes[key] = value;
      }
      return updates.call({ id, changes: JSON.stringify(changes) });
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
