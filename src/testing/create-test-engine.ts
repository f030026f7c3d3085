/**
 * `createTestEngine`: an engine on virtual time, with every channel captured.
 *
 * @module
 */
import type { ChannelConfig, ChannelProvider, OutboundMessage } from "../channels/types.js";
import {
  CrierEngine,
  type Engine,
  type KnownWorkflows,
  type NoKnownWorkflows,
} from "../engine/create-engine.js";
import type { EngineOptions } from "../engine/options.js";
import { memoryQueue } from "../queue/memory.js";
import { memoryStore } from "../store/memory.js";
import type { ChannelType, WorkflowInput } from "../workflows/types.js";
import { createTestClock, type TestClock } from "./test-clock.js";

const CHANNEL_TYPES = new Set<string>(["email", "sms", "push", "chat", "in_app_feed", "http"]);

/** Options of {@link createTestEngine}: the engine's, plus where virtual time starts. */
export interface TestEngineOptions extends EngineOptions {
  /** The virtual clock's start. @default "2026-01-01T00:00:00Z" */
  now?: Date | string;
}

/**
 * An engine on a virtual clock that records what it sends. Every {@link Engine} call works on it;
 * `TWorkflows` is what it knows of its workflows' trigger data, as for `createEngine`.
 */
export interface TestEngine<TWorkflows extends object = NoKnownWorkflows>
  extends Engine<TWorkflows> {
  /** The virtual clock: `now()`, `advance(ms | Duration | "90s" | "15m" | "2h" | "3d")`, `advanceTo(date)`. */
  readonly clock: TestClock;
  /**
   * Every message a provider accepted, in send order: captured channels (those a workflow names
   * and `channels` does not configure) and configured providers alike.
   */
  readonly outbox: readonly OutboundMessage[];
}

/**
 * Creates an engine for tests: memory store and queue, a virtual clock starting at `now`, and a
 * capturing provider for every channel a workflow names that `channels` does not configure (its
 * type is the step's `channel_type`, or the key itself when the key is a channel type's name).
 * Advancing the clock runs due work in time order and waits for it to finish. Given workflows made
 * with `defineWorkflow`, it checks trigger data at compile time as `createEngine` does.
 *
 * @example
 * ```ts
 * const t = createTestEngine();
 * await t.workflows.upsert(digest);
 * await t.workflows.trigger("digest", { recipients: ["u1"] });
 * await t.clock.advance("3d");
 * expect(t.outbox).toHaveLength(1);
 * ```
 */
export function createTestEngine<const TDefinitions extends readonly WorkflowInput[] = []>(
  options: TestEngineOptions & { workflows?: TDefinitions } = {},
): TestEngine<KnownWorkflows<TDefinitions>> {
  const { now, ...engineOptions } = options;
  const clock = createTestClock(now ?? "2026-01-01T00:00:00Z");
  const outbox: OutboundMessage[] = [];
  const capture = (provider?: ChannelProvider): ChannelProvider => ({
    async send(message) {
      const result = provider ? await provider.send(message) : undefined;
      outbox.push(message);
      return result;
    },
  });
  const channels: ChannelConfig[] = (engineOptions.channels ?? []).map((channel) =>
    channel.provider || channel.type === "in_app_feed"
      ? { ...channel, provider: capture(channel.provider) }
      : channel,
  );
  const captured = new Map<string, ChannelConfig>();
  const fallback = (key: string, stepType: ChannelType | undefined): ChannelConfig | undefined => {
    const type = stepType ?? (CHANNEL_TYPES.has(key) ? (key as ChannelType) : undefined);
    if (!type) return undefined;
    const cacheKey = `${key}\u0000${type}`;
    let channel = captured.get(cacheKey);
    if (!channel) {
      channel = { key, type, provider: capture() };
      captured.set(cacheKey, channel);
    }
    return channel;
  };
  const engine = new CrierEngine(
    {
      ...engineOptions,
      channels,
      clock,
      store: engineOptions.store ?? memoryStore(),
      queue: engineOptions.queue ?? memoryQueue({ concurrency: 32 }),
    },
    { channelFallback: fallback },
  );
  clock.onSettle(() => engine.idle());
  return Object.assign(engine, { clock, outbox }) as unknown as TestEngine<
    KnownWorkflows<TDefinitions>
  >;
}
