/**
 * `crier/testing`: the test engine, the virtual clock, and the adapter conformance suites.
 *
 * @module
 */

export { testQueue } from "./conformance/queue.js";
export { testStore } from "./conformance/store.js";
export { createTestEngine, type TestEngine, type TestEngineOptions } from "./create-test-engine.js";
export { createTestClock, type TestClock } from "./test-clock.js";
