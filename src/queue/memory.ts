/**
 * The in-memory queue: p-queue for concurrency, a FIFO for waiting jobs, a min-heap and one clock
 * timer for delayed ones. Jobs live only in this process; the store holds the runs they point at.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import PQueue, { type Queue as PQueueStorage, type QueueAddOptions } from "p-queue";
import { CrierError, InvalidParamsError } from "../errors.js";
import type { Clock, TimerHandle } from "../scheduling/clock.js";
import type { Job, JobData, JobInput, Queue, QueueContext } from "./types.js";
import { validateJob } from "./validate-job.js";

/** Options of {@link memoryQueue}. */
export interface MemoryQueueOptions {
  /** How many jobs run at once. @default 32 */
  concurrency?: number;
  /** How many times a job runs before it is reported through `onFailed` (1 = no retry). @default 3 */
  attempts?: number;
  /**
   * Milliseconds to wait before the next attempt, given the number of the attempt that just
   * failed (1 after the first run). 0 or less retries at once.
   * @default (attempt) => 1000 * 2 ** (attempt - 1)  — 1 s, 2 s, 4 s, …
   */
  backoff?: (attempt: number) => number;
}

/** p-queue's task type (p-queue does not export it). */
type RunFunction = () => Promise<unknown>;

/** The options p-queue hands to the queue class: its own plus the job record they belong to. */
type EnqueueOptions = QueueAddOptions & { record?: JobRecord };

const WAITING = 0;
const DELAYED = 1;
const RUNNING = 2;
/** Finished, failed, removed or dropped: no longer known to the queue. */
const GONE = 3;
type JobState = typeof WAITING | typeof DELAYED | typeof RUNNING | typeof GONE;

/** Everything the queue knows about one job. One object per job, reused across its attempts. */
class JobRecord {
  /** Position in the delayed heap while `DELAYED`. */
  slot = -1;
  /** p-queue's task for this job while `WAITING`. */
  run: RunFunction | undefined = undefined;
  /** Whether the record is in the queue's id map (generated ids enter it when first run). */
  tracked = false;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly data: JobData,
    public attempt: number,
    public state: JobState,
    /** Due time in epoch ms (delayed jobs). */
    public due: number,
    /** Order of adding (and re-adding for a retry): breaks ties between equal due times. */
    public seq: number,
  ) {}
}

/**
 * The waiting jobs, as p-queue's `queueClass`: a FIFO array with a head index (dequeue is O(1), no
 * `Array.prototype.shift`), compacted once the consumed prefix is more than half the array.
 * Removal marks a record `GONE` and leaves it in place; dequeue skips it. Priorities are not used.
 */
class WaitingFifo implements PQueueStorage<RunFunction, EnqueueOptions> {
  #items: JobRecord[] = [];
  #head = 0;
  /** Live (not removed) waiting jobs. p-queue reads it to decide whether to dequeue. */
  size = 0;

  constructor(onCreate: (fifo: WaitingFifo) => void) {
    onCreate(this);
  }

  enqueue(run: RunFunction, options?: Partial<EnqueueOptions>): void {
    const record = options?.record;
    if (!record)
      throw new TypeError("memoryQueue: a task reached the FIFO without its job record.");
    record.run = run;
    this.#items.push(record);
    this.size++;
  }

  dequeue(): RunFunction | undefined {
    const items = this.#items;
    while (this.#head < items.length) {
      const record = items[this.#head]!;
      this.#head++;
      if (record.state !== WAITING) continue; // removed while waiting
      this.size--;
      if (this.#head === items.length) {
        items.length = 0;
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > items.length) {
        this.#items = items.slice(this.#head);
        this.#head = 0;
      }
      const run = record.run;
      record.run = undefined;
      return run;
    }
    return undefined;
  }

  /** Drops a waiting record (the caller has marked it `GONE`). */
  removed(): void {
    this.size--;
  }

  filter(options: Readonly<Partial<EnqueueOptions>>): RunFunction[] {
    if ((options.priority ?? 0) !== 0) return [];
    const runs: RunFunction[] = [];
    for (let index = this.#head; index < this.#items.length; index++) {
      const record = this.#items[index]!;
      if (record.state === WAITING && record.run) runs.push(record.run);
    }
    return runs;
  }

  setPriority(): void {
    throw new TypeError("memoryQueue: job priorities are not supported.");
  }
}

/**
 * The delayed jobs: a binary min-heap keyed by (due, seq), each record knowing its slot so that
 * removal by id is O(log n).
 */
class DelayedHeap {
  readonly items: JobRecord[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): JobRecord | undefined {
    return this.items[0];
  }

  push(record: JobRecord): void {
    record.slot = this.items.push(record) - 1;
    this.#up(record.slot);
  }

  pop(): JobRecord | undefined {
    const top = this.items[0];
    if (top) this.remove(top);
    return top;
  }

  remove(record: JobRecord): void {
    const items = this.items;
    const index = record.slot;
    const last = items.pop()!;
    record.slot = -1;
    if (index === items.length) return; // it was the last one
    items[index] = last;
    last.slot = index;
    this.#down(index);
    this.#up(last.slot);
  }

  clear(): void {
    for (const record of this.items) record.slot = -1;
    this.items.length = 0;
  }

  #up(index: number): void {
    const items = this.items;
    const record = items[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = items[parent]!;
      if (!earlier(record, above)) break;
      items[index] = above;
      above.slot = index;
      index = parent;
    }
    items[index] = record;
    record.slot = index;
  }

  #down(index: number): void {
    const items = this.items;
    const length = items.length;
    const record = items[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && earlier(items[right]!, items[left]!)) child = right;
      const smaller = items[child]!;
      if (!earlier(smaller, record)) break;
      items[index] = smaller;
      smaller.slot = index;
      index = child;
    }
    items[index] = record;
    record.slot = index;
  }
}

function earlier(a: JobRecord, b: JobRecord): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

const defaultBackoff = (attempt: number): number => 1000 * 2 ** (attempt - 1);

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidParamsError(
      `Expected memoryQueue option ${field} to be an integer of 1 or more, received ${String(value)}.`,
      [
        {
          field,
          message: `must be an integer of 1 or more, received ${String(value)}`,
          type: "type",
        },
      ],
    );
  }
  return value;
}

/** The in-memory implementation of {@link Queue}; see {@link memoryQueue}. */
class MemoryQueue implements Queue {
  readonly name = "memory";
  readonly #concurrency: number;
  readonly #attempts: number;
  readonly #backoff: (attempt: number) => number;
  /**
   * Every job that is waiting, delayed or running, by id; except that a job with a generated id
   * enters only when it first runs (before that, nobody can know its id). Keeping 1M anonymous
   * waiting jobs out of this map is most of the queue's own cost at high throughput.
   */
  readonly #jobs = new Map<string, JobRecord>();
  /** Reused for every p-queue add: p-queue copies the options synchronously. */
  readonly #addOptions: EnqueueOptions = { id: "", record: undefined };
  readonly #delayed = new DelayedHeap();
  readonly #idPrefix = `memory-${randomUUID().slice(0, 8)}-`;
  #nextId = 0;
  #seq = 0;
  #pqueue: PQueue<WaitingFifo, EnqueueOptions> | undefined;
  #fifo: WaitingFifo | undefined;
  #clock: Clock | undefined;
  #handler: QueueContext["handler"] | undefined;
  #onFailed: QueueContext["onFailed"] | undefined;
  #timer: TimerHandle | undefined;
  /** Due time the armed timer was set for (NaN when none is armed). */
  #armedFor = Number.NaN;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: MemoryQueueOptions) {
    this.#concurrency = positiveInteger(options.concurrency, 32, "concurrency");
    this.#attempts = positiveInteger(options.attempts, 3, "attempts");
    if (options.backoff !== undefined && typeof options.backoff !== "function") {
      throw new InvalidParamsError(
        `Expected memoryQueue option backoff to be a function (attempt) => milliseconds, received ${typeof options.backoff}.`,
      );
    }
    this.#backoff = options.backoff ?? defaultBackoff;
  }

  /** How many jobs this process runs at once (the `concurrency` option). */
  get concurrency(): number {
    return this.#concurrency;
  }

  async start(context: QueueContext): Promise<void> {
    if (this.#closed) throw this.#closedError("start");
    if (this.#pqueue) {
      throw new CrierError(
        "adapter_error",
        "Expected memoryQueue.start(context) to be called once, but it was called again.",
      );
    }
    this.#clock = context.clock;
    this.#handler = context.handler;
    this.#onFailed = context.onFailed;
    const setFifo = (fifo: WaitingFifo) => {
      this.#fifo = fifo;
    };
    this.#pqueue = new PQueue<WaitingFifo, EnqueueOptions>({
      concurrency: this.#concurrency,
      // p-queue constructs it (and again on clear()); the constructor hands it to us.
      queueClass: class extends WaitingFifo {
        constructor() {
          super(setFifo);
        }
      },
    });
  }

  async add(job: JobInput): Promise<void> {
    this.#addOne(job, this.#ready("add"));
  }

  async addBulk(jobs: readonly JobInput[]): Promise<void> {
    const now = this.#ready("addBulk");
    if (!Array.isArray(jobs)) {
      throw new InvalidParamsError(
        `Expected addBulk to receive an array of jobs, received ${typeof jobs}.`,
      );
    }
    // Validate all first, so a bad entry adds nothing.
    for (let index = 0; index < jobs.length; index++) validateJob(jobs[index], `jobs[${index}]`);
    for (const job of jobs) this.#addOne(job, now, false);
  }

  async remove(id: string): Promise<boolean> {
    const record = this.#jobs.get(id);
    if (!record) return false;
    if (record.state === WAITING) {
      record.state = GONE;
      record.run = undefined;
      this.#fifo?.removed();
    } else if (record.state === DELAYED) {
      const wasTop = this.#delayed.peek() === record;
      this.#delayed.remove(record);
      record.state = GONE;
      if (wasTop) this.#arm();
    } else {
      return false; // running: it cannot be taken back
    }
    this.#forget(record);
    return true;
  }

  async idle(): Promise<void> {
    await this.#pqueue?.onIdle();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#disarm();
    this.#delayed.clear();
    for (const record of this.#jobs.values()) {
      if (record.state !== RUNNING) this.#forget(record);
    }
    const pqueue = this.#pqueue;
    if (!pqueue) return;
    pqueue.clear();
    await pqueue.onIdle();
  }

  /** Throws unless the queue can take jobs; returns the clock's now in ms. */
  #ready(method: string): number {
    if (this.#closed) throw this.#closedError(method);
    if (!this.#clock) {
      throw new CrierError(
        "adapter_error",
        `Expected memoryQueue.start(context) before ${method}(), but the queue has not been started. The engine starts it; call start() yourself only when using the queue directly.`,
      );
    }
    return this.#clock.now().getTime();
  }

  #closedError(method: string): CrierError {
    return new CrierError(
      "adapter_error",
      `Expected an open queue, but memoryQueue.${method}() was called after close(). Create a new queue (and engine) to go on.`,
    );
  }

  #addOne(input: JobInput, now: number, validate = true): void {
    if (validate) validateJob(input, "job");
    const given = input.id;
    if (given !== undefined && this.#jobs.has(given)) return; // waiting, delayed or running
    const id = given ?? this.#idPrefix + (this.#nextId++).toString(36);
    const due = input.runAt === undefined ? now : input.runAt.getTime();
    const record = new JobRecord(id, input.name, input.data, 1, WAITING, due, this.#seq++);
    if (given !== undefined) this.#track(record);
    if (due > now) this.#delay(record);
    else this.#enqueue(record);
  }

  /** Hands a record to p-queue (waiting; it may start at once). */
  #enqueue(record: JobRecord): void {
    record.state = WAITING;
    const options = this.#addOptions;
    options.id = record.id;
    options.record = record;
    // p-queue's promise is ignored: #execute never rejects.
    void this.#pqueue!.add(() => this.#execute(record), options);
    options.record = undefined;
  }

  #delay(record: JobRecord): void {
    record.state = DELAYED;
    this.#delayed.push(record);
    if (this.#delayed.peek() === record) this.#arm();
  }

  /** Runs one attempt of a job. Never rejects. */
  async #execute(record: JobRecord): Promise<void> {
    record.state = RUNNING;
    if (!record.tracked) this.#track(record);
    const job: Job = {
      id: record.id,
      name: record.name,
      data: record.data,
      attempt: record.attempt,
    };
    try {
      await this.#handler!(job);
    } catch (error) {
      this.#failed(record, job, error);
      return;
    }
    this.#forget(record);
  }

  #failed(record: JobRecord, job: Job, error: unknown): void {
    if (this.#closed) {
      // Closing: the job is dropped (the store still holds its run).
      this.#forget(record);
      return;
    }
    if (record.attempt < this.#attempts) {
      let wait: number;
      try {
        wait = Number(this.#backoff(record.attempt));
      } catch {
        wait = defaultBackoff(record.attempt);
      }
      record.attempt++;
      record.seq = this.#seq++;
      const now = this.#clock!.now().getTime();
      record.due = now + (Number.isFinite(wait) && wait > 0 ? wait : 0);
      if (record.due > now) this.#delay(record);
      else this.#enqueue(record);
      return;
    }
    this.#forget(record);
    try {
      this.#onFailed?.(job, error);
    } catch {
      // A failing onFailed must not take the queue down; the job is reported once, and gone.
    }
  }

  #track(record: JobRecord): void {
    record.tracked = true;
    this.#jobs.set(record.id, record);
  }

  #forget(record: JobRecord): void {
    record.state = GONE;
    if (record.tracked) {
      record.tracked = false;
      this.#jobs.delete(record.id);
    }
  }

  /** Keeps exactly one clock timer armed, for the earliest delayed job (none when there is none). */
  #arm(): void {
    const top = this.#delayed.peek();
    if (!top) {
      this.#disarm();
      return;
    }
    if (top.due === this.#armedFor || this.#closed) return;
    this.#disarm();
    const clock = this.#clock!;
    this.#armedFor = top.due;
    this.#timer = clock.setTimeout(this.#onTimer, top.due - clock.now().getTime());
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock!.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.NaN;
  }

  /** Moves every due delayed job to p-queue, in (due, seq) order, then re-arms. */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#armedFor = Number.NaN;
    if (this.#closed) return;
    const now = this.#clock!.now().getTime();
    const delayed = this.#delayed;
    let top = delayed.peek();
    while (top && top.due <= now) {
      delayed.pop();
      this.#enqueue(top);
      top = delayed.peek();
    }
    // A timer that fired early (real clocks may) just re-arms for the remaining time.
    this.#arm();
  };
}

/**
 * Creates the in-memory {@link Queue} (name `memory`), the default of `createEngine`.
 *
 * - **Concurrency** comes from p-queue 9 (`concurrency`, default 32), whose waiting list is a FIFO
 *   with a head index: adding and taking a job are O(1).
 * - **Delayed jobs** (`runAt` after the clock's now) wait in a min-heap keyed by (due time, order
 *   of adding); exactly one clock timer is armed, for the earliest. When it fires, every due job
 *   moves to the waiting list in due order. With the test clock, a delayed job runs exactly when
 *   virtual time reaches its due time.
 * - **Ids.** Adding a job whose id is waiting, delayed or running is a no-op (adding it again after
 *   it finished runs it again). A job without an id gets a generated one (`memory-<random>-<n>`),
 *   which the queue starts tracking when the job first runs: until then no caller can know it.
 * - **Retries.** A handler rejection re-adds the job as a delayed job with `attempt + 1`, due
 *   `backoff(attempt)` ms later, until `attempts` runs have failed; then `onFailed(job, error)` is
 *   called once. The job keeps its id while it waits to retry, so adding it again is still a no-op.
 * - **Data ownership.** The queue takes ownership of `data`: it is not copied (adding must stay
 *   cheap at tens of thousands of jobs per second). Do not mutate an object after adding it, and
 *   handlers must not mutate `job.data` (retries see the same object).
 * - **close()** stops the timer, drops waiting and delayed jobs (they are lost from memory, while
 *   the store still holds the runs they would have advanced), and waits for running jobs; a job
 *   failing during close is not retried. `add` after `close` rejects with a `CrierError`.
 *
 * Jobs live only in this process: use a durable queue to survive restarts.
 *
 * @throws {InvalidParamsError} When `concurrency` or `attempts` is not a positive integer, or
 *   `backoff` is not a function.
 *
 * @example
 * ```ts
 * const engine = createEngine({ queue: memoryQueue({ concurrency: 8, attempts: 5 }) });
 * ```
 */
export function memoryQueue(options: MemoryQueueOptions = {}): Queue {
  return new MemoryQueue(options);
}
