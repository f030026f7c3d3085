import { describe, expect, inject, it } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import type { Job } from "../../src/queue/types.js";
import { systemClock } from "../../src/scheduling/clock.js";
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

describe("bullmqQueue on Redis", () => {
  it("with worker: false only produces: another queue's worker runs its jobs", async () => {
    const name = uniqueName("producer");
    const options = { connection: inject("redisUrl"), prefix, name, backoff: () => 10 };
    const producer = bullmqQueue({ ...options, worker: false });
    const worker = bullmqQueue(options);
    const ranHere: Job[] = [];
    const ranThere: Job[] = [];
    const context = (ran: Job[]) => ({
      clock: systemClock,
      handler: async (job: Job) => {
        ran.push(job);
      },
      onFailed: () => {},
    });
    try {
      await producer.start(context(ranHere));
      await producer.add({ name: "work", id: "made:here", data: { n: 1 } });
      await producer.addBulk([{ name: "work", id: "made:here:2", data: { n: 2 } }]);
      await worker.start(context(ranThere));
      await producer.idle();
      await worker.idle();
      expect(ranHere).toEqual([]);
      expect(ranThere.map((job) => job.id).sort()).toEqual(["made:here", "made:here:2"]);
    } finally {
      await producer.close();
      await worker.close();
    }
  });
});
