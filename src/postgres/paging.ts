/**
 * @internal Keyset paging for the PostgreSQL store, with the memory store's cursor semantics: a
 * cursor is the `seq` of a page's edge row (base64url, prefixed so that cursors of another store
 * are refused), pages are read by index range (`seq > after` / `seq < before`), and each page
 * reads at most one row beyond each edge to tell whether a next and a previous page exist.
 *
 * Paging by an immutable, unique, increasing `seq` is stable under concurrent inserts and deletes:
 * no row present for the whole walk is skipped or shown twice. (A row inserted during the walk by a
 * transaction that commits after a row with a higher `seq` was read can be missed by that walk.)
 */
import { InvalidParamsError } from "../errors.js";
import type { PageRequest, PageResult } from "../store/types.js";
import { PREFIX, type Queryable } from "./db.js";

const MAX_LIMIT = 1000;
const CURSOR_PREFIX = "p1:";

/** @internal Throws unless `limit` is an integer from 1 to 1000. */
export function checkLimit(limit: unknown): number {
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    const received = typeof limit === "number" ? String(limit) : typeof limit;
    throw new InvalidParamsError(
      `${PREFIX} Expected a page limit from 1 to ${MAX_LIMIT}, received ${received}.`,
      [{ field: "limit", type: "range", message: `expected an integer from 1 to ${MAX_LIMIT}` }],
    );
  }
  return limit;
}

function encodeCursor(seq: string): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`).toString("base64url");
}

function decodeCursor(cursor: string | null | undefined, field: string): string | null {
  if (cursor === undefined || cursor === null || cursor === "") return null;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const digits = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : "";
  if (!/^\d{1,18}$/.test(digits) || encodeCursor(digits) !== cursor) {
    throw new InvalidParamsError(
      `${PREFIX} Expected \`${field}\` to be a cursor from an earlier page of this store, received "${cursor}".`,
      [{ field, type: "format", message: "expected a cursor returned by an earlier list call" }],
    );
  }
  return digits;
}

/** @internal A list query: its table, its filter (with parameters), and its order. */
export interface ListQuery {
  /** The (qualified) table, optionally with an alias. */
  from: string;
  /** What to select (must include `seq`). */
  select: string;
  /** The filter (SQL), `TRUE` for none. */
  where: string;
  /** Parameters the filter uses ($1…$n). */
  params: unknown[];
  /** `asc`: oldest first; `desc`: newest first. */
  order: "asc" | "desc";
}

/** @internal One page of `query`, as `PageResult` rows (with their `seq` as a string). */
export async function listPage<R extends { seq: string }>(
  db: Queryable,
  query: ListQuery,
  request: PageRequest,
): Promise<PageResult<R>> {
  const limit = checkLimit(request.limit);
  const after = decodeCursor(request.after, "after");
  const before = decodeCursor(request.before, "before");
  const asc = query.order === "asc";
  const params = [...query.params];
  const p = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  // "Later in list order than x" and "earlier in list order than x", as SQL on seq.
  const laterThan = (x: string) => `seq ${asc ? ">" : "<"} ${x}::bigint`;
  const earlierThan = (x: string) => `seq ${asc ? "<" : ">"} ${x}::bigint`;
  const atOrEarlier = (x: string) => `seq ${asc ? "<=" : ">="} ${x}::bigint`;
  const atOrLater = (x: string) => `seq ${asc ? ">=" : "<="} ${x}::bigint`;
  const forward = asc ? "ASC" : "DESC";
  const backward = asc ? "DESC" : "ASC";

  if (before !== null && after === null) {
    // The `limit` rows just before `before`, and whether anything is at or after it.
    const b = p(before);
    const rows = await db.query<R & { __edge: boolean }>(
      `SELECT ${query.select}, EXISTS (SELECT 1 FROM ${query.from} WHERE (${query.where}) AND ${atOrLater(b)}) AS __edge
       FROM ${query.from} WHERE (${query.where}) AND ${earlierThan(b)} ORDER BY seq ${backward} LIMIT ${limit + 1}`,
      params,
    );
    const more = rows.length > limit;
    const items = rows.slice(0, limit).reverse();
    const hasNext = rows[0]?.__edge ?? (await exists(db, query, atOrLater(b), params)); // no rows before: ask separately
    const first = items[0];
    const last = items[items.length - 1];
    return {
      items: items.map(strip),
      after: hasNext ? encodeCursor(last ? last.seq : previousSeq(before, asc)) : null,
      before: more && first ? encodeCursor(first.seq) : null,
    };
  }

  const conditions = [`(${query.where})`];
  let edge = "FALSE";
  let a = "";
  if (after !== null) {
    a = p(after);
    conditions.push(laterThan(a));
    edge = `EXISTS (SELECT 1 FROM ${query.from} WHERE (${query.where}) AND ${atOrEarlier(a)})`;
  }
  const rows = await db.query<R & { __edge: boolean }>(
    `SELECT ${query.select}, ${edge} AS __edge FROM ${query.from}
     WHERE ${conditions.join(" AND ")} ORDER BY seq ${forward} LIMIT ${limit + 1}`,
    params,
  );
  // Rows at or past `before` are beyond this page: they only tell that a next page exists.
  const inRange = before === null ? rows : rows.filter((row) => inBounds(row.seq, before!, asc));
  const more = inRange.length > limit || inRange.length < rows.length;
  const items = inRange.slice(0, limit);
  const hasPrevious =
    after !== null && (rows[0]?.__edge ?? (await exists(db, query, atOrEarlier(a), params)));
  const first = items[0];
  const last = items[items.length - 1];
  return {
    items: items.map(strip),
    after: more ? encodeCursor(last ? last.seq : (after ?? "0")) : null,
    before: hasPrevious ? encodeCursor(first ? first.seq : nextSeq(after!, asc)) : null,
  };
}

/** Whether `seq` is strictly before the `before` cursor in list order. */
function inBounds(seq: string, before: string, asc: boolean): boolean {
  const a = BigInt(seq);
  const b = BigInt(before);
  return asc ? a < b : a > b;
}

/** The position just before `seq` in list order (an exclusive bound). */
function previousSeq(seq: string, asc: boolean): string {
  return String(asc ? BigInt(seq) - 1n : BigInt(seq) + 1n);
}

/** The position just after `seq` in list order (an exclusive bound). */
function nextSeq(seq: string, asc: boolean): string {
  return String(asc ? BigInt(seq) + 1n : BigInt(seq) - 1n);
}

async function exists(
  db: Queryable,
  query: ListQuery,
  condition: string,
  params: unknown[],
): Promise<boolean> {
  const rows = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${query.from} WHERE (${query.where}) AND ${condition}) AS found`,
    params,
  );
  return rows[0]?.found === true;
}

function strip<R extends { seq: string }>(row: R & { __edge?: boolean }): R {
  const { __edge: _edge, ...rest } = row;
  return rest as unknown as R;
}
