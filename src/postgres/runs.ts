/**
 * @internal Workflow runs, recipient runs and their logs in PostgreSQL.
 *
 * A recipient run is one JSONB document; the columns that lists filter on are generated from it.
 * `updateRecipientRun` is a single statement: the compare-and-set `UPDATE … WHERE version = $n`
 * and the insert of its log entries (from the updated row, so none are written when the version
 * does not match) run as one data-modifying CTE.
 *
 * The calls a run makes on its hot path are grouped ({@link Group}): concurrent
 * `updateRecipientRun` calls go as one statement (each row compared and set on its own; two calls
 * for one run never share a statement), and concurrent `getRecipientRun` / `getRecipientRuns`
 * calls as one read of every id they ask for.
 */
import { InvalidParamsError } from "../errors.js";
import type { RunFilter, Store } from "../store/types.js";
import type { RunEvent, WorkflowRecipientRun, WorkflowRun } from "../workflows/run-types.js";
import { type Db, PREFIX } from "./db.js";
import { Group } from "./group.js";
import { listPage } from "./paging.js";

type RunMethods = Pick<
  Store,
  | "createWorkflowRun"
  | "getWorkflowRun"
  | "createRecipientRuns"
  | "getRecipientRun"
  | "getRecipientRuns"
  | "updateRecipientRun"
  | "appendRunEvents"
  | "getRunEvents"
  | "listRecipientRuns"
>;

/** One `updateRecipientRun` call, serialized for its statement. */
interface RunUpdate {
  id: string;
  expectedVersion: number;
  /** The patch (with the new version) as JSON. */
  changes: string;
  /** The log entries as a JSON array. */
  events: string;
}

/** The run as stored: without its log. */
function runDoc(run: WorkflowRecipientRun): string {
  const { events: _events, ...rest } = run;
  return JSON.stringify(rest);
}

/** @internal Parses an ISO-8601 timestamp of a filter into epoch ms, or throws InvalidParamsError. */
export function filterTime(value: string, field: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new InvalidParamsError(
      `${PREFIX} Expected \`${field}\` to be an ISO-8601 timestamp, received "${value}".`,
      [{ field, type: "format", message: "expected an ISO-8601 timestamp" }],
    );
  }
  return time;
}

/** @internal A filter's SQL: conditions joined by AND, with their parameters. */
export class Where {
  readonly conditions: string[] = [];
  readonly params: unknown[] = [];

  /** Adds a parameter and returns its placeholder. */
  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  add(condition: string): void {
    this.conditions.push(condition);
  }

  get sql(): string {
    return this.conditions.length === 0 ? "TRUE" : this.conditions.join(" AND ");
  }
}

function runWhere(filter: RunFilter): Where {
  const w = new Where();
  if (filter.workflow !== undefined) w.add(`workflow = ${w.p(filter.workflow)}`);
  if (filter.status !== undefined) w.add(`status = ANY(${w.p(filter.status)}::text[])`);
  if (filter.tenant !== undefined) w.add(`tenant = ${w.p(filter.tenant)}`);
  if (filter.has_errors !== undefined)
    w.add(filter.has_errors ? "error_count > 0" : "error_count <= 0");
  if (filter.recipient !== undefined) {
    w.add(`recipient_collection = ${w.p(filter.recipient.collection)}`);
    w.add(`recipient_id = ${w.p(filter.recipient.id)}`);
  }
  if (filter.workflow_run_id !== undefined)
    w.add(`workflow_run_id = ${w.p(filter.workflow_run_id)}`);
  if (filter.starting_at !== undefined)
    w.add(`inserted_ms >= ${w.p(filterTime(filter.starting_at, "starting_at"))}::bigint`);
  if (filter.ending_at !== undefined)
    w.add(`inserted_ms <= ${w.p(filterTime(filter.ending_at, "ending_at"))}::bigint`);
  return w;
}

/** @internal The run methods of the PostgreSQL store. */
export function runMethods(db: Db): RunMethods {
  const WR = `${db.s}.workflow_runs`;
  const RR = `${db.s}.recipient_runs`;
  const EV = `${db.s}.run_events`;
  /** Reads of runs by id: every concurrent call's ids in one `id = ANY(…)`. */
  const reads = new Group<readonly string[], Array<WorkflowRecipientRun | null>>({
    async run(calls) {
      const rows = await db.query<{ doc: WorkflowRecipientRun }>(
        `SELECT doc FROM ${RR} WHERE id = ANY($1::text[])`,
        [[...new Set(calls.flat())]],
      );
      const byId = new Map(rows.map((row) => [row.doc.id, row.doc]));
      return calls.map((ids) => ids.map((id) => byId.get(id) ?? null));
    },
  });
  /**
   * Compare-and-set writes: one `UPDATE … FROM unnest(…)` whose rows each match only at their own
   * expected version, with the log entries of the rows it updated (and only those) inserted in the
   * same statement, each call's in order.
   */
  const updates = new Group<RunUpdate, WorkflowRecipientRun | null>({
    key: (call) => call.id,
    async run(calls) {
      const rows = await db.query<{ id: string; doc: WorkflowRecipientRun }>(
        `WITH given AS (
           SELECT id, expected, changes, events, ord
           FROM unnest($1::text[], $2::int[], $3::jsonb[], $4::jsonb[]) WITH ORDINALITY AS g(id, expected, changes, events, ord)
         ), updated AS (
           UPDATE ${RR} r SET doc = r.doc || g.changes
           FROM given g
           WHERE r.id = g.id AND r.version = g.expected
           RETURNING r.id, r.doc
         ), logged AS (
           INSERT INTO ${EV} (run_id, event)
           SELECT u.id, e.event
           FROM given g JOIN updated u ON u.id = g.id,
                jsonb_array_elements(g.events) WITH ORDINALITY AS e(event, n)
           ORDER BY g.ord, e.n
         )
         SELECT id, doc FROM updated`,
        [
          calls.map((call) => call.id),
          calls.map((call) => call.expectedVersion),
          calls.map((call) => call.changes),
          calls.map((call) => call.events),
        ],
      );
      const byId = new Map(rows.map((row) => [row.id, row.doc]));
      return calls.map((call) => byId.get(call.id) ?? null);
    },
  });
  return {
    async createWorkflowRun(run) {
      const rows = await db.query(
        `INSERT INTO ${WR} (id, doc) VALUES ($1, $2::jsonb) ON CONFLICT (id) DO NOTHING RETURNING 1`,
        [run.id, JSON.stringify(run)],
      );
      return rows.length === 1;
    },

    async getWorkflowRun(id) {
      const rows = await db.query<{ doc: WorkflowRun }>(`SELECT doc FROM ${WR} WHERE id = $1`, [
        id,
      ]);
      return rows[0]?.doc ?? null;
    },

    async createRecipientRuns(runs) {
      if (runs.length === 0) return [];
      // One statement for the batch: runs (and any log they carry) in the order given.
      const rows = await db.query<{ id: string }>(
        `WITH given AS (
           SELECT doc, events, ord FROM unnest($1::jsonb[], $2::jsonb[]) WITH ORDINALITY AS g(doc, events, ord)
         ), created AS (
           INSERT INTO ${RR} (id, doc)
           SELECT doc ->> 'id', doc FROM given ORDER BY ord
           ON CONFLICT (id) DO NOTHING
           RETURNING id
         ), logged AS (
           INSERT INTO ${EV} (run_id, event)
           SELECT g.doc ->> 'id', e.event
           FROM given g JOIN created c ON c.id = g.doc ->> 'id',
                jsonb_array_elements(g.events) WITH ORDINALITY AS e(event, n)
           ORDER BY g.ord, e.n
         )
         SELECT id FROM created`,
        [runs.map(runDoc), runs.map((run) => JSON.stringify(run.events ?? []))],
      );
      const created = new Set(rows.map((row) => row.id));
      // A batch naming one id twice creates it once: the first occurrence.
      const seen = new Set<string>();
      return runs.map((run) => {
        if (seen.has(run.id)) return false;
        seen.add(run.id);
        return created.has(run.id);
      });
    },

    async getRecipientRun(id) {
      return (await reads.call([id]))[0] ?? null;
    },

    async getRecipientRuns(ids) {
      if (ids.length === 0) return [];
      return reads.call(ids);
    },

    async updateRecipientRun(id, expectedVersion, patch, events) {
      const changes: Record<string, unknown> = {};
      for (const key of Object.keys(patch)) {
        if (key === "id" || key === "version" || key === "events") continue;
        const value = (patch as Record<string, unknown>)[key];
        if (value !== undefined) changes[key] = value;
      }
      changes.version = expectedVersion + 1;
      // Serialized now: the caller may change its objects once this returns.
      return updates.call({
        id,
        expectedVersion,
        changes: JSON.stringify(changes),
        events: JSON.stringify(events),
      });
    },

    async appendRunEvents(id, events) {
      if (events.length === 0) return;
      // A log belongs to a run: entries for a run that does not exist are dropped.
      await db.query(
        `INSERT INTO ${EV} (run_id, event)
         SELECT $1, e.event FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(event, n)
         WHERE EXISTS (SELECT 1 FROM ${RR} WHERE id = $1)
         ORDER BY e.n`,
        [id, JSON.stringify(events)],
      );
    },

    async getRunEvents(id) {
      const rows = await db.query<{ event: RunEvent }>(
        `SELECT event FROM ${EV} WHERE run_id = $1 ORDER BY seq`,
        [id],
      );
      return rows.map((row) => row.event);
    },

    async listRecipientRuns(filter, page) {
      const w = runWhere(filter);
      const result = await listPage<{ seq: string; doc: WorkflowRecipientRun }>(
        db,
        { from: RR, select: "seq, doc", where: w.sql, params: w.params, order: "desc" },
        page,
      );
      return { ...result, items: result.items.map((row) => row.doc) };
    },
  };
}
