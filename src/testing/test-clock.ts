/**
 * The virtual clock of `crier/testing`: time moves only when a test says so, and moving it runs
 * every timer due on the way, in order, waiting for the work each one starts.
 *
 * @module
 */
import { CrierError, InvalidParamsError } from "../errors.js";
import type { Clock, TimerHandle } from "../scheduling/clock.js";
import { parseAdvance } from "../scheduling/duration.js";
import type { Duration } from "../workflows/types.js";

/** A {@link Clock} on virtual time, for tests. Create one with {@link createTestClock}. */
export interface TestClock extends Clock {
  /** The current virtual instant (a fresh `Date` each call). */
  now(): Date;
  /**
   * Settles the work already due, then moves virtual time forward, firing every timer due on the
   * way in time order (timers with the
   * same due time in creation order); after each firing it awaits every settle hook, so work that a
   * firing starts (and timers that work sets, if due within the target) complete before the next.
   * Ends with `now()` equal to the target and a final settle.
   *
   * `by` is milliseconds, a `Duration` (`{ unit: "days", value: 3 }`) or a string such as
   * `"500ms"`, `"90s"`, `"15m"`, `"2h"`, `"3d"`, `"1w"` or `"1h30m"`. Concurrent calls run one
   * after the other, each measured from where the previous one ended.
   *
   * Rejects with an `InvalidParamsError` for a negative or malformed span, with the error a timer
   * callback or settle hook threw (time then stays where that firing happened), or with a
   * {@link RunawayTimersError} when one advance fires more timers than the clock's limit.
   */
  advance(by: number | Duration | string): Promise<void>;
  /**
   * Like {@link TestClock.advance}, up to an absolute instant (a `Date` or an ISO-8601 string).
   * Moving backwards rejects with an `InvalidParamsError`; advancing to `now()` fires what is due
   * now and settles.
   */
  advanceTo(date: Date | string): Promise<void>;
  /**
   * Registers a function awaited after each firing (the test engine registers its `idle()`);
   * returns an unregister function.
   */
  onSettle(settle: () => Promise<void>): () => void;
}

/** Options of {@link createTestClock}. */
export interface TestClockOptions {
  /**
   * How many timers one `advance` may fire before it gives up with a {@link RunawayTimersError}
   * (a timer that re-arms itself at 0 ms would otherwise loop forever). @default 100_000
   */
  maxFiringsPerAdvance?: number;
}

/**
 * One advance fired more timers than the test clock allows: almost always a timer that keeps
 * re-arming itself at 0 ms. Code `adapter_error`, as it points at the clock's user (an adapter or
 * a test), not at engine input.
 */
export class RunawayTimersError extends CrierError {
  override name = "RunawayTimersError";
  /** The limit that was reached. */
  readonly firings: number;

  constructor(firings: number, at: Date) {
    super(
      "adapter_error",
      `Expected timers to settle down, but one advance of the test clock fired ${firings} timers ` +
        `and was still going at ${at.toISOString()}. A timer is probably re-arming itself at 0 ms ` +
        "(or a settle hook keeps scheduling due work). Fix the loop, or raise " +
        "createTestClock(now, { maxFiringsPerAdvance }) if that many firings are intended.",
    );
    this.firings = firings;
  }
}

/** The default start of virtual time. */
const DEFAULT_NOW = "2026-01-01T00:00:00.000Z";

/** The real `setImmediate`, captured before any test can fake it. */
const realSetImmediate: (callback: () => void) => unknown = globalThis.setImmediate;

/** A timer of the test clock. `handle` of {@link Clock.setTimeout}. */
interface TestTimer {
  readonly due: number;
  readonly seq: number;
  callback: (() => void) | undefined;
}

/**
 * Timers in a binary min-heap keyed by (due, seq). Cleared timers are dropped lazily (their
 * callback is unset); the heap is rebuilt when they are more than half of it.
 */
class TimerHeap {
  #items: TestTimer[] = [];
  #cleared = 0;

  get live(): number {
    return this.#items.length - this.#cleared;
  }

  push(timer: TestTimer): void {
    const items = this.#items;
    let index = items.push(timer) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = items[parent]!;
      if (!before(timer, above)) break;
      items[index] = above;
      index = parent;
    }
    items[index] = timer;
  }

  /** The earliest live timer, without removing it. */
  peek(): TestTimer | undefined {
    let top = this.#items[0];
    while (top && top.callback === undefined) {
      this.#popTop();
      this.#cleared--;
      top = this.#items[0];
    }
    return top;
  }

  /** Removes the earliest live timer (call after {@link peek}). */
  pop(): TestTimer | undefined {
    const top = this.peek();
    if (top) this.#popTop();
    return top;
  }

  /** Counts a timer whose callback was just unset; rebuilds when cleared timers dominate. */
  noteCleared(): void {
    this.#cleared++;
    if (this.#cleared > 64 && this.#cleared * 2 > this.#items.length) {
      const live = this.#items.filter((timer) => timer.callback !== undefined);
      this.#items = [];
      this.#cleared = 0;
      for (const timer of live) this.push(timer);
    }
  }

  #popTop(): void {
    const items = this.#items;
    const last = items.pop()!;
    if (items.length === 0) return;
    let index = 0;
    const length = items.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(items[right]!, items[left]!)) child = right;
      const smaller = items[child]!;
      if (!before(smaller, last)) break;
      items[index] = smaller;
      index = child;
    }
    items[index] = last;
  }
}

function before(a: TestTimer, b: TestTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

function toInstant(value: Date | string, what: string): number {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === "string"
        ? Date.parse(value)
        : Number.NaN;
  if (Number.isNaN(ms)) {
    const received =
      typeof value === "string"
        ? JSON.stringify(value)
        : value instanceof Date
          ? "an invalid Date"
          : typeof value;
    throw new InvalidParamsError(
      `Expected ${what} as a valid Date or an ISO-8601 string (e.g. "2026-01-01T00:00:00Z"), received ${received}.`,
    );
  }
  return ms;
}

/**
 * Creates a virtual clock starting at `now` (default `2026-01-01T00:00:00.000Z`).
 *
 * - Time moves only through {@link TestClock.advance} and {@link TestClock.advanceTo}, which fire
 *   due timers in (due time, creation) order and await the settle hooks after each.
 * - A timer set with 0 ms or less is due at once: it fires without an advance, asynchronously and
 *   as soon as possible (on the next turn of the real event loop, in creation order). Timers that
 *   such a callback sets at 0 ms fire on a later turn, as real timers would, so a self-re-arming
 *   timer cannot freeze the process. During an advance, the advance fires them instead.
 * - Timers never keep a process alive: nothing real is armed except that one-turn flush.
 *
 * @throws {InvalidParamsError} When `now` is not a valid date.
 *
 * @example
 * ```ts
 * const clock = createTestClock("2026-03-01T09:00:00Z");
 * clock.setTimeout(() => console.log("an hour later"), 3_600_000);
 * await clock.advance("1h"); // logs
 * ```
 */
export function createTestClock(now?: Date | string, options: TestClockOptions = {}): TestClock {
  let current = toInstant(now ?? DEFAULT_NOW, "the test clock's start");
  const maxFirings = options.maxFiringsPerAdvance ?? 100_000;
  if (!Number.isInteger(maxFirings) || maxFirings < 1) {
    throw new InvalidParamsError(
      `Expected maxFiringsPerAdvance to be a positive integer, received ${String(maxFirings)}.`,
    );
  }
  const timers = new TimerHeap();
  const settleHooks = new Set<() => Promise<void>>();
  let seq = 0;
  let advancing = false;
  let flushScheduled = false;
  /** Serialises advances: each one starts when the previous has ended (either way). */
  let tail: Promise<void> = Promise.resolve();

  /** Fires one timer (already popped) at its due time. */
  const fire = (timer: TestTimer): void => {
    const callback = timer.callback!;
    timer.callback = undefined;
    if (timer.due > current) current = timer.due;
    callback();
  };

  /** Fires, outside any advance, the timers due now that existed when the flush was scheduled. */
  const flush = (): void => {
    flushScheduled = false;
    if (advancing) return; // The running advance fires them, settling after each.
    const limit = seq;
    let next = timers.peek();
    try {
      while (next && next.due <= current && next.seq < limit) {
        timers.pop();
        fire(next);
        next = timers.peek();
      }
    } finally {
      // Newer due timers (and, after a throwing callback, the rest) fire on a later turn.
      next = timers.peek();
      if (next && next.due <= current) scheduleFlush();
    }
  };

  const scheduleFlush = (): void => {
    if (flushScheduled || advancing) return;
    flushScheduled = true;
    realSetImmediate(flush);
  };

  const settle = async (): Promise<void> => {
    // One real turn first: lets promise chains and callbacks a firing started make progress even
    // when no hook is registered.
    await new Promise<void>((resolve) => realSetImmediate(resolve));
    for (const hook of [...settleHooks]) await hook();
  };

  const runAdvance = async (target: () => number): Promise<void> => {
    const to = target();
    if (to < current) {
      throw new InvalidParamsError(
        `Expected a target at or after the test clock's current time ${new Date(current).toISOString()}, ` +
          `received ${new Date(to).toISOString()}: virtual time never moves backwards.`,
      );
    }
    advancing = true;
    try {
      // Work already due (a trigger just made, say) runs at the current time before time moves.
      await settle();
      let firings = 0;
      for (;;) {
        const next = timers.peek();
        if (next && next.due <= to) {
          if (firings === maxFirings) throw new RunawayTimersError(firings, new Date(current));
          firings++;
          timers.pop();
          fire(next);
          await settle();
          continue;
        }
        if (current === to && firings > 0) break;
        // Nothing more is due on the way: arrive, settle, and look again (the settle may have
        // set timers due at the target).
        current = to;
        await settle();
        const after = timers.peek();
        if (!after || after.due > to) break;
      }
    } finally {
      advancing = false;
      // Timers at 0 ms set by work still running after the advance ended fire on their own.
      const next = timers.peek();
      if (next && next.due <= current) scheduleFlush();
    }
  };

  const enqueueAdvance = (target: () => number): Promise<void> => {
    const run = tail.then(() => runAdvance(target));
    tail = run.catch(() => {});
    return run;
  };

  return {
    now: () => new Date(current),

    setTimeout(callback: () => void, ms: number): TimerHandle {
      if (typeof callback !== "function") {
        throw new InvalidParamsError(`Expected a callback function, received ${typeof callback}.`);
      }
      const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
      const timer: TestTimer = { due: current + delay, seq: seq++, callback };
      timers.push(timer);
      if (delay === 0) scheduleFlush();
      return timer;
    },

    clearTimeout(handle: TimerHandle): void {
      const timer = handle as TestTimer | undefined;
      if (timer && typeof timer === "object" && timer.callback !== undefined) {
        timer.callback = undefined;
        timers.noteCleared();
      }
    },

    advance(by) {
      let span: (from: Date) => Date;
      try {
        span = parseAdvance(by);
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueueAdvance(() => span(new Date(current)).getTime());
    },

    advanceTo(date) {
      let to: number;
      try {
        to = toInstant(date, "the instant to advance to");
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueueAdvance(() => to);
    },

    onSettle(hook) {
      if (typeof hook !== "function") {
        throw new InvalidParamsError(`Expected a settle function, received ${typeof hook}.`);
      }
      // Wrapped so that registering the same function twice gives two independent registrations.
      const entry = () => hook();
      settleHooks.add(entry);
      return () => {
        settleHooks.delete(entry);
      };
    },
  };
}
