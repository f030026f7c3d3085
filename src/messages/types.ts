/**
 * Messages: what a channel step produced for one recipient, with its delivery and engagement status.
 *
 * @module
 */
import type { RecipientReference } from "../recipients/types.js";

/** Where a message is in its delivery (exactly one at a time). */
export type MessageDeliveryStatus =
  | "queued"
  | "sent"
  | "delivered"
  | "delivery_attempted"
  | "undelivered"
  | "not_sent"
  | "bounced";

/** How a recipient engaged with a message (a set). */
export type MessageEngagementStatus = "seen" | "read" | "interacted" | "link_clicked" | "archived";

/** One message, with Knock's fields. */
export interface Message {
  __typename: "Message";
  /** Derived from the recipient run and the step: a retried step never makes a second one. */
  id: string;
  /** The channel's key. */
  channel_id: string;
  channel_type: string;
  recipient: RecipientReference;
  actors: RecipientReference[];
  workflow: string;
  tenant: string | null;
  source: {
    __typename: "NotificationSource";
    key: string;
    version_id: string;
    categories: string[];
    step_ref: string;
    workflow_run_id: string;
    workflow_recipient_run_id: string;
  };
  status: MessageDeliveryStatus;
  engagement_statuses: MessageEngagementStatus[];
  seen_at: string | null;
  read_at: string | null;
  interacted_at: string | null;
  link_clicked_at: string | null;
  archived_at: string | null;
  /** The trigger data the message was rendered with. */
  data: Record<string, unknown> | null;
  /** The rendered template. */
  content: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  /** Delivery attempts so far. */
  attempts: number;
  provider_message_id: string | null;
  /** The last delivery error, if any. */
  last_error: string | null;
  inserted_at: string;
  updated_at: string;
}
