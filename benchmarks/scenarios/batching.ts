/**
 * Batching: 100,000 triggers into 1,000 open batches (1,000 recipients, 100 triggers each, each
 * trigger with its own actor), then the windows close on the virtual clock. Measures triggers per
 * second (from the first trigger until every run has joined or opened its batch) and checks every
 * batch message counts its 100 activities.
 */
import { testing } from "../crier.js";

const { createTestEngine } = testing;

import { report, round, since } from "../lib.js";

const RECIPIENTS = 1000;
const PER_RECIPIENT = Number(process.env.BENCH_BATCH_ITEMS ?? 100);
const TRIGGERS = RECIPIENTS * PER_RECIPIENT;

const t = createTestEngine({
  workflows: [
    {
      key: "digest",
      steps: [
        {
          ref: "collect",
          type: "batch",
          settings: { batch_window: { unit: "minutes", value: 10 }, batch_items_render_limit: 5 },
        },
        {
          ref: "in_app_1",
          type: "channel",
          channel_key: "in-app",
          channel_type: "in_app_feed",
          template: {
            markdown_body: "{{ total_activities }} updates from {{ total_actors }} people",
          },
        },
      ],
    },
  ],
});
const ids = Array.from({ length: RECIPIENTS }, (_, i) => `u${i}`);
for (const id of ids) await t.users.update(id, { name: id });

const start = performance.now();
for (let n = 0; n < PER_RECIPIENT; n++) {
  await t.workflows.trigger("digest", { recipients: ids, actor: `actor-${n}`, data: { n } });
}
await t.idle();
const elapsed = since(start);
const perSecond = TRIGGERS / (elapsed / 1000);
await t.clock.advance("10m");

const bodies = t.outbox.map((m) => String(m.content.markdown_body));
const expected = `${PER_RECIPIENT} updates from ${PER_RECIPIENT} people`;
const recipients = new Set(t.outbox.map((m) => String(m.recipient_ref)));
await t.close();

report({
  scenario: "batching",
  figures: {
    triggers: TRIGGERS,
    batches: RECIPIENTS,
    triggers_per_s: round(perSecond),
    elapsed_ms: round(elapsed),
  },
  targets: [{ target: ">= 20,000 triggers/s", met: perSecond >= 20_000 }],
  checks: [
    { check: `${RECIPIENTS} batch messages`, ok: t.outbox.length === RECIPIENTS },
    { check: "one per recipient", ok: recipients.size === RECIPIENTS },
    {
      check: `each counts ${PER_RECIPIENT} activities and actors`,
      ok: bodies.every((b) => b === expected),
    },
  ],
});
