/**
 * Trigger latency: triggers at a steady 1,000 per second for 10 seconds on the system clock, each
 * for one recipient, timed from the trigger() call to the email provider receiving the message.
 */
import { crier } from "../crier.js";

const { createEngine } = crier;

import { percentile, report, round, sleep } from "../lib.js";
import { benchChannels, benchWorkflow, seedRecipients } from "../workload.js";

const RATE = 1000;
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const TOTAL = RATE * SECONDS;

const startedAt = new Map<string, number>();
const latencies: number[] = [];
const engine = createEngine({
  workflows: [benchWorkflow],
  channels: benchChannels((message) => {
    const started = startedAt.get(String(message.data.id));
    if (started !== undefined) latencies.push(performance.now() - started);
  }),
});
const ids = await seedRecipients(engine, 100);

// Steady rate: a tick every 10 ms sends the triggers due by then (10 per tick at 1,000/s).
const begin = performance.now();
let issued = 0;
const pending: Promise<unknown>[] = [];
while (issued < TOTAL) {
  const due = Math.min(TOTAL, Math.floor(((performance.now() - begin) / 1000) * RATE));
  while (issued < due) {
    const id = `t${issued}`;
    startedAt.set(id, performance.now());
    pending.push(
      engine.workflows.trigger("bench", {
        recipients: [ids[issued % ids.length] as string],
        data: { id, message: "hi" },
      }),
    );
    issued++;
  }
  await sleep(10);
}
await Promise.all(pending);
await engine.idle();
const wall = performance.now() - begin;
await engine.close();

const received = latencies.length;
const p50 = percentile(latencies, 50);
const p99 = percentile(latencies, 99);
report({
  scenario: "trigger latency",
  figures: {
    triggers: TOTAL,
    achieved_rate_per_s: round(TOTAL / (wall / 1000)),
    p50_ms: round(p50),
    p99_ms: round(p99),
    max_ms: round(percentile(latencies, 100)),
  },
  targets: [
    { target: "p50 < 5 ms", met: p50 < 5 },
    { target: "p99 < 50 ms", met: p99 < 50 },
  ],
  checks: [{ check: `${TOTAL} messages delivered`, ok: received === TOTAL }],
});
