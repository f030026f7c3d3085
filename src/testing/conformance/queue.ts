/**
 * `testQueue`: the executable form of the {@link Queue} contract. Every queue adapter runs it.
 *
 * @module
 */

import { CrierError } from "../../errors.js";
import type { Job, JobInput, Queue, QueueContext } from "../../queue/types.js";
import { systemClock } from "../../scheduling/clock.js";
import { vitestApi } from "./vitest.js";

/** Options of {@link testQueue}. */
export interface TestQueueOptions {
  /** The suite's name. @default "Queue conformance" */
  name?: string;
  /**
   * The retry policy the factory's queues are configured with. The suite checks that a failing
   * job runs exactly `attempts` times before `onFailed`. Configure the adapter with a short
   * backoff (10 ms or so) for the suite: retries happen in real time. @default { attempts: 3 }
   */
  retries?: { attempts: number };
  /**
   * The concurrency the factory's queues are configured with, when it is a fixed number. With it,
   * the suite fills every slot with blocked jobs to check the guarantees of waiting jobs
   * (idempotent add, removal); without it, those checks are skipped.
   */
  concurrency?: number;
  /** How long the suite waits for something that should happen, in ms. @default 5000 */
  timeout?: number;
  /**
   * For a queue that promotes due jobs in batches, as BullMQ's PostgreSQL backend does: delayed
   * jobs due less than this many ms apart may start in the order they were added instead of the
   * order they were due (each still never before its due time). @default 0 (strict due order)
   */
  dueOrderSlackMs?: number;
}

/** A promise with its resolver, for holding handlers until a test lets them go. */
interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Real-time sleep (the suite runs on the system clock, like durable adapters). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms until it holds, or fails after `timeout` ms saying what it waited for. */
async function waitFor(what: string, condition: () => boolean, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}.`);
    await sleep(5);
  }
}

/** Rejects if `promise` does not settle within `timeout` ms. */
async function within<T>(what: string, promise: Promise<T>, timeout: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeout} ms waiting for ${what}.`)),
      timeout,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a test's handler saw: every job it was given, in start order. */
interface Harness {
  queue: Queue;
  /** Every job handed to the handler, in the order the handler was called. */
  seen: Job[];
  /** Wall-clock ms at which each job in `seen` started. */
  startedAt: number[];
  /** Every `onFailed` call. */
  failed: { job: Job; error: unknown }[];
  /** The jobs in `seen` with this name. */
  named(name: string): Job[];
}

/**
 * Registers a vitest suite that checks a {@link Queue} adapter against the contract in
 * `queue/types.ts`: every added job runs once with its name and data; jobs added by handlers run;
 * adding by id is idempotent while a job is waiting, delayed or running; `addBulk`; `runAt` is
 * honoured and due jobs run in due order; `remove`; retries with attempt counting, then
 * `onFailed`; `idle()`; `close()`.
 *
 * The suite uses real time (`systemClock`) with delays of at most 200 ms, so it runs unchanged
 * against durable adapters. `factory` must return a new, unstarted queue each time; the suite
 * starts it and closes it after each test. Configure the adapter with a short retry backoff
 * (about 10 ms) and state its attempt limit in `options.retries`.
 *
 * @example
 * ```ts
 * import { testQueue } from "crier/testing";
 * testQueue(() => memoryQueue({ backoff: () => 10 }), { name: "memory", concurrency: 32 });
 * ```
 */
export function testQueue(
  factory: () => Queue | Promise<Queue>,
  options: TestQueueOptions = {},
): void {
  const { afterEach, describe, expect, it } = vitestApi("testQueue");
  const attempts = options.retries?.attempts ?? 3;
  const concurrency = options.concurrency;
  const timeout = options.timeout ?? 5_000;
  const dueOrderSlack = options.dueOrderSlackMs ?? 0;
  const open: Queue[] = [];

  /** Creates and starts a queue whose handler records every job, then calls `handle`. */
  async function setup(
    handle: (job: Job, harness: Harness) => unknown = () => {},
  ): Promise<Harness> {
    const queue = await factory();
    open.push(queue);
    const harness: Harness = {
      queue,
      seen: [],
      startedAt: [],
      failed: [],
      named: (name) => harness.seen.filter((job) => job.name === name),
    };
    const context: QueueContext = {
      clock: systemClock,
      handler: async (job) => {
        // A copy: what the handler saw must not change if the queue reuses the object.
        harness.seen.push(structuredClone(job));
        harness.startedAt.push(Date.now());
        await handle(job, harness);
      },
      onFailed: (job, error) => {
        harness.failed.push({ job: structuredClone(job), error });
      },
    };
    await queue.start(context);
    return harness;
  }

  const later = (ms: number): Date => new Date(systemClock.now().getTime() + ms);

  /** Fills `slots` slots with "blocker" jobs (the handler must hold those) and waits until all run. */
  async function saturate(harness: Harness, slots: number): Promise<void> {
    const blockers: JobInput[] = [];
    for (let index = 0; index < slots; index++) {
      blockers.push({ name: "blocker", id: `blocker-${index}`, data: { index } });
    }
    await harness.queue.addBulk(blockers);
    await waitFor(
      `${slots} blocker jobs to start`,
      () => harness.named("blocker").length === slots,
      timeout,
    );
  }

  describe(options.name ?? "Queue conformance", () => {
    afterEach(async () => {
      const queues = open.splice(0);
      await Promise.all(queues.map((queue) => queue.close().catch(() => {})));
    });

    it("has a name", async () => {
      const { queue } = await setup();
      expect(typeof queue.name).toBe("string");
      expect(queue.name.length).toBeGreaterThan(0);
    });

    it("runs every added job once, with its name, data and id, as attempt 1", async () => {
      const harness = await setup();
      const inputs: JobInput[] = [];
      for (let index = 0; index < 50; index++) {
        inputs.push({
          name: index % 2 === 0 ? "even" : "odd",
          id: `job-${index}`,
          data: { index, nested: { list: [index, "x", null, true] }, text: `n${index}` },
        });
      }
      for (const input of inputs) await harness.queue.add(input);
      await within("idle()", harness.queue.idle(), timeout);
      await waitFor("50 jobs to run", () => harness.seen.length >= 50, timeout);
      await sleep(50); // room for a duplicate to show up
      expect(harness.seen).toHaveLength(50);
      const byId = new Map(harness.seen.map((job) => [job.id, job]));
      for (const input of inputs) {
        const job = byId.get(input.id!);
        expect(job, `job ${input.id}`).toBeDefined();
        expect(job?.name).toBe(input.name);
        expect(job?.data).toEqual(input.data);
        expect(job?.attempt).toBe(1);
      }
    });

    it("gives a job added without an id an id of its own", async () => {
      const harness = await setup();
      await harness.queue.add({ name: "anonymous", data: { n: 1 } });
      await harness.queue.add({ name: "anonymous", data: { n: 2 } });
      await waitFor("both jobs to run", () => harness.seen.length >= 2, timeout);
      const [first, second] = harness.seen;
      expect(typeof first?.id).toBe("string");
      expect(first?.id.length).toBeGreaterThan(0);
      expect(second?.id).not.toBe(first?.id);
      expect(harness.seen.map((job) => job.data.n).sort()).toEqual([1, 2]);
    });

    it("takes any string as an id: colons, percent signs, digits and unicode, each distinct", async () => {
      const harness = await setup();
      // Engine ids look like "<run id>:<cursor>:<suffix>"; an adapter that escapes ids must keep
      // every one of these apart, and give each back unchanged.
      const given = ["run:1", "run:1:retry", "run%3A1", "%", "42", "007", "é:ü", "a b"];
      for (const id of given) await harness.queue.add({ name: "odd-id", id, data: { id } });
      await harness.queue.add({ name: "later", id: "later:1", data: {}, runAt: later(5_000) });
      expect(await harness.queue.remove("later:1")).toBe(true);
      await waitFor(
        `${given.length} jobs to run`,
        () => harness.seen.length >= given.length,
        timeout,
      );
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(50);
      expect(harness.seen.map((job) => job.id).sort()).toEqual([...given].sort());
      for (const job of harness.seen) expect(job.data.id).toBe(job.id);
    });

    it("runs jobs that a handler adds", async () => {
      const harness = await setup(async (job, h) => {
        if (job.name === "parent") {
          const depth = job.data.depth as number;
          if (depth < 3) await h.queue.add({ name: "parent", data: { depth: depth + 1 } });
          await h.queue.add({ name: "child", id: `child-${depth}`, data: { of: depth } });
        }
      });
      await harness.queue.add({ name: "parent", data: { depth: 0 } });
      await waitFor("4 parents and 4 children", () => harness.seen.length >= 8, timeout);
      expect(
        harness
          .named("parent")
          .map((job) => job.data.depth)
          .sort(),
      ).toEqual([0, 1, 2, 3]);
      expect(
        harness
          .named("child")
          .map((job) => job.data.of)
          .sort(),
      ).toEqual([0, 1, 2, 3]);
    });

    it("adds many jobs with addBulk, immediate and delayed", async () => {
      const harness = await setup();
      const inputs: JobInput[] = [];
      for (let index = 0; index < 100; index++) {
        inputs.push({
          name: "bulk",
          id: `bulk-${index}`,
          data: { index },
          ...(index % 10 === 0 ? { runAt: later(50) } : {}),
        });
      }
      await harness.queue.addBulk(inputs);
      await waitFor("100 bulk jobs to run", () => harness.seen.length >= 100, timeout);
      await sleep(50);
      expect(harness.seen).toHaveLength(100);
      expect(new Set(harness.seen.map((job) => job.id)).size).toBe(100);
      expect(
        harness.seen.map((job) => job.data.index).sort((a, b) => Number(a) - Number(b)),
      ).toEqual(inputs.map((_, index) => index));
    });

    it("addBulk ignores ids already in the queue, including duplicates within the call", async () => {
      const hold = gate();
      const harness = await setup(async (job) => {
        if (job.name === "slow") await hold.promise;
      });
      await harness.queue.add({ name: "slow", id: "dup-running", data: { v: 1 } });
      await waitFor("the first job to start", () => harness.seen.length === 1, timeout);
      await harness.queue.addBulk([
        { name: "slow", id: "dup-running", data: { v: 2 } },
        { name: "fast", id: "dup-new", data: { v: 1 } },
        { name: "fast", id: "dup-new", data: { v: 2 } },
      ]);
      hold.open();
      await waitFor("the new job to run", () => harness.named("fast").length >= 1, timeout);
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(50);
      expect(harness.seen.map((job) => `${job.id}:${job.data.v}`)).toEqual([
        "dup-running:1",
        "dup-new:1",
      ]);
    });

    it("does not run a job before its runAt", async () => {
      const harness = await setup();
      const runAt = later(150);
      await harness.queue.add({ name: "delayed", id: "delayed-1", data: {}, runAt });
      await sleep(60);
      // Read the count before the time: if the time is still before runAt, so was the count.
      const count = harness.seen.length;
      if (Date.now() < runAt.getTime()) expect(count).toBe(0);
      await waitFor("the delayed job to run", () => harness.seen.length === 1, timeout);
      expect(harness.startedAt[0]).toBeGreaterThanOrEqual(runAt.getTime());
    });

    it("runs a job whose runAt is now or past at once", async () => {
      const harness = await setup();
      await harness.queue.add({ name: "past", data: {}, runAt: later(-60_000) });
      await harness.queue.add({ name: "now", data: {}, runAt: later(0) });
      await waitFor("both jobs to run", () => harness.seen.length === 2, 1_000);
    });

    it("runs delayed jobs in due order, whatever the order they were added in", async () => {
      const harness = await setup();
      const base = systemClock.now().getTime() + 100;
      const offsets = [60, 0, 80, 20, 40];
      await harness.queue.addBulk(
        offsets.map((offset) => ({
          name: "ordered",
          id: `due-${offset}`,
          data: { offset },
          runAt: new Date(base + offset),
        })),
      );
      await waitFor("5 delayed jobs to run", () => harness.seen.length === 5, timeout);
      const started = harness.seen.map((job) => Number(job.data.offset));
      expect([...started].sort((a, b) => a - b)).toEqual([0, 20, 40, 60, 80]);
      // No job started before one that fell due more than the slack before it.
      started.forEach((offset, index) => {
        for (const later of started.slice(index + 1)) {
          expect(
            offset - later,
            `the job due at +${offset} ms started before the one due at +${later} ms`,
          ).toBeLessThanOrEqual(dueOrderSlack);
        }
      });
      harness.seen.forEach((job, index) => {
        expect(harness.startedAt[index]).toBeGreaterThanOrEqual(base + Number(job.data.offset));
      });
    });

    it("ignores adding an id that is delayed", async () => {
      const harness = await setup();
      const runAt = later(80);
      await harness.queue.add({ name: "once", id: "same-delayed", data: { v: 1 }, runAt });
      await harness.queue.add({
        name: "once",
        id: "same-delayed",
        data: { v: 2 },
        runAt: later(10),
      });
      await harness.queue.add({ name: "once", id: "same-delayed", data: { v: 3 } });
      await waitFor("the delayed job to run", () => harness.seen.length >= 1, timeout);
      await sleep(100);
      expect(harness.seen.map((job) => job.data.v)).toEqual([1]);
      expect(harness.startedAt[0]).toBeGreaterThanOrEqual(runAt.getTime());
    });

    it("ignores adding an id that is running", async () => {
      const hold = gate();
      const harness = await setup(() => hold.promise);
      await harness.queue.add({ name: "once", id: "same-running", data: { v: 1 } });
      await waitFor("the job to start", () => harness.seen.length === 1, timeout);
      await harness.queue.add({ name: "once", id: "same-running", data: { v: 2 } });
      hold.open();
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(50);
      expect(harness.seen.map((job) => job.data.v)).toEqual([1]);
    });

    it("runs one job for two adds of an id made at once", async () => {
      // The job is held until both adds have returned: it is waiting or running when the other
      // add arrives (once it has finished, the id may be added again and run again).
      const hold = gate();
      const harness = await setup(() => hold.promise);
      await Promise.all([
        harness.queue.add({ name: "once", id: "same-twice", data: { v: 1 } }),
        harness.queue.add({ name: "once", id: "same-twice", data: { v: 2 } }),
      ]);
      hold.open();
      await waitFor("the job to run", () => harness.seen.length >= 1, timeout);
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(50);
      // Calls made at once have no order (a durable queue may send them on two connections):
      // either add may be the one that counts, but only one job runs.
      expect(harness.seen).toHaveLength(1);
      expect([1, 2]).toContain(harness.seen[0]?.data.v);
    });

    it.skipIf(concurrency === undefined)("ignores adding an id that is waiting", async () => {
      const hold = gate();
      const harness = await setup(async (job) => {
        if (job.name === "blocker") await hold.promise;
      });
      await saturate(harness, concurrency!);
      await harness.queue.add({ name: "once", id: "same-waiting", data: { v: 1 } });
      await harness.queue.add({ name: "once", id: "same-waiting", data: { v: 2 } });
      await sleep(30);
      expect(harness.named("once")).toHaveLength(0); // still waiting for a slot
      hold.open();
      await waitFor("the waiting job to run", () => harness.named("once").length >= 1, timeout);
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(50);
      expect(harness.named("once").map((job) => job.data.v)).toEqual([1]);
    });

    it("removes a delayed job, which then never runs", async () => {
      const harness = await setup();
      await harness.queue.add({
        name: "doomed",
        id: "remove-delayed",
        data: {},
        runAt: later(100),
      });
      await harness.queue.add({ name: "kept", id: "keep-delayed", data: {}, runAt: later(100) });
      expect(await harness.queue.remove("remove-delayed")).toBe(true);
      expect(await harness.queue.remove("remove-delayed")).toBe(false);
      await waitFor("the kept job to run", () => harness.named("kept").length === 1, timeout);
      await sleep(100);
      expect(harness.named("doomed")).toHaveLength(0);
    });

    it("can add a removed job's id again", async () => {
      const harness = await setup();
      await harness.queue.add({
        name: "again",
        id: "remove-readd",
        data: { v: 1 },
        runAt: later(100),
      });
      expect(await harness.queue.remove("remove-readd")).toBe(true);
      await harness.queue.add({ name: "again", id: "remove-readd", data: { v: 2 } });
      await waitFor("the re-added job to run", () => harness.seen.length >= 1, timeout);
      await sleep(150);
      expect(harness.seen.map((job) => job.data.v)).toEqual([2]);
    });

    it.skipIf(concurrency === undefined)(
      "removes a waiting job, which then never runs",
      async () => {
        const hold = gate();
        const harness = await setup(async (job) => {
          if (job.name === "blocker") await hold.promise;
        });
        await saturate(harness, concurrency!);
        await harness.queue.add({ name: "doomed", id: "remove-waiting", data: {} });
        await harness.queue.add({ name: "kept", id: "keep-waiting", data: {} });
        expect(await harness.queue.remove("remove-waiting")).toBe(true);
        hold.open();
        await waitFor("the kept job to run", () => harness.named("kept").length === 1, timeout);
        await within("idle()", harness.queue.idle(), timeout);
        await sleep(50);
        expect(harness.named("doomed")).toHaveLength(0);
      },
    );

    it("returns false when removing an unknown, running or finished job", async () => {
      const hold = gate();
      const harness = await setup(async (job) => {
        if (job.name === "slow") await hold.promise;
      });
      expect(await harness.queue.remove("never-added")).toBe(false);
      await harness.queue.add({ name: "slow", id: "remove-running", data: {} });
      await waitFor("the job to start", () => harness.seen.length === 1, timeout);
      expect(await harness.queue.remove("remove-running")).toBe(false);
      hold.open();
      await within("idle()", harness.queue.idle(), timeout);
      expect(await harness.queue.remove("remove-running")).toBe(false);
      expect(harness.seen).toHaveLength(1);
      expect(harness.failed).toHaveLength(0);
    });

    it("retries a rejected job with the attempt counted up, keeping its id and data", async () => {
      const succeedOn = attempts; // the last allowed attempt still runs
      const harness = await setup(async (job) => {
        if (job.attempt < succeedOn) throw new Error(`attempt ${job.attempt} fails`);
      });
      await harness.queue.add({ name: "flaky", id: "retry-1", data: { keep: "me" } });
      await waitFor(`${succeedOn} attempts`, () => harness.seen.length >= succeedOn, timeout);
      await within("idle()", harness.queue.idle(), timeout);
      await sleep(100);
      expect(harness.seen.map((job) => job.attempt)).toEqual(
        Array.from({ length: succeedOn }, (_, i) => i + 1),
      );
      for (const job of harness.seen) {
        expect(job.id).toBe("retry-1");
        expect(job.name).toBe("flaky");
        expect(job.data).toEqual({ keep: "me" });
      }
      expect(harness.failed).toHaveLength(0);
    });

    it(`runs a failing job ${attempts} times, then reports it through onFailed once`, async () => {
      const harness = await setup(async (job) => {
        throw new Error(`boom ${job.attempt}`);
      });
      await harness.queue.add({ name: "doomed", id: "fail-1", data: { x: 1 } });
      await waitFor("onFailed", () => harness.failed.length >= 1, timeout);
      await sleep(100);
      expect(harness.seen.map((job) => job.attempt)).toEqual(
        Array.from({ length: attempts }, (_, i) => i + 1),
      );
      expect(harness.failed).toHaveLength(1);
      const [failure] = harness.failed;
      expect(failure?.job).toMatchObject({
        id: "fail-1",
        name: "doomed",
        data: { x: 1 },
        attempt: attempts,
      });
      expect(failure?.error).toBeInstanceOf(Error);
      expect((failure?.error as Error | undefined)?.message).toBe(`boom ${attempts}`);
    });

    it("idle() resolves only after running jobs and the jobs they add have finished", async () => {
      const finished: string[] = [];
      const harness = await setup(async (job, h) => {
        await sleep(job.name === "parent" ? 40 : 20);
        if (job.name === "parent") {
          await h.queue.add({ name: "child", id: "idle-child-1", data: {} });
          await h.queue.add({ name: "child", id: "idle-child-2", data: {} });
          await sleep(20);
        }
        if (job.name === "child" && job.id === "idle-child-1") {
          await h.queue.add({ name: "grandchild", id: "idle-grandchild", data: {} });
        }
        finished.push(job.id);
      });
      await harness.queue.add({ name: "parent", id: "idle-parent", data: {} });
      await within("idle()", harness.queue.idle(), timeout);
      expect([...finished].sort()).toEqual([
        "idle-child-1",
        "idle-child-2",
        "idle-grandchild",
        "idle-parent",
      ]);
    });

    it("idle() does not wait for delayed jobs that are not due", async () => {
      const harness = await setup();
      // Due in a second, with room for a slow moment of the machine on either side.
      await harness.queue.add({ name: "later", id: "idle-delayed", data: {}, runAt: later(1_000) });
      const started = Date.now();
      await within("idle()", harness.queue.idle(), timeout);
      expect(Date.now() - started).toBeLessThan(800);
      expect(harness.seen).toHaveLength(0);
      await waitFor("the delayed job to run", () => harness.seen.length === 1, timeout);
    });

    it("close() waits for running jobs, then rejects adds with a CrierError", async () => {
      let done = false;
      const harness = await setup(async () => {
        await sleep(60);
        done = true;
      });
      await harness.queue.add({ name: "slow", id: "close-running", data: {} });
      await waitFor("the job to start", () => harness.seen.length === 1, timeout);
      await within("close()", harness.queue.close(), timeout);
      expect(done).toBe(true);
      await expect(harness.queue.add({ name: "late", data: {} })).rejects.toBeInstanceOf(
        CrierError,
      );
      await expect(harness.queue.addBulk([{ name: "late", data: {} }])).rejects.toBeInstanceOf(
        CrierError,
      );
      expect(harness.seen).toHaveLength(1);
    });

    it("close() stops delayed jobs from running in this process", async () => {
      const harness = await setup();
      const runAt = later(150);
      await harness.queue.add({ name: "after-close", id: "close-delayed", data: {}, runAt });
      await within("close()", harness.queue.close(), timeout);
      const closedAt = Date.now();
      await sleep(Math.max(0, runAt.getTime() - closedAt) + 100);
      expect(harness.startedAt.filter((at) => at >= closedAt)).toEqual([]);
      if (closedAt < runAt.getTime()) expect(harness.seen).toHaveLength(0);
    });
  });
}
