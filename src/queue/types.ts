/**
 * The `Queue` contract: how work moves. A queue carries small jobs of plain JSON that name what to
 * do next (fan out a trigger, run a recipient run from its cursor, retry a delivery); the store
 * holds everything else.
 *
 * Lifecycle: the engine calls {@link Queue.start} once with its clock and its job handler, then
 * adds jobs; {@link Queue.close} stops taking and running jobs. The engine owns neither the queue's
 * connections nor its workers' processes: whoever created the queue passes it in, and `close()` is
 * how the engine lets go.
 *
 * Guarantees every implementation gives:
 * - **At least once.** Every added job runs at least once after its due time, unless removed
 *   first. A job whose handler throws is retried (with backoff) up to the queue's attempt limit;
 *   then it is reported through `onFailed`. A job may run more than once (a crash, a redelivery):
 *   the engine's handlers are written for that.
 * - **Idempotent adds.** Adding a job with the `id` of a job that is waiting, delayed or running
 *   changes nothing.
 * - **Removal.** {@link Queue.remove} drops a waiting or delayed job, which then never runs.
 * - **Due times.** A job with `runAt` does not run before that instant (per the clock given to
 *   `start`); due jobs run in due-time order when they are due at once. A queue that promotes due
 *   jobs in batches (BullMQ's PostgreSQL backend) may start jobs that fell due within one batch in
 *   the order they were added; nothing in the engine depends on that order (jobs run
 *   concurrently, and each is written to be run in any order).
 *
 * Non-goals: priorities, rate limits, per-job result storage. A queue never runs steps itself.
 *
 * `testQueue(factory)` from `crier/testing` is the executable form of this contract.
 *
 * @module
 */
import type { JsonValue } from "../_internal/json.js";
import type { Clock } from "../scheduling/clock.js";

/** The data a job carries: plain JSON. */
export type JobData = { [key: string]: JsonValue };

/** A job as a handler receives it. */
export interface Job {
  /** The job's id: the one given to `add`, or one the queue made up. */
  id: string;
  /** What kind of work: the engine uses `fanout`, `run`, `deliver`, … */
  name: string;
  data: JobData;
  /** 1 for the first time the job runs, 2 for its first retry, … */
  attempt: number;
}

/** A job to add. */
export interface JobInput {
  name: string;
  data: JobData;
  /** Makes adding idempotent, and lets the job be removed. */
  id?: string;
  /** Not before this instant. */
  runAt?: Date;
}

/** What the engine gives a queue when it starts it. */
export interface QueueContext {
  /** The engine's clock: due times are measured against it. */
  clock: Clock;
  /** Runs one job. A rejection means "retry". */
  handler: (job: Job) => Promise<void>;
  /** Called when a job has failed its last attempt. */
  onFailed: (job: Job, error: unknown) => void;
}

/** Moves jobs to the engine's handler. See the module documentation for the guarantees. */
export interface Queue {
  /** A short name for messages and logs (`memory`, `bullmq`). */
  readonly name: string;
  /**
   * How many jobs this process runs at once, when the queue knows it. The engine starts a
   * trigger's runs in jobs of several runs each, sized so that every one of these slots gets
   * work (see `docs/concepts.md`, "Jobs"); without it, each run starts in a job of its own.
   */
  readonly concurrency?: number;
  /** Begins handing jobs to `context.handler`. Called once, before any `add`. */
  start(context: QueueContext): Promise<void>;
  /** Adds one job (a no-op when its id is already waiting, delayed or running). */
  add(job: JobInput): Promise<void>;
  /** Adds many jobs; same rules as `add`, for each. */
  addBulk(jobs: readonly JobInput[]): Promise<void>;
  /** Removes a waiting or delayed job; true when one was removed. */
  remove(id: string): Promise<boolean>;
  /**
   * Resolves when no job is waiting or running in this process now (delayed jobs that are not yet
   * due do not count).
   */
  idle(): Promise<void>;
  /** Stops taking new jobs, waits for running ones, and releases timers and connections. */
  close(): Promise<void>;
}
