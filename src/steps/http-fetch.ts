/**
 * @internal The http_fetch step: a request through the engine's `fetch` (every setting a Liquid
 * template); a JSON object answer is merged into the run's `data`. A failed request is retried
 * 30 s and then 60 s later (the run waits, paused and cancellable); after the third failure the
 * run halts with the error logged.
 */

import { isPlainObject } from "../_internal/merge.js";
import { renderTemplate } from "../channels/templates.js";
import type { HttpFetchInstruction } from "../workflows/compile.js";
import { catchUp, log, type Outcome, type RunState, scopeOf } from "./run.js";

/** Knock's timeout for one request. */
const TIMEOUT_MS = 15_000;
/** Waits before the second and third attempts. */
const RETRY_DELAYS_MS = [30_000, 60_000];

function pairs(value: unknown): Array<[string, string]> {
  if (!Array.isArray(value)) return [];
  return value.flatMap((pair) =>
    isPlainObject(pair) && typeof pair.key === "string"
      ? [[pair.key, String(pair.value ?? "")] as [string, string]]
      : [],
  );
}

/** The request's origin and path, for messages (never its query, which may hold secrets). */
function describeUrl(url: unknown): string {
  try {
    const parsed = new URL(String(url));
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return String(url);
  }
}

/** @internal Runs an http_fetch step. */
export async function executeHttpFetch(
  state: RunState,
  instruction: HttpFetchInstruction,
): Promise<Outcome> {
  const { ctx, run } = state;
  const attempt = (run.cursor === instruction.index ? (run.step_attempt ?? 0) : 0) + 1;
  const request = renderTemplate(ctx.liquid, instruction.request, scopeOf(state)) as Record<
    string,
    unknown
  >;
  const method = typeof request.method === "string" ? request.method.toUpperCase() : "GET";
  let error: string;
  // A network timeout is real time, whatever the engine's clock.
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const url = new URL(String(request.url));
    for (const [key, value] of pairs(request.query_params)) url.searchParams.append(key, value);
    const headers = new Headers(pairs(request.headers));
    const body =
      method === "GET" ||
      method === "HEAD" ||
      typeof request.body !== "string" ||
      request.body.length === 0
        ? undefined
        : request.body;
    if (body !== undefined && !headers.has("content-type"))
      headers.set("content-type", "application/json");
    const fetchFn = ctx.fetch ?? globalThis.fetch;
    const response = await fetchFn(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal,
    });
    if (!response.ok)
      throw new Error(
        `${method} ${url.origin}${url.pathname} answered ${response.status} ${response.statusText}`,
      );
    const text = await response.text();
    catchUp(state);
    let json: unknown = null;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        throw new Error(
          `${method} ${url.origin}${url.pathname} answered with a body that is not JSON`,
        );
      }
    }
    if (isPlainObject(json)) {
      state.data = { ...state.data, ...json };
      state.dataChanged = true;
      state.scope = undefined;
    }
    state.patch.step_attempt = 0;
    log(
      state,
      "fetch_succeeded",
      instruction,
      { status: response.status, merged_keys: isPlainObject(json) ? Object.keys(json) : [] },
      "ok",
      { attempt },
    );
    return { kind: "next", next: instruction.next };
  } catch (caught) {
    catchUp(state);
    error = signal.aborted
      ? `${method} ${describeUrl(request.url)} did not answer within ${TIMEOUT_MS / 1000} s (the step's timeout)`
      : caught instanceof Error
        ? caught.message
        : String(caught);
  }
  const delay = RETRY_DELAYS_MS[attempt - 1];
  if (delay === undefined) {
    log(state, "fetch_failed", instruction, { error, attempts: attempt }, "error", { attempt });
    return { kind: "halt", errors: 1 };
  }
  const retryAt = new Date(state.now.getTime() + delay);
  state.patch.step_attempt = attempt;
  log(state, "fetch_retrying", instruction, { error, retry_at: retryAt.toISOString() }, "error", {
    attempt,
  });
  return {
    kind: "wait",
    next: instruction.index,
    until: retryAt,
    jobSuffix: `fetch${attempt + 1}`,
  };
}
