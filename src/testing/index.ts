/**
 * `crier/testing`: the test engine, the virtual clock, and the adapter conformance suites.
 *
 * @module crier/testing
 */

export { type TestQueueOptions, testQueue } from "./conformance/queue.js";
export { type TestStoreOptions, testStore } from "./conformance/store.js";
export { createTestEngine, type TestEngine, type TestEngineOptions } from "./create-test-engine.js";
export {
  createTestClock,
  RunawayTimersError,
  type TestClock,
  type TestClockOptions,
} from "./test-clock.js";
