/**
 * @internal The throttle step: at most `throttle_limit` runs per recipient (and rendered
 * `throttle_key`) go past it in a window that opens at the first; the others stop there. Counting
 * is one atomic store operation.
 */

import { recipientKeyString } from "../_internal/ids.js";
import { renderTemplate } from "../channels/templates.js";
import { readPath } from "../conditions/evaluate.js";
import { addDuration, isDuration, nominalDurationMs } from "../scheduling/duration.js";
import type { ThrottleInstruction } from "../workflows/compile.js";
import {
  describeSpan,
  MAX_THROTTLE_WINDOW_DAYS,
  MAX_THROTTLE_WINDOW_MS,
} from "../workflows/limits.js";
import type { Duration } from "../workflows/types.js";
import { log, type Outcome, type RunState, scopeOf, skip } from "./run.js";

/** Knock's limit on an encoded throttle key. */
const MAX_KEY_LENGTH = 64;

/** @internal Runs a throttle step. */
export async function executeThrottle(
  state: RunState,
  instruction: ThrottleInstruction,
): Promise<Outcome> {
  const { ctx, run } = state;
  const next: Outcome = { kind: "next", next: instruction.next };
  const settings = instruction.settings;
  let window: Duration | undefined = settings.throttle_window;
  if (settings.throttle_window_field_path) {
    const value = readPath(scopeOf(state), settings.throttle_window_field_path);
    window = isDuration(value) ? value : undefined;
  }
  if (
    window &&
    settings.throttle_window_field_path &&
    nominalDurationMs(window) > MAX_THROTTLE_WINDOW_MS
  ) {
    skip(
      state,
      instruction,
      "invalid_settings",
      `throttle_window_field_path "${settings.throttle_window_field_path}" is ${describeSpan(window)}: expected a window of at most ${MAX_THROTTLE_WINDOW_DAYS} days (Knock's limit)`,
    );
    return next;
  }
  if (!window || window.value <= 0) {
    skip(
      state,
      instruction,
      "invalid_settings",
      "the throttle window is missing or invalid: expected throttle_window or a positive Duration at throttle_window_field_path",
    );
    return next;
  }
  let keyValue = "";
  if (instruction.key)
    keyValue = String(renderTemplate(ctx.liquid, instruction.key, scopeOf(state)) ?? "");
  else if (instruction.keyPath) {
    const value = readPath(scopeOf(state), instruction.keyPath);
    keyValue = value === undefined || value === null ? "" : String(value);
  }
  if (encodeURIComponent(keyValue).length >= MAX_KEY_LENGTH) {
    skip(
      state,
      instruction,
      "invalid_settings",
      `the throttle key renders to ${encodeURIComponent(keyValue).length} characters encoded: expected fewer than ${MAX_KEY_LENGTH}`,
    );
    return next;
  }
  const limit = settings.throttle_limit ?? 1;
  const key = `${run.workflow}|${instruction.ref}|${recipientKeyString(run.recipient)}|${keyValue}`;
  const counted = await ctx.store.countThrottle(
    key,
    addDuration(state.now, window).toISOString(),
    state.now.toISOString(),
  );
  if (counted.count > limit) {
    log(state, "throttled", instruction, {
      count: counted.count,
      limit,
      window_ends_at: counted.window_ends_at,
    });
    return { kind: "end", reason: "throttled" };
  }
  log(state, "step_executed", instruction, {
    count: counted.count,
    limit,
    window_ends_at: counted.window_ends_at,
  });
  return next;
}
