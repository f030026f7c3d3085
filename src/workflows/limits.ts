/**
 * @internal Knock's limits on step timings (§7): a delay waits at most 365 days, a throttle window
 * lasts at most 31 days. A static value over the limit is rejected at upsert; a value read at run
 * time (`delay_until_field_path`, `throttle_window_field_path`) over it skips the step with
 * `invalid_settings`. A Duration is measured nominally (a month counts as 30 days), a timestamp
 * from the moment the step runs.
 */
import { nominalDurationMs } from "../scheduling/duration.js";
import type { Duration } from "./types.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** @internal The longest delay: 365 days. */
export const MAX_DELAY_DAYS = 365;
/** @internal The longest throttle window: 31 days. */
export const MAX_THROTTLE_WINDOW_DAYS = 31;

/** @internal The longest delay, in milliseconds. */
export const MAX_DELAY_MS: number = MAX_DELAY_DAYS * DAY_MS;
/** @internal The longest throttle window, in milliseconds. */
export const MAX_THROTTLE_WINDOW_MS: number = MAX_THROTTLE_WINDOW_DAYS * DAY_MS;

/** @internal A Duration as words, with its length in days when that helps: `13 months (390 days)`. */
export function describeSpan(duration: Duration): string {
  const words = `${duration.value} ${duration.unit}`;
  if (duration.unit === "days") return words;
  const days = nominalDurationMs(duration) / DAY_MS;
  return `${words} (${Number.isInteger(days) ? days : days.toFixed(1)} days)`;
}
