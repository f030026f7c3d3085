/**
 * Engine options.
 *
 * @module
 */
import type { ChannelConfig } from "../channels/types.js";
import type { PreferenceSetInput } from "../preferences/types.js";
import type { Queue } from "../queue/types.js";
import type { Clock } from "../scheduling/clock.js";
import type { Store } from "../store/types.js";
import type { WorkflowInput } from "../workflows/types.js";

/** How failed deliveries are retried. */
export interface DeliveryRetryOptions {
  /**
   * Delivery attempts in all, the first included.
   * @default 3
   */
  attempts?: number;
  /**
   * Milliseconds to wait before attempt `attempt` (2, 3, …).
   * @default attempt => 1000 * 4 ** (attempt - 2): 1 s, then 4 s
   */
  backoff?: (attempt: number) => number;
}

/** Options of {@link createEngine}. Every one is optional: the defaults run in memory. */
export interface EngineOptions {
  /** Where state lives. @default memoryStore() */
  store?: Store;
  /** How work moves. @default memoryQueue({ concurrency: 32 }) */
  queue?: Queue;
  /** The source of time. @default systemClock */
  clock?: Clock;
  /** Workflows registered when the engine starts (each validated like `workflows.upsert`). */
  workflows?: readonly WorkflowInput[];
  /** The channels that channel steps name by `channel_key`. */
  channels?: ChannelConfig[];
  /**
   * The environment-level default preference set: the lowest set of every recipient's merge
   * (below a tenant's `settings.preference_set` and the recipient's own set). Validated like
   * `setPreferences` input: a bad set throws `InvalidParamsError` from `createEngine`.
   */
  defaultPreferences?: PreferenceSetInput;
  /** The timezone of recipients without one. @default "Etc/UTC" */
  defaultTimezone?: string;
  /** `vars.*` in conditions and templates. */
  vars?: Record<string, unknown>;
  /** Used by http_fetch steps and http (webhook) channels. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** How failed deliveries are retried. */
  deliveryRetry?: DeliveryRetryOptions;
}
