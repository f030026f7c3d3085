/**
 * In-memory throughput: 100 triggers x 1,000 recipients through the benchmark workflow (a
 * condition, preferences, an in-app and an email step), recipient runs per second until idle.
 * Baseline: p-queue running as many no-op tasks at the engine queue's concurrency (32).
 */
import PQueue from "p-queue";
import { crier } from "../crier.js";

const { createEngine } = crier;

import { minorFaults, pageFaultMicros, report, round, since } from "../lib.js";
import { benchChannels, benchWorkflow, seedRecipients } from "../workload.js";

const TRIGGERS = Number(process.env.BENCH_TRIGGERS ?? 100);
const RECIPIENTS = 1000;
const CONCURRENCY = 32;
const total = TRIGGERS * RECIPIENTS;

let sent = 0;
let completed = 0;
const engine = createEngine({
  workflows: [benchWorkflow],
  channels: benchChannels(() => {
    sent++;
  }),
});
engine.on("run.completed", () => {
  completed++;
});
const ids = await seedRecipients(engine, RECIPIENTS);

const faultsBefore = minorFaults();
const start = performance.now();
for (let i = 0; i < TRIGGERS; i++) {
  await engine.workflows.trigger("bench", { recipients: ids, data: { message: `update ${i}` } });
}
await engine.idle();
const elapsed = since(start);
const faults = minorFaults() - faultsBefore;
const runsPerSecond = total / (elapsed / 1000);
await engine.close();

const queue = new PQueue({ concurrency: CONCURRENCY });
const baselineFaultsBefore = minorFaults();
const baselineStart = performance.now();
for (let i = 0; i < total; i++) queue.add(async () => {});
await queue.onIdle();
const baselineElapsed = since(baselineStart);
const noopPerSecond = total / (baselineElapsed / 1000);
const baselineFaults = minorFaults() - baselineFaultsBefore;
const ratio = runsPerSecond / noopPerSecond;
// Both sides grow the heap (the memory store keeps every run and message; p-queue holds every
// task it was given until it runs): estimate what the first touches of those pages cost here.
const faultMicros = pageFaultMicros();
const faultShare = (faults * faultMicros) / 1000 / elapsed;
const baselineFaultShare = (baselineFaults * faultMicros) / 1000 / baselineElapsed;

report({
  scenario: "in-memory throughput",
  figures: {
    runs: total,
    runs_per_s: round(runsPerSecond),
    elapsed_ms: round(elapsed),
    page_faults_per_run: round(faults / total),
    page_fault_us: round(faultMicros),
  },
  baseline: {
    pqueue_noop_per_s: round(noopPerSecond),
    page_faults_per_task: round(baselineFaults / total),
  },
  ratio: round(ratio),
  targets: [
    { target: ">= 50,000 runs/s", met: runsPerSecond >= 50_000 },
    { target: ">= 0.25 x p-queue no-op rate", met: ratio >= 0.25 },
  ],
  checks: [
    { check: `${total} emails sent`, ok: sent === total },
    { check: `${total} runs completed`, ok: completed === total },
  ],
  notes: [
    `first touches of new heap pages (${round(faultMicros)} µs each here): ${round(faults / total)} a run, about ${round(faultShare * 100)}% of crier's time; ${round(baselineFaults / total)} a no-op task, about ${round(baselineFaultShare * 100)}% of the baseline's`,
  ],
});
