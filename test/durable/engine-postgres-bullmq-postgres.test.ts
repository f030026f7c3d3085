/**
 * The engine's test files on PostgreSQL (store) + BullMQ on its PostgreSQL backend (queue). See
 * engine-harness.ts.
 */
import { vi } from "vitest";
import { closeDurableEngines } from "./engine-harness.js";

vi.mock("../../src/testing/index.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/testing/index.js")>();
  const { durableTestEngines } = await import("./engine-harness.js");
  return {
    ...original,
    createTestEngine: durableTestEngines(original.createTestEngine, "postgres"),
  };
});

closeDurableEngines();

await import("../engine/trigger.test.js");
await import("../engine/fanout.test.js");
await import("../engine/resources.test.js");
await import("../engine/preferences.test.js");
await import("../engine/steps.test.js");
await import("../engine/flow.test.js");
await import("../engine/clocks.test.js");
await import("../engine/explain.test.js");
await import("../engine/feed.test.js");
await import("../engine/messages.test.js");
await import("../engine/multi-day.test.js");
await import("../engine/schedules.test.js");
await import("../engine/sources.test.js");
await import("../engine/windows.test.js");
await import("../engine/invariants.test.js");
