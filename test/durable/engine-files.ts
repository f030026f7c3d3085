/**
 * The engine's test files that run again on the durable adapters (each `engine-*.test.ts` mocks
 * `createTestEngine` first, then imports these). A new engine test file is added here once.
 */
export async function importEngineTests(): Promise<void> {
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
  await import("../engine/bulk.test.js");
  await import("../engine/merge.test.js");
}
