/**
 * Parked runs: 100,000 recipient runs parked on a one-hour delay, on the test engine's virtual
 * clock. Measures the heap they take (after a full GC) over the same engine before the triggers —
 * an engine with its workflow and recipients but no runs — then advances the clock an hour and
 * checks every run completes.
 */
import { testing } from "../crier.js";

const { createTestEngine } = testing;

import { heapUsed, report, round, since } from "../lib.js";

const RUNS = Number(process.env.BENCH_PARKED ?? 100_000);
const PER_TRIGGER = 1000;

const t = createTestEngine({
  workflows: [
    {
      key: "reminder",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
        {
          ref: "in_app_1",
          type: "channel",
          channel_key: "in-app",
          channel_type: "in_app_feed",
          template: { markdown_body: "Reminder {{ data.n }}" },
        },
      ],
    },
  ],
});
let completed = 0;
t.on("run.completed", () => {
  completed++;
});
const ids = Array.from({ length: PER_TRIGGER }, (_, i) => `u${i}`);
for (const id of ids) await t.users.update(id, { name: id });
await t.idle();
const empty = heapUsed();

const start = performance.now();
for (let n = 0; n < RUNS / PER_TRIGGER; n++) {
  await t.workflows.trigger("reminder", { recipients: ids, data: { n } });
}
await t.idle();
const parkElapsed = since(start);
const parked = heapUsed();
const perRun = (parked - empty) / RUNS;
const pausedPage = await t.workflowRecipientRuns.list({ status: ["paused"], page_size: 1 });

const advanceStart = performance.now();
await t.clock.advance("1h");
const advanceElapsed = since(advanceStart);
const stillPaused = await t.workflowRecipientRuns.list({ status: ["paused"], page_size: 1 });
const delivered = t.outbox.length;
await t.close();

report({
  scenario: "parked runs",
  figures: {
    runs: RUNS,
    heap_per_parked_run_bytes: round(perRun),
    heap_parked_mb: round((parked - empty) / 1024 / 1024),
    park_elapsed_ms: round(parkElapsed),
    advance_elapsed_ms: round(advanceElapsed),
  },
  baseline: { empty_engine_heap_mb: round(empty / 1024 / 1024) },
  targets: [{ target: "<= 2 KB of heap per parked run", met: perRun <= 2048 }],
  checks: [
    { check: "runs were paused before the advance", ok: pausedPage.entries.length === 1 },
    { check: "no run left paused after the advance", ok: stillPaused.entries.length === 0 },
    { check: `${RUNS} runs completed`, ok: completed === RUNS },
    { check: `${RUNS} messages delivered`, ok: delivered === RUNS },
  ],
});
