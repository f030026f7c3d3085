/**
 * `postgresStore()`: the {@link Store} on PostgreSQL, through `pg`.
 *
 * @module
 */
import { requirePeer } from "../_internal/peer.js";
import { CrierError, InvalidParamsError } from "../errors.js";
import type { Store } from "../store/types.js";
import { checkSchema, Db, type PgPoolLike, PostgresStoreError, PREFIX } from "./db.js";
import { feedMethods } from "./feed.js";
import { flowMethods } from "./flow.js";
import { messageMethods } from "./messages.js";
import { onceMethods } from "./once.js";
import { recipientMethods } from "./recipients.js";
import { runMethods } from "./runs.js";
import { scheduleMethods } from "./schedules.js";
import { workflowMethods } from "./workflows.js";

/** Options every form of {@link postgresStore} takes. */
export interface PostgresStoreCommonOptions {
  /**
   * The schema crier's tables live in (created and migrated on first use). Several stores (or
   * apps) can share one database with different schemas.
   * @default "crier"
   */
  schema?: string;
  /**
   * How many times to try for a connection while the server refuses them (restarting, or out of
   * connections) before a call fails. Statements that reached the server are never re-sent.
   * @default 6 (about 3 s in all)
   */
  connectAttempts?: number;
  /**
   * Sends the store's statements as named prepared statements, parsed and planned once per
   * connection instead of on every call (a large share of PostgreSQL's work for the short
   * statements a run makes). Turn it off for a pool whose clients take only `(text, values)`,
   * or a connection pooler in transaction mode that cannot keep prepared statements.
   * @default true
   */
  preparedStatements?: boolean;
}

/** {@link postgresStore} on a pool you own: crier never ends it. */
export interface PostgresStorePoolOptions extends PostgresStoreCommonOptions {
  /**
   * A `pg.Pool` (or anything of its shape). Give it an `error` listener: `pg` emits errors of idle
   * clients there (a restarting server), and an unhandled one ends the process.
   */
  pool: PgPoolLike;
  connectionString?: never;
}

/** {@link postgresStore} on a pool crier makes (with `pg`) and ends on `close()`. */
export interface PostgresStoreConnectionOptions extends PostgresStoreCommonOptions {
  /** A PostgreSQL connection string, e.g. `postgres://user:password@host:5432/database`. */
  connectionString: string;
  /** The pool's size. @default 10 */
  max?: number;
  pool?: never;
}

/** Options of {@link postgresStore}: a pool, or a connection string. */
export type PostgresStoreOptions = PostgresStorePoolOptions | PostgresStoreConnectionOptions;

/** `pg`'s module, as far as the store uses it. */
interface PgModule {
  Pool: new (config: {
    connectionString: string;
    max?: number;
  }) => PgPoolLike & {
    on(event: "error", listener: (error: Error) => void): unknown;
  };
}

async function loadPg(): Promise<PgModule> {
  const module = (await import("pg")) as unknown as { default?: PgModule } & PgModule;
  return module.default ?? module;
}

/**
 * Creates a {@link Store} on PostgreSQL (13 or newer) through `pg`, an optional peer dependency:
 * importing `crier` never loads it; with `connectionString` it is loaded on first use.
 *
 * - **Schema.** Tables live in `schema` (default `crier`), created and migrated by the store
 *   itself before its first statement: versioned migrations, applied under an advisory lock, so
 *   any number of processes may start at once.
 * - **Shape.** Recipients keep properties, channel data and preferences as JSONB; runs, messages,
 *   batches and cancellations are JSONB documents with generated columns (and indexes) for what
 *   lists filter and page on; every list pages by an increasing `seq` (keyset paging: cursors stay
 *   valid and stable under concurrent inserts and deletes).
 * - **Atomicity.** Each atomic method of the contract is one statement (`INSERT … ON CONFLICT`,
 *   a compare-and-set `UPDATE … WHERE version = $n` with its log insert in the same statement) or
 *   one transaction (new workflow versions; batch appends, under a per-key advisory lock).
 * - **Connections.** A call that cannot get a connection (a restarting server) tries again for
 *   about three seconds; a statement that failed on the server is not re-sent: the job that made
 *   it is retried by the queue instead. Errors are `CrierError`s (`adapter_error`) with the
 *   driver's error as `cause`; bad input is an `InvalidParamsError`, as in the memory store.
 *
 * @throws {CrierError} When neither `pool` nor `connectionString` is given, or `pg` is needed and
 *   not installed.
 * @throws {InvalidParamsError} When `schema` is not a lower-case SQL identifier.
 *
 * @example
 * ```ts
 * import { createEngine } from "crier";
 * import { postgresStore } from "crier/postgres";
 *
 * const engine = createEngine({ store: postgresStore({ connectionString: process.env.DATABASE_URL! }) });
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): Store {
  if (typeof options !== "object" || options === null) {
    throw new InvalidParamsError(
      `${PREFIX} Expected options { pool } or { connectionString }, received ${options === null ? "null" : typeof options}.`,
    );
  }
  const schema = checkSchema(options.schema ?? "crier");
  const connectAttempts = options.connectAttempts ?? 6;
  let getPool: () => Promise<PgPoolLike>;
  let owned: Promise<PgPoolLike> | undefined;
  if (options.pool) {
    const pool = options.pool;
    if (typeof pool.query !== "function" || typeof pool.connect !== "function") {
      throw new InvalidParamsError(
        `${PREFIX} Expected option \`pool\` to be a pg.Pool (with query() and connect()), received ${typeof pool}.`,
      );
    }
    getPool = () => Promise.resolve(pool);
  } else if (typeof options.connectionString === "string" && options.connectionString !== "") {
    requirePeer("pg", "store:postgres", "postgresStore({ connectionString })");
    const { connectionString, max } = options;
    getPool = () => {
      owned ??= loadPg().then(({ Pool }) => {
        const pool = new Pool({ connectionString, ...(max === undefined ? {} : { max }) });
        // Idle clients report a lost server here; the next query reconnects.
        pool.on("error", () => {});
        return pool;
      });
      return owned;
    };
  } else {
    throw new CrierError(
      "adapter_error",
      `${PREFIX} Expected postgresStore({ pool }) with a pg.Pool or postgresStore({ connectionString }), received neither. ` +
        'Pass e.g. { connectionString: "postgres://user:password@localhost:5432/app" }.',
    );
  }
  const db = new Db(schema, getPool, connectAttempts, options.preparedStatements !== false);
  let closed = false;
  return named({
    name: "postgres",
    ...recipientMethods(db),
    ...workflowMethods(db),
    ...runMethods(db),
    ...messageMethods(db),
    ...feedMethods(db),
    ...onceMethods(db),
    ...flowMethods(db),
    ...scheduleMethods(db),
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await (await owned).end();
    },
  });
}

/** Makes every method's database errors name the method (`… Expected getRecipient() to …`). */
function named(store: Store): Store {
  const methods = store as unknown as Record<string, unknown>;
  for (const [name, method] of Object.entries(methods)) {
    if (typeof method !== "function") continue;
    methods[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        throw error instanceof PostgresStoreError ? error.forMethod(name) : error;
      }
    };
  }
  return store;
}
