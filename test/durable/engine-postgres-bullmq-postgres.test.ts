/**
 * The engine's test files on PostgreSQL (store) + BullMQ on its PostgreSQL backend (queue). See
 * engine-harness.ts.
 */
import { vi } from "vitest";
import { importEngineTests } from "./engine-files.js";
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

await importEngineTests();
