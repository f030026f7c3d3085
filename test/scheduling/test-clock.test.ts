import { describe, expect, it } from "vitest";
import { CrierError, InvalidParamsError } from "../../src/errors.js";
import { createTestClock, RunawayTimersError } from "../../src/testing/test-clock.js";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("createTestClock", () => {
  it("starts at 2026-01-01T00:00:00.000Z by default, or at the given instant", () => {
    expect(createTestClock().now().toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(createTestClock("2026-06-01T12:00:00Z").now().toISOString()).toBe(
      "2026-06-01T12:00:00.000Z",
    );
    expect(createTestClock(new Date(5)).now().getTime()).toBe(5);
    expect(() => createTestClock("not a date")).toThrow(InvalidParamsError);
  });

  it("returns a fresh Date from now()", () => {
    const clock = createTestClock();
    const now = clock.now();
    now.setUTCFullYear(1999);
    expect(clock.now().getTime()).toBe(T0);
  });

  it.each([
    [1500, T0 + 1500],
    [{ unit: "minutes", value: 15 } as const, T0 + 15 * 60_000],
    ["500ms", T0 + 500],
    ["90s", T0 + 90_000],
    ["15m", T0 + 15 * 60_000],
    ["2h", T0 + 2 * 3_600_000],
    ["3d", T0 + 3 * 86_400_000],
    ["1h30m", T0 + 90 * 60_000],
  ])("advance(%o) moves time to the target", async (by, target) => {
    const clock = createTestClock();
    await clock.advance(by);
    expect(clock.now().getTime()).toBe(target);
  });

  it("advance with a month Duration is calendar-wise", async () => {
    const clock = createTestClock("2026-01-31T10:00:00Z");
    await clock.advance({ unit: "months", value: 1 });
    expect(clock.now().toISOString()).toBe("2026-02-28T10:00:00.000Z");
  });

  it("fires timers in time order, each at its due time", async () => {
    const clock = createTestClock();
    const fired: [string, number][] = [];
    const at = (name: string) => () => fired.push([name, clock.now().getTime() - T0]);
    clock.setTimeout(at("c"), 3000);
    clock.setTimeout(at("a"), 1000);
    clock.setTimeout(at("d"), 5000);
    clock.setTimeout(at("b"), 2000);
    await clock.advance(3000);
    expect(fired).toEqual([
      ["a", 1000],
      ["b", 2000],
      ["c", 3000],
    ]);
    await clock.advance(2000);
    expect(fired.at(-1)).toEqual(["d", 5000]);
  });

  it("fires timers with the same due time in creation order", async () => {
    const clock = createTestClock();
    const fired: number[] = [];
    for (let index = 0; index < 20; index++) clock.setTimeout(() => fired.push(index), 1000);
    await clock.advance("1s");
    expect(fired).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });

  it("fires timers created during a firing within the same advance, and leaves later ones", async () => {
    const clock = createTestClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now().getTime() - T0);
      clock.setTimeout(() => fired.push(clock.now().getTime() - T0), 500); // due at 1500: within
      clock.setTimeout(() => fired.push(clock.now().getTime() - T0), 0); // due at 1000: at once
      clock.setTimeout(() => fired.push(clock.now().getTime() - T0), 5000); // due at 6000: beyond
    }, 1000);
    await clock.advance(2000);
    expect(fired).toEqual([1000, 1000, 1500]);
    expect(clock.now().getTime()).toBe(T0 + 2000);
    await clock.advance(4000);
    expect(fired).toEqual([1000, 1000, 1500, 6000]);
  });

  it("fires timers set by async work a firing started, when due within the target", async () => {
    const clock = createTestClock();
    const fired: number[] = [];
    clock.setTimeout(async () => {
      await Promise.resolve();
      await Promise.resolve();
      clock.setTimeout(() => fired.push(clock.now().getTime() - T0), 100);
    }, 1000);
    await clock.advance(1100);
    expect(fired).toEqual([1100]);
  });

  it("awaits every settle hook first, after each firing, and once at the end", async () => {
    const clock = createTestClock();
    const log: string[] = [];
    let pending: Promise<void> = Promise.resolve();
    clock.onSettle(async () => {
      log.push("settle-1");
      await pending;
    });
    clock.onSettle(async () => {
      log.push("settle-2");
    });
    clock.setTimeout(() => {
      log.push("fire-a");
      // Work the firing started: finishes after a few real turns.
      pending = (async () => {
        for (let index = 0; index < 5; index++)
          await new Promise((resolve) => setImmediate(resolve));
        log.push("work-a-done");
      })();
    }, 10);
    clock.setTimeout(() => log.push("fire-b"), 20);
    await clock.advance(30);
    expect(log).toEqual([
      "settle-1",
      "settle-2",
      "fire-a",
      "settle-1",
      "work-a-done",
      "settle-2",
      "fire-b",
      "settle-1",
      "settle-2",
      "settle-1",
      "settle-2",
    ]);
  });

  it("stops awaiting a settle hook once it is unregistered", async () => {
    const clock = createTestClock();
    let calls = 0;
    const off = clock.onSettle(async () => {
      calls++;
    });
    await clock.advance(1);
    // Once before time moves, once on arrival.
    expect(calls).toBe(2);
    off();
    await clock.advance(1);
    expect(calls).toBe(2);
  });

  it("fires timers due at once (0 ms or less) without an advance, in order", async () => {
    const clock = createTestClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("zero"), 0);
    clock.setTimeout(() => fired.push("negative"), -50);
    clock.setTimeout(() => fired.push("later"), 1);
    expect(fired).toEqual([]); // asynchronously
    await tick();
    expect(fired).toEqual(["zero", "negative"]);
    expect(clock.now().getTime()).toBe(T0);
  });

  it("fires a self-re-arming 0 ms timer once per real turn, without freezing the process", async () => {
    const clock = createTestClock();
    let count = 0;
    let handle: unknown;
    const rearm = () => {
      count++;
      handle = clock.setTimeout(rearm, 0);
    };
    handle = clock.setTimeout(rearm, 0);
    for (let index = 0; index < 5; index++) await tick();
    clock.clearTimeout(handle);
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(6);
    const stopped = count;
    await tick();
    await tick();
    expect(count).toBe(stopped);
  });

  it("clearTimeout cancels a pending timer, and is a no-op for a fired or unknown one", async () => {
    const clock = createTestClock();
    const fired: string[] = [];
    const a = clock.setTimeout(() => fired.push("a"), 100);
    const b = clock.setTimeout(() => fired.push("b"), 200);
    const zero = clock.setTimeout(() => fired.push("zero"), 0);
    clock.clearTimeout(a);
    clock.clearTimeout(zero);
    clock.clearTimeout(undefined);
    clock.clearTimeout({});
    await tick();
    await clock.advance(300);
    clock.clearTimeout(b);
    expect(fired).toEqual(["b"]);
  });

  it("keeps working after many timers are cleared (heap compaction)", async () => {
    const clock = createTestClock();
    const fired: number[] = [];
    const handles = Array.from({ length: 1000 }, (_, index) =>
      clock.setTimeout(() => fired.push(index), 1000 - index),
    );
    handles.forEach((handle, index) => {
      if (index % 10 !== 0) clock.clearTimeout(handle);
    });
    await clock.advance(1000);
    expect(fired).toEqual(Array.from({ length: 100 }, (_, k) => 990 - 10 * k));
  });

  it("advanceTo moves to an instant, and rejects moving backwards", async () => {
    const clock = createTestClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now().getTime()), 60_000);
    await clock.advanceTo("2026-01-01T00:01:00Z");
    expect(fired).toEqual([T0 + 60_000]);
    await clock.advanceTo(new Date(T0 + 60_000)); // now: allowed
    await expect(clock.advanceTo("2026-01-01T00:00:59Z")).rejects.toThrow(InvalidParamsError);
    await expect(clock.advanceTo("2026-01-01T00:00:59Z")).rejects.toThrow(/never moves backwards/);
    await expect(clock.advanceTo("yesterday")).rejects.toThrow(InvalidParamsError);
    expect(clock.now().getTime()).toBe(T0 + 60_000);
  });

  it("rejects negative and malformed spans", async () => {
    const clock = createTestClock();
    await expect(clock.advance(-1)).rejects.toThrow(InvalidParamsError);
    await expect(clock.advance("soon")).rejects.toThrow(/received "soon"/);
    await expect(clock.advance({ unit: "hours", value: -2 })).rejects.toThrow(InvalidParamsError);
    expect(clock.now().getTime()).toBe(T0);
  });

  it("guards against runaway timers with a CrierError", async () => {
    const clock = createTestClock(undefined, { maxFiringsPerAdvance: 1000 });
    let count = 0;
    const rearm = () => {
      count++;
      clock.setTimeout(rearm, 0);
    };
    clock.setTimeout(rearm, 10);
    const error = await clock.advance(100).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RunawayTimersError);
    expect(error).toBeInstanceOf(CrierError);
    expect((error as Error).message).toMatch(/fired 1000 timers.*re-arming itself at 0 ms/);
    expect(count).toBe(1000);
    expect(clock.now().getTime()).toBe(T0 + 10);
  });

  it("guards at 100,000 firings by default", async () => {
    const clock = createTestClock();
    let count = 0;
    const rearm = () => {
      count++;
      clock.setTimeout(rearm, 0);
    };
    clock.setTimeout(rearm, 1);
    await expect(clock.advance(2)).rejects.toThrow(RunawayTimersError);
    expect(count).toBe(100_000);
  });

  it("serialises concurrent advances, each measured from where the previous ended", async () => {
    const clock = createTestClock();
    const log: string[] = [];
    clock.onSettle(async () => {
      await new Promise((resolve) => setImmediate(resolve));
    });
    clock.setTimeout(() => log.push(`t1@${clock.now().getTime() - T0}`), 1000);
    clock.setTimeout(() => log.push(`t2@${clock.now().getTime() - T0}`), 1500);
    const first = clock.advance(1000).then(() => log.push(`first@${clock.now().getTime() - T0}`));
    const second = clock.advance(1000).then(() => log.push(`second@${clock.now().getTime() - T0}`));
    await Promise.all([first, second]);
    expect(log).toEqual(["t1@1000", "first@1000", "t2@1500", "second@2000"]);
  });

  it("keeps serving advances after one fails", async () => {
    const clock = createTestClock();
    clock.setTimeout(() => {
      throw new Error("timer blew up");
    }, 10);
    const failed = clock.advance(100);
    const next = clock.advance(100);
    await expect(failed).rejects.toThrow("timer blew up");
    await next;
    // The failed advance stopped where its timer fired; the next one went on from there.
    expect(clock.now().getTime()).toBe(T0 + 10 + 100);
  });
});
