/**
 * Run pages: a trigger's new runs start in `runs` jobs of several runs each, sized by the queue's
 * concurrency, run one after another inside the job.
 */
import { describe, expect, it } from "vitest";
import {
  type ErrorEvent,
  type Job,
  type JobInput,
  memoryQueue,
  memoryStore,
  type Queue,
  type Store,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";
import { emailWorkflow } from "./helpers.js";

/** A memory queue that records every job added and every job handled. */
function recordingQueue(
  options: { concurrency?: number; attempts?: number; tellConcurrency?: boolean } = {},
) {
  const inner = memoryQueue({
    concurrency: options.concurrency ?? 32,
    attempts: options.attempts ?? 3,
    backoff: () => 0,
  });
  const added: JobInput[] = [];
  const handled: Job[] = [];
  let handler: ((job: Job) => Promise<void>) | undefined;
  const queue: Queue = {
    name: "recording",
    ...(options.tellConcurrency === false ? {} : { concurrency: inner.concurrency }),
    start: (context) => {
      handler = context.handler;
      return inner.start({
        ...context,
        handler: (job) => {
          handled.push(job);
          return context.handler(job);
        },
      });
    },
    add: (job) => {
      added.push(job);
      return inner.add(job);
    },
    addBulk: (jobs) => {
      added.push(...jobs);
      return inner.addBulk(jobs);
    },
    remove: (id) => inner.remove(id),
    idle: () => inner.idle(),
    close: () => inner.close(),
  };
  return {
    queue,
    added,
    handled,
    /** Runs a job through the engine's handler again, as a redelivery would. */
    redeliver: (job: Job) => (handler as (job: Job) => Promise<void>)(job),
  };
}

const users = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `u${i}`, email: `u${i}@example.com` }));

describe("run pages", () => {
  it("starts a trigger's runs in pages, one per slot of the queue's concurrency", async () => {
    const { queue, added } = recordingQueue({ concurrency: 4 });
    const t = createTestEngine({ queue, workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: users(20) });
    await t.idle();
    const pages = added.filter((job) => job.name === "runs");
    expect(pages.map((job) => (job.data.run_ids as string[]).length)).toEqual([5, 5, 5, 5]);
    expect(added.filter((job) => job.name === "run")).toHaveLength(0);
    // Every recipient once, each page's runs each in one page.
    const ids = pages.flatMap((job) => job.data.run_ids as string[]);
    expect(new Set(ids).size).toBe(20);
    expect(t.outbox.map((m) => m.recipient_ref).sort()).toEqual(
      users(20)
        .map((u) => u.id)
        .sort(),
    );
    const statuses = (await t.workflowRecipientRuns.list({ page_size: 50 })).entries.map(
      (r) => r.status,
    );
    expect(statuses).toEqual(Array(20).fill("completed"));
  });

  it("makes pages of at most 50 runs, and a single run a plain run job", async () => {
    const { queue, added } = recordingQueue({ concurrency: 2 });
    const t = createTestEngine({ queue, workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: users(230) });
    await t.workflows.trigger("welcome", { recipients: users(1) });
    await t.idle();
    const sizes = added
      .filter((job) => job.name === "runs")
      .map((job) => (job.data.run_ids as string[]).length);
    expect(sizes).toEqual([50, 50, 50, 50, 30]);
    expect(added.filter((job) => job.name === "run")).toHaveLength(1);
    expect(t.outbox).toHaveLength(231);
  });

  it("gives each run a job of its own on a queue that does not tell its concurrency", async () => {
    const { queue, added } = recordingQueue({ tellConcurrency: false });
    const t = createTestEngine({ queue, workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: users(6) });
    await t.idle();
    expect(added.filter((job) => job.name === "runs")).toHaveLength(0);
    expect(added.filter((job) => job.name === "run")).toHaveLength(6);
    expect(t.outbox).toHaveLength(6);
  });

  it("runs a page's runs one after another: never more provider calls at once than the concurrency", async () => {
    const { queue } = recordingQueue({ concurrency: 3 });
    let inFlight = 0;
    let most = 0;
    const t = createTestEngine({
      queue,
      workflows: [emailWorkflow()],
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            async send() {
              inFlight += 1;
              most = Math.max(most, inFlight);
              // Real time passes while the provider works; every other job may start meanwhile.
              await new Promise((resolve) => setTimeout(resolve, 2));
              inFlight -= 1;
            },
          },
        },
      ],
    });
    await t.workflows.trigger("welcome", { recipients: users(30) });
    await t.idle();
    expect(most).toBe(3);
    const runs = await t.workflowRecipientRuns.list({ page_size: 50 });
    expect(runs.entries.filter((r) => r.status === "completed")).toHaveLength(30);
  });

  it("reads a page's runs and participants in one store call each", async () => {
    const inner = memoryStore();
    const calls = { getRecipientRun: 0, getRecipientRuns: 0, getRecipients: 0 };
    const store: Store = new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof property === "string" && property in calls && typeof value === "function") {
          return (...args: unknown[]) => {
            calls[property as keyof typeof calls] += 1;
            return value.apply(target, args);
          };
        }
        return value;
      },
    });
    const { queue } = recordingQueue({ concurrency: 2 });
    const t = createTestEngine({ store, queue, workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: users(40), actor: "u0", tenant: "acme" });
    const before = { ...calls };
    await t.idle();
    expect(t.outbox).toHaveLength(40);
    // Two pages of 20: one read of their runs and one of their recipients, actor and tenant each.
    expect(calls.getRecipientRuns - before.getRecipientRuns).toBe(2);
    expect(calls.getRecipients - before.getRecipients).toBe(2);
    expect(calls.getRecipientRun - before.getRecipientRun).toBe(0);
  });

  it("runs the rest of a page when one run fails, retries only that one, and reports it alone", async () => {
    const inner = memoryStore();
    // Writes of u2's run fail.
    let failing = "";
    const store: Store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === "updateRecipientRun") {
          return async (id: string, ...rest: unknown[]) => {
            if ((await target.getRecipientRun(id))?.recipient === "u2") {
              failing = id;
              throw new Error("disk full");
            }
            return (target.updateRecipientRun as (...args: unknown[]) => unknown)(id, ...rest);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const { queue, handled } = recordingQueue({ concurrency: 1, attempts: 2 });
    const t = createTestEngine({ store, queue, workflows: [emailWorkflow()] });
    const errors: ErrorEvent[] = [];
    t.on("error", (payload) => errors.push(payload));
    await t.workflows.trigger("welcome", { recipients: users(5) });
    await t.idle();

    const sent = t.outbox.map((m) => m.recipient_ref).sort();
    expect(sent).toEqual(["u0", "u1", "u3", "u4"]);
    // The page ran twice (its retry), and was then given up on: the failed run is reported.
    expect(handled.filter((job) => job.name === "runs")).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      source: "job:run",
      workflow_recipient_run_id: failing,
    });
    expect(errors[0]?.error).toMatchObject({ message: "disk full" });
    expect((await inner.getRecipientRun(failing))?.status).toBe("queued");
  });

  it("does nothing when a page job is delivered again after its runs are done", async () => {
    const { queue, handled, redeliver } = recordingQueue({ concurrency: 2 });
    const t = createTestEngine({ queue, workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: users(10) });
    await t.idle();
    const page = handled.find((job) => job.name === "runs");
    expect(page).toBeDefined();
    const events = (await t.workflowRecipientRuns.list()).entries.length;
    await redeliver(page as Job);
    await t.idle();
    expect(t.outbox).toHaveLength(10);
    expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(events);
  });
});
