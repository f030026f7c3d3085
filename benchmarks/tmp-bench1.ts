import PQueue from "p-queue";
import { createEngine } from "../src/index.js";

const N = 1000,
  T = 40;
const engine = createEngine({
  channels: [
    { key: "email", type: "email", provider: { send: async () => {} } },
    { key: "in-app", type: "in_app_feed" },
  ],
  workflows: [
    {
      key: "bench",
      conditions: { all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }] },
      categories: ["updates"],
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
    },
  ],
});
const ids = Array.from({ length: N }, (_, i) => `u${i}`);
for (const id of ids) {
  await engine.users.update(id, { name: id, email: `${id}@example.com`, plan: "pro" });
  await engine.users.setPreferences(id, "default", {
    categories: { updates: true },
    channel_types: { sms: false },
  });
}
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < T; i++)
  await engine.workflows.trigger("bench", { recipients: ids, data: { message: `m${i}` } });
await engine.idle();
const dt = performance.now() - t0;
const cpu = process.cpuUsage(c0);
console.log("cpu µs/run", ((cpu.user + cpu.system) / (N * T)).toFixed(1));
console.log("crier runs/s", Math.round((N * T) / (dt / 1000)), "ms", Math.round(dt));
const q = new PQueue({ concurrency: 32 });
const t1 = performance.now();
for (let i = 0; i < N * T; i++) q.add(async () => {});
await q.onIdle();
const dq = performance.now() - t1;
console.log("pqueue noop/s", Math.round((N * T) / (dq / 1000)));
const msgs = await engine.messages.list({ page_size: 1 });
console.log(msgs.items.length);
await engine.close();
