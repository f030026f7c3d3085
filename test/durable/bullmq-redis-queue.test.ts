import { describe, expect, inject, it } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import type { Job } from "../../src/queue/types.js";
import { systemClock } from "../../src/scheduling/clock.js";
import { testQueue } from "../../src/testing/conformance/queue.js";
import { createTestClock } from "../../src/testing/test-clock.js";
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

  it("on a virtual clock, runs a delayed job when the clock reaches it, not when real time does", async () => {
    const queue = bullmqQueue({
      connection: inject("redisUrl"),
      prefix,
      name: uniqueName("virtual"),
      backoff: () => 10,
    });
    const clock = createTestClock("2026-01-01T00:00:00.000Z");
    const ran: Job[] = [];
    try {
      await queue.start({
        clock,
        handler: async (job) => {
          ran.push(job);
        },
        onFailed: () => {},
      });
      await queue.add({
        name: "later",
        id: "later",
        data: {},
        runAt: new Date(clock.now().getTime() + 200),
      });
      // More real time than the job's delay passes before the clock moves (a stall in a test):
      // BullMQ must not run the job on its own.
      await new Promise((resolve) => setTimeout(resolve, 700));
      await queue.idle();
      expect(ran).toEqual([]);
      await clock.advance(200);
      for (let waited = 0; ran.length === 0 && waited < 5_000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(ran.map((job) => job.id)).toEqual(["later"]);
    } finally {
      await queue.close();
    }
  });
});
