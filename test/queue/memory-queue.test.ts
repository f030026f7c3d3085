import { afterEach, describe, expect, it, vi } from "vitest";
import { CrierError, InvalidParamsError } from "../../src/errors.js";
import { memoryQueue } from "../../src/queue/memory.js";
import type { Job, JobInput, Queue } from "../../src/queue/types.js";
import type { Clock, TimerHandle } from "../../src/scheduling/clock.js";
import { testQueue } from "../../src/testing/conformance/queue.js";
import { createTestClock, type TestClock } from "../../src/testing/test-clock.js";

testQueue(() => memoryQueue({ backoff: () => 10 }), {
  name: "memoryQueue conformance",
  concurrency: 32,
});
testQueue(() => memoryQueue({ concurrency: 1, attempts: 1, backoff: () => 10 }), {
  name: "memoryQueue conformance (concurrency 1, no retries)",
  concurrency: 1,
  retries: { attempts: 1 },
});

/** A test clock that counts the timers armed on it and not yet fired or cleared. */
function countingClock(clock: TestClock): Clock & { armed: () => number; sets: () => number } {
  const live = new Set<TimerHandle>();
  let sets = 0;
  return {
    now: () => clock.now(),
    setTimeout(callback, ms) {
      sets++;
      const handle: TimerHandle = clock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      clock.clearTimeout(handle);
    },
    armed: () => live.size,
    sets: () => sets,
  };
}

interface Setup {
  queue: Queue;
  clock: TestClock;
  seen: Job[];
  /** Virtual ms at which each job in `seen` started. */
  at: number[];
  failed: { job: Job; error: unknown }[];
}

const opened: Queue[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((queue) => queue.close()));
});

async function setup(
  options: Parameters<typeof memoryQueue>[0] = {},
  handle: (job: Job) => unknown = () => {},
  clockFor: (clock: TestClock) => Clock = (clock) => clock,
): Promise<Setup> {
  const clock = createTestClock();
  const queue = memoryQueue(options);
  opened.push(queue);
  const result: Setup = { queue, clock, seen: [], at: [], failed: [] };
  await queue.start({
    clock: clockFor(clock),
    handler: async (job) => {
      result.seen.push(job);
      result.at.push(clock.now().getTime());
      await handle(job);
    },
    onFailed: (job, error) => {
      result.failed.push({ job, error });
    },
  });
  clock.onSettle(() => queue.idle());
  return result;
}

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

describe("memoryQueue on the test clock", () => {
  it("is named memory", () => {
    expect(memoryQueue().name).toBe("memory");
  });

  it("runs a delayed job exactly when virtual time reaches its due time", async () => {
    const { queue, clock, seen, at } = await setup();
    await queue.add({ name: "later", data: {}, runAt: new Date(T0 + 5 * 60_000) });
    await clock.advance(5 * 60_000 - 1);
    expect(seen).toHaveLength(0);
    await clock.advance(1);
    expect(seen).toHaveLength(1);
    expect(at).toEqual([T0 + 5 * 60_000]);
  });

  it("runs delayed jobs in (due time, order of adding) order as time passes them", async () => {
    const { queue, clock, seen, at } = await setup({ concurrency: 1 });
    await queue.addBulk([
      { name: "c", data: {}, runAt: new Date(T0 + 3000) },
      { name: "a1", data: {}, runAt: new Date(T0 + 1000) },
      { name: "b", data: {}, runAt: new Date(T0 + 2000) },
      { name: "a2", data: {}, runAt: new Date(T0 + 1000) },
    ]);
    await clock.advance("1h");
    expect(seen.map((job) => job.name)).toEqual(["a1", "a2", "b", "c"]);
    expect(at).toEqual([T0 + 1000, T0 + 1000, T0 + 2000, T0 + 3000]);
  });

  it("keeps exactly one clock timer armed, for the earliest delayed job", async () => {
    let counting!: ReturnType<typeof countingClock>;
    const { queue, clock, seen } = await setup({}, undefined, (clock) => {
      counting = countingClock(clock);
      return counting;
    });
    expect(counting.armed()).toBe(0);
    const dues = Array.from({ length: 200 }, (_, index) => ((index * 7919) % 200) + 1);
    for (const [index, due] of dues.entries()) {
      await queue.add({
        name: "d",
        id: `d-${index}`,
        data: { due },
        runAt: new Date(T0 + due * 1000),
      });
      expect(counting.armed()).toBe(1);
    }
    // Adding later jobs does not re-arm the timer.
    const sets = counting.sets();
    await queue.add({ name: "d", id: "last", data: {}, runAt: new Date(T0 + 10_000_000) });
    expect(counting.sets()).toBe(sets);
    await clock.advance("100s");
    expect(seen.map((job) => job.data.due)).toEqual(
      Array.from({ length: 100 }, (_, index) => index + 1),
    );
    expect(counting.armed()).toBe(1);
    for (let index = 0; index < dues.length; index++) await queue.remove(`d-${index}`);
    expect(counting.armed()).toBe(1); // "last" is still delayed
    expect(await queue.remove("last")).toBe(true);
    expect(counting.armed()).toBe(0);
  });

  it("moves every job due at once to the workers in one firing", async () => {
    let running = 0;
    let most = 0;
    let counting!: ReturnType<typeof countingClock>;
    const { queue, clock, seen } = await setup(
      { concurrency: 5 },
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      },
      (clock) => {
        counting = countingClock(clock);
        return counting;
      },
    );
    const runAt = new Date(T0 + 1000);
    await queue.addBulk(
      Array.from({ length: 5 }, (_, index) => ({ name: "due", data: { index }, runAt })),
    );
    await clock.advance("1s");
    expect(seen.map((job) => job.data.index)).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(5);
    expect(counting.sets()).toBe(1);
  });

  it("re-arms for an earlier job and after removing the earliest", async () => {
    const { queue, clock, seen, at } = await setup();
    await queue.add({ name: "late", id: "late", data: {}, runAt: new Date(T0 + 60_000) });
    await queue.add({ name: "early", id: "early", data: {}, runAt: new Date(T0 + 10_000) });
    await queue.add({ name: "middle", id: "middle", data: {}, runAt: new Date(T0 + 30_000) });
    expect(await queue.remove("early")).toBe(true);
    await clock.advance("1m");
    expect(seen.map((job) => job.name)).toEqual(["middle", "late"]);
    expect(at).toEqual([T0 + 30_000, T0 + 60_000]);
  });

  it("retries with the default exponential backoff, then calls onFailed", async () => {
    const error = new Error("nope");
    const { queue, clock, at, failed } = await setup({}, () => {
      throw error;
    });
    await queue.add({ name: "fails", id: "f", data: { a: 1 } });
    expect(at).toEqual([T0]);
    await clock.advance(999);
    expect(at).toEqual([T0]);
    await clock.advance(1);
    expect(at).toEqual([T0, T0 + 1000]);
    // While it waits to retry the id is still taken.
    await queue.add({ name: "fails", id: "f", data: { a: 2 } });
    await clock.advance("1m");
    expect(at).toEqual([T0, T0 + 1000, T0 + 3000]);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.job).toEqual({ id: "f", name: "fails", data: { a: 1 }, attempt: 3 });
    expect(failed[0]?.error).toBe(error);
  });

  it("uses a custom attempt limit and backoff, and retries at once for a backoff of 0", async () => {
    const backoff = vi.fn((attempt: number) => (attempt === 1 ? 0 : 500));
    const { queue, clock, at, failed } = await setup({ attempts: 4, backoff }, () =>
      Promise.reject(new Error("x")),
    );
    await queue.add({ name: "fails", data: {} });
    await queue.idle();
    expect(at).toEqual([T0, T0]);
    await clock.advance("10s");
    expect(at).toEqual([T0, T0, T0 + 500, T0 + 1000]);
    expect(backoff.mock.calls.map(([attempt]) => attempt)).toEqual([1, 2, 3]);
    expect(failed).toHaveLength(1);
  });

  it("runs a finished job's id again when it is added again", async () => {
    const { queue, seen } = await setup();
    await queue.add({ name: "x", id: "again", data: { v: 1 } });
    await queue.idle();
    await queue.add({ name: "x", id: "again", data: { v: 2 } });
    await queue.idle();
    expect(seen.map((job) => job.data.v)).toEqual([1, 2]);
  });

  it("respects the concurrency limit", async () => {
    let running = 0;
    let most = 0;
    const { queue, clock, seen } = await setup({ concurrency: 3 }, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
    });
    const jobs: JobInput[] = Array.from({ length: 20 }, (_, index) => ({
      name: "c",
      data: { index },
    }));
    await queue.addBulk(jobs);
    await queue.addBulk(jobs.map((job) => ({ ...job, runAt: new Date(T0 + 1000) })));
    await queue.idle();
    await clock.advance("1s");
    expect(seen).toHaveLength(40);
    expect(most).toBe(3);
  });

  it("with concurrency 1, keeps waiting jobs idempotent by id and removable", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { queue, seen } = await setup({ concurrency: 1 }, (job) =>
      job.name === "block" ? hold : undefined,
    );
    await queue.add({ name: "block", id: "block", data: {} });
    await queue.add({ name: "w", id: "w1", data: { v: 1 } });
    await queue.add({ name: "w", id: "w1", data: { v: 2 } });
    await queue.add({ name: "w", id: "w2", data: {} });
    await queue.add({ name: "w", id: "w3", data: {} });
    expect(await queue.remove("w2")).toBe(true);
    expect(await queue.remove("w2")).toBe(false);
    expect(await queue.remove("block")).toBe(false); // running
    await queue.add({ name: "w", id: "w2", data: { readded: true } }); // now at the back
    release();
    await queue.idle();
    expect(seen.map((job) => `${job.id}${job.data.v ?? ""}${job.data.readded ? "+" : ""}`)).toEqual(
      ["block", "w11", "w3", "w2+"],
    );
  });

  it("idle() waits for a handler's added jobs, and ignores delayed ones", async () => {
    const { queue, clock, seen } = await setup({ concurrency: 2 }, async (job) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (job.name === "parent") {
        await queue.add({ name: "child", data: {} });
        void queue.add({ name: "child", data: {} });
        await queue.add({ name: "later", data: {}, runAt: new Date(clock.now().getTime() + 1000) });
      }
    });
    await queue.add({ name: "parent", data: {} });
    await queue.idle();
    expect(seen.map((job) => job.name)).toEqual(["parent", "child", "child"]);
    await clock.advance("1s");
    expect(seen.map((job) => job.name)).toEqual(["parent", "child", "child", "later"]);
  });

  it("takes ownership of data without copying it", async () => {
    const { queue, seen } = await setup();
    const data = { list: [1, 2] };
    await queue.add({ name: "own", data });
    expect(seen[0]?.data).toBe(data);
  });

  it("drains 100,000 jobs without Array.prototype.shift", async () => {
    const { queue, seen } = await setup({ concurrency: 32 }, (job) => {
      // One deliberate shift under the queue's stack, to prove the detector sees such calls.
      if (job.data.index === 0) [1, 2].shift();
    });
    // Count only calls made under the queue's or p-queue's frames, so unrelated work in the
    // process cannot interfere. (Patched by hand: vi.spyOn on Array.prototype recurses.)
    const original = Array.prototype.shift;
    const stackTraceLimit = Error.stackTraceLimit;
    let queueShifts = 0;
    let inside = false;
    Object.defineProperty(Array.prototype, "shift", {
      configurable: true,
      writable: true,
      value: function shift(this: unknown[]) {
        if (!inside) {
          inside = true;
          Error.stackTraceLimit = 50;
          if (/queue[\\/]memory|p-queue/.test(new Error().stack ?? "")) queueShifts++;
          Error.stackTraceLimit = stackTraceLimit;
          inside = false;
        }
        return original.call(this);
      },
    });
    try {
      const jobs: JobInput[] = [];
      for (let index = 0; index < 100_000; index++) jobs.push({ name: "n", data: { index } });
      const started = performance.now();
      await queue.addBulk(jobs);
      await queue.idle();
      const elapsed = performance.now() - started;
      expect(seen).toHaveLength(100_000);
      expect(seen[99_999]?.data.index).toBe(99_999);
      expect(queueShifts).toBe(1); // the handler's own, none from the queue
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      Object.defineProperty(Array.prototype, "shift", {
        configurable: true,
        writable: true,
        value: original,
      });
    }
  });

  it("close() drops waiting and delayed jobs, waits for running ones, and rejects later calls", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    const { queue, clock, seen } = await setup({ concurrency: 1 }, async (job) => {
      if (job.name === "block") {
        await hold;
        finished = true;
      }
    });
    await queue.add({ name: "block", data: {} });
    await queue.add({ name: "waiting", data: {} });
    await queue.add({ name: "delayed", data: {}, runAt: new Date(T0 + 1000) });
    const closing = queue.close();
    expect(queue.close()).toBe(closing);
    await Promise.resolve();
    expect(finished).toBe(false);
    release();
    await closing;
    expect(finished).toBe(true);
    await clock.advance("1h");
    expect(seen.map((job) => job.name)).toEqual(["block"]);
    await expect(queue.add({ name: "x", data: {} })).rejects.toThrow(CrierError);
    await expect(queue.add({ name: "x", data: {} })).rejects.toThrow(/after close\(\)/);
    await expect(queue.remove("anything")).resolves.toBe(false);
    await expect(queue.idle()).resolves.toBeUndefined();
  });

  it("does not retry a job that fails while the queue closes", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { queue, clock, seen, failed } = await setup({}, async () => {
      await hold;
      throw new Error("late failure");
    });
    await queue.add({ name: "f", data: {} });
    const closing = queue.close();
    release();
    await closing;
    await clock.advance("1h");
    expect(seen).toHaveLength(1);
    expect(failed).toHaveLength(0);
  });

  it("rejects use before start, a second start, and invalid jobs", async () => {
    const queue = memoryQueue();
    await expect(queue.add({ name: "x", data: {} })).rejects.toThrow(/start\(context\) before add/);
    await expect(queue.idle()).resolves.toBeUndefined();
    const clock = createTestClock();
    const context = { clock, handler: async () => {}, onFailed: () => {} };
    await queue.start(context);
    await expect(queue.start(context)).rejects.toThrow(CrierError);
    await expect(queue.add({ name: "", data: {} })).rejects.toThrow(InvalidParamsError);
    await expect(queue.add({ name: "x", data: [] as never })).rejects.toThrow(
      /data to be a JSON object/,
    );
    await expect(queue.add({ name: "x", data: {}, runAt: new Date("nope") })).rejects.toThrow(
      /runAt/,
    );
    await expect(
      queue.addBulk([
        { name: "ok", data: {} },
        { name: 3 as never, data: {} },
      ]),
    ).rejects.toThrow(/jobs\[1\]/);
    await queue.close();
  });

  it("rejects invalid options", () => {
    expect(() => memoryQueue({ concurrency: 0 })).toThrow(InvalidParamsError);
    expect(() => memoryQueue({ concurrency: 1.5 })).toThrow(/concurrency/);
    expect(() => memoryQueue({ attempts: 0 })).toThrow(/attempts/);
    expect(() => memoryQueue({ backoff: 5 as never })).toThrow(/backoff/);
  });
});
