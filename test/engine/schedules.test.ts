import { describe, expect, it } from "vitest";
import {
  InvalidParamsError,
  type JobInput,
  memoryQueue,
  memoryStore,
  NotFoundError,
  type Queue,
  type ScheduleFiredEvent,
  type ScheduleSkippedEvent,
  type Store,
  type WorkflowInput,
  WorkflowNotFoundError,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const digest: WorkflowInput = {
  key: "daily-digest",
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: {
        subject:
          "Digest {{ data.edition }} for {{ recipient.id }} (schedule {{ recipient.schedule.id }})",
      },
    },
  ],
};

function engine(options: Parameters<typeof createTestEngine>[0] = {}) {
  const t = createTestEngine({ workflows: [digest], ...options });
  const fired: ScheduleFiredEvent[] = [];
  const skipped: ScheduleSkippedEvent[] = [];
  t.on("schedule.fired", (e) => fired.push(e));
  t.on("schedule.skipped", (e) => skipped.push(e));
  return { t, fired, skipped };
}

const sentAt = (t: ReturnType<typeof engine>["t"], from = 0) =>
  t.outbox.slice(from).map((m) => m.recipient_ref);

describe("schedules.create", () => {
  it("creates one schedule per recipient and fires each at 09:00 in its own timezone", async () => {
    const { t, fired } = engine();
    const schedules = await t.schedules.create({
      workflow: "daily-digest",
      recipients: [
        { id: "ny", email: "ny@example.com", timezone: "America/New_York" },
        { id: "tokyo", email: "tokyo@example.com", timezone: "Asia/Tokyo" },
      ],
      repeats: [{ frequency: "daily", hours: 9 }],
      data: { edition: "morning" },
    });
    expect(schedules).toHaveLength(2);
    const [ny, tokyo] = schedules;
    expect(ny).toMatchObject({
      __typename: "Schedule",
      workflow: "daily-digest",
      recipient: { id: "ny", email: "ny@example.com" },
      actor: null,
      tenant: null,
      data: { edition: "morning" },
      repeats: [{ __typename: "ScheduleRepeatRule", frequency: "daily", hours: 9 }],
      last_occurrence_at: null,
      // 2026-01-01 09:00 in New York (EST) is 14:00 UTC; in Tokyo (JST) 00:00 UTC.
      next_occurrence_at: "2026-01-01T14:00:00.000Z",
    });
    expect(tokyo?.next_occurrence_at).toBe("2026-01-02T00:00:00.000Z");

    await t.clock.advanceTo("2026-01-01T14:00:00Z");
    expect(sentAt(t)).toEqual(["ny"]);
    expect(t.outbox[0]?.content.subject).toBe(`Digest morning for ny (schedule ${ny?.id})`);
    await t.clock.advanceTo("2026-01-02T00:00:00Z");
    expect(sentAt(t)).toEqual(["ny", "tokyo"]);
    expect(fired.map((e) => [e.schedule_id, e.occurrence])).toEqual([
      [ny?.id, "2026-01-01T14:00:00.000Z"],
      [tokyo?.id, "2026-01-02T00:00:00.000Z"],
    ]);

    const [reread] = (await t.schedules.list({ workflow: "daily-digest", recipients: ["ny"] }))
      .entries;
    expect(reread).toMatchObject({
      last_occurrence_at: "2026-01-01T14:00:00.000Z",
      next_occurrence_at: "2026-01-02T14:00:00.000Z",
    });
    const runs = (await t.workflowRecipientRuns.list({ recipient: "ny" })).entries;
    expect(runs[0]?.trigger_source).toMatchObject({ type: "schedule", schedule_id: ny?.id });
  });

  it("fires at 09:00 local on both sides of a daylight-saving change, never twice", async () => {
    const { t } = engine({ now: "2026-03-06T00:00:00Z" });
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "ny", email: "ny@example.com", timezone: "America/New_York" }],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    const times: string[] = [];
    t.on("message.sent", () => times.push(t.clock.now().toISOString()));
    await t.clock.advanceTo("2026-03-10T00:00:00Z");
    // New York springs forward on 2026-03-08: EST (UTC-5) before, EDT (UTC-4) from then on.
    expect(times).toEqual([
      "2026-03-06T14:00:00.000Z",
      "2026-03-07T14:00:00.000Z",
      "2026-03-08T13:00:00.000Z",
      "2026-03-09T13:00:00.000Z",
    ]);
  });

  it("falls back to the engine's defaultTimezone, and follows a recipient's new timezone", async () => {
    const { t } = engine({ defaultTimezone: "Europe/Paris" });
    const [schedule] = await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    expect(schedule?.next_occurrence_at).toBe("2026-01-01T08:00:00.000Z");
    await t.users.update("u1", { timezone: "America/Los_Angeles" });
    await t.clock.advanceTo("2026-01-01T08:00:00Z");
    const [after] = (await t.users.listSchedules("u1")).entries;
    // The next occurrence is computed in the recipient's timezone as it is now.
    expect(after?.next_occurrence_at).toBe("2026-01-01T17:00:00.000Z");
  });

  it("runs a one-off at scheduled_at and then stops", async () => {
    const { t } = engine();
    const [schedule] = await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      scheduled_at: "2026-01-03T10:30:00Z",
    });
    expect(schedule?.next_occurrence_at).toBe("2026-01-03T10:30:00.000Z");
    await t.clock.advanceTo("2026-01-03T10:29:59Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advance("1s");
    expect(t.outbox).toHaveLength(1);
    await t.clock.advance("30d");
    expect(t.outbox).toHaveLength(1);
    const [done] = (await t.users.listSchedules("u1")).entries;
    expect(done).toMatchObject({
      last_occurrence_at: "2026-01-03T10:30:00.000Z",
      next_occurrence_at: null,
    });
  });

  it("keeps firing when scheduled_at is itself an occurrence", async () => {
    const { t } = engine();
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "daily", hours: 9 }],
      scheduled_at: "2026-01-02T09:00:00Z",
    });
    const times: string[] = [];
    t.on("message.sent", () => times.push(t.clock.now().toISOString()));
    await t.clock.advanceTo("2026-01-04T10:00:00Z");
    expect(times).toEqual([
      "2026-01-02T09:00:00.000Z",
      "2026-01-03T09:00:00.000Z",
      "2026-01-04T09:00:00.000Z",
    ]);
  });

  it("starts a recurring schedule at scheduled_at and ends it at ending_at", async () => {
    const { t } = engine();
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "weekly", days: ["mon", "thu"], hours: 8 }],
      scheduled_at: "2026-01-05T00:00:00Z",
      ending_at: "2026-01-15T08:00:00Z",
    });
    const times: string[] = [];
    t.on("message.sent", () => times.push(t.clock.now().toISOString()));
    await t.clock.advance("30d");
    expect(times).toEqual([
      "2026-01-05T08:00:00.000Z",
      "2026-01-08T08:00:00.000Z",
      "2026-01-12T08:00:00.000Z",
      "2026-01-15T08:00:00.000Z",
    ]);
  });

  it("identifies inline recipients, actor and tenant, and passes them to each run", async () => {
    const { t } = engine();
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com", name: "Ada" }],
      actor: { id: "bot", name: "Digest bot" },
      tenant: { id: "acme", name: "Acme" },
      repeats: [{ frequency: "hourly" }],
    });
    expect((await t.users.get("u1")).name).toBe("Ada");
    expect((await t.users.get("bot")).name).toBe("Digest bot");
    expect((await t.tenants.get("acme")).name).toBe("Acme");
    await t.clock.advance("1h");
    expect(t.outbox[0]).toMatchObject({ actor: { id: "bot" }, tenant: { id: "acme" } });
    expect((await t.messages.list()).items[0]?.tenant).toBe("acme");
  });

  it("does not fan out to the subscribers of an object recipient", async () => {
    const { t } = engine();
    await t.objects.set("teams", "core", { email: "core@example.com" });
    await t.objects.addSubscriptions("teams", "core", {
      recipients: [{ id: "member", email: "member@example.com" }],
    });
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "core", collection: "teams" }],
      repeats: [{ frequency: "daily", hours: 1 }],
    });
    await t.clock.advance("1d");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual([{ id: "core", collection: "teams" }]);
  });

  it("skips an occurrence whose workflow is inactive, and fires again once it is active", async () => {
    const { t, skipped } = engine();
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    await t.workflows.setActive("daily-digest", false);
    await t.clock.advanceTo("2026-01-01T09:00:00Z");
    expect(t.outbox).toHaveLength(0);
    expect(skipped).toMatchObject([
      { reason: "workflow_inactive", next_occurrence_at: "2026-01-02T09:00:00.000Z" },
    ]);
    await t.workflows.setActive("daily-digest", true);
    await t.clock.advanceTo("2026-01-02T09:00:00Z");
    expect(t.outbox).toHaveLength(1);
  });

  it("rejects bad input with every problem named, storing nothing", async () => {
    const { t } = engine({
      workflows: [
        digest,
        {
          key: "typed",
          trigger_data_json_schema: {
            type: "object",
            required: ["edition"],
            properties: { edition: { type: "string" } },
          },
          steps: [],
        },
      ],
    });
    const fields = async (params: unknown) => {
      const error = await t.schedules.create(params as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidParamsError);
      return (error as InvalidParamsError).errors.map((e) => e.field);
    };
    expect(
      await fields({
        workflow: "daily-digest",
        recipients: [{ id: "u1" }],
        repeats: [{ frequency: "daily", hours: 25, minutes: 7 }, { frequency: "yearly" }],
      }),
    ).toEqual(["repeats[0].hours", "repeats[0].minutes", "repeats[1].frequency"]);
    expect(await fields({ workflow: "daily-digest", recipients: ["u1"] })).toEqual(["repeats"]);
    expect(
      await fields({
        workflow: "daily-digest",
        recipients: ["u1"],
        scheduled_at: "2026-02-01T00:00:00Z",
        ending_at: "2026-01-01T00:00:00Z",
      }),
    ).toEqual(["ending_at"]);
    expect(
      await fields({
        workflow: "daily-digest",
        recipients: Array.from({ length: 101 }, (_, i) => `u${i}`),
        scheduled_at: "soon",
        repeats: [],
      }),
    ).toEqual(["recipients", "scheduled_at"]);
    expect(
      await fields({ workflow: "typed", recipients: ["u1"], repeats: [{ frequency: "daily" }] }),
    ).toEqual(["data.edition"]);
    await expect(
      t.schedules.create({
        workflow: "nope",
        recipients: ["u1"],
        repeats: [{ frequency: "daily" }],
      }),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect((await t.schedules.list({ workflow: "daily-digest" })).entries).toEqual([]);
    await expect(t.users.get("u1")).rejects.toBeInstanceOf(NotFoundError);
    await t.clock.advance("2d");
    expect(t.outbox).toHaveLength(0);
  });
});

describe("schedules.update and delete", () => {
  it("moves the next occurrence when the rule changes: the old time no longer fires", async () => {
    const { t } = engine();
    const [schedule] = await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    const [updated] = await t.schedules.update({
      schedule_ids: [schedule?.id ?? ""],
      repeats: [{ frequency: "daily", hours: 18 }],
      data: { edition: "evening" },
    });
    expect(updated).toMatchObject({
      next_occurrence_at: "2026-01-01T18:00:00.000Z",
      data: { edition: "evening" },
    });
    await t.clock.advanceTo("2026-01-01T17:59:00Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advanceTo("2026-01-01T18:00:00Z");
    expect(t.outbox.map((m) => m.content.subject)).toEqual([
      `Digest evening for u1 (schedule ${schedule?.id})`,
    ]);
  });

  it("rejects an update naming an unknown schedule, changing nothing", async () => {
    const { t } = engine();
    const [schedule] = await t.schedules.create({
      workflow: "daily-digest",
      recipients: ["u1"],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    await expect(
      t.schedules.update({ schedule_ids: [schedule?.id ?? "", "missing"], data: { x: 1 } }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.schedules.update({ schedule_ids: [schedule?.id ?? ""] })).rejects.toMatchObject({
      code: "invalid_params",
    });
    const [unchanged] = (await t.schedules.list({ workflow: "daily-digest" })).entries;
    expect(unchanged?.data).toEqual({});
  });

  it("deletes schedules: their next occurrence never fires and their parked runs are cancelled", async () => {
    const reminder: WorkflowInput = {
      key: "reminder",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 2 } } },
        { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "r" } },
      ],
    };
    const { t } = engine({ workflows: [reminder] });
    const [schedule] = await t.schedules.create({
      workflow: "reminder",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "hourly" }],
    });
    await t.clock.advance("1h"); // fires; its run waits on the two-hour delay
    const [parked] = (await t.workflowRecipientRuns.list({ status: ["paused"] })).entries;
    expect(parked).toBeDefined();
    const deleted = await t.schedules.delete({ schedule_ids: [schedule?.id ?? "", "unknown"] });
    expect(deleted.map((s) => s.id)).toEqual([schedule?.id]);
    await t.clock.advance("1d");
    expect(t.outbox).toHaveLength(0);
    expect((await t.workflowRecipientRuns.get(parked?.id ?? "")).status).toBe("cancelled");
    expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(1);
    expect((await t.schedules.list({ workflow: "reminder" })).entries).toEqual([]);
  });
});

describe("schedules.list, users.listSchedules and objects.listSchedules", () => {
  it("filters by workflow, recipients and tenant, and pages with cursors", async () => {
    const other: WorkflowInput = { ...digest, key: "weekly" };
    const { t } = engine({ workflows: [digest, other] });
    const daily = [{ frequency: "daily" as const, hours: 9 }];
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: ["a", "b", "c"],
      repeats: daily,
    });
    await t.schedules.create({ workflow: "weekly", recipients: ["a"], repeats: daily });
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: ["d"],
      repeats: daily,
      tenant: "acme",
    });
    const ids = (page: { entries: Array<{ recipient: { id: string } }> }) =>
      page.entries.map((s) => s.recipient.id);
    expect(ids(await t.schedules.list({ workflow: "daily-digest" }))).toEqual(["a", "b", "c", "d"]);
    expect(
      ids(await t.schedules.list({ workflow: "daily-digest", recipients: ["b", "d"] })),
    ).toEqual(["b", "d"]);
    expect(ids(await t.schedules.list({ workflow: "daily-digest", tenant: "acme" }))).toEqual([
      "d",
    ]);
    const first = await t.schedules.list({ workflow: "daily-digest", page_size: 3 });
    expect(ids(first)).toEqual(["a", "b", "c"]);
    const second = await t.schedules.list({
      workflow: "daily-digest",
      page_size: 3,
      after: first.page_info.after,
    });
    expect(ids(second)).toEqual(["d"]);
    expect(second.page_info.after).toBeNull();
    expect((await t.users.listSchedules("a")).entries.map((s) => s.workflow)).toEqual([
      "daily-digest",
      "weekly",
    ]);
    expect((await t.users.listSchedules("a", { workflow: "weekly" })).entries).toHaveLength(1);
    await expect(t.schedules.list({} as never)).rejects.toMatchObject({ code: "invalid_params" });
  });

  it("lists an object's schedules with objects.listSchedules", async () => {
    const { t } = engine({ workflows: [digest, { ...digest, key: "weekly" }] });
    const daily = [{ frequency: "daily" as const, hours: 9 }];
    const team = { id: "core", collection: "teams" };
    await t.schedules.create({ workflow: "daily-digest", recipients: [team, "a"], repeats: daily });
    await t.schedules.create({ workflow: "weekly", recipients: [team], repeats: daily });
    const listed = await t.objects.listSchedules("teams", "core");
    expect(listed.entries.map((s) => [s.workflow, s.recipient])).toEqual([
      ["daily-digest", { id: "core", collection: "teams" }],
      ["weekly", { id: "core", collection: "teams" }],
    ]);
    expect(
      (await t.objects.listSchedules("teams", "core", { workflow: "weekly" })).entries,
    ).toHaveLength(1);
    expect((await t.objects.listSchedules("teams", "other")).entries).toEqual([]);
  });
});

describe("recipient.schedule in a schedule's run", () => {
  it("shows the schedule as its occurrence left it, even when the run reads it before the fire job writes it", async () => {
    // The store holds the schedule write back until the occurrence's run has completed, as a
    // queue that runs jobs at once (BullMQ) may: the run reads the schedule first.
    const store = memoryStore();
    let ranRun: () => void = () => {};
    const runDone = new Promise<void>((resolve) => {
      ranRun = resolve;
    });
    const slow: Store = {
      ...store,
      updateSchedule: async (...args: Parameters<Store["updateSchedule"]>) => {
        await runDone;
        return store.updateSchedule(...args);
      },
    };
    const hourly: WorkflowInput = {
      key: "hourly",
      steps: [
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          template: {
            subject:
              "{{ recipient.schedule.last_occurrence_at }} then {{ recipient.schedule.next_occurrence_at }}",
          },
        },
      ],
    };
    const { t } = engine({ store: slow, workflows: [hourly] });
    t.on("run.completed", () => ranRun());
    await t.schedules.create({
      workflow: "hourly",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "hourly" }],
    });
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual([
      "2026-01-01T01:00:00.000Z then 2026-01-01T02:00:00.000Z",
    ]);
    const [stored] = (await t.users.listSchedules("u1")).entries;
    expect(stored?.last_occurrence_at).toBe("2026-01-01T01:00:00.000Z");
  });
});

describe("exactly once per occurrence", () => {
  it("triggers once when the queue delivers every schedule job twice", async () => {
    // A queue that redelivers: every schedule job is also added under a second id.
    const inner = memoryQueue();
    const duplicate = (job: JobInput): JobInput[] =>
      job.name === "schedule" ? [job, { ...job, id: `${job.id}:again` }] : [job];
    const queue: Queue = {
      name: "redelivering",
      start: (context) => inner.start(context),
      add: (job) => inner.addBulk(duplicate(job)),
      addBulk: (jobs) => inner.addBulk(jobs.flatMap(duplicate)),
      remove: (id) => inner.remove(id),
      idle: () => inner.idle(),
      close: () => inner.close(),
    };
    const { t, fired } = engine({ queue });
    await t.schedules.create({
      workflow: "daily-digest",
      recipients: [{ id: "u1", email: "u1@example.com" }],
      repeats: [{ frequency: "daily", hours: 9 }],
    });
    await t.clock.advanceTo("2026-01-03T09:00:00Z");
    expect(t.outbox).toHaveLength(3);
    expect(fired).toHaveLength(3);
    expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(3);
  });
});
