/**
 * crier's demo: one workflow, triggered for a few users and an object with subscribers, on the
 * in-memory defaults. It prints what each recipient was sent, and why the others were skipped.
 *
 *   npm install && npm run demo
 */
import { createEngine, type OutboundMessage } from "../src/index.js";

const printProvider = (label: string) => ({
  async send(message: OutboundMessage) {
    const to =
      message.channel_type === "email" ? message.recipient.email : message.recipient.phone_number;
    const text = message.content.subject ?? message.content.text_body;
    console.log(
      `  ${label.padEnd(6)} -> ${String(message.recipient.id).padEnd(6)} (${to}): ${text}`,
    );
  },
});

const engine = createEngine({
  channels: [
    { key: "postmark", type: "email", provider: printProvider("email") },
    { key: "twilio", type: "sms", provider: printProvider("sms") },
    { key: "feed", type: "in_app_feed" },
  ],
  workflows: [
    {
      key: "new-comment",
      name: "New comment",
      categories: ["collaboration"],
      // Nobody hears about their own comment.
      conditions: {
        all: [{ variable: "recipient.id", operator: "not_equal_to", argument: "actor.id" }],
      },
      steps: [
        {
          ref: "feed_1",
          type: "channel",
          channel_key: "feed",
          template: { markdown_body: "**{{ actor.name }}** commented on {{ data.document }}" },
        },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          template: {
            subject: "{{ actor.name }} commented on {{ data.document }}",
            html_body: "<p>{{ data.comment }}</p>",
          },
        },
        {
          ref: "sms_1",
          type: "channel",
          channel_key: "twilio",
          // Texts only for people who asked for urgent alerts.
          conditions: {
            all: [{ variable: "recipient.urgent_alerts", operator: "equal_to", argument: true }],
          },
          template: { text_body: "{{ actor.name }}: {{ data.comment | truncate: 40 }}" },
        },
      ],
    },
  ],
});

// An object with subscribers: everyone watching the document hears about comments on it.
await engine.objects.set("documents", "roadmap", { name: "Roadmap 2027" });
await engine.objects.addSubscriptions("documents", "roadmap", {
  recipients: [
    {
      id: "grace",
      name: "Grace",
      email: "grace@example.com",
      phone_number: "+15555550101",
      urgent_alerts: true,
    },
    // Alan turned email off in his preferences.
    {
      id: "alan",
      name: "Alan",
      email: "alan@example.com",
      preferences: { default: { channel_types: { email: false } } },
    },
    { id: "ada", name: "Ada", email: "ada@example.com" },
  ],
  properties: { role: "watcher" },
});

console.log(
  "Triggering new-comment (actor: ada) for the document's watchers and two more users.\nProviders print what they send:\n",
);
await engine.workflows.trigger("new-comment", {
  actor: { id: "ada", name: "Ada" },
  recipients: [
    { id: "roadmap", collection: "documents" },
    { id: "linus", name: "Linus", email: "linus@example.com" },
    { id: "margaret", name: "Margaret" },
  ],
  data: {
    document: "Roadmap 2027",
    comment: "Shipping the durable adapters in Q1 looks right to me.",
  },
});
await engine.idle();

console.log(
  "\nWhy each recipient was or was not notified (ada wrote the comment: the actor is never",
);
console.log("notified as a subscriber):");
const { entries } = await engine.workflowRecipientRuns.list({ workflow: "new-comment" });
for (const run of entries.reverse()) {
  const recipient =
    typeof run.recipient === "string"
      ? run.recipient
      : `${run.recipient.collection}/${run.recipient.id}`;
  console.log(`  ${recipient}`);
  const { events = [] } = await engine.workflowRecipientRuns.get(run.id);
  for (const event of events) {
    if (event.event === "step_skipped")
      console.log(`    ${event.step_ref} skipped: ${event.reason}: ${String(event.data.detail)}`);
    if (event.event === "message_sent" || event.event === "message_delivered") {
      console.log(`    ${event.step_ref} ${event.event === "message_sent" ? "sent" : "delivered"}`);
    }
  }
}

const feed = await engine.users.listMessages("grace", { channel_id: "feed" });
console.log(
  `\nGrace's in-app feed has ${feed.items.length} message: ${String(feed.items[0]?.content.markdown_body)}`,
);
await engine.close();
