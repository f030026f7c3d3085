/**
 * @internal Group commit for the PostgreSQL store: concurrent calls of one kind (say 30 runs each
 * writing its recipient run) go to PostgreSQL together, as one multi-row statement, instead of one
 * statement each. PostgreSQL's cost of a short statement is mostly per statement (a round trip,
 * executor start-up, a WAL flush at commit), so a statement for 30 calls costs little more than one
 * for a single call.
 *
 * How calls are grouped: a call waits in its kind's queue until the end of the current turn of the
 * event loop (so the calls made together, or answered by the same round of socket reads, go
 * together); then, while fewer than `maxInFlight` statements of its kind are running, the queued
 * calls go out as one statement. Calls that arrive while that many are running wait for one of them
 * to finish and then go together in the next. With no load a call goes out at once: its latency is
 * still one round trip.
 *
 * What grouping never changes:
 * - Each call gets its own result, as the method's contract documents it. Two calls with the same
 *   `key` (the same row) never share a statement, nor run at once: the later waits until the
 *   earlier's statement is done, so that a compare-and-set or an insert-if-absent decides between
 *   them exactly as between two statements made one after the other. A statement's calls go in
 *   key order, so statements that lock some of the same rows lock them in the same order.
 * - A statement that PostgreSQL refuses (a value it cannot store, a deadlock with another process)
 *   does not fail the calls it carried: they are retried one by one, each getting its own result or
 *   its own error. A statement lost with its connection fails every call it carried, as a single
 *   call would: it may have taken effect, so it is not re-sent (the jobs that made the calls are
 *   retried instead).
 * - Nothing is kept between statements: grouping changes how statements are made, not what is
 *   stored, so any number of processes share a database as before.
 */
import { PostgresStoreError } from "./db.js";

/**
 * The real `setImmediate`, captured when the module loads: a test that fakes timers must not stall
 * the store's statements.
 */
const realSetImmediate: (callback: () => void) => unknown = globalThis.setImmediate;

/** @internal How a {@link Group} sends its calls. */
export interface GroupOptions<C, R> {
  /**
   * Runs one statement for `calls` (never empty; no two with the same key) and returns their
   * results in the same order. A call that fails alone is retried by itself; see the module notes.
   */
  run(calls: readonly C[]): Promise<R[]>;
  /**
   * The row a call writes. Calls with the same key go in separate statements, one after the other,
   * in the order they were made. Omit it for reads, which may share a statement whatever they read.
   */
  key?: (call: C) => string;
  /** Statements of this kind running at once. @default 2 */
  maxInFlight?: number;
  /** Calls in one statement at most. @default 100 */
  maxCalls?: number;
}

interface Pending<C, R> {
  call: C;
  /** The call's key (for groups with keys). */
  key: string | undefined;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * @internal One kind of call, grouped into multi-row statements (see the module notes).
 *
 * @typeParam C - what one call asks for
 * @typeParam R - what one call gets back
 */
export class Group<C, R> {
  readonly #run: (calls: readonly C[]) => Promise<R[]>;
  readonly #key: ((call: C) => string) | undefined;
  readonly #maxInFlight: number;
  readonly #maxCalls: number;
  /** Calls waiting for a statement, in the order they were made. */
  #pending: Array<Pending<C, R>> = [];
  /** Statements of this kind running now. */
  #inFlight = 0;
  /** The keys of the calls those statements carry. */
  readonly #busy = new Set<string>();
  /** Whether a flush is due at the end of this turn of the event loop. */
  #scheduled = false;

  constructor(options: GroupOptions<C, R>) {
    this.#run = options.run;
    this.#key = options.key;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.#maxCalls = Math.max(1, options.maxCalls ?? 100);
  }

  /** Queues one call; resolves with its own result once the statement that carried it is done. */
  call(call: C): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ call, key: this.#key?.(call), resolve, reject });
      this.#schedule();
    });
  }

  /** Arranges a flush at the end of this turn, when one may start and none is arranged yet. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#pending.length === 0)
      return;
    this.#scheduled = true;
    realSetImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Sends what waits, as statements, while fewer than `maxInFlight` are running. */
  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#take();
      // Every queued call's key is in a running statement: one of those will flush again.
      if (batch.length === 0) return;
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        for (const pending of batch) if (pending.key !== undefined) this.#busy.delete(pending.key);
        this.#schedule();
      });
    }
  }

  /**
   * Takes the next statement's calls off the queue: the oldest calls, at most `maxCalls`, and of
   * calls with one key only the oldest, and none whose key a running statement carries (the rest
   * stay queued, in order, for a later statement). Keyed calls go in key order, so that statements
   * (of this process or another) that lock some of the same rows lock them in the same order.
   */
  #take(): Array<Pending<C, R>> {
    if (this.#key === undefined) return this.#pending.splice(0, this.#maxCalls);
    const taken: Array<Pending<C, R> & { key: string }> = [];
    const left: Array<Pending<C, R>> = [];
    for (const pending of this.#pending) {
      const key = pending.key as string;
      if (taken.length >= this.#maxCalls || this.#busy.has(key)) {
        left.push(pending);
      } else {
        this.#busy.add(key);
        taken.push({ ...pending, key });
      }
    }
    this.#pending = left;
    return taken.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Runs one statement for `batch`; on a refused statement, each call on its own. */
  async #send(batch: Array<Pending<C, R>>): Promise<void> {
    try {
      const results = await this.#run(batch.map((pending) => pending.call));
      for (const [i, pending] of batch.entries()) pending.resolve(results[i] as R);
    } catch (error) {
      if (batch.length === 1 || !refusedStatement(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      await Promise.all(
        batch.map(async (pending) => {
          try {
            const [result] = await this.#run([pending.call]);
            pending.resolve(result as R);
          } catch (own) {
            pending.reject(own);
          }
        }),
      );
    }
  }
}

/**
 * Whether PostgreSQL answered the statement with an error (a SQLSTATE outside the connection
 * classes): it then took no effect, and its calls may be sent again. Anything else (no connection,
 * a connection lost while the statement ran) may have taken effect.
 */
function refusedStatement(error: unknown): boolean {
  const cause = error instanceof PostgresStoreError ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  return (
    typeof code === "string" &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !code.startsWith("08") &&
    !code.startsWith("57P")
  );
}
