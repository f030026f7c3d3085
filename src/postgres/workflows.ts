/**
 * @internal Workflow definitions in PostgreSQL: every version is a row; `workflow_heads` names the
 * current one. `putWorkflow` runs in a transaction holding the head's row lock, so concurrent new
 * versions are numbered without gaps or repeats. Concurrent `getWorkflow` calls (every page of
 * runs reads its workflow) are grouped ({@link Group}) into one statement.
 */
import type { Store } from "../store/types.js";
import type { Workflow } from "../workflows/types.js";
import type { Db } from "./db.js";
import { Group } from "./group.js";

type WorkflowMethods = Pick<
  Store,
  "putWorkflow" | "getWorkflow" | "listWorkflows" | "setWorkflowActive"
>;

/** @internal The workflow methods of the PostgreSQL store. */
export function workflowMethods(db: Db): WorkflowMethods {
  const W = `${db.s}.workflows`;
  const H = `${db.s}.workflow_heads`;
  const current = `SELECT w.doc FROM ${H} h JOIN ${W} w ON w.key = h.key AND w.version = h.version`;
  /**
   * Reads of a workflow's current (`version: null`) or numbered version: every concurrent call in
   * one statement, each answered from the row of its own key and version.
   */
  const reads = new Group<{ key: string; version: number | null }, Workflow | null>({
    async run(calls) {
      const rows = await db.query<{ ord: string; doc: Workflow }>(
        `SELECT g.ord, w.doc
         FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS g(key, version, ord)
         JOIN ${W} w ON w.key = g.key
           AND w.version = coalesce(g.version, (SELECT h.version FROM ${H} h WHERE h.key = g.key))`,
        [calls.map((call) => call.key), calls.map((call) => call.version)],
      );
      const found = new Map(rows.map((row) => [Number(row.ord), row.doc]));
      return calls.map((_, i) => found.get(i + 1) ?? null);
    },
  });
  return {
    putWorkflow({ definition, sha, now }) {
      return db.tx(async (q) => {
        await q.query(
          `INSERT INTO ${H} (key, version) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING`,
          [definition.key],
        );
        const [head] = await q.query<{ version: number }>(
          `SELECT version FROM ${H} WHERE key = $1 FOR UPDATE`,
          [definition.key],
        );
        const version = head?.version ?? 0;
        const [row] =
          version > 0
            ? await q.query<{ doc: Workflow }>(
                `SELECT doc FROM ${W} WHERE key = $1 AND version = $2`,
                [definition.key, version],
              )
            : [];
        const existing = row?.doc;
        if (existing && existing.sha === sha) {
          if (definition.active === undefined || definition.active === existing.active)
            return existing;
          const [updated] = await q.query<{ doc: Workflow }>(
            `UPDATE ${W} SET doc = doc || jsonb_build_object('active', $3::boolean, 'updated_at', $4::text)
             WHERE key = $1 AND version = $2 RETURNING doc`,
            [definition.key, version, definition.active, now],
          );
          return updated!.doc;
        }
        const doc: Record<string, unknown> = {
          ...(definition as unknown as Record<string, unknown>),
        };
        doc.active = definition.active ?? existing?.active ?? true;
        doc.version = version + 1;
        doc.sha = sha;
        doc.valid = true;
        doc.inserted_at = existing?.inserted_at ?? now;
        doc.updated_at = now;
        const [inserted] = await q.query<{ doc: Workflow }>(
          `INSERT INTO ${W} (key, version, doc) VALUES ($1, $2, $3::jsonb) RETURNING doc`,
          [definition.key, version + 1, JSON.stringify(doc)],
        );
        await q.query(`UPDATE ${H} SET version = $2 WHERE key = $1`, [definition.key, version + 1]);
        return inserted!.doc;
      });
    },

    async getWorkflow(key, version) {
      return reads.call({
        key,
        // A version that is not an integer names none.
        version: version === undefined ? null : Number.isInteger(version) ? version : -1,
      });
    },

    async listWorkflows() {
      const rows = await db.query<{ doc: Workflow }>(`${current} ORDER BY h.key`);
      return rows.map((row) => row.doc);
    },

    async setWorkflowActive(key, active, now) {
      const rows = await db.query<{ doc: Workflow }>(
        `UPDATE ${W} w SET doc = w.doc || jsonb_build_object('active', $2::boolean, 'updated_at', $3::text)
         FROM ${H} h WHERE h.key = $1 AND w.key = h.key AND w.version = h.version
         RETURNING w.doc`,
        [key, active, now],
      );
      return rows[0]?.doc ?? null;
    },
  };
}
