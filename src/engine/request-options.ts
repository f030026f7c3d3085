/**
 * `RequestOptions`: the trailing argument every method of `@knocklabs/node` v1 takes.
 *
 * @module
 */

/**
 * The per-request options of `@knocklabs/node` v1 (its `RequestOptions`), accepted as the last
 * argument of every engine method so that calls written for Knock's client compile and run
 * unchanged.
 *
 * crier runs in your process, so there is no request to shape: `idempotencyKey` is honoured where
 * Knock's API honours it (`workflows.trigger`), and the transport options (`timeout`,
 * `maxRetries`, `headers`, `signal`, …) are accepted and ignored.
 */
export interface RequestOptions {
  /** Honoured by `workflows.trigger` (the same key within 24 hours runs nothing again); ignored elsewhere, as by Knock's API. */
  idempotencyKey?: string;
  /** Ignored: nothing goes over a network. */
  timeout?: number;
  /** Ignored: nothing goes over a network. */
  maxRetries?: number;
  /** Ignored: calls are not cancellable. */
  signal?: AbortSignal | null;
  /** Ignored. */
  headers?: unknown;
  /** Ignored. */
  query?: object | null;
  /** Ignored. */
  body?: unknown;
  /** Ignored. */
  method?: string;
  /** Ignored. */
  path?: string;
  /** Ignored. */
  stream?: boolean;
  /** Ignored. */
  fetchOptions?: unknown;
  /** Ignored. */
  defaultBaseURL?: string;
  /** Ignored. */
  __binaryResponse?: boolean;
}
