import { inject } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import { testQueue } from "../../src/testing/conformance/queue.js";
import { uniqueName } from "./helpers.js";

const prefix = uniqueName("crier_test");

testQueue(
  () =>
    bullmqQueue({
      connection: inject("redisUrl"),
      prefix,
      name: uniqueName("q"),
      concurrency: 8,
      attempts: 3,
      backoff: () => 10,
    }),
  { name: "bullmqQueue on Redis: Queue conformance", concurrency: 8, retries: { attempts: 3 } },
);

testQueue(
  () =>
    bullmqQueue({
      connection: inject("redisUrl"),
      prefix,
      name: uniqueName("q1"),
      concurrency: 1,
      attempts: 1,
      backoff: () => 10,
    }),
  {
    name: "bullmqQueue on Redis: Queue conformance (concurrency 1, no retries)",
    concurrency: 1,
    retries: { attempts: 1 },
  },
);
