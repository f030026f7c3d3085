/**
 * @internal Feed counts and engagement updates in PostgreSQL (`countMessages`,
 * `updateEngagement`), added to the contract alongside the in-app feed.
 *
 * Typing note: these methods are typed with local shapes rather than the contract's
 * `MessageCounts` / `EngagementUpdate` / `EngagementResult`, so the module compiles on a branch
 * whose `Store` does not name them yet; their behaviour follows the contract's documentation and
 * its conformance tests (`store-feed.ts`).
 */
import { InvalidParamsError } from "../errors.js";
import type { Message } from "../messages/types.js";
import type { MessageFilter } from "../store/types.js";
import { type Db, PREFIX } from "./db.js";
import { messageWhere } from "./messages.js";

/** The order `engagement_statuses` lists statuses in. */
const ENGAGEMENT_ORDER = ["seen", "read", "interacted", "link_clicked", "archived"] as const;
type Engagement = (typeof ENGAGEMENT_ORDER)[number];

/** @internal What `updateEngagement` is asked to do (the contract's `EngagementUpdate`). */
export interface EngagementChange {
  status: Engagement;
  set: boolean;
  metadata?: Record<string, unknown> | null;
}

/** @internal The feed methods of the PostgreSQL store. */
export function feedMethods(db: Db): {
  countMessages(filter: MessageFilter): Promise<{ total: number; unread: number; unseen: number }>;
  updateEngagement(
    ids: readonly string[],
    update: EngagementChange,
    now: string,
  ): Promise<Array<{ message: Message; changed: boolean } | null>>;
} {
  const M = `${db.s}.messages`;
  return {
    async countMessages(filter) {
      const w = messageWhere(filter);
      const rows = await db.query<{ total: number; unread: number; unseen: number }>(
        `SELECT count(*)::int AS total,
                count(*) FILTER (WHERE NOT ((doc -> 'engagement_statuses') ? 'read'))::int AS unread,
                count(*) FILTER (WHERE NOT ((doc -> 'engagement_statuses') ? 'seen'))::int AS unseen
         FROM ${M} WHERE ${w.sql}`,
        w.params,
      );
      const row = rows[0];
      return { total: row?.total ?? 0, unread: row?.unread ?? 0, unseen: row?.unseen ?? 0 };
    },

    async updateEngagement(ids, update, now) {
      if (!ENGAGEMENT_ORDER.includes(update.status)) {
        throw new InvalidParamsError(
          `${PREFIX} Expected an engagement status (${ENGAGEMENT_ORDER.join(", ")}), received "${String(update.status)}".`,
          [
            {
              field: "status",
              type: "enum",
              message: `expected one of ${ENGAGEMENT_ORDER.join(", ")}`,
            },
          ],
        );
      }
      if (ids.length === 0) return [];
      const field = `${update.status}_at`;
      const metadata = update.set && update.metadata !== undefined;
      // One UPDATE: each row's new statuses are computed from the row as it is when the update
      // takes its lock, so concurrent updates of one message (seen, then read) both take effect.
      const updated = await db.query<{ id: string; doc: Message }>(
        `UPDATE ${M} m SET doc = m.doc || jsonb_build_object(
           'engagement_statuses', (
             SELECT coalesce(jsonb_agg(s ORDER BY ord), '[]'::jsonb)
             FROM unnest($2::text[]) WITH ORDINALITY AS o(s, ord)
             WHERE (s = $3 AND $4) OR (s <> $3 AND (m.doc -> 'engagement_statuses') ? s)),
           '${field}', CASE WHEN NOT $4 THEN 'null'::jsonb
                            WHEN (m.doc -> 'engagement_statuses') ? $3
                              THEN coalesce(nullif(m.doc -> '${field}', 'null'::jsonb), to_jsonb($5::text))
                            ELSE to_jsonb($5::text) END,
           'updated_at', $5::text)
           || CASE WHEN $6 THEN jsonb_build_object('metadata', $7::jsonb) ELSE '{}'::jsonb END
         WHERE m.id = ANY($1::text[])
           AND (((m.doc -> 'engagement_statuses') ? $3) IS DISTINCT FROM $4 OR $6)
         RETURNING m.id, m.doc`,
        [
          [...new Set(ids)],
          ENGAGEMENT_ORDER,
          update.status,
          update.set,
          now,
          metadata,
          metadata ? JSON.stringify(update.metadata ?? null) : null,
        ],
      );
      const changed = new Map(updated.map((row) => [row.id, row.doc]));
      const rest = ids.filter((id) => !changed.has(id));
      const unchanged = new Map<string, Message>();
      if (rest.length > 0) {
        const rows = await db.query<{ id: string; doc: Message }>(
          `SELECT id, doc FROM ${M} WHERE id = ANY($1::text[])`,
          [rest],
        );
        for (const row of rows) unchanged.set(row.id, row.doc);
      }
      // A message named twice is changed once: the first mention reports the change.
      const reported = new Set<string>();
      return ids.map((id) => {
        const doc = changed.get(id);
        if (doc && !reported.has(id)) {
          reported.add(id);
          return { message: doc, changed: true };
        }
        const message = doc ?? unchanged.get(id);
        return message ? { message, changed: false } : null;
      });
    },
  };
}
