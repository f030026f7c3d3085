/**
 * `bullmqQueue()`: the {@link Queue} on BullMQ, with Redis or with BullMQ's PostgreSQL backend.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { Job as BullJob, Queue as BullQueue, Worker as BullWorker, JobsOptions } from "bullmq";
import { requirePeer } from "../_internal/peer.js";
import { CrierError, InvalidParamsError } from "../errors.js";
import type { Job, JobInput, Queue, QueueContext } from "../queue/types.js";
import { validateJob } from "../queue/validate-job.js";
import { type Clock, systemClock, type TimerHandle } from "../scheduling/clock.js";

const PREFIX = "[crier] [queue:bullmq]";

/** Which datastore BullMQ keeps the jobs in. */
export type BullmqBackend = "redis" | "postgres";

/**
 * How to reach the datastore.
 *
 * - Redis: a `redis://` URL (crier makes and closes the ioredis connections), ioredis options
 *   (BullMQ makes and closes them), or an ioredis instance (yours: never closed by crier; create
 *   it with `maxRetriesPerRequest: null`, as BullMQ's workers require).
 * - PostgreSQL: a `postgres://` URL or a `pg` pool config (BullMQ makes and ends the pool, and
 *   crier asks it to migrate BullMQ's schema), or a `pg.Pool` (yours; its `search_path` must
 *   include BullMQ's schema, migrated beforehand with BullMQ's `runMigrations`).
 */
export type BullmqConnection = string | Record<string, unknown> | object;

/** Options of {@link bullmqQueue}. */
export interface BullmqQueueOptions {
  /** How to reach Redis or PostgreSQL: see {@link BullmqConnection}. */
  connection: BullmqConnection;
  /** The datastore. @default "redis" */
  backend?: BullmqBackend;
  /**
   * The BullMQ queue's name: every process of one deployment uses the same. No `:`.
   * @default "crier"
   */
  name?: string;
  /** Redis key prefix (Redis only; PostgreSQL namespaces by schema). @default "crier" */
  prefix?: string;
  /** How many jobs this process runs at once. @default 32 */
  concurrency?: number;
  /** How many times a job runs before it is reported through `onFailed` (1 = no retry). @default 5 */
  attempts?: number;
  /**
   * Milliseconds before the next attempt, given the number of the attempt that just failed.
   * @default (attempt) => 1000 * 2 ** (attempt - 1)  — 1 s, 2 s, 4 s, 8 s
   */
  backoff?: (attempt: number) => number;
  /**
   * How long a running job's lock lasts without renewal (the worker renews it at half this). A
   * job whose worker died is handed to another worker once its lock has expired.
   * @default 30_000
   */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (locks expired) to hand out again. @default 30_000 */
  stalledInterval?: number;
  /**
   * How many times a job may stall (its worker died or blocked past `lockDuration`) before BullMQ
   * fails it; the worker that takes it next reports that through `onFailed` (the engine's
   * `error` event) without running it.
   * @default 5
   */
  maxStalledCount?: number;
  /** Called with errors of the connections and workers (BullMQ retries them itself). */
  onError?: (error: unknown) => void;
  /**
   * Whether this process runs jobs. `false` makes a producer only (an API server that triggers
   * and reads, while worker processes run the work): it adds and removes jobs, and its `idle()`
   * waits for the queue to have nothing waiting, whoever runs it.
   * @default true
   */
  worker?: boolean;
}

/** @internal Engine job ids may hold `:`, which BullMQ refuses in custom ids; `%` and `:` are escaped. */
export function toBullId(id: string): string {
  return `j_${id.replace(/[%:]/g, (c) => (c === "%" ? "%25" : "%3A"))}`;
}

/** The job data key that carries a job's due time on a virtual clock (never shown to handlers). */
const RUN_AT_KEY = "$crier_run_at";

/**
 * On a clock other than the system's, how much longer than the clock's delay BullMQ's own
 * real-time delay is: the clock's timer promotes the job; BullMQ's timer is a fallback.
 */
const VIRTUAL_FALLBACK_MS = 60_000;

/** A BullMQ job as the engine's {@link Job}: unescaped id, data without crier's own keys. */
function toJob(bullJob: BullJob): Job {
  let data = bullJob.data as Job["data"];
  if (data && typeof data === "object" && RUN_AT_KEY in data) {
    const { [RUN_AT_KEY]: _dueAt, ...rest } = data;
    data = rest;
  }
  return {
    id: fromBullId(String(bullJob.id)),
    name: bullJob.name,
    data,
    attempt: bullJob.attemptsMade + 1,
  };
}

/** @internal The inverse of {@link toBullId}. */
export function fromBullId(id: string): string {
  if (!id.startsWith("j_")) return id;
  return id.slice(2).replace(/%(25|3A)/g, (m) => (m === "%25" ? "%" : ":"));
}

const defaultBackoff = (attempt: number): number => 1000 * 2 ** (attempt - 1);

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidParamsError(
      `${PREFIX} Expected option ${field} to be an integer of 1 or more, received ${String(value)}.`,
      [{ field, message: "must be an integer of 1 or more", type: "type" }],
    );
  }
  return value;
}

type BullmqModule = typeof import("bullmq");

/** The ioredis constructor, as far as crier uses it. */
type RedisConstructor = new (
  url: string,
  options: { maxRetriesPerRequest: null },
) => { quit(): Promise<unknown>; on(event: "error", listener: (error: Error) => void): unknown };

/** The Queue contract on BullMQ; see {@link bullmqQueue}. */
class BullmqQueue implements Queue {
  readonly name = "bullmq";
  readonly #options: BullmqQueueOptions;
  readonly #backend: BullmqBackend;
  readonly #queueName: string;
  readonly #concurrency: number;
  readonly #attempts: number;
  readonly #backoff: (attempt: number) => number;
  #queue: BullQueue | undefined;
  #worker: BullWorker | undefined;
  #owned: Array<{ quit(): Promise<unknown> }> = [];
  #clock: Clock = systemClock;
  #context: QueueContext | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Handlers running in this process now. */
  #running = 0;
  /** This process's worker name: BullMQ stores it on each job it hands this worker (`processedBy`). */
  readonly #workerName = `crier-${randomUUID()}`;
  /** Woken whenever a handler finishes (for `idle`). */
  #wake: (() => void) | undefined;
  /** Virtual-clock timers that promote delayed jobs, by BullMQ id (only with a non-system clock). */
  readonly #timers = new Map<string, TimerHandle>();
  /** Promotions under way (their jobs count as waiting for `idle`). */
  readonly #promotions = new Set<Promise<void>>();

  constructor(options: BullmqQueueOptions) {
    if (typeof options !== "object" || options === null || options.connection === undefined) {
      throw new InvalidParamsError(
        `${PREFIX} Expected options { connection }, e.g. bullmqQueue({ connection: "redis://localhost:6379" }), received ${options === null ? "null" : typeof options === "object" ? "no connection" : typeof options}.`,
        [{ field: "connection", message: "required", type: "required" }],
      );
    }
    this.#options = options;
    this.#backend = options.backend ?? "redis";
    if (this.#backend !== "redis" && this.#backend !== "postgres") {
      throw new InvalidParamsError(
        `${PREFIX} Expected option backend to be "redis" or "postgres", received ${JSON.stringify(options.backend)}.`,
        [{ field: "backend", message: 'expected "redis" or "postgres"', type: "enum" }],
      );
    }
    this.#queueName = options.name ?? "crier";
    if (
      typeof this.#queueName !== "string" ||
      this.#queueName === "" ||
      this.#queueName.includes(":")
    ) {
      throw new InvalidParamsError(
        `${PREFIX} Expected option name to be a non-empty string without ":", received ${JSON.stringify(options.name)}.`,
        [{ field: "name", message: 'a non-empty string without ":"', type: "format" }],
      );
    }
    this.#concurrency = positiveInteger(options.concurrency, 32, "concurrency");
    this.#attempts = positiveInteger(options.attempts, 5, "attempts");
    this.#backoff = options.backoff ?? defaultBackoff;
    requirePeer("bullmq", "queue:bullmq", "bullmqQueue()");
    if (this.#backend === "redis") requirePeer("ioredis", "queue:bullmq", "bullmqQueue() on Redis");
    else requirePeer("pg", "queue:bullmq", 'bullmqQueue({ backend: "postgres" })');
  }

  /** How many jobs this process runs at once (the `concurrency` option). */
  get concurrency(): number {
    return this.#concurrency;
  }

  async start(context: QueueContext): Promise<void> {
    if (this.#closed) throw this.#closedError("start");
    if (this.#context) {
      throw new CrierError(
        "adapter_error",
        `${PREFIX} Expected start(context) to be called once, but it was called again.`,
      );
    }
    this.#context = context;
    this.#clock = context.clock;
    const bullmq = (await import("bullmq")) as BullmqModule;
    const { connection, backendFactory } = await this.#connection(bullmq);
    const onError = (error: unknown) => this.#options.onError?.(error);
    const common = {
      connection,
      ...(this.#backend === "redis" ? { prefix: this.#options.prefix ?? "crier" } : {}),
    };
    // The constructors' overloads tie options to the backend factory's type: build them untyped.
    const QueueClass = bullmq.Queue as unknown as new (...args: unknown[]) => BullQueue;
    const WorkerClass = bullmq.Worker as unknown as new (...args: unknown[]) => BullWorker;
    const queue = new QueueClass(this.#queueName, { ...common }, backendFactory);
    queue.on("error", onError);
    this.#queue = queue;
    if (this.#options.worker === false) {
      await queue.waitUntilReady();
      await this.#armStored(queue);
      return;
    }
    const worker = new WorkerClass(
      this.#queueName,
      (job: BullJob) => this.#process(job),
      {
        ...common,
        name: this.#workerName,
        concurrency: this.#concurrency,
        lockDuration: this.#options.lockDuration ?? 30_000,
        stalledInterval: this.#options.stalledInterval ?? 30_000,
        maxStalledCount: this.#options.maxStalledCount ?? 5,
        // How long BullMQ waits before retrying its own datastore calls (completing a job…).
        runRetryDelay: 500,
        settings: {
          backoffStrategy: (attemptsMade: number) => {
            let wait: number;
            try {
              wait = Number(this.#backoff(attemptsMade));
            } catch {
              wait = defaultBackoff(attemptsMade);
            }
            return Number.isFinite(wait) && wait > 0 ? Math.round(wait) : 0;
          },
        },
      },
      backendFactory,
    );
    worker.on("error", onError);
    // A job BullMQ fails without running it (it stalled more than maxStalledCount times: its
    // worker died or blocked past its lock, again and again) never reaches #process: report it
    // here, as a job that ran out of attempts is reported there.
    worker.on("failed", (bullJob: BullJob | undefined, error: Error) => {
      if (!bullJob?.deferredFailure || error?.message !== bullJob.deferredFailure) return;
      try {
        this.#context?.onFailed(toJob(bullJob), error);
      } catch {
        // A failing onFailed must not change what happens to the job.
      }
    });
    this.#worker = worker;
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    await this.#armStored(queue);
  }

  /** The connection option and backend factory for BullMQ's constructors. */
  async #connection(
    bullmq: BullmqModule,
  ): Promise<{ connection: unknown; backendFactory: unknown }> {
    const given = this.#options.connection;
    if (this.#backend === "postgres") {
      const backendFactory = bullmq.createPostgresBackend;
      if (typeof given === "string")
        return { connection: { connectionString: given, migrate: true }, backendFactory };
      const isPool = typeof (given as { connect?: unknown }).connect === "function";
      if (isPool) {
        return { connection: given, backendFactory };
      }
      return {
        connection: { migrate: true, ...(given as Record<string, unknown>) },
        backendFactory,
      };
    }
    if (typeof given === "string") {
      const module = (await import("ioredis")) as unknown as {
        default?: RedisConstructor;
        Redis?: RedisConstructor;
      };
      const Redis = (module.Redis ?? module.default) as RedisConstructor;
      // One connection for the queue's commands; BullMQ's worker makes its own blocking one from it.
      const redis = new Redis(given, { maxRetriesPerRequest: null });
      redis.on("error", (error) => this.#options.onError?.(error));
      this.#owned.push(redis);
      return { connection: redis, backendFactory: undefined };
    }
    return { connection: given, backendFactory: undefined };
  }

  /** Runs one BullMQ job through the engine's handler. */
  async #process(bullJob: BullJob): Promise<void> {
    const context = this.#context!;
    const job = toJob(bullJob);
    this.#running++;
    try {
      await context.handler(job);
    } catch (error) {
      if (job.attempt >= this.#attempts) {
        try {
          context.onFailed(job, error);
        } catch {
          // A failing onFailed must not change what happens to the job.
        }
      }
      throw error instanceof Error ? error : new Error(String(error));
    } finally {
      this.#running--;
      this.#wake?.();
    }
  }

  #ready(method: string): BullQueue {
    if (this.#closed) throw this.#closedError(method);
    if (!this.#queue) {
      throw new CrierError(
        "adapter_error",
        `${PREFIX} Expected start(context) before ${method}(), but the queue has not been started. The engine starts it; call start() yourself only when using the queue directly.`,
      );
    }
    return this.#queue;
  }

  #closedError(method: string): CrierError {
    return new CrierError(
      "adapter_error",
      `${PREFIX} Expected an open queue, but ${method}() was called after close(). Create a new queue (and engine) to go on.`,
    );
  }

  /**
   * BullMQ's form of a job: the escaped id, and a delay measured on the engine's clock (`delay`,
   * what a virtual clock's timer waits; BullMQ's own is a minute longer then, see below).
   */
  #toBull(input: JobInput): { name: string; data: unknown; opts: JobsOptions; delay: number } {
    const jobId = toBullId(input.id ?? randomUUID());
    const delay =
      input.runAt === undefined
        ? 0
        : Math.max(0, Math.ceil(input.runAt.getTime() - this.#clock.now().getTime()));
    const virtual = delay > 0 && this.#clock !== systemClock;
    // On a virtual clock the due time is kept with the job, so that a queue started later (another
    // process, a restart) can follow it too (see #armStored); the handler never sees it.
    const data =
      virtual && input.runAt !== undefined
        ? { ...input.data, [RUN_AT_KEY]: input.runAt.toISOString() }
        : input.data;
    // On a virtual clock the clock's timer promotes the job; BullMQ's real-time delay, a minute
    // longer, is only a fallback. Equal to the clock's, it would run the job early, at the wrong
    // virtual time, whenever more real time than the delay passed before the clock was moved
    // (a collection pause, a busy machine).
    const bullDelay = virtual ? delay + VIRTUAL_FALLBACK_MS : delay;
    return {
      name: input.name,
      data,
      delay,
      opts: {
        jobId,
        ...(bullDelay > 0 ? { delay: bullDelay } : {}),
        attempts: this.#attempts,
        backoff: { type: "crier" },
        removeOnComplete: true,
        removeOnFail: true,
      },
    };
  }

  /**
   * With a clock other than the system's (a test clock), BullMQ's real-time delay would not follow
   * virtual time: a timer on that clock promotes the job when the clock reaches its due time.
   */
  #armVirtual(jobId: string, delay: number): void {
    if (this.#clock === systemClock || delay <= 0) return;
    const previous = this.#timers.get(jobId);
    if (previous !== undefined) return; // already delayed: adding it again is a no-op
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(jobId);
      this.#startPromotion(jobId);
    }, delay);
    this.#timers.set(jobId, handle);
  }

  #startPromotion(jobId: string): void {
    const promotion = this.#promote(jobId).finally(() => {
      this.#promotions.delete(promotion);
      this.#wake?.();
    });
    this.#promotions.add(promotion);
  }

  /**
   * On a virtual clock, at start: arms a timer for every delayed job already in the datastore
   * (added by an earlier process, or by another one), from the due time each carries; one due
   * already is promoted now. Without this, a restarted test engine's parked runs and schedules
   * would wait for real time.
   */
  async #armStored(queue: BullQueue): Promise<void> {
    if (this.#clock === systemClock) return;
    // All of them in one read, before any is promoted: paging by offset while promotions (ours,
    // BullMQ's, another process's) take jobs out of the delayed set would skip some.
    const jobs = await queue.getJobs(["delayed"], 0, -1, true);
    const seen = new Set<string>();
    for (const job of jobs) {
      const runAt = Date.parse(String((job.data as Record<string, unknown>)?.[RUN_AT_KEY]));
      if (!Number.isFinite(runAt) || job.id === undefined || seen.has(job.id)) continue;
      seen.add(job.id);
      const delay = runAt - this.#clock.now().getTime();
      if (delay > 0) this.#armVirtual(job.id, delay);
      else if (!this.#timers.has(job.id)) this.#startPromotion(job.id);
    }
  }

  async #promote(jobId: string): Promise<void> {
    const queue = this.#queue;
    if (!queue || this.#closed) return;
    try {
      const job = await queue.getJob(jobId);
      if (job && (await job.isDelayed())) await job.promote();
    } catch (error) {
      // Removed or already promoted in between: nothing to do.
      this.#options.onError?.(error);
    }
  }

  async add(job: JobInput): Promise<void> {
    const queue = this.#ready("add");
    validateJob(job, "job", PREFIX);
    const bull = this.#toBull(job);
    await queue.add(bull.name, bull.data, bull.opts);
    this.#armVirtual(bull.opts.jobId!, bull.delay);
  }

  async addBulk(jobs: readonly JobInput[]): Promise<void> {
    const queue = this.#ready("addBulk");
    if (!Array.isArray(jobs)) {
      throw new InvalidParamsError(
        `${PREFIX} Expected addBulk to receive an array of jobs, received ${typeof jobs}.`,
      );
    }
    for (let index = 0; index < jobs.length; index++)
      validateJob(jobs[index], `jobs[${index}]`, PREFIX);
    if (jobs.length === 0) return;
    const bulk = jobs.map((job) => this.#toBull(job));
    await queue.addBulk(
      bulk.map(({ name, data, opts }) => ({ name, data, opts })) as Parameters<
        BullQueue["addBulk"]
      >[0],
    );
    for (const job of bulk) this.#armVirtual(job.opts.jobId!, job.delay);
  }

  async remove(id: string): Promise<boolean> {
    const queue = this.#ready("remove");
    const jobId = toBullId(id);
    // BullMQ's remove answers 1 for an id it does not know: only a job that waits is removed.
    const state = await queue.getJobState(jobId);
    const waits = state === "waiting" || state === "delayed" || state === "prioritized";
    const removed = waits && (await queue.remove(jobId)) === 1;
    if (removed) {
      const timer = this.#timers.get(jobId);
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      this.#timers.delete(jobId);
    }
    return removed;
  }

  /**
   * Resolves once nothing is waiting in the queue (waiting jobs, and delayed jobs already due), no
   * promotion is under way, and nothing runs in this process: no handler, and no job that BullMQ
   * has handed to this worker (active, `processedBy` this worker's name) and not yet finished. Jobs
   * active in other processes do not count. Checked twice in a row, a round trip apart.
   */
  async idle(): Promise<void> {
    if (!this.#queue || this.#closed) return;
    let quiet = 0;
    while (quiet < 2) {
      if (this.#promotions.size > 0) await Promise.all([...this.#promotions]);
      if (this.#running === 0 && !(await this.#busy()) && this.#running === 0) {
        quiet++;
        continue;
      }
      quiet = 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 25);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#closed) return;
    }
  }

  /** Whether a job waits (or is due), or is active in this process's worker. */
  async #busy(): Promise<boolean> {
    const queue = this.#queue!;
    const counts = await queue.getJobCounts("waiting", "prioritized", "active");
    if ((counts.waiting ?? 0) + (counts.prioritized ?? 0) > 0) return true;
    if ((counts.active ?? 0) > 0) {
      const active = await queue.getJobs(["active"]);
      if (active.some((job) => job.processedBy === this.#workerName)) return true;
    }
    const [next] = await queue.getJobs(["delayed"], 0, 0, true);
    // BullMQ keeps due times on its own (real) time, so "due" is judged on it, not on the
    // engine's clock; with a virtual clock, promotions (above) are what make jobs due.
    return next !== undefined && next.timestamp + (next.delay ?? 0) <= Date.now();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) this.#clock.clearTimeout(timer);
    this.#timers.clear();
    this.#wake?.();
    // The worker first: it stops taking jobs and waits for the running ones to finish.
    await this.#worker?.close();
    await this.#queue?.close();
    await Promise.all(this.#owned.map((redis) => redis.quit().catch(() => {})));
    this.#owned = [];
  }
}

/**
 * Creates a {@link Queue} (name `bullmq`) on BullMQ 6, with Redis (default) or with BullMQ's
 * PostgreSQL backend (`backend: "postgres"`). `bullmq`, and `ioredis` or `pg`, are optional peer
 * dependencies: importing `crier` never loads them; `bullmq` is loaded when the queue starts, and a
 * missing one is named in a `CrierError` as soon as the queue is created.
 *
 * - **Jobs** are BullMQ jobs in the queue `name` (default `crier`), with the engine's job name and
 *   data. Job ids are escaped (`j_` + the id with `%` and `:` escaped: BullMQ refuses `:` and
 *   integer ids), so adding an id that is waiting, delayed or running is a no-op, and `remove(id)`
 *   finds it; a job without an id gets a random UUID. Finished jobs are removed at once, so an id
 *   can be added again once its job has finished, as with the memory queue.
 * - **Time.** `runAt` becomes BullMQ's `delay`, measured on the engine's clock
 *   (`runAt - clock.now()`); BullMQ keeps delayed jobs in the datastore, so they survive restarts
 *   and any process's worker runs them when due. With a clock other than `systemClock` (the test
 *   clock), a timer on that clock also promotes each delayed job when the clock reaches its due
 *   time, so virtual time drives durable delays in tests; such a job carries its due time, and a
 *   queue started later on a virtual clock (a restarted test engine) arms timers for them too.
 * - **Retries.** A rejected handler is retried with `backoff(attempt)` until `attempts` runs have
 *   failed; the last failure is reported through `onFailed` once.
 * - **Crashes.** A job whose process dies while running it is handed to another worker once its
 *   lock (`lockDuration`) expires (BullMQ's stalled-job recovery, checked every
 *   `stalledInterval`): jobs run at least once, and the engine's handlers make that safe. A job
 *   that stalls more than `maxStalledCount` times is failed by BullMQ without running again, and
 *   reported through `onFailed` by the worker that took it.
 * - **idle()** resolves when nothing is waiting in the queue and nothing runs in this process.
 * - **close()** stops this process's worker (waiting for running jobs) and closes the connections
 *   crier made; waiting and delayed jobs stay in the datastore for the next worker.
 *
 * @throws {InvalidParamsError} For a missing connection or a bad option.
 * @throws {CrierError} When `bullmq`, `ioredis` (Redis) or `pg` (PostgreSQL) is not installed.
 *
 * @example
 * ```ts
 * import { createEngine } from "crier";
 * import { bullmqQueue } from "crier/bullmq";
 * import { postgresStore } from "crier/postgres";
 *
 * const engine = createEngine({
 *   store: postgresStore({ connectionString: process.env.DATABASE_URL! }),
 *   queue: bullmqQueue({ connection: process.env.REDIS_URL! }),
 * });
 * ```
 */
export function bullmqQueue(options: BullmqQueueOptions): Queue {
  return new BullmqQueue(options);
}
