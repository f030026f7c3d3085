import { describe, expect, it } from "vitest";
import { type Job, memoryQueue, memoryStore, type Queue, type Store } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";
import { emailWorkflow } from "./helpers.js";

const subjectWorkflow = emailWorkflow({
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: {
        subject:
          "{{ recipient.id }} via {{ recipient.subscription.object.id }} as {{ recipient.subscription.role }}",
      },
    },
  ],
});

describe("object recipients and subscriptions", () => {
  it("runs for the object and each subscriber, with recipient.subscription in scope", async () => {
    const t = createTestEngine({ workflows: [subjectWorkflow] });
    await t.objects.set("projects", "apollo", { email: "apollo@example.com" });
    await t.objects.addSubscriptions("projects", "apollo", {
      recipients: [
        { id: "u1", email: "u1@example.com" },
        { id: "u2", email: "u2@example.com" },
      ],
      properties: { role: "watcher" },
    });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "apollo", collection: "projects" }],
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual([
      "apollo via  as ",
      "u1 via apollo as watcher",
      "u2 via apollo as watcher",
    ]);
  });

  it("gives recipient.subscription.object the object itself, as it is when the run starts", async () => {
    const workflow = emailWorkflow({
      steps: [
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          template: {
            subject:
              "{{ recipient.subscription.object.name }} ({{ recipient.subscription.object.collection }}/{{ recipient.subscription.object.id }})",
          },
        },
      ],
    });
    const t = createTestEngine({ workflows: [workflow] });
    await t.objects.set("projects", "apollo", { name: "Apollo" });
    await t.objects.addSubscriptions("projects", "apollo", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
    });
    await t.objects.set("projects", "apollo", { name: "Apollo 11" });
    // One subscriber alone starts as a plain run job, many as pages: both see the object.
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "apollo", collection: "projects" }],
    });
    // Fanned out before the next subscribers come (a durable queue runs the job later).
    await t.idle();
    await t.objects.addSubscriptions("projects", "apollo", {
      recipients: Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, email: `p${i}@x.com` })),
    });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "apollo", collection: "projects" }],
    });
    await t.idle();
    const subjects = new Set(t.outbox.map((m) => m.content.subject));
    expect([...subjects]).toEqual(["Apollo 11 (projects/apollo)"]);
    expect(t.outbox).toHaveLength(42);
    // Deleted while the runs wait: the reference is what is left.
    const delayed = {
      ...workflow,
      steps: [
        {
          ref: "wait",
          type: "delay" as const,
          settings: { delay_for: { unit: "minutes" as const, value: 1 } },
        },
        ...(workflow.steps ?? []),
      ],
    };
    const later = createTestEngine({ workflows: [delayed] });
    await later.objects.set("projects", "gone", { name: "Gone" });
    await later.objects.addSubscriptions("projects", "gone", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
    });
    await later.workflows.trigger("welcome", {
      recipients: [{ id: "gone", collection: "projects" }],
    });
    await later.idle();
    await later.objects.delete("projects", "gone");
    await later.clock.advance("1m");
    expect(later.outbox.map((m) => m.content.subject)).toEqual([" (projects/gone)"]);
  });

  it("goes two levels deep, deduplicates with explicit recipients first, and never notifies the actor as a subscriber", async () => {
    const t = createTestEngine({ workflows: [subjectWorkflow] });
    const user = (id: string) => ({ id, email: `${id}@example.com` });
    await t.objects.set("orgs", "acme", { email: "acme@example.com" });
    await t.objects.set("teams", "core", { email: "core@example.com" });
    await t.objects.set("teams", "deep", { email: "deep@example.com" });
    await t.objects.addSubscriptions("orgs", "acme", {
      recipients: [user("u1"), user("actor"), { id: "core", collection: "teams" }],
      properties: { role: "member" },
    });
    await t.objects.addSubscriptions("teams", "core", {
      recipients: [user("u2"), user("u1"), { id: "deep", collection: "teams" }],
      properties: { role: "dev" },
    });
    // Level three: not reached.
    await t.objects.addSubscriptions("teams", "deep", {
      recipients: [user("u3")],
      properties: { role: "too-deep" },
    });

    await t.workflows.trigger("welcome", {
      recipients: [{ id: "acme", collection: "orgs" }, user("u2")],
      actor: "actor",
    });
    await t.idle();
    const subjects = t.outbox.map((m) => m.content.subject).sort();
    expect(subjects).toEqual([
      "acme via  as ",
      "core via acme as member",
      "deep via core as dev",
      "u1 via acme as member",
      // u2 was explicit: one run, without subscription context.
      "u2 via  as ",
    ]);
  });

  it("pages through a large object's subscribers and never loads them all at once", async () => {
    const inner = memoryStore();
    let largestPage = 0;
    const store: Store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === "listSubscribers") {
          return async (
            object: Parameters<Store["listSubscribers"]>[0],
            page: Parameters<Store["listSubscribers"]>[1],
          ) => {
            largestPage = Math.max(largestPage, page.limit);
            return target.listSubscribers(object, page);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const t = createTestEngine({ store, workflows: [subjectWorkflow] });
    const total = 2_600;
    for (let i = 0; i < total; i += 100) {
      await t.objects.addSubscriptions("lists", "all", {
        recipients: Array.from({ length: 100 }, (_, j) => ({
          id: `u${i + j}`,
          email: `u${i + j}@example.com`,
        })),
      });
    }
    await t.workflows.trigger("welcome", { recipients: [{ id: "all", collection: "lists" }] });
    await t.idle();
    // Every subscriber once (the object itself has no email and is skipped).
    expect(new Set(t.outbox.map((m) => m.recipient_ref)).size).toBe(total);
    expect(t.outbox).toHaveLength(total);
    expect(largestPage).toBeGreaterThan(0);
    expect(largestPage).toBeLessThanOrEqual(500);
  });

  it("expands the second level when the object is the only (so the last) recipient", async () => {
    const t = createTestEngine({ workflows: [subjectWorkflow] });
    const user = (id: string) => ({ id, email: `${id}@example.com` });
    await t.objects.set("teams", "core", { email: "core@example.com" });
    await t.objects.addSubscriptions("orgs", "acme", {
      recipients: [user("u1"), { id: "core", collection: "teams" }],
      properties: { role: "member" },
    });
    await t.objects.addSubscriptions("teams", "core", {
      recipients: [user("u2")],
      properties: { role: "dev" },
    });
    await t.workflows.trigger("welcome", { recipients: [{ id: "acme", collection: "orgs" }] });
    await t.idle();
    const runs = (await t.workflowRecipientRuns.list()).entries.map((r) => r.recipient);
    expect(runs).toHaveLength(4);
    expect(runs).toEqual(
      expect.arrayContaining([
        { id: "acme", collection: "orgs" },
        "u1",
        { id: "core", collection: "teams" },
        "u2",
      ]),
    );
    // acme has no email: skipped. core's subscriber u2 is reached through core.
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual([
      "core via acme as member",
      "u1 via acme as member",
      "u2 via core as dev",
    ]);
  });

  it("hands a large nested fan-out over to continuation jobs, the second level included", async () => {
    const store = memoryStore();
    const inner = memoryQueue({ concurrency: 32 });
    // Runs created by the fan-out job under way, and the most any one fan-out job created.
    let createdInJob = 0;
    let mostInOneJob = 0;
    let fanoutJobs = 0;
    const countingStore: Store = new Proxy(store, {
      get(target, property, receiver) {
        if (property === "createRecipientRuns") {
          return (runs: Parameters<Store["createRecipientRuns"]>[0]) => {
            createdInJob += runs.length;
            return target.createRecipientRuns(runs);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const queue: Queue = {
      name: "counting",
      start: (context) =>
        inner.start({
          ...context,
          handler: async (job: Job) => {
            if (job.name !== "fanout") return context.handler(job);
            fanoutJobs += 1;
            createdInJob = 0;
            await context.handler(job);
            mostInOneJob = Math.max(mostInOneJob, createdInJob);
          },
        }),
      add: (job) => inner.add(job),
      addBulk: (jobs) => inner.addBulk(jobs),
      remove: (id) => inner.remove(id),
      idle: () => inner.idle(),
      close: () => inner.close(),
    };
    const quiet = emailWorkflow({
      steps: [{ ref: "log", type: "update_data", settings: { data: { seen: true } } }],
    });
    const t = createTestEngine({ store: countingStore, queue, workflows: [quiet] });
    const now = new Date().toISOString();
    const users = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ collection: "$users", id: `${prefix}${i}` }));
    const org = { collection: "orgs", id: "big" };
    const team = { collection: "teams", id: "nested" };
    // The org's last subscriber is a team whose own 3,000 subscribers are the second level: they
    // are only reached after the org's last page, and need a continuation job of their own.
    await store.upsertSubscriptions(org, users("o", 2_100), null, now);
    await store.upsertSubscriptions(org, [team], null, now);
    await store.upsertSubscriptions(team, users("n", 3_000), null, now);

    const { workflow_run_id } = await t.workflows.trigger("welcome", {
      recipients: [{ id: "big", collection: "orgs" }],
    });
    await t.idle();
    const ids = new Set<string>();
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<Store["listRecipientRuns"]>> = await store.listRecipientRuns(
        { workflow_run_id },
        { limit: 1000, after },
      );
      for (const run of page.items)
        ids.add(typeof run.recipient === "string" ? run.recipient : run.recipient.id);
      after = page.after;
    } while (after);
    expect(ids.size).toBe(1 + 2_100 + 1 + 3_000);
    expect(ids.has("n0")).toBe(true);
    expect(ids.has("n2999")).toBe(true);
    // Each fan-out job stops after about 2,000 runs (plus one page of 500 at most).
    expect(fanoutJobs).toBeGreaterThanOrEqual(3);
    expect(mostInOneJob).toBeLessThanOrEqual(2_500);
  });

  it("lists, replaces and deletes subscriptions", async () => {
    const t = createTestEngine();
    await t.objects.addSubscriptions("projects", "p1", {
      recipients: ["u1", "u2"],
      properties: { level: 1 },
    });
    await t.objects.addSubscriptions("projects", "p1", {
      recipients: ["u1"],
      properties: { level: 2 },
    });
    const { entries } = await t.objects.listSubscriptions("projects", "p1");
    expect(entries.map((s) => [s.recipient, s.properties])).toEqual([
      ["u1", { level: 2 }],
      ["u2", { level: 1 }],
    ]);
    expect((await t.users.listSubscriptions("u1")).entries.map((s) => s.object)).toEqual([
      { id: "p1", collection: "projects" },
    ]);
    const removed = await t.objects.deleteSubscriptions("projects", "p1", {
      recipients: ["u1", "nobody"],
    });
    expect(removed.map((s) => s.recipient)).toEqual(["u1"]);
    const page = await t.objects.listSubscriptions("projects", "p1", { page_size: 1 });
    expect(page.entries.map((s) => s.recipient)).toEqual(["u2"]);
    expect(page.page_info.after).toBeNull();
    await expect(
      t.objects.addSubscriptions("projects", "p1", { recipients: [] }),
    ).rejects.toMatchObject({ code: "invalid_params" });
  });
});

describe("reading a trigger's workflow run", () => {
  it("reads it from the store once for the fan-out and all its recipient runs", async () => {
    const store = memoryStore();
    const reads: string[] = [];
    const t = createTestEngine({
      workflows: [emailWorkflow()],
      store: {
        ...store,
        getWorkflowRun(id) {
          reads.push(id);
          return store.getWorkflowRun(id);
        },
      },
    });
    const recipients = Array.from({ length: 50 }, (_, i) => ({
      id: `u${i}`,
      email: `u${i}@example.com`,
    }));
    const first = await t.workflows.trigger("welcome", { recipients });
    const second = await t.workflows.trigger("welcome", { recipients: recipients.slice(0, 3) });
    await t.idle();
    expect(t.outbox).toHaveLength(53);
    expect(reads).toEqual([first.workflow_run_id, second.workflow_run_id]);
  });

  it("reads a subscriber's recipient and the object it came through in one store call", async () => {
    const store = memoryStore();
    const calls: string[][] = [];
    const t = createTestEngine({
      workflows: [subjectWorkflow],
      store: {
        ...store,
        getRecipient(key) {
          calls.push([`${key.collection}/${key.id}`]);
          return store.getRecipient(key);
        },
        getRecipients(keys) {
          calls.push(keys.map((key) => `${key.collection}/${key.id}`));
          return store.getRecipients(keys);
        },
      },
    });
    await t.objects.set("projects", "apollo", {});
    await t.objects.addSubscriptions("projects", "apollo", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
      properties: { role: "watcher" },
    });
    calls.length = 0;
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "apollo", collection: "projects" }],
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["u1 via apollo as watcher"]);
    // The subscriber's run (a plain run job: one run) read u1 and the object together.
    expect(calls).toContainEqual(["$users/u1", "projects/apollo"]);
    expect(calls.filter((keys) => keys.includes("$users/u1"))).toHaveLength(1);
  });
});
