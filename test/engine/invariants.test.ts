/**
 * Engine-wide guarantees, checked across a workflow that uses most step types: every run and
 * message event names its workflow, workflow run and recipient run; Liquid templates are parsed
 * once per workflow version; and everything written to the store or the queue is plain JSON.
 */
import { Liquid } from "liquidjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type EngineEventName,
  type JobInput,
  memoryQueue,
  memoryStore,
  type Queue,
  type Store,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const email = (ref: string, subject: string) => ({
  ref,
  type: "channel" as const,
  channel_key: "email",
  template: { subject },
});

/** A batch, a delay, a branch (with a fetch that fails and a throttle), update_data, trigger_workflow. */
const tour: WorkflowInput = {
  key: "tour",
  steps: [
    {
      ref: "batch",
      type: "batch",
      settings: { batch_window: { unit: "minutes", value: 5 }, batch_key: "{{ data.topic }}" },
    },
    { ref: "wait", type: "delay", settings: { delay_for: { unit: "minutes", value: 5 } } },
    { ref: "mark", type: "update_data", settings: { data: { seen: "{{ recipient.id }}" } } },
    {
      ref: "route",
      type: "branch",
      branches: [
        {
          name: "fetching",
          conditions: { all: [{ variable: "data.fetch", operator: "equal_to", argument: true }] },
          steps: [{ ref: "fetch", type: "http_fetch", settings: { url: "https://api.example/x" } }],
        },
        {
          name: "default",
          conditions: null,
          steps: [
            {
              ref: "gate",
              type: "throttle",
              settings: { throttle_window: { unit: "hours", value: 1 } },
            },
            email("email_1", "Hi {{ recipient.id }}: {{ total_activities }} on {{ data.topic }}"),
            {
              ref: "sms_1",
              type: "channel",
              channel_key: "flaky",
              template: { text_body: "{{ data.topic }}" },
            },
            {
              ref: "nowhere",
              type: "channel",
              channel_key: "missing",
              template: { text_body: "x" },
            },
            {
              ref: "chain",
              type: "trigger_workflow",
              settings: { workflow_key: "follow-up" },
            },
          ],
        },
      ],
    },
  ],
};
const followUp: WorkflowInput = {
  key: "follow-up",
  steps: [email("email_1", "Follow-up for {{ recipient.id }}")],
};

function tourEngine(options: Parameters<typeof createTestEngine>[0] = {}) {
  return createTestEngine({
    workflows: [tour, followUp],
    channels: [
      {
        key: "flaky",
        type: "sms",
        provider: {
          send: async () => {
            throw new Error("provider down");
          },
        },
      },
    ],
    fetch: async () => {
      throw new Error("network down");
    },
    ...options,
  });
}

async function runTour(t: ReturnType<typeof tourEngine>): Promise<void> {
  await t.objects.addSubscriptions("teams", "core", {
    recipients: [{ id: "member", email: "member@example.com", phone_number: "+15555550101" }],
  });
  const person = (id: string) => ({ id, email: `${id}@example.com`, phone_number: "+15555550100" });
  await t.workflows.trigger("tour", {
    recipients: [person("u1"), { id: "core", collection: "teams" }],
    data: { topic: "docs" },
  });
  await t.workflows.trigger("tour", { recipients: ["u1"], data: { topic: "docs" } });
  await t.workflows.trigger("tour", { recipients: [person("u2")], data: { fetch: true } });
  await t.workflows.trigger("tour", {
    recipients: [person("u3")],
    data: { topic: "x" },
    cancellation_key: "stop",
  });
  await t.idle();
  await t.workflows.cancel("tour", { cancellation_key: "stop" });
  await t.clock.advance("1h");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("engine invariants", () => {
  it("every run, step and message event carries workflow, workflow_run_id and workflow_recipient_run_id", async () => {
    const t = tourEngine();
    const names: EngineEventName[] = [
      "run.queued",
      "run.processing",
      "run.paused",
      "run.completed",
      "run.cancelled",
      "step.skipped",
      "message.created",
      "message.sent",
      "message.delivered",
      "message.undelivered",
    ];
    const seen: Array<{ name: string; payload: Record<string, unknown> }> = [];
    for (const name of names)
      t.on(name, (payload: unknown) =>
        seen.push({ name, payload: payload as Record<string, unknown> }),
      );
    const triggered: Array<Record<string, unknown>> = [];
    t.on("workflow.triggered", (payload) => triggered.push({ ...payload }));
    await t.users.update("feed-user", {});
    await t.workflows.upsert({
      key: "feed",
      steps: [
        {
          ref: "in_app",
          type: "channel",
          channel_key: "in-app",
          channel_type: "in_app_feed",
          template: { markdown_body: "x" },
        },
      ],
    });
    await t.workflows.trigger("feed", { recipients: ["feed-user"] });
    await runTour(t);

    // Every event kind above happened at least once.
    expect(new Set(seen.map((e) => e.name))).toEqual(new Set(names));
    const runs = new Map<string, { workflow: string; workflow_run_id: string }>();
    const page = await t.workflowRecipientRuns.list({ page_size: 50 });
    expect(page.page_info.after).toBeNull();
    for (const run of page.entries) runs.set(run.id, run);
    for (const { name, payload } of seen) {
      const where = `${name} ${JSON.stringify(payload).slice(0, 120)}`;
      for (const field of ["workflow", "workflow_run_id", "workflow_recipient_run_id"])
        expect(typeof payload[field], `${field} in ${where}`).toBe("string");
      const run = runs.get(String(payload.workflow_recipient_run_id));
      expect(run, `the run of ${where}`).toBeDefined();
      expect(payload.workflow, where).toBe(run?.workflow);
      expect(payload.workflow_run_id, where).toBe(run?.workflow_run_id);
    }
    // workflow.triggered is about a workflow run: it names the workflow and the workflow run.
    expect(triggered.length).toBeGreaterThan(0);
    for (const payload of triggered) {
      expect(typeof payload.workflow).toBe("string");
      expect(typeof payload.workflow_run_id).toBe("string");
    }
  });

  it("parses Liquid templates once per workflow version, never per run", async () => {
    const parse = vi.spyOn(Liquid.prototype, "parse");
    const t = tourEngine();
    await runTour(t);
    const afterFirstVersion = parse.mock.calls.length;
    expect(afterFirstVersion).toBeGreaterThan(0);
    const sent = t.outbox.length;

    for (let i = 0; i < 5; i++)
      await t.workflows.trigger("tour", {
        recipients: [{ id: `more-${i}`, email: `m${i}@example.com` }],
        data: { topic: `t${i}` },
      });
    await t.clock.advance("1h");
    expect(t.outbox.length).toBeGreaterThan(sent);
    expect(parse.mock.calls.length).toBe(afterFirstVersion);

    // A new version is compiled (its templates parsed) once more; then its runs parse nothing.
    await t.workflows.upsert({ ...followUp, steps: [email("email_1", "v2 {{ recipient.id }}")] });
    const afterSecondVersion = parse.mock.calls.length;
    expect(afterSecondVersion).toBeGreaterThan(afterFirstVersion);
    for (let i = 0; i < 3; i++)
      await t.workflows.trigger("follow-up", { recipients: [`more-${i}`] });
    await t.idle();
    expect(t.outbox.filter((m) => String(m.content.subject).startsWith("v2"))).toHaveLength(3);
    // Running the new version compiled it for the run side too, once at most.
    const compiledForRuns = parse.mock.calls.length - afterSecondVersion;
    expect(compiledForRuns).toBeLessThanOrEqual(1);
    for (let i = 3; i < 6; i++)
      await t.workflows.trigger("follow-up", { recipients: [`more-${i % 5}`] });
    await t.idle();
    expect(parse.mock.calls.length).toBe(afterSecondVersion + compiledForRuns);
  });

  it("writes only plain JSON to the store and the queue", async () => {
    const problems: string[] = [];
    const check = (what: string, value: unknown) => {
      let copy: unknown;
      try {
        copy = JSON.parse(JSON.stringify(value));
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
        return;
      }
      try {
        // Strict: an undefined property, a Date or a class instance would not survive JSON.
        expect(copy).toStrictEqual(value);
      } catch {
        problems.push(`${what}: ${JSON.stringify(value).slice(0, 200)}`);
      }
    };
    const inner = memoryQueue({ concurrency: 8 });
    const queue: Queue = {
      name: "json-checking",
      start: (context) => inner.start(context),
      add: (job: JobInput) => {
        check(`job ${job.name}`, { name: job.name, id: job.id, data: job.data });
        return inner.add(job);
      },
      addBulk: (jobs) => {
        for (const job of jobs)
          check(`job ${job.name}`, { name: job.name, id: job.id, data: job.data });
        return inner.addBulk(jobs);
      },
      remove: (id) => inner.remove(id),
      idle: () => inner.idle(),
      close: () => inner.close(),
    };
    const writes = /^(create|update|upsert|append|put|set|claim|count|close|remove|delete)/;
    const written = new Set<string>();
    const store: Store = new Proxy(memoryStore(), {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof property !== "string" || typeof value !== "function" || !writes.test(property))
          return value;
        return (...args: unknown[]) => {
          written.add(property);
          check(`store.${property}`, args);
          return value.apply(target, args);
        };
      },
    });
    const t = tourEngine({ store, queue });
    await runTour(t);
    expect(problems).toEqual([]);
    // The tour wrote runs, their logs, messages, batches, throttles and a cancellation.
    for (const method of [
      "createWorkflowRun",
      "createRecipientRuns",
      "updateRecipientRun",
      "appendRunEvents",
      "createMessage",
      "updateMessage",
      "appendToBatch",
      "closeBatch",
      "countThrottle",
      "putCancellation",
    ])
      expect(written, method).toContain(method);
  });
});

/**
 * A memory queue whose first add of each job that `refuse` picks (by id) fails, as when the
 * process dies, or the queue's datastore restarts, just before the enqueue; `refused` lists the
 * jobs it refused.
 */
function refusingFirstAdds(refuse: (job: JobInput) => boolean): {
  queue: Queue;
  refused: JobInput[];
} {
  const inner = memoryQueue({ concurrency: 8 });
  const refused: JobInput[] = [];
  const queue: Queue = {
    name: "failing-once",
    start: (context) => inner.start(context),
    add: async (job: JobInput) => {
      if (refuse(job) && !refused.some((earlier) => earlier.id === job.id)) {
        refused.push(job);
        throw new Error("the queue's datastore is restarting");
      }
      await inner.add(job);
    },
    addBulk: (jobs) => inner.addBulk(jobs),
    remove: (id) => inner.remove(id),
    idle: () => inner.idle(),
    close: () => inner.close(),
  };
  return { queue, refused };
}

describe("a job that dies after parking its run, before enqueueing what wakes it", () => {
  it("enqueues it when the job is retried: delayed and batched runs still resume (and a fetch retry)", async () => {
    // The first add of every wake-up job (a delayed run job, a batch close) fails, as when the
    // process dies, or the queue's datastore restarts, just after the store wrote the parked run.
    const { queue, refused } = refusingFirstAdds(
      (job) => job.name === "batch_close" || (job.name === "run" && job.runAt !== undefined),
    );
    let fetches = 0;
    const t = createTestEngine({
      queue,
      workflows: [
        {
          key: "delayed",
          steps: [
            { ref: "wait", type: "delay", settings: { delay_for: { unit: "minutes", value: 5 } } },
            email("email_1", "delayed"),
          ],
        },
        {
          key: "fetching",
          steps: [
            { ref: "fetch", type: "http_fetch", settings: { url: "https://api.example/x" } },
            email("email_1", "fetched {{ data.n }}"),
          ],
        },
        {
          key: "digest",
          steps: [
            {
              ref: "batch",
              type: "batch",
              settings: { batch_window: { unit: "minutes", value: 5 } },
            },
            email("email_1", "digest of {{ total_activities }}"),
          ],
        },
      ],
      fetch: async () => {
        fetches += 1;
        if (fetches === 1) throw new Error("network down");
        return new Response(JSON.stringify({ n: 1 }), {
          headers: { "content-type": "application/json" },
        });
      },
    });
    const u1 = { id: "u1", email: "u1@example.com" };
    for (const workflow of ["delayed", "fetching", "digest", "digest"])
      await t.workflows.trigger(workflow, { recipients: [u1] });
    await t.clock.advance("1h");
    await t.idle();
    // Refused once each: the delay's resume, the fetch's retry and the batch's close. (A fetch
    // retry resumes at the fetch step itself, so its retried job runs the step again.)
    expect(refused.map((job) => job.name).sort()).toEqual(["batch_close", "run", "run"]);
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual([
      "delayed",
      "digest of 2",
      "fetched 1",
    ]);
    const statuses = (await t.workflowRecipientRuns.list()).entries.map((r) => r.status);
    expect(statuses).toEqual(["completed", "completed", "completed", "completed"]);
  });
});

describe("a job that dies before enqueueing a send window's first attempt", () => {
  it("enqueues it when the job is retried, and the message is sent once when the window opens", async () => {
    // The first add of the `deliver` job fails, as when the process dies just after the message
    // was stored queued for its send window: the run's job fails, and its retry finds the message.
    const { queue, refused } = refusingFirstAdds((job) => job.name === "deliver");
    const t = createTestEngine({
      queue,
      workflows: [
        {
          key: "windowed",
          steps: [
            {
              ...email("email_1", "hello"),
              // 2026-01-01 (the test clock's start) is a Thursday: the window opens at 09:00 UTC.
              send_windows: [{ day: "thursday", type: "send", from: "09:00", until: "17:00" }],
            },
          ],
        },
      ],
    });
    await t.workflows.trigger("windowed", {
      recipients: [{ id: "u1", email: "u1@example.com", timezone: "UTC" }],
    });
    await t.clock.advance("1m"); // the run's job is retried (memory queue backoff: 1 s)
    await t.idle();
    const [message] = (await t.messages.list()).items;
    expect(refused.map((job) => job.id)).toEqual([`deliver:${message?.id}:1`]);
    expect(message?.status).toBe("queued");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advanceTo("2026-01-01T09:00:00Z");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["hello"]);
    expect((await t.messages.get(message?.id ?? "")).status).toBe("sent");
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("completed");
    const events = (await t.workflowRecipientRuns.get(run?.id ?? "")).events ?? [];
    expect(events.filter((e) => e.event === "message_scheduled")).toHaveLength(1);
  });
});

describe("a job that dies after a failed delivery attempt, before enqueueing the retry", () => {
  it("enqueues the retry when the job is retried, and logs each failed attempt once", async () => {
    // The first add of every `deliver` job fails, as when the process dies just after the store
    // recorded the failed attempt on the message: once in the run's own job (attempt 1), once in
    // the `deliver` job of attempt 2.
    const { queue, refused } = refusingFirstAdds((job) => job.name === "deliver");
    const calls: number[] = [];
    const t = createTestEngine({
      queue,
      workflows: [{ key: "notify", steps: [email("email_1", "hello")] }],
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async (message) => {
              calls.push(message.attempt);
              if (message.attempt < 3) throw new Error(`provider down (${message.attempt})`);
            },
          },
        },
      ],
    });
    await t.workflows.trigger("notify", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.clock.advance("1h");
    await t.idle();

    const message = (await t.messages.list()).items[0];
    expect(refused.map((job) => job.id).sort()).toEqual([
      `deliver:${message?.id}:2`,
      `deliver:${message?.id}:3`,
    ]);
    // Attempt 1 inside the run's job (its retry made no second call), 2 and 3 in deliver jobs.
    expect(calls).toEqual([1, 2, 3]);
    expect(message).toMatchObject({ status: "sent", attempts: 3, last_error: null });
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("completed");
    const { events = [] } = await t.workflowRecipientRuns.get(run?.id ?? "");
    const deliveries = events.filter((event) =>
      ["delivery_failed", "message_sent"].includes(event.event),
    );
    expect(deliveries.map((event) => [event.event, event.attempt, event.data.error])).toEqual([
      ["delivery_failed", 1, "provider down (1)"],
      ["delivery_failed", 2, "provider down (2)"],
      ["message_sent", 3, undefined],
    ]);
  });

  it("does nothing twice for a duplicate of a deliver job that completed", async () => {
    // Every `deliver` job is delivered twice, the copy just after the original (as a queue that
    // redelivers a job whose completion it lost): the copy of the failed attempt 2 finds the
    // retry enqueued and the failure logged.
    const inner = memoryQueue({ concurrency: 1 });
    const queue: Queue = {
      name: "redelivering",
      start: (context) => inner.start(context),
      add: async (job: JobInput) => {
        await inner.add(job);
        if (job.name === "deliver" && job.runAt)
          await inner.add({
            ...job,
            id: `${job.id}:copy`,
            runAt: new Date(job.runAt.getTime() + 1),
          });
      },
      addBulk: (jobs) => inner.addBulk(jobs),
      remove: (id) => inner.remove(id),
      idle: () => inner.idle(),
      close: () => inner.close(),
    };
    const calls: number[] = [];
    const t = createTestEngine({
      queue,
      workflows: [{ key: "notify", steps: [email("email_1", "hello")] }],
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async (message) => {
              calls.push(message.attempt);
              if (message.attempt < 3) throw new Error(`provider down (${message.attempt})`);
            },
          },
        },
      ],
    });
    await t.workflows.trigger("notify", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.clock.advance("1h");
    await t.idle();

    expect(calls).toEqual([1, 2, 3]);
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    const { events = [] } = await t.workflowRecipientRuns.get(run?.id ?? "");
    expect(events.filter((e) => e.event === "delivery_failed").map((e) => e.attempt)).toEqual([
      1, 2,
    ]);
  });
});
