/**
 * Fan-out: one trigger to an object with 100,000 subscribers, timed until every recipient run has
 * completed, with the process's peak RSS. Baseline: the same 100,000 runs triggered as explicit
 * recipients in 100 calls of 1,000. Each side runs in its own process, so each RSS is its own.
 */
import { fileURLToPath } from "node:url";
import type { WorkflowInput } from "../../src/index.js";
import { crier } from "../crier.js";

const { createEngine } = crier;

import { part, peakRssMb, report, round, runPart, since } from "../lib.js";

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100_000);

interface Part {
  elapsed_ms: number;
  peak_rss_mb: number;
  completed: number;
  messages: number;
}

const workflow: WorkflowInput = {
  key: "announce",
  steps: [
    {
      ref: "in_app_1",
      type: "channel",
      channel_key: "in-app",
      template: { markdown_body: "{{ data.title }}" },
    },
  ],
};

async function measure(mode: "object" | "explicit"): Promise<Part> {
  let completed = 0;
  let messages = 0;
  const engine = createEngine({
    workflows: [workflow],
    channels: [{ key: "in-app", type: "in_app_feed" }],
  });
  engine.on("run.completed", () => {
    completed++;
  });
  engine.on("message.delivered", () => {
    messages++;
  });
  const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => `s${i}`);
  if (mode === "object") {
    for (let i = 0; i < ids.length; i += 100) {
      await engine.objects.addSubscriptions("channels", "general", {
        recipients: ids.slice(i, i + 100).map((id) => ({ id, name: id })),
      });
    }
  } else {
    for (const id of ids) await engine.users.update(id, { name: id });
  }
  const start = performance.now();
  if (mode === "object") {
    await engine.workflows.trigger("announce", {
      recipients: [{ id: "general", collection: "channels" }],
      data: { title: "Hello everyone" },
    });
  } else {
    for (let i = 0; i < ids.length; i += 1000) {
      await engine.workflows.trigger("announce", {
        recipients: ids.slice(i, i + 1000),
        data: { title: "Hello everyone" },
      });
    }
  }
  await engine.idle();
  const elapsed = since(start);
  await engine.close();
  return { elapsed_ms: elapsed, peak_rss_mb: peakRssMb(), completed, messages };
}

const mode = process.argv[2];
if (mode === "object" || mode === "explicit") {
  part({ ...(await measure(mode)) });
} else {
  const self = fileURLToPath(import.meta.url);
  const object = await runPart<Part>(self, ["object"]);
  const explicit = await runPart<Part>(self, ["explicit"]);
  report({
    scenario: "fan-out",
    figures: {
      subscribers: SUBSCRIBERS,
      elapsed_ms: round(object.elapsed_ms),
      peak_rss_mb: round(object.peak_rss_mb),
    },
    baseline: {
      explicit_elapsed_ms: round(explicit.elapsed_ms),
      explicit_peak_rss_mb: round(explicit.peak_rss_mb),
    },
    // Speed relative to the explicit triggers (above 1: the fan-out is faster).
    ratio: round(explicit.elapsed_ms / object.elapsed_ms),
    targets: [
      { target: "< 3 s to all runs completed", met: object.elapsed_ms < 3000 },
      { target: "peak RSS < 400 MB", met: object.peak_rss_mb < 400 },
    ],
    checks: [
      // The object itself gets a run (and, having no feed, a skipped in-app step) too.
      { check: "every subscriber's run completed", ok: object.completed === SUBSCRIBERS + 1 },
      { check: "every subscriber got its message", ok: object.messages === SUBSCRIBERS },
      { check: "the baseline did the same work", ok: explicit.messages === SUBSCRIBERS },
    ],
  });
}
