/**
 * A durable engine on a virtual clock, closed and started again (as a restarted process would be)
 * on the same PostgreSQL store and BullMQ queue: the new queue follows the due times of the
 * delayed jobs the old one left (a recurring schedule's next occurrence, a run parked on a
 * delay), so virtual time still drives them, each once.
 */
import { describe, expect, inject, it } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import type { WorkflowInput } from "../../src/index.js";
import { postgresStore } from "../../src/postgres/index.js";
import type { Job } from "../../src/queue/types.js";
import { createTestClock, createTestEngine } from "../../src/testing/index.js";
import { testPool, uniqueName } from "./helpers.js";

const { pool, schemaName } = testPool(4);

const reminder: WorkflowInput = {
  key: "reminder",
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: { subject: "reminder at {{ recipient.schedule.last_occurrence_at }}" },
    },
  ],
};

const later: WorkflowInput = {
  key: "later",
  steps: [
    { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 2 } } },
    { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "later" } },
  ],
};

const backends = [
  ["Redis", () => ({ connection: inject("redisUrl"), prefix: uniqueName("crier_restart") })],
  [
    "PostgreSQL",
    () => ({
      backend: "postgres" as const,
      connection: { connectionString: inject("databaseUrl"), schema: schemaName("bull"), max: 4 },
    }),
  ],
] as const;

describe.each(backends)("a durable test engine restarted, BullMQ on %s", (_name, backend) => {
  it("fires a recurring schedule and a parked run on virtual time after the restart, each once", async () => {
    const schema = schemaName("restart");
    const queueOptions = { ...backend(), name: uniqueName("q") };
    const start = (now: string) =>
      createTestEngine({
        now,
        workflows: [reminder, later],
        store: postgresStore({ pool, schema }),
        queue: bullmqQueue(queueOptions),
      });
    const first = start("2026-01-01T00:30:00Z");
    await first.schedules.create({
      workflow: "reminder",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "hourly" }],
    });
    await first.workflows.trigger("later", { recipients: [{ id: "u2", email: "u2@example.com" }] });
    await first.clock.advance("1h"); // 01:30: the schedule fired at 01:00; the run waits for 02:30
    expect(first.outbox.map((m) => m.content.subject)).toEqual([
      "reminder at 2026-01-01T01:00:00.000Z",
    ]);
    const stoppedAt = first.clock.now().toISOString();
    await first.close();

    const second = start(stoppedAt);
    try {
      await second.clock.advance("1h"); // 02:30
      expect(second.outbox.map((m) => m.content.subject).sort()).toEqual([
        "later",
        "reminder at 2026-01-01T02:00:00.000Z",
      ]);
      await second.clock.advance("1h"); // 03:30
      expect(second.outbox.map((m) => m.content.subject).slice(2)).toEqual([
        "reminder at 2026-01-01T03:00:00.000Z",
      ]);
      const runs = (await second.workflowRecipientRuns.list()).entries;
      expect(runs.map((r) => r.status)).toEqual(Array(runs.length).fill("completed"));
      expect(runs).toHaveLength(4);
    } finally {
      await second.close();
    }
  }, 60_000);

  it("hands a delayed job's handler its own data: the due time it carries stays crier's", async () => {
    const clock = createTestClock("2026-01-01T00:00:00Z");
    const queue = bullmqQueue({ ...backend(), name: uniqueName("q") });
    const seen: Job[] = [];
    await queue.start({
      clock,
      handler: async (job) => {
        seen.push(job);
      },
      onFailed: () => {},
    });
    try {
      await queue.add({
        name: "later",
        id: "later:1",
        data: { keep: "me" },
        runAt: new Date("2026-01-01T01:00:00Z"),
      });
      await clock.advance("1h");
      await queue.idle();
      expect(seen.map((job) => job.data)).toEqual([{ keep: "me" }]);
    } finally {
      await queue.close();
    }
  });

  it("promotes every stored delayed job that is due when the queue starts, however many", async () => {
    // More than one page of delayed jobs (500 a page), all due by the time the second queue starts:
    // promoting them as the pages are read would shift the later pages and skip some.
    const options = { ...backend(), name: uniqueName("q") };
    const first = bullmqQueue(options);
    await first.start({
      clock: createTestClock("2026-01-01T00:00:00Z"),
      handler: async () => {},
      onFailed: () => {},
    });
    const jobs = Array.from({ length: 1200 }, (_, i) => ({
      name: "later",
      id: `later:${i}`,
      data: { i },
      runAt: new Date("2026-01-01T01:00:00Z"),
    }));
    await first.addBulk(jobs);
    await first.close();

    const seen = new Set<number>();
    const second = bullmqQueue(options);
    await second.start({
      clock: createTestClock("2026-01-01T02:00:00Z"),
      handler: async (job) => {
        seen.add(Number(job.data.i));
      },
      onFailed: () => {},
    });
    try {
      await second.idle();
      expect(seen.size).toBe(1200);
    } finally {
      await second.close();
    }
  }, 60_000);
});
