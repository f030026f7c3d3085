/**
 * @internal The PostgreSQL store's connection layer: the pool (given, or made from a connection
 * string by `pg`, which is loaded only then), the schema every statement names, migrations before
 * the first statement, transactions, and errors that say which store method failed.
 */
import { CrierError, InvalidParamsError } from "../errors.js";
import { migrate } from "./migrations.js";

/** @internal What a query returns (the part of `pg`'s result the store reads). */
export interface QueryResultLike<R> {
  rows: R[];
  rowCount: number | null;
}

/** A client checked out of a pool: `pg.PoolClient` has this shape. */
export interface PgClientLike {
  /**
   * Runs one statement with `$1`, `$2`… bound to `values`. With the store's
   * `preparedStatements` on (the default), most statements come as `pg`'s query config instead,
   * `{ name, text, values }`: a statement prepared once per connection under `name`.
   */
  query(text: string | PreparedQuery, values?: unknown[]): Promise<QueryResultLike<any>>;
  /** Returns the client to its pool; a truthy argument destroys it instead (a broken connection). */
  release(destroy?: boolean | Error): void;
  /**
   * `pg.PoolClient` is an event emitter: while a client is checked out, the store listens for its
   * `error` event (a connection the server ended between two statements), so that the event is
   * never unhandled.
   */
  on?(event: "error", listener: (error: Error) => void): unknown;
  /** Stops listening (when the client goes back to its pool). */
  removeListener?(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * The part of a `pg.Pool` the store uses. Pass a real `pg.Pool` (or anything with this shape, such
 * as a pool from `pg-pool`); crier never calls `end()` on a pool it was given.
 */
export interface PgPoolLike {
  /** Runs one statement on any free connection, `$1`, `$2`… bound to `values`. */
  query(text: string, values?: unknown[]): Promise<QueryResultLike<any>>;
  /** Checks out one connection (for a transaction); the store releases it. */
  connect(): Promise<PgClientLike>;
  /** Closes every connection (only on a pool the store made itself). */
  end(): Promise<void>;
}

/** `pg`'s query config for a named prepared statement (what `PgClientLike.query` may be given). */
export interface PreparedQuery {
  name: string;
  text: string;
  values: unknown[];
}

/**
 * The name each statement text is prepared under. One map for the process: a name must mean one
 * text on every connection, and stores may share a pool (the text names its schema, so the same
 * text is the same statement). Texts beyond the limit (built from varying filters) are sent
 * unprepared.
 */
const preparedNames = new Map<string, string>();
const MAX_PREPARED = 2000;

/** @internal Something a statement can run on: the pool, or one transaction's client. */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
}

/** @internal The prefix of every message the store writes. */
export const PREFIX = "[crier] [store:postgres]";

/** SQLSTATE classes and codes of errors that happen before a statement reaches the server. */
function connectionRefused(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "ENOTFOUND" ||
    code === "EAI_AGAIN" ||
    code === "57P03" || // cannot_connect_now: starting up or shutting down
    code === "53300" // too_many_connections
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @internal Validates a schema name: a plain lower-case identifier, so it needs no escaping tricks. */
export function checkSchema(schema: unknown): string {
  if (typeof schema !== "string" || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new InvalidParamsError(
      `${PREFIX} Expected option \`schema\` to be a lower-case SQL identifier (letters, digits, _; at most 63 characters), received ${JSON.stringify(schema)}.`,
      [{ field: "schema", type: "format", message: "expected a lower-case SQL identifier" }],
    );
  }
  return schema;
}

/** @internal The store's handle on PostgreSQL. */
export class Db implements Queryable {
  /** The quoted schema, to prefix table names with. */
  readonly s: string;
  readonly schema: string;
  readonly #getPool: () => Promise<PgPoolLike>;
  #ready: Promise<PgPoolLike> | undefined;
  /** How many times a connection that could not be made is tried before the error surfaces. */
  readonly #connectAttempts: number;
  /** Whether statements go as named prepared statements. */
  readonly #prepare: boolean;

  constructor(
    schema: string,
    getPool: () => Promise<PgPoolLike>,
    connectAttempts: number,
    preparedStatements = true,
  ) {
    this.schema = schema;
    this.s = `"${schema}"`;
    this.#getPool = getPool;
    this.#connectAttempts = connectAttempts;
    this.#prepare = preparedStatements;
  }

  /**
   * Runs `text` on `client`: as a named prepared statement (parsed and planned once per
   * connection: PostgreSQL's share of a simple statement's cost), or as plain text.
   */
  #run(client: PgClientLike, text: string, values: unknown[] | undefined) {
    if (!this.#prepare) return client.query(text, values);
    let name = preparedNames.get(text);
    if (name === undefined) {
      if (preparedNames.size >= MAX_PREPARED) return client.query(text, values);
      name = `crier_${preparedNames.size}`;
      preparedNames.set(text, name);
    }
    return client.query({ name, text, values: values ?? [] });
  }

  /** The pool, once it exists and the schema is migrated (done once; retried after a failure). */
  ready(): Promise<PgPoolLike> {
    if (!this.#ready) {
      this.#ready = (async () => {
        const pool = await this.#getPool();
        const client = await this.#connect(pool, "migrate");
        let broken = false;
        try {
          await migrate(client, this.schema);
        } catch (error) {
          broken = brokenConnection(error);
          throw wrap(error, "migration");
        } finally {
          client.release(broken);
        }
        return pool;
      })();
      this.#ready.catch(() => {
        this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  /** Checks a client out, retrying while the server refuses connections (restarting, full). */
  async #connect(pool: PgPoolLike, operation: string): Promise<PgClientLike> {
    for (let attempt = 1; ; attempt++) {
      try {
        return guardCheckedOut(await pool.connect());
      } catch (error) {
        if (!connectionRefused(error) || attempt >= this.#connectAttempts) {
          throw wrap(error, operation);
        }
        await sleep(Math.min(100 * 2 ** (attempt - 1), 2_000));
      }
    }
  }

  /**
   * Runs one statement. A statement that could not be sent (no connection) is tried again on a new
   * connection; one that failed on the server is not (it may have taken effect).
   */
  async query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]> {
    const pool = await this.ready();
    const client = await this.#connect(pool, "query");
    try {
      const result = await this.#run(client, text, values);
      client.release();
      return result.rows as R[];
    } catch (error) {
      client.release(brokenConnection(error));
      throw wrap(error, "query");
    }
  }

  /** Runs `work` in one transaction (READ COMMITTED), committing when it resolves. */
  async tx<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    const pool = await this.ready();
    const client = await this.#connect(pool, "transaction");
    const q: Queryable = {
      query: async <R>(text: string, values?: unknown[]): Promise<R[]> =>
        (await this.#run(client, text, values)).rows as R[],
    };
    try {
      await client.query("BEGIN");
      const result = await work(q);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      let broken = brokenConnection(error);
      try {
        if (!broken) await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      client.release(broken);
      throw error instanceof CrierError ? error : wrap(error, "transaction");
    }
  }
}

/**
 * A checked-out client with a listener for its `error` event until it is released. `pg`'s pool
 * listens only to idle clients; a checked-out client whose connection the server ends while no
 * statement is running on it (PostgreSQL restarting: "terminating connection due to
 * administrator command") emits `error`, and an `error` event without a listener would crash the
 * process. With this one, the client's next statement fails instead (its connection is gone: the
 * job is retried), and the client is destroyed on release rather than pooled.
 */
function guardCheckedOut(client: PgClientLike): PgClientLike {
  const { on, removeListener } = client;
  if (typeof on !== "function" || typeof removeListener !== "function") return client;
  let lost = false;
  const onError = () => {
    lost = true;
  };
  on.call(client, "error", onError);
  return {
    query: (text, values) => client.query(text, values),
    release(destroy) {
      removeListener.call(client, "error", onError);
      client.release(destroy || lost);
    },
  };
}

/** Whether the error left the connection unusable (it is then destroyed, not pooled). */
function brokenConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return true; // a socket error, not an answer from the server
  return code.startsWith("08") || code.startsWith("57P");
}

/**
 * @internal A failed statement: a `CrierError` that names the store, keeps the driver's error as
 * `cause` and says what to do. The store names the method that failed (see {@link forMethod}).
 */
export class PostgresStoreError extends CrierError {
  override name = "CrierError";
  /** What PostgreSQL (or the driver) said. */
  readonly detail: string;
  /** What to do about it. */
  readonly hint: string;

  constructor(operation: string, detail: string, hint: string, cause: unknown) {
    super(
      "adapter_error",
      `${PREFIX} Expected ${operation} to succeed, but PostgreSQL answered: ${detail}. ${hint}`,
      { cause },
    );
    this.detail = detail;
    this.hint = hint;
  }

  /** The same error, naming the store method that failed. */
  forMethod(method: string): PostgresStoreError {
    return new PostgresStoreError(`${method}()`, this.detail, this.hint, this.cause);
  }
}

function wrap(error: unknown, operation: string): CrierError {
  if (error instanceof CrierError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const hint = connectionRefused(error)
    ? "Check that the server is running and reachable (connectionString, host, port)."
    : "The job that made this call is retried; if it keeps failing, check the server's log.";
  return new PostgresStoreError(
    `the ${operation}`,
    `${message}${typeof code === "string" ? ` (${code})` : ""}`,
    hint,
    error,
  );
}
