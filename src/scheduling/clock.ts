/**
 * The one source of time in crier. Nothing else reads `Date.now()` or calls `setTimeout`.
 *
 * @module
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Time, injected into the engine: the current instant and one-shot timers. {@link systemClock} is
 * real time; the test clock of `crier/testing` is virtual time that moves only when told to.
 */
export interface Clock {
  /** The current instant. */
  now(): Date;
  /** Calls `callback` once, `ms` milliseconds from now (0 or less: as soon as possible). */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired yet; a no-op for one that has. */
  clearTimeout(handle: TimerHandle): void;
}

/** Node's setTimeout accepts at most 2^31 - 1 ms; longer timers re-arm in steps. */
const MAX_TIMEOUT_MS = 2_147_483_647;

interface SystemTimer {
  timeout: ReturnType<typeof setTimeout> | undefined;
}

function armSystemTimer(timer: SystemTimer, callback: () => void, dueAt: number): void {
  const remaining = dueAt - Date.now();
  const step = Math.min(Math.max(remaining, 0), MAX_TIMEOUT_MS);
  timer.timeout = setTimeout(() => {
    if (dueAt - Date.now() > 0 && step === MAX_TIMEOUT_MS) armSystemTimer(timer, callback, dueAt);
    else callback();
  }, step);
  // A parked run must never keep a process alive on its own: the store holds it.
  timer.timeout.unref?.();
}

/** Real time: `Date` and Node's timers (unref'd, so they never hold a process open). */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout(callback, ms) {
    const timer: SystemTimer = { timeout: undefined };
    armSystemTimer(timer, callback, Date.now() + Math.max(0, ms));
    return timer;
  },
  clearTimeout(handle) {
    const timer = handle as SystemTimer | undefined;
    if (timer?.timeout !== undefined) clearTimeout(timer.timeout);
  },
};
