/**
 * The workload most scenarios share: a workflow with one trigger condition, one in-app and one
 * email step, for recipients who each have a preference set.
 */
import type { ChannelConfig, Engine, OutboundMessage, WorkflowInput } from "../src/index.js";

/** The benchmark workflow: a condition, a category, an in-app step and an email step. */
export const benchWorkflow: WorkflowInput = {
  key: "bench",
  categories: ["updates"],
  conditions: { all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }] },
  steps: [
    {
      ref: "in_app_1",
      type: "channel",
      channel_key: "in-app",
      template: { markdown_body: "Hi {{ recipient.name }}: {{ data.message }}" },
    },
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: {
        subject: "Hello {{ recipient.name }}",
        html_body: "<p>{{ data.message }}</p>",
      },
    },
  ],
};

/** The channels: the built-in feed, and an email provider that hands each message to `sink`. */
export function benchChannels(
  sink: (message: OutboundMessage) => void = () => {},
): ChannelConfig[] {
  return [
    { key: "in-app", type: "in_app_feed" },
    { key: "email", type: "email", provider: { send: async (message) => sink(message) } },
  ];
}

/** Identifies `count` users `u0…` with an email, a plan and a preference set; returns their ids. */
export async function seedRecipients(engine: Engine, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `u${i}`);
  for (const id of ids) {
    await engine.users.update(id, {
      name: `User ${id}`,
      email: `${id}@example.com`,
      plan: "pro",
      preferences: {
        default: { categories: { updates: true }, channel_types: { sms: false } },
      },
    });
  }
  return ids;
}
