/**
 * @internal Schedules and sources in PostgreSQL (`createSchedules`, `getSchedules`,
 * `updateSchedule`, `deleteSchedules`, `listSchedules`, `putSource`, `getSource`), added to the
 * contract with the engine's schedules and source events.
 *
 * A schedule is a JSONB document with generated columns for what `listSchedules` filters on; its
 * compare-and-set update is one statement. Typing note: schedules and sources are typed here with
 * local shapes rather than the contract's `StoredSchedule` / `StoredSource`, so the module
 * compiles on a branch whose `Store` does not name them yet; behaviour follows the contract's
 * documentation and its conformance tests (`store-schedules.ts`).
 */
import type { PageRequest, PageResult, RecipientKey } from "../store/types.js";
import type { Db } from "./db.js";
import { listPage } from "./paging.js";
import { Where } from "./runs.js";

/** @internal A schedule document: the fields the store itself reads; the rest is kept as given. */
export interface ScheduleDoc {
  id: string;
  version: number;
  [field: string]: unknown;
}

/** @internal A source as stored (the contract's `StoredSource`). */
export interface SourceDoc {
  key: string;
  definition: Record<string, unknown>;
  inserted_at: string;
  updated_at: string;
}

/** @internal Filters of `listSchedules` (the contract's `ScheduleFilter`). */
export interface ScheduleListFilter {
  workflow?: string;
  recipients?: RecipientKey[];
  tenant?: string;
}

/** @internal The schedule and source methods of the PostgreSQL store. */
export function scheduleMethods(db: Db): {
  // `any` where the contract names its own types (see the module comment).
  createSchedules(schedules: readonly any[]): Promise<boolean[]>;
  getSchedules(ids: readonly string[]): Promise<any[]>;
  updateSchedule(id: string, expectedVersion: number, patch: Record<string, unknown>): Promise<any>;
  deleteSchedules(ids: readonly string[]): Promise<any[]>;
  listSchedules(filter: ScheduleListFilter, page: PageRequest): Promise<PageResult<any>>;
  putSource(key: string, definition: Record<string, unknown>, now: string): Promise<SourceDoc>;
  getSource(key: string): Promise<SourceDoc | null>;
} {
  const S = `${db.s}.schedules`;
  const SRC = `${db.s}.sources`;
  return {
    async createSchedules(schedules: readonly ScheduleDoc[]) {
      if (schedules.length === 0) return [];
      const rows = await db.query<{ id: string }>(
        `INSERT INTO ${S} (id, doc)
         SELECT doc ->> 'id', doc FROM unnest($1::jsonb[]) WITH ORDINALITY AS g(doc, ord) ORDER BY ord
         ON CONFLICT (id) DO NOTHING
         RETURNING id`,
        [schedules.map((schedule) => JSON.stringify(schedule))],
      );
      const created = new Set(rows.map((row) => row.id));
      const seen = new Set<string>();
      return schedules.map((schedule) => {
        if (seen.has(schedule.id)) return false;
        seen.add(schedule.id);
        return created.has(schedule.id);
      });
    },

    async getSchedules(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<{ id: string; doc: ScheduleDoc }>(
        `SELECT id, doc FROM ${S} WHERE id = ANY($1::text[])`,
        [[...new Set(ids)]],
      );
      const byId = new Map(rows.map((row) => [row.id, row.doc]));
      return ids.map((id) => byId.get(id) ?? null);
    },

    async updateSchedule(id, expectedVersion, patch) {
      const changes: Record<string, unknown> = {};
      for (const key of Object.keys(patch)) {
        if (key === "id" || key === "version" || key === "inserted_at") continue;
        const value = patch[key];
        if (value !== undefined) changes[key] = value;
      }
      changes.version = expectedVersion + 1;
      const rows = await db.query<{ doc: ScheduleDoc }>(
        `UPDATE ${S} SET doc = doc || $3::jsonb WHERE id = $1 AND version = $2 RETURNING doc`,
        [id, expectedVersion, JSON.stringify(changes)],
      );
      return rows[0]?.doc ?? null;
    },

    async deleteSchedules(ids) {
      if (ids.length === 0) return [];
      const rows = await db.query<{ id: string; doc: ScheduleDoc }>(
        `DELETE FROM ${S} WHERE id = ANY($1::text[]) RETURNING id, doc`,
        [[...new Set(ids)]],
      );
      const byId = new Map(rows.map((row) => [row.id, row.doc]));
      const deleted: ScheduleDoc[] = [];
      for (const id of new Set(ids)) {
        const doc = byId.get(id);
        if (doc) deleted.push(doc);
      }
      return deleted;
    },

    async listSchedules(filter, page) {
      const w = new Where();
      if (filter.workflow !== undefined) w.add(`workflow = ${w.p(filter.workflow)}`);
      if (filter.tenant !== undefined) w.add(`tenant = ${w.p(filter.tenant)}`);
      if (filter.recipients !== undefined) {
        const collections = w.p(filter.recipients.map((r) => r.collection));
        const ids = w.p(filter.recipients.map((r) => r.id));
        w.add(
          `(recipient_collection, recipient_id) IN (SELECT * FROM unnest(${collections}::text[], ${ids}::text[]))`,
        );
      }
      const result = await listPage<{ seq: string; doc: ScheduleDoc }>(
        db,
        { from: S, select: "seq, doc", where: w.sql, params: w.params, order: "asc" },
        page,
      );
      return { ...result, items: result.items.map((row) => row.doc) };
    },

    async putSource(key, definition, now) {
      const rows = await db.query<SourceDoc>(
        `INSERT INTO ${SRC} AS s (key, definition, inserted_at, updated_at) VALUES ($1, $2::jsonb, $3, $3)
         ON CONFLICT (key) DO UPDATE SET definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at
         RETURNING key, definition, inserted_at, updated_at`,
        [key, JSON.stringify(definition), now],
      );
      return rows[0]!;
    },

    async getSource(key) {
      const rows = await db.query<SourceDoc>(
        `SELECT key, definition, inserted_at, updated_at FROM ${SRC} WHERE key = $1`,
        [key],
      );
      return rows[0] ?? null;
    },
  };
}
