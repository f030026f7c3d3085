import { describe, expect, it } from "vitest";
import { InvalidParamsError, memoryStore, NotFoundError, type Store } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";
import { emailWorkflow } from "./helpers.js";

describe("workflows namespace", () => {
  it("upserts, versions only on change, lists, gets and toggles active", async () => {
    const t = createTestEngine();
    const first = await t.workflows.upsert(emailWorkflow());
    expect(first).toMatchObject({ key: "welcome", version: 1, active: true, valid: true });
    expect((await t.workflows.upsert(emailWorkflow())).version).toBe(1);
    const changed = await t.workflows.upsert(emailWorkflow({ name: "Welcome v2" }));
    expect(changed.version).toBe(2);
    expect((await t.workflows.list()).map((w) => [w.key, w.version])).toEqual([["welcome", 2]]);
    expect((await t.workflows.setActive("welcome", false)).active).toBe(false);
    expect((await t.workflows.get("welcome")).active).toBe(false);
    await expect(t.workflows.get("missing")).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.workflows.setActive("missing", true)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("rejects invalid definitions with every problem in errors[] and stores nothing", async () => {
    const t = createTestEngine();
    const error = await t.workflows
      .upsert({
        key: "bad",
        steps: [
          { ref: "a", type: "channel", template: {} } as never,
          {
            ref: "a",
            type: "delay",
            settings: { delay_for: { unit: "fortnights", value: 1 } },
          } as never,
          { ref: "c", type: "teleport" } as never,
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    const fields = (error as InvalidParamsError).errors.map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "steps[0].channel_key",
        "steps[1].ref",
        "steps[1].settings.delay_for.unit",
        "steps[2].type",
      ]),
    );
    expect(await t.workflows.list()).toEqual([]);
  });

  it("runs a trigger on the version current at trigger time", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", name: "Ada", email: "a@example.com" }],
    });
    await t.workflows.upsert(
      emailWorkflow({
        steps: [
          {
            ref: "email_1",
            type: "channel",
            channel_key: "email",
            template: { subject: "v2 {{ recipient.name }}" },
          },
        ],
      }),
    );
    await t.workflows.trigger("welcome", { recipients: ["u1"] });
    await t.idle();
    // Sorted: runs of separate triggers may finish in any order on a concurrent (durable) queue.
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual(["Hello Ada", "v2 Ada"]);
  });

  it("ends parked runs of a deactivated workflow at their next step, and resumes them if reactivated first", async () => {
    const delayed = emailWorkflow({
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
        { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "later" } },
      ],
    });
    const t = createTestEngine({ workflows: [delayed] });
    const skipped: string[] = [];
    t.on("step.skipped", (e) => skipped.push(`${e.recipient}:${e.step_ref}:${e.reason}`));
    await t.workflows.trigger("welcome", { recipients: [{ id: "u1", email: "a@example.com" }] });
    await t.idle();
    await t.workflows.setActive("welcome", false);
    await t.clock.advance("1h");
    expect(t.outbox).toHaveLength(0);
    expect(skipped).toEqual(["u1:email_1:inactive_workflow"]);

    await t.workflows.setActive("welcome", true);
    await t.workflows.trigger("welcome", { recipients: [{ id: "u2", email: "b@example.com" }] });
    await t.idle();
    await t.workflows.setActive("welcome", false);
    await t.workflows.setActive("welcome", true);
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["u2"]);
  });
});

describe("users, objects and tenants", () => {
  it("identifies users with deep merge and manages channel data", async () => {
    const t = createTestEngine();
    const created = await t.users.update("u1", {
      name: "Ada",
      email: "ada@example.com",
      prefs: { a: 1 },
    });
    expect(created).toMatchObject({
      __typename: "User",
      id: "u1",
      name: "Ada",
      created_at: null,
      updated_at: "2026-01-01T00:00:00.000Z",
    });
    await t.clock.advance("1m");
    const updated = await t.users.update("u1", { prefs: { b: 2 }, email: null });
    expect(updated).toMatchObject({
      prefs: { a: 1, b: 2 },
      email: null,
      updated_at: "2026-01-01T00:01:00.000Z",
    });
    expect(await t.users.setChannelData("u1", "apns", { data: { tokens: ["t1"] } })).toEqual({
      __typename: "ChannelData",
      channel_id: "apns",
      data: { tokens: ["t1"] },
    });
    await t.users.setChannelData("u1", "apns", { data: { tokens: ["t2"] } });
    expect((await t.users.getChannelData("u1", "apns")).data).toEqual({ tokens: ["t2"] });
    await expect(t.users.getChannelData("u1", "fcm")).rejects.toBeInstanceOf(NotFoundError);
    await t.users.delete("u1");
    await expect(t.users.get("u1")).rejects.toMatchObject({
      code: "not_found",
      message: expect.stringContaining("users.update"),
    });
  });

  it("unsets channel data and lists a recipient's own preference sets, for users and objects", async () => {
    const t = createTestEngine();
    await t.users.setChannelData("u1", "apns", { data: { tokens: ["t1"] } });
    await t.users.setChannelData("u1", "slack", { data: { token: "x" } });
    await t.users.unsetChannelData("u1", "apns");
    await expect(t.users.getChannelData("u1", "apns")).rejects.toBeInstanceOf(NotFoundError);
    expect((await t.users.getChannelData("u1", "slack")).data).toEqual({ token: "x" });
    // None to remove, or no such user: a no-op that creates nobody and writes nothing.
    const before = (await t.users.get("u1")).updated_at;
    await t.clock.advance("1m");
    await t.users.unsetChannelData("u1", "apns");
    expect((await t.users.get("u1")).updated_at).toBe(before);
    await t.users.unsetChannelData("nobody", "apns");
    await expect(t.users.get("nobody")).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.users.unsetChannelData("u1", "")).rejects.toBeInstanceOf(InvalidParamsError);
    // Unset while the user is being deleted: the user stays deleted.
    await t.users.setChannelData("gone", "apns", { data: { tokens: ["t"] } });
    await Promise.all([t.users.unsetChannelData("gone", "apns"), t.users.delete("gone")]);
    await expect(t.users.get("gone")).rejects.toBeInstanceOf(NotFoundError);

    await t.objects.set("teams", "core", {});
    await t.objects.setChannelData("teams", "core", "slack", { data: { channel: "C1" } });
    await t.objects.unsetChannelData("teams", "core", "slack");
    await expect(t.objects.getChannelData("teams", "core", "slack")).rejects.toBeInstanceOf(
      NotFoundError,
    );

    expect(await t.users.listPreferences("nobody")).toEqual([]);
    await t.users.setPreferences("u1", "weekly", { categories: { digest: true } });
    await t.users.setPreferences("u1", "default", { channel_types: { email: false } });
    await t.users.setPreferences("u1", "acme", { workflows: { welcome: false } });
    const sets = await t.users.listPreferences("u1");
    expect(sets.map((set) => set.id)).toEqual(["default", "acme", "weekly"]);
    expect(sets[0]).toEqual({
      __typename: "PreferenceSet",
      id: "default",
      workflows: null,
      categories: null,
      channel_types: { email: false },
      channels: null,
    });
    await t.objects.setPreferences("teams", "core", "default", { categories: { ops: false } });
    expect((await t.objects.listPreferences("teams", "core")).map((set) => set.categories)).toEqual(
      [{ ops: false }],
    );
  });

  it("lists users, a collection's objects and tenants, oldest first, paged", async () => {
    const t = createTestEngine();
    for (const id of ["zed", "ada", "bob"]) {
      await t.users.update(id, { name: id.toUpperCase() });
      await t.clock.advance("1m");
    }
    // Identified again: it keeps its place.
    await t.users.update("zed", { plan: "pro" });
    const users = await t.users.list();
    expect(users.entries.map((u) => u.id)).toEqual(["zed", "ada", "bob"]);
    expect(users.entries[0]).toMatchObject({ __typename: "User", name: "ZED", plan: "pro" });
    expect(users.page_info).toEqual({
      __typename: "PageInfo",
      after: null,
      before: null,
      page_size: 50,
    });
    const first = await t.users.list({ page_size: 2 });
    expect(first.entries.map((u) => u.id)).toEqual(["zed", "ada"]);
    const next = await t.users.list({ page_size: 2, after: first.page_info.after });
    expect(next.entries.map((u) => u.id)).toEqual(["bob"]);
    expect(next.page_info.after).toBeNull();
    await t.users.delete("ada");
    expect((await t.users.list()).entries.map((u) => u.id)).toEqual(["zed", "bob"]);

    await t.objects.set("teams", "core", { name: "Core" });
    await t.objects.set("teams", "web", {});
    await t.objects.set("projects", "p1", {});
    const teams = await t.objects.list("teams");
    expect(teams.entries.map((o) => [o.collection, o.id])).toEqual([
      ["teams", "core"],
      ["teams", "web"],
    ]);
    expect(teams.entries[0]).toMatchObject({ __typename: "Object", properties: { name: "Core" } });
    await t.tenants.set("acme", { name: "Acme" });
    expect((await t.tenants.list()).entries).toEqual([
      expect.objectContaining({ __typename: "Tenant", id: "acme", name: "Acme" }),
    ]);
    // Tenants and users are not objects.
    expect((await t.users.list()).entries.map((u) => u.id)).toEqual(["zed", "bob"]);

    await expect(t.objects.list("$users")).rejects.toBeInstanceOf(InvalidParamsError);
    await expect(t.users.list({ page_size: 0 })).rejects.toBeInstanceOf(InvalidParamsError);
    const unsupported = await t.users
      .list({ include: ["preferences"] } as never)
      .catch((e: unknown) => e);
    expect((unsupported as InvalidParamsError).errors).toEqual([
      expect.objectContaining({ field: "include", type: "unsupported" }),
    ]);
  });

  it("says what is missing when the store cannot list recipients", async () => {
    const store = memoryStore();
    const t = createTestEngine({ store: { ...store, listRecipients: undefined } as Store });
    await expect(t.users.list()).rejects.toMatchObject({
      code: "adapter_error",
      message: expect.stringContaining("listRecipients"),
    });
  });

  it("rejects bad ids and properties with a clear error", async () => {
    const t = createTestEngine();
    await expect(t.users.update("a/b", {})).rejects.toMatchObject({
      code: "invalid_params",
      message: expect.stringContaining('without "/" or "#"'),
    });
    await expect(t.users.update("u1", { channel_data: "nope" } as never)).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "props.channel_data" })],
    });
    await expect(t.users.update("u1", { blob: "x".repeat(300 * 1024) })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: "size" })],
    });
    await expect(t.objects.set("$users", "x", {})).rejects.toMatchObject({
      code: "invalid_params",
    });
    await expect(t.users.get("u1")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("sets, gets and deletes objects and tenants", async () => {
    const t = createTestEngine();
    expect(await t.objects.set("projects", "p1", { name: "Apollo" })).toMatchObject({
      __typename: "Object",
      id: "p1",
      collection: "projects",
      properties: { name: "Apollo" },
    });
    await t.objects.set("projects", "p1", { stage: "launch" });
    expect((await t.objects.get("projects", "p1")).properties).toEqual({
      name: "Apollo",
      stage: "launch",
    });
    await t.objects.delete("projects", "p1");
    await expect(t.objects.get("projects", "p1")).rejects.toBeInstanceOf(NotFoundError);

    const tenant = await t.tenants.set("acme", {
      name: "Acme",
      settings: { branding: { primary_color: "#f00" } },
    });
    expect(tenant).toMatchObject({
      __typename: "Tenant",
      id: "acme",
      name: "Acme",
      settings: { branding: { primary_color: "#f00" } },
    });
    await t.tenants.set("acme", { settings: { branding: { logo_url: "https://x/logo.png" } } });
    expect((await t.tenants.get("acme")).settings).toEqual({
      branding: { primary_color: "#f00", logo_url: "https://x/logo.png" },
      preference_set: null,
    });
    await t.tenants.delete("acme");
    await expect(t.tenants.get("acme")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("returns copies: changing a returned value changes nothing stored", async () => {
    const t = createTestEngine();
    const user = await t.users.update("u1", { nested: { a: 1 } });
    (user.nested as { a: number }).a = 99;
    expect((await t.users.get("u1")).nested).toEqual({ a: 1 });
  });
});

describe("workflowRecipientRuns", () => {
  it("lists runs with filters and gets one with its event log", async () => {
    const t = createTestEngine({
      workflows: [
        {
          key: "two",
          steps: [
            {
              ref: "skip_me",
              type: "channel",
              channel_key: "email",
              template: { subject: "x" },
              conditions: { all: [{ variable: "data.never", operator: "exists" }] },
            },
            { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "y" } },
          ],
        },
      ],
    });
    const { workflow_run_id } = await t.workflows.trigger("two", {
      recipients: [
        { id: "u1", email: "a@example.com" },
        { id: "u2", email: "b@example.com" },
      ],
      tenant: "acme",
    });
    await t.idle();
    const all = await t.workflowRecipientRuns.list({
      workflow: "two",
      status: ["completed"],
      tenant: "acme",
    });
    expect(all.entries.map((r) => r.recipient).sort()).toEqual(["u1", "u2"]);
    expect(
      all.entries.every((r) => r.workflow_run_id === workflow_run_id && r.events === undefined),
    ).toBe(true);
    const firstPage = await t.workflowRecipientRuns.list({ page_size: 1 });
    expect(firstPage.entries).toHaveLength(1);
    const secondPage = await t.workflowRecipientRuns.list({
      page_size: 1,
      after: firstPage.page_info.after,
    });
    expect(secondPage.entries[0]?.id).not.toBe(firstPage.entries[0]?.id);

    const run = await t.workflowRecipientRuns.get(all.entries[0]?.id ?? "");
    expect(run.events?.map((e) => [e.event, e.step_ref, e.reason ?? null])).toEqual([
      ["run_started", null, null],
      ["step_skipped", "skip_me", "conditions"],
      ["message_created", "email_1", null],
      ["message_sent", "email_1", null],
      ["run_completed", null, null],
    ]);
    await expect(t.workflowRecipientRuns.get("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.workflowRecipientRuns.list({ page_size: 0 })).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
  });

  it("records a recipient that was never identified as not found", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    await t.workflows.trigger("welcome", { recipients: ["ghost"] });
    await t.idle();
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    const detail = await t.workflowRecipientRuns.get(run?.id ?? "");
    expect(detail.events?.[0]).toMatchObject({ event: "recipient_not_found", status: "error" });
    expect(t.outbox).toHaveLength(0);
  });
});
