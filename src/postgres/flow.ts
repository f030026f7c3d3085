/**
 * @internal Batches, throttle windows and cancellations in PostgreSQL.
 *
 * - `appendToBatch` runs in a transaction that first takes an advisory lock on the batch key, so
 *   appends with one key run one at a time in every process (a partial unique index on open
 *   batches is the safety net). The decision itself is the same pure function of (open batch,
 *   append) as the memory store's.
 * - `countThrottle` and `closeBatch` are single statements; concurrent `getBatch` reads are
 *   grouped into one ({@link Group}).
 */

import { planAppend, planRemoval } from "../store/batches.js";
import type {
  BatchAppendResult,
  Store,
  StoredBatch,
  StoredCancellation,
  ThrottleCount,
} from "../store/types.js";
import type { WorkflowRecipientRun } from "../workflows/run-types.js";
import type { Db } from "./db.js";
import { Group } from "./group.js";
import { listPage } from "./paging.js";
import { filterTime } from "./runs.js";

type FlowMethods = Pick<
  Store,
  | "appendToBatch"
  | "getBatch"
  | "closeBatch"
  | "removeBatchItem"
  | "countThrottle"
  | "putCancellation"
  | "getCancellations"
>;

/** @internal The flow-control methods of the PostgreSQL store. */
export function flowMethods(db: Db): FlowMethods & Pick<Store, "listRunsByCancellationKey"> {
  const B = `${db.s}.batches`;
  const T = `${db.s}.throttles`;
  const C = `${db.s}.cancellations`;
  const RR = `${db.s}.recipient_runs`;
  /** Reads by id: every concurrent `getBatch` (a feed page's digests) in one `id = ANY(…)`. */
  const batchReads = new Group<string, StoredBatch | null>({
    async run(ids) {
      const rows = await db.query<{ doc: StoredBatch }>(
        `SELECT doc FROM ${B} WHERE id = ANY($1::text[])`,
        [[...new Set(ids)]],
      );
      const found = new Map(rows.map((row) => [row.doc.id, row.doc]));
      return ids.map((id) => found.get(id) ?? null);
    },
  });
  return {
    appendToBatch(input, now) {
      return db.tx(async (q) => {
        await q.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1668442469))", [
          `${db.schema} ${input.key}`,
        ]);
        const [row] = await q.query<{ doc: StoredBatch }>(
          `SELECT doc FROM ${B} WHERE key = $1 AND status = 'open' FOR UPDATE`,
          [input.key],
        );
        const { write, result } = planAppend(row?.doc ?? null, input, now);
        if (write) {
          await q.query(
            `INSERT INTO ${B} (id, key, doc) VALUES ($1, $2, $3::jsonb)
             ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc`,
            [write.id, write.key, JSON.stringify(write)],
          );
        }
        // A copy: the result must not share objects with the append it was given.
        return JSON.parse(JSON.stringify(result)) as BatchAppendResult;
      });
    },

    getBatch(id) {
      return batchReads.call(id);
    },

    async closeBatch(id, now, force = false) {
      const rows = await db.query<{ doc: StoredBatch }>(
        `UPDATE ${B} SET doc = doc || jsonb_build_object('status', 'closed', 'closed_at', $2::text)
         WHERE id = $1 AND status = 'open'
           AND ($3 OR ${db.s}.epoch_ms(doc ->> 'closes_at') <= $4::bigint)
         RETURNING doc`,
        [id, now, force, filterTime(now, "now")],
      );
      return rows[0]?.doc ?? null;
    },

    removeBatchItem(id, runId) {
      // Read, decide and write under the row lock: the item leaves, and when it was the continuing
      // run's, continuation passes to the earliest remaining item's run (or to nobody) at once.
      return db.tx(async (q) => {
        const [row] = await q.query<{ doc: StoredBatch }>(
          `SELECT doc FROM ${B} WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const batch = row?.doc;
        if (!batch) return null;
        const next = planRemoval(batch, runId);
        if (next === batch) return batch;
        await q.query(`UPDATE ${B} SET doc = $2::jsonb WHERE id = $1`, [id, JSON.stringify(next)]);
        return next;
      });
    },

    async countThrottle(key, windowEndsAt, now): Promise<ThrottleCount> {
      const rows = await db.query<ThrottleCount>(
        `INSERT INTO ${T} AS t (key, count, window_started_at, window_ends_at, window_ends_ms)
         VALUES ($1, 1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN t.window_ends_ms > $5 THEN t.count + 1 ELSE 1 END,
           window_started_at = CASE WHEN t.window_ends_ms > $5 THEN t.window_started_at ELSE EXCLUDED.window_started_at END,
           window_ends_at = CASE WHEN t.window_ends_ms > $5 THEN t.window_ends_at ELSE EXCLUDED.window_ends_at END,
           window_ends_ms = CASE WHEN t.window_ends_ms > $5 THEN t.window_ends_ms ELSE EXCLUDED.window_ends_ms END
         RETURNING count, window_started_at, window_ends_at`,
        [key, now, windowEndsAt, filterTime(windowEndsAt, "windowEndsAt"), filterTime(now, "now")],
      );
      return rows[0]!;
    },

    async putCancellation(cancellation) {
      await db.query(
        `WITH forgotten AS (
           DELETE FROM ${C} WHERE workflow = $1 AND cancellation_key = $2 AND expires_ms <= $5
         )
         INSERT INTO ${C} (workflow, cancellation_key, doc, expires_ms) VALUES ($1, $2, $3::jsonb, $4)`,
        [
          cancellation.workflow,
          cancellation.cancellation_key,
          JSON.stringify(cancellation),
          filterTime(cancellation.expires_at, "expires_at"),
          filterTime(cancellation.cancelled_at, "cancelled_at"),
        ],
      );
    },

    async getCancellations(workflow, cancellationKey, now) {
      const rows = await db.query<{ doc: StoredCancellation }>(
        `SELECT doc FROM ${C} WHERE workflow = $1 AND cancellation_key = $2 AND expires_ms > $3 ORDER BY seq`,
        [workflow, cancellationKey, filterTime(now, "now")],
      );
      return rows.map((row) => row.doc);
    },

    async listRunsByCancellationKey(workflow, cancellationKey, page) {
      const result = await listPage<{ seq: string; doc: WorkflowRecipientRun }>(
        db,
        {
          from: RR,
          select: "seq, doc",
          where: "workflow = $1 AND cancellation_key = $2",
          params: [workflow, cancellationKey],
          order: "asc",
        },
        page,
      );
      return { ...result, items: result.items.map((row) => row.doc) };
    },
  };
}
