/**
 * @internal Bulk operations (`users.bulk.*`, `objects.bulk.*`, `tenants.bulk.*`), as Knock's client
 * has them. Knock runs them in the background and answers at once with a `queued` operation; crier
 * is in-process, so each runs to the end before its call returns, and answers `completed`, with
 * every item that failed (and why) in `error_items`. `bulkOperations.get(id)` reads the operations
 * this engine ran lately.
 */
import { describe } from "../_internal/describe.js";
import { uuidV4 } from "../_internal/ids.js";
import { isPlainObject } from "../_internal/merge.js";
import { CrierError, InvalidParamsError, NotFoundError } from "../errors.js";
import { type EngineContext, nowIso } from "./context.js";

/** An item of a bulk operation that failed. */
export interface BulkOperationErrorItem {
  /** The user, object or tenant id (or the object whose subscriptions were being added). */
  id: string;
  /** The object's collection, for object operations. */
  collection?: string | null;
  /** Why it failed (crier's addition: the error's message). */
  message: string;
}

/** A bulk operation, with Knock's fields. */
export interface BulkOperation {
  __typename: "BulkOperation";
  id: string;
  /** What it did, e.g. `users.identify`. */
  name: string;
  /** Always `completed` in crier: the operation ran to the end before its call returned. */
  status: "queued" | "processing" | "completed" | "failed";
  estimated_total_rows: number;
  processed_rows: number;
  success_count: number;
  error_count: number;
  error_items: BulkOperationErrorItem[];
  inserted_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
  failed_at: string | null;
}

/** How many items one bulk operation takes (Knock's limit). */
const MAX_BULK_ITEMS = 1000;

/** How many bulk operations `bulkOperations.get` remembers. */
const KEPT_OPERATIONS = 1000;

/** How many items of one operation are applied at once (a durable store groups them). */
const ITEMS_AT_ONCE = 8;

/** One item: its id (and collection) for the error list, and what applying it does. */
export interface BulkItem {
  id: string;
  collection?: string;
  apply: () => Promise<unknown>;
}

/** @internal Runs bulk operations and remembers the latest ones. */
export class BulkLedger {
  readonly #ctx: EngineContext;
  readonly #kept = new Map<string, BulkOperation>();

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  /**
   * Applies every item (a failing one is listed, the others go on) and returns the operation.
   * Items for different records go `atOnce` at a time; items for one record (the same id given
   * twice) go one after another, in the order given, so the last one given wins.
   */
  async run(
    name: string,
    items: readonly BulkItem[],
    atOnce: number = ITEMS_AT_ONCE,
  ): Promise<BulkOperation> {
    const startedAt = nowIso(this.#ctx);
    const errors: Array<BulkOperationErrorItem & { index: number }> = [];
    const byRecord = new Map<string, number[]>();
    items.forEach((item, index) => {
      const key = `${item.collection ?? ""}\u0000${item.id}`;
      const list = byRecord.get(key);
      if (list) list.push(index);
      else byRecord.set(key, [index]);
    });
    const groups = [...byRecord.values()];
    let next = 0;
    const worker = async () => {
      while (next < groups.length) {
        for (const index of groups[next++] as number[]) {
          const item = items[index] as BulkItem;
          try {
            await item.apply();
          } catch (error) {
            errors.push({
              index,
              id: item.id,
              ...(item.collection === undefined ? {} : { collection: item.collection }),
              message: error instanceof Error ? error.message : String(error),
            });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(atOnce, groups.length) }, worker));
    errors.sort((a, b) => a.index - b.index);
    const completedAt = nowIso(this.#ctx);
    const operation: BulkOperation = {
      __typename: "BulkOperation",
      id: uuidV4(),
      name,
      status: "completed",
      estimated_total_rows: items.length,
      processed_rows: items.length,
      success_count: items.length - errors.length,
      error_count: errors.length,
      error_items: errors.map(({ index: _index, ...item }) => item),
      inserted_at: startedAt,
      updated_at: completedAt,
      started_at: startedAt,
      completed_at: completedAt,
      failed_at: null,
    };
    this.#kept.set(operation.id, operation);
    if (this.#kept.size > KEPT_OPERATIONS) {
      const oldest = this.#kept.keys().next().value;
      if (oldest !== undefined) this.#kept.delete(oldest);
    }
    return structuredClone(operation);
  }

  /** An operation this engine ran (one of the last thousand); NotFoundError otherwise. */
  get(id: unknown): BulkOperation {
    if (typeof id !== "string" || id.length === 0) {
      throw new InvalidParamsError(
        `Expected a bulk operation id (a string), received ${describe(id)}.`,
        [{ field: "id", type: "type", message: `expected a string, received ${describe(id)}` }],
      );
    }
    const operation = this.#kept.get(id);
    if (!operation) {
      throw new NotFoundError(
        "bulk operation",
        id,
        "crier keeps the last 1,000 bulk operations of this engine, in this process.",
      );
    }
    return structuredClone(operation);
  }
}

/**
 * @internal The list `field` of a bulk call's `params`: an array of 1 to 1,000 items, else an
 * InvalidParamsError (nothing is applied).
 */
export function bulkList(params: unknown, field: string, call: string, what: string): unknown[] {
  const list = isPlainObject(params) ? params[field] : undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BULK_ITEMS) {
    throw new InvalidParamsError(`Invalid ${call} parameters:`, [
      {
        field,
        type: Array.isArray(list) ? "length" : "type",
        message: `expected ${field} to be an array of 1 to ${MAX_BULK_ITEMS} ${what}, received ${Array.isArray(list) ? `${list.length} items` : describe(list)}`,
      },
    ]);
  }
  return list;
}

/** The id an item names, for the error list (`id` of an object item, or the item itself). */
function itemId(item: unknown): string {
  if (typeof item === "string") return item;
  if (isPlainObject(item) && typeof item.id === "string") return item.id;
  return describe(item);
}

/**
 * @internal Items given as records (`{ id, ...rest }`): each applied with its id and the rest; an
 * item that is not an object fails on its own, saying it should be `what` with an id.
 */
export function recordItems(
  list: readonly unknown[],
  what: string,
  apply: (id: string, rest: Record<string, unknown>) => Promise<unknown>,
  collection?: string,
): BulkItem[] {
  return list.map((item) => ({
    id: itemId(item),
    ...(collection === undefined ? {} : { collection }),
    apply: isPlainObject(item)
      ? () => {
          const { id, ...rest } = item;
          return apply(id as string, rest);
        }
      : () =>
          Promise.reject(
            new CrierError(
              "invalid_params",
              `Expected ${what} with an id, received ${describe(item)}; fix this item and send it again.`,
            ),
          ),
  }));
}

/** @internal Items given as ids: each applied with its id (a bad id fails in its own call). */
export function idItems(
  list: readonly unknown[],
  apply: (id: string) => Promise<unknown>,
  collection?: string,
): BulkItem[] {
  return list.map((id) => ({
    id: itemId(id),
    ...(collection === undefined ? {} : { collection }),
    apply: () => apply(id as string),
  }));
}
