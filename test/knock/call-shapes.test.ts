/**
 * What crier does with the call shapes of `@knocklabs/node` v1 that it accepts beyond its own:
 * Knock's trailing request options, trigger settings, nulls where Knock's client writes them, and
 * Knock's extra list filters and tenant options.
 */
import { describe, expect, it } from "vitest";
import {
  InvalidParamsError,
  type MessageEvent,
  type RunEvent,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

/** Knock's client sends these on every call; crier must take them and change nothing. */
const requestOptions = { timeout: 5_000, maxRetries: 2, headers: { "x-trace": "1" } };

const welcome: WorkflowInput = {
  key: "welcome",
  steps: [
    { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: { subject: "Hi {{ recipient.name }}" },
    },
  ],
};

async function rejection(promise: Promise<unknown>): Promise<InvalidParamsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidParamsError);
  return error as InvalidParamsError;
}

describe("Knock's trailing request options", () => {
  it("are taken by every covered method and change nothing", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const user = await t.users.update(
      "u1",
      { name: "Ada", email: "ada@example.com" },
      requestOptions,
    );
    expect(user.name).toBe("Ada");
    expect((await t.users.get("u1", requestOptions)).email).toBe("ada@example.com");
    await t.users.setChannelData("u1", "apns", { data: { tokens: ["t1"] } }, requestOptions);
    expect((await t.users.getChannelData("u1", "apns", requestOptions)).data).toEqual({
      tokens: ["t1"],
    });
    await t.users.setPreferences(
      "u1",
      "default",
      { channel_types: { sms: false } },
      requestOptions,
    );
    const prefs = await t.users.getPreferences("u1", "default", null, requestOptions);
    expect(prefs.channel_types).toEqual({ sms: false });

    await t.objects.set("projects", "p1", { name: "Apollo" }, requestOptions);
    expect((await t.objects.get("projects", "p1", requestOptions)).properties).toEqual({
      name: "Apollo",
    });
    await t.objects.addSubscriptions("projects", "p1", { recipients: ["u1"] }, requestOptions);
    expect(
      (await t.objects.listSubscriptions("projects", "p1", null, requestOptions)).entries,
    ).toHaveLength(1);
    await t.objects.setPreferences("projects", "p1", "default", { channels: {} }, requestOptions);
    // Knock passes request options as the 4th argument; they are not a tenant.
    expect((await t.objects.getPreferences("projects", "p1", "default", requestOptions)).id).toBe(
      "default",
    );
    await t.objects.setChannelData(
      "projects",
      "p1",
      "slack",
      { data: { connections: [] } },
      requestOptions,
    );
    await t.objects.deleteSubscriptions("projects", "p1", { recipients: ["u1"] }, requestOptions);
    await t.objects.delete("projects", "p1", requestOptions);

    await t.tenants.set("acme", { name: "Acme" }, requestOptions);
    expect((await t.tenants.get("acme", null, requestOptions)).name).toBe("Acme");
    await t.tenants.delete("acme", requestOptions);

    const { workflow_run_id } = await t.workflows.trigger(
      "welcome",
      { recipients: ["u1"], cancellation_key: "c1" },
      { ...requestOptions, idempotencyKey: "once" },
    );
    const again = await t.workflows.trigger(
      "welcome",
      { recipients: ["u1"], cancellation_key: "c1" },
      { ...requestOptions, idempotencyKey: "once" },
    );
    expect(again.workflow_run_id).toBe(workflow_run_id);
    await t.idle();
    await t.workflows.cancel("welcome", { cancellation_key: "c1" }, requestOptions);
    const runs = await t.workflowRecipientRuns.list(null, requestOptions);
    expect(runs.entries.map((r) => r.status)).toEqual(["cancelled"]);
    expect((await t.workflowRecipientRuns.get(runs.entries[0]?.id ?? "", requestOptions)).id).toBe(
      runs.entries[0]?.id,
    );
    expect((await t.messages.list(null, requestOptions)).items).toEqual([]);
    expect((await t.users.listMessages("u1", null, requestOptions)).items).toEqual([]);
    expect((await t.users.listSubscriptions("u1", null, requestOptions)).entries).toEqual([]);
    expect((await t.users.listSchedules("u1", null, requestOptions)).entries).toEqual([]);

    const [schedule] = await t.schedules.create(
      { workflow: "welcome", recipients: ["u1"], repeats: [{ frequency: "daily", hours: 9 }] },
      requestOptions,
    );
    const id = schedule?.id ?? "";
    await t.schedules.update({ schedule_ids: [id], data: { x: 1 } }, requestOptions);
    expect(
      (await t.schedules.list({ workflow: "welcome" }, requestOptions)).entries.map((s) => s.data),
    ).toEqual([{ x: 1 }]);
    await t.schedules.delete({ schedule_ids: [id] }, requestOptions);
    await t.users.update("u2", { phone_number: "+15550100" });
    expect((await t.users.merge("u1", { from_user_id: "u2" }, requestOptions)).phone_number).toBe(
      "+15550100",
    );
    await t.users.delete("u1", requestOptions);
    await t.close();
  });
});

describe("errors are rejections, as from Knock's client", () => {
  it("every covered method returns a rejected promise for a bad id instead of throwing", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const bad = "a/b";
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["users.update", () => t.users.update(bad, {})],
      ["users.get", () => t.users.get(bad)],
      ["users.delete", () => t.users.delete(bad)],
      ["users.getPreferences", () => t.users.getPreferences(bad, "default")],
      ["users.setPreferences", () => t.users.setPreferences(bad, "default", {})],
      ["users.setChannelData", () => t.users.setChannelData(bad, "apns", { data: {} })],
      ["users.getChannelData", () => t.users.getChannelData(bad, "apns")],
      ["users.listMessages", () => t.users.listMessages(bad)],
      ["users.listSubscriptions", () => t.users.listSubscriptions(bad)],
      ["users.listSchedules", () => t.users.listSchedules(bad)],
      ["users.merge", () => t.users.merge(bad, { from_user_id: "u1" })],
      ["objects.set", () => t.objects.set("projects", bad, {})],
      ["objects.get", () => t.objects.get("projects", bad)],
      ["objects.delete", () => t.objects.delete("projects", bad)],
      [
        "objects.addSubscriptions",
        () => t.objects.addSubscriptions("projects", bad, { recipients: ["u1"] }),
      ],
      [
        "objects.deleteSubscriptions",
        () => t.objects.deleteSubscriptions("projects", bad, { recipients: ["u1"] }),
      ],
      ["objects.listSubscriptions", () => t.objects.listSubscriptions("projects", bad)],
      ["objects.setPreferences", () => t.objects.setPreferences("projects", bad, "default", {})],
      ["objects.getPreferences", () => t.objects.getPreferences("projects", bad, "default")],
      [
        "objects.setChannelData",
        () => t.objects.setChannelData("projects", bad, "slack", { data: {} }),
      ],
      ["objects.getChannelData", () => t.objects.getChannelData("projects", bad, "slack")],
      ["objects.listMessages", () => t.objects.listMessages("projects", bad)],
      ["tenants.set", () => t.tenants.set(bad, {})],
      ["tenants.get", () => t.tenants.get(bad)],
      ["tenants.delete", () => t.tenants.delete(bad)],
      ["messages.list", () => t.messages.list({ page_size: 0 })],
      ["messages.get", () => t.messages.get("")],
      ["workflowRecipientRuns.list", () => t.workflowRecipientRuns.list({ page_size: 0 })],
      ["workflowRecipientRuns.get", () => t.workflowRecipientRuns.get("")],
      ["workflows.trigger", () => t.workflows.trigger("welcome", { recipients: [bad] })],
      ["workflows.cancel", () => t.workflows.cancel("welcome", { cancellation_key: "" })],
      ["schedules.create", () => t.schedules.create({ workflow: "welcome", recipients: [bad] })],
      ["schedules.update", () => t.schedules.update({ schedule_ids: [] })],
      ["schedules.delete", () => t.schedules.delete({ schedule_ids: [] })],
      ["schedules.list", () => t.schedules.list({ workflow: "" })],
    ];
    for (const [name, call] of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }, name).not.toThrow();
      await expect(promise, name).rejects.toBeInstanceOf(InvalidParamsError);
    }
  });
});

describe("trigger settings", () => {
  it("sandbox_mode makes every message not_sent and calls no provider", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const notSent: MessageEvent[] = [];
    t.on("message.not_sent", (event) => notSent.push(event));
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
      settings: { sandbox_mode: true },
    });
    await t.clock.advance("1h");
    expect(t.outbox).toEqual([]);
    const { items } = await t.messages.list();
    expect(items.map((m) => m.status)).toEqual(["not_sent"]);
    expect(notSent.map((e) => e.message.id)).toEqual(items.map((m) => m.id));
  });

  it("skip_delay continues past every delay step at once, and says so in the run's log", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "u1@example.com", name: "Ada" }],
      settings: { skip_delay: true, sandbox_mode: false },
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["Hi Ada"]);
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    const events = (await t.workflowRecipientRuns.get(run?.id ?? "")).events as RunEvent[];
    expect(events.find((e) => e.step_ref === "wait")?.event).toBe("delay_skipped");
  });

  it("without settings (or with null ones) the delay waits", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
      settings: null,
    });
    await t.idle();
    expect(t.outbox).toEqual([]);
    await t.clock.advance("1h");
    expect(t.outbox).toHaveLength(1);
  });

  it("rejects settings crier does not know, or that are not booleans", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const error = await rejection(
      t.workflows.trigger("welcome", {
        recipients: ["u1"],
        settings: { sandbox_mode: "yes", dry_run: true } as never,
      }),
    );
    expect(error.errors.map((e) => e.field)).toEqual(["settings.sandbox_mode", "settings.dry_run"]);
  });
});

describe("nulls and read-only fields where Knock's client writes them", () => {
  it("schedule repeat rules with null fields and a __typename, as Knock returns them", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const [schedule] = await t.schedules.create({
      workflow: "welcome",
      recipients: ["u1"],
      repeats: [
        {
          __typename: "ScheduleRepeatRule",
          frequency: "weekly",
          interval: 1,
          days: ["mon"],
          hours: 9,
          minutes: null,
          day_of_month: null,
        },
      ],
    });
    expect(schedule?.repeats).toEqual([
      {
        __typename: "ScheduleRepeatRule",
        frequency: "weekly",
        interval: 1,
        days: ["mon"],
        hours: 9,
      },
    ]);
    // A schedule's own repeats go back in unchanged.
    const [updated] = await t.schedules.update({
      schedule_ids: [schedule?.id ?? ""],
      repeats: schedule?.repeats,
    });
    expect(updated?.next_occurrence_at).toBe(schedule?.next_occurrence_at);
    const error = await rejection(
      t.schedules.create({
        workflow: "welcome",
        recipients: ["u1"],
        repeats: [{ frequency: null as never, days: null }],
      }),
    );
    expect(error.errors.map((e) => e.field)).toEqual(["repeats[0].frequency"]);
  });

  it("preference sets with null nested fields; audience conditions are rejected", async () => {
    const t = createTestEngine();
    const set = await t.users.setPreferences("u1", "default", {
      workflows: { welcome: { channel_types: null, channels: null, conditions: null } },
      categories: null,
    });
    expect(set.workflows).toEqual({
      welcome: { channel_types: null, channels: null, conditions: null },
    });
    const error = await rejection(
      t.users.setPreferences("u1", "default", {
        channel_types: {
          email: {
            conditions: [
              { variable: "recipient.id", operator: "is_audience_member", argument: "vip" },
            ],
          },
        },
      }),
    );
    expect(error.errors[0]?.field).toBe("preferences.channel_types.email.conditions[0].operator");
  });

  it("object references without an id are rejected, saying so", async () => {
    const t = createTestEngine({ workflows: [welcome] });
    const error = await rejection(
      t.workflows.cancel("welcome", {
        cancellation_key: "c1",
        recipients: [{ collection: "projects" }],
      }),
    );
    expect(error.errors[0]?.field).toBe("recipients[0].id");
  });
});

describe("Knock's list filters", () => {
  async function subscribed() {
    const t = createTestEngine();
    for (const project of ["p1", "p2", "p3"])
      await t.objects.addSubscriptions("projects", project, { recipients: ["u1", "u2"] });
    await t.objects.addSubscriptions("teams", "t1", { recipients: ["u1"] });
    return t;
  }

  it("users.listSubscriptions(id, { objects }) lists only the subscriptions to those objects", async () => {
    const t = await subscribed();
    const { entries } = await t.users.listSubscriptions("u1", {
      objects: [
        { id: "p3", collection: "projects" },
        { id: "t1", collection: "teams" },
      ],
      include: ["preferences"],
    });
    expect(entries.map((s) => s.object)).toEqual([
      { id: "p3", collection: "projects" },
      { id: "t1", collection: "teams" },
    ]);
    expect((await t.users.listSubscriptions("u1")).entries).toHaveLength(4);
  });

  it("pages a filtered list forward with exact cursors", async () => {
    const t = await subscribed();
    const objects = [
      { id: "p1", collection: "projects" },
      { id: "p3", collection: "projects" },
      { id: "t1", collection: "teams" },
    ];
    const first = await t.users.listSubscriptions("u1", { objects, page_size: 2 });
    expect(first.entries.map((s) => s.object)).toEqual(objects.slice(0, 2));
    expect(first.page_info.before).toBeNull();
    const second = await t.users.listSubscriptions("u1", {
      objects,
      page_size: 2,
      after: first.page_info.after ?? "",
    });
    expect(second.entries.map((s) => s.object)).toEqual(objects.slice(2));
    expect(second.page_info.after).toBeNull();
    const error = await rejection(
      t.users.listSubscriptions("u1", { objects, before: first.page_info.after ?? "" }),
    );
    expect(error.errors[0]?.field).toBe("before");
  });

  it("objects.listSubscriptions filters subscribers by recipients, and held subscriptions by objects", async () => {
    const t = await subscribed();
    await t.objects.addSubscriptions("teams", "t1", {
      recipients: [{ id: "p1", collection: "projects" }],
    });
    const subscribers = await t.objects.listSubscriptions("projects", "p2", { recipients: ["u2"] });
    expect(subscribers.entries.map((s) => s.recipient)).toEqual(["u2"]);
    const held = await t.objects.listSubscriptions("projects", "p1", {
      mode: "recipient",
      objects: [{ id: "t1", collection: "teams" }],
    });
    expect(held.entries.map((s) => s.object)).toEqual([{ id: "t1", collection: "teams" }]);
    const error = await rejection(
      t.objects.listSubscriptions("projects", "p1", {
        objects: [{ id: "t1", collection: "teams" }],
      }),
    );
    expect(error.errors[0]).toMatchObject({ field: "objects", type: "mode" });
  });

  it("rejects a user id among objects, and an include other than preferences", async () => {
    const t = await subscribed();
    const error = await rejection(
      t.users.listSubscriptions("u1", {
        objects: ["u2"],
        include: ["everything" as "preferences"],
      }),
    );
    expect(error.errors.map((e) => e.field)).toEqual(["objects[0]", "include"]);
  });

  it("rejects Knock's trigger_data message filter, which crier does not index, saying what to do", async () => {
    const t = createTestEngine();
    for (const list of [
      t.messages.list({ trigger_data: '{"plan":"pro"}' }),
      t.users.listMessages("u1", { trigger_data: '{"plan":"pro"}' }),
    ]) {
      const error = await rejection(list);
      expect(error.errors[0]).toMatchObject({ field: "trigger_data", type: "unsupported" });
      expect(error.errors[0]?.message).toContain("filter the items on `data` yourself");
    }
  });
});

describe("tenants with resolve_full_preference_settings", () => {
  it("merges the tenant's preference set over the environment default when asked", async () => {
    const t = createTestEngine({
      defaultPreferences: { channel_types: { sms: false, push: false } },
    });
    await t.tenants.set("acme", {
      name: "Acme",
      settings: { preference_set: { channel_types: { push: true, email: false } } },
    });
    const plain = await t.tenants.get("acme");
    expect(plain.settings?.preference_set).toMatchObject({
      channel_types: { push: true, email: false },
    });
    expect(plain.settings?.preference_set).not.toHaveProperty("channel_types.sms");
    const full = await t.tenants.get("acme", { resolve_full_preference_settings: true });
    expect(full.settings?.preference_set).toMatchObject({
      channel_types: { sms: false, push: true, email: false },
    });
  });

  it("tenants.set takes the flag as an option, not a property to store", async () => {
    const t = createTestEngine({ defaultPreferences: { channel_types: { sms: false } } });
    const set = await t.tenants.set("acme", {
      name: "Acme",
      resolve_full_preference_settings: true,
    });
    expect(set.settings?.preference_set).toMatchObject({ channel_types: { sms: false } });
    const stored = await t.tenants.get("acme");
    expect(stored).not.toHaveProperty("resolve_full_preference_settings");
    expect(stored.settings?.preference_set ?? null).toBeNull();
    const error = await rejection(
      t.tenants.get("acme", { resolve_full_preference_settings: "yes" as never }),
    );
    expect(error.errors[0]?.field).toBe("resolve_full_preference_settings");
  });
});
