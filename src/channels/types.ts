/**
 * Channels: where channel steps send, and the providers that deliver.
 *
 * @module
 */
import type { RecipientReference } from "../recipients/types.js";
import type { ChannelType } from "../workflows/types.js";

/** A message handed to a provider: everything it needs to deliver, rendered. */
export interface OutboundMessage {
  /** The message id (stable across retries: use it to deduplicate at the provider). */
  id: string;
  channel_key: string;
  channel_type: ChannelType;
  /** The recipient as the run saw it: a user's or object's properties, with `id`. */
  recipient: Record<string, unknown>;
  /** The recipient's reference, as messages store it. */
  recipient_ref: RecipientReference;
  actor: Record<string, unknown> | null;
  tenant: Record<string, unknown> | null;
  /** The step's template with every field rendered (Liquid). */
  content: Record<string, unknown>;
  /** The recipient's channel data for this channel, if any. */
  channel_data: Record<string, unknown> | null;
  workflow: string;
  step_ref: string;
  workflow_run_id: string;
  workflow_recipient_run_id: string;
  /** The run's data. */
  data: Record<string, unknown>;
  /** 1 for the first delivery attempt, 2 and 3 for retries. */
  attempt: number;
}

/** What a provider may report. Returning nothing means `sent`. */
export interface DeliveryResult {
  status?: "sent" | "delivered";
  provider_message_id?: string;
}

/** Delivers messages of one channel. Throwing means the attempt failed: it is retried with backoff. */
export interface ChannelProvider {
  /** Delivers one message; resolves with what the provider reports, or nothing for `sent`. */
  send(message: OutboundMessage): Promise<DeliveryResult | void>;
}

/** A channel that steps name by `channel_key`. */
export interface ChannelConfig {
  key: string;
  type: ChannelType;
  /** Required for email, sms, push and chat; `in_app_feed` and `http` are built in (a provider is then also called). */
  provider?: ChannelProvider;
}
