import { describe, expect, it } from "vitest";
import { recipientRunId } from "../../src/engine/fanout.js";
import {
  CrierError,
  createEngine,
  EngineClosedError,
  IdempotencyConflictError,
  InvalidParamsError,
  WorkflowInactiveError,
  WorkflowNotFoundError,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";
import { emailWorkflow } from "./helpers.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("workflows.trigger", () => {
  it("delivers a rendered message to an inline user, identified before the run", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    const { workflow_run_id } = await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", name: "Ada", email: "ada@example.com" }],
      data: { message: "Welcome aboard" },
    });
    await t.idle();
    expect(workflow_run_id).toMatch(UUID_V4);
    expect(t.outbox).toHaveLength(1);
    const [sent] = t.outbox;
    expect(sent?.content).toEqual({ subject: "Hello Ada", html_body: "<p>Welcome aboard</p>" });
    expect(sent?.recipient_ref).toBe("u1");
    expect(sent?.workflow_run_id).toBe(workflow_run_id);
    expect((await t.users.get("u1")).email).toBe("ada@example.com");
    const { items } = await t.messages.list();
    expect(items.map((m) => [m.recipient, m.status, m.channel_id])).toEqual([
      ["u1", "sent", "email"],
    ]);
  });

  it("accepts the three recipient forms", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    await t.users.update("u1", { name: "One", email: "one@example.com" });
    await t.objects.set("projects", "p1", { name: "Apollo", email: "apollo@example.com" });
    await t.workflows.trigger("welcome", {
      recipients: [
        "u1",
        { id: "projects-ref", collection: "projects" },
        { id: "p1", collection: "projects" },
        { id: "u2", name: "Two", email: "two@example.com" },
      ],
    });
    await t.idle();
    const subjects = t.outbox.map((m) => m.content.subject).sort();
    // projects-ref was never set: a reference to a missing recipient notifies nobody.
    expect(subjects).toEqual(["Hello Apollo", "Hello One", "Hello Two"]);
  });

  it("deep-merges inline properties, clears with null, and is safe against prototype keys", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    await t.users.update("u1", {
      email: "a@example.com",
      name: "A",
      settings: { theme: "dark", lang: "en" },
    });
    const payload = JSON.parse(
      '{"id":"u1","name":null,"settings":{"lang":"fr"},"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
    );
    await t.workflows.trigger("welcome", { recipients: [payload] });
    await t.idle();
    const user = await t.users.get("u1");
    expect(user.name).toBeNull();
    expect(user.settings).toEqual({ theme: "dark", lang: "fr" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(user)).toBe(Object.prototype);
    expect(Object.hasOwn(user, "__proto__")).toBe(true);
  });

  it("merges an inline recipient's $trigger_data over data for that recipient's run only", async () => {
    const t = createTestEngine({
      workflows: [
        emailWorkflow({
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              template: {
                subject: "{{ data.greeting }} {{ data.order.id }}/{{ data.order.total }}",
              },
            },
          ],
        }),
      ],
    });
    await t.objects.set("teams", "core", { email: "core@example.com" });
    await t.objects.addSubscriptions("teams", "core", {
      recipients: [{ id: "member", email: "member@example.com" }],
    });
    await t.workflows.trigger("welcome", {
      recipients: [
        {
          id: "u1",
          email: "u1@example.com",
          $trigger_data: { greeting: "Bonjour", order: { id: "o-u1" } },
        },
        { id: "u2", email: "u2@example.com" },
        { id: "core", collection: "teams", $trigger_data: { greeting: "Team" } },
      ],
      data: { greeting: "Hello", order: { id: "o-1", total: 5 } },
    });
    await t.idle();
    const name = (ref: unknown) =>
      typeof ref === "string" ? ref : `${(ref as { collection: string }).collection}/core`;
    const subjects = Object.fromEntries(
      t.outbox.map((m) => [name(m.recipient_ref), m.content.subject]),
    );
    expect(subjects).toEqual({
      // Top-level keys replace: u1's `order` is its own, without the trigger's `total`.
      u1: "Bonjour o-u1/",
      u2: "Hello o-1/5",
      // An object's $trigger_data is its own run's; its subscribers get the trigger's data.
      "teams/core": "Team o-1/5",
      member: "Hello o-1/5",
    });
    // Never stored as a property; `{ id, collection, $trigger_data }` stays a reference.
    expect(await t.users.get("u1")).not.toHaveProperty("$trigger_data");
    expect(await t.objects.get("teams", "core")).not.toHaveProperty("properties.$trigger_data");
    // The workflow run keeps one data; each recipient run its merge.
    const runs = (await t.workflowRecipientRuns.list()).entries;
    expect(runs.find((r) => r.recipient === "u2")?.data).toBeNull();
    // A recipient listed twice: one run, with the first entry's $trigger_data.
    await t.workflows.trigger("welcome", {
      recipients: [
        { id: "twice", email: "twice@example.com", $trigger_data: { greeting: "First" } },
        { id: "twice", $trigger_data: { greeting: "Second" } },
      ],
      data: { greeting: "Hello", order: { id: "o-2" } },
    });
    await t.idle();
    expect(
      t.outbox.filter((m) => m.recipient_ref === "twice").map((m) => m.content.subject),
    ).toEqual(["First o-2/"]);
    await expect(
      t.workflows.trigger("welcome", { recipients: [{ id: "u3", $trigger_data: [1] as never }] }),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "recipients[0].$trigger_data" })],
    });
    await expect(t.users.get("u3")).rejects.toMatchObject({ code: "not_found" });
  });

  it("derives each recipient run id from the workflow run id and the recipient", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    const { workflow_run_id } = await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "a@example.com" }],
    });
    await t.idle();
    const { entries } = await t.workflowRecipientRuns.list({ workflow_run_id });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.id).toBe(
      recipientRunId(workflow_run_id, { collection: "$users", id: "u1" }),
    );
    const second = await t.workflows.trigger("welcome", { recipients: ["u1"] });
    expect(recipientRunId(second.workflow_run_id, { collection: "$users", id: "u1" })).not.toBe(
      entries[0]?.id,
    );
  });

  describe("rejects bad input with the fixed errors, persisting nothing", () => {
    const cases: Array<[string, unknown, string]> = [
      ["no recipients", { recipients: [] }, "recipients"],
      [
        "1,001 recipients",
        { recipients: Array.from({ length: 1001 }, (_, i) => `u${i}`) },
        "recipients",
      ],
      ["recipients not an array", { recipients: "u1" }, "recipients"],
      ["an id with a slash", { recipients: ["a/b"] }, "recipients[0]"],
      [
        "an id with a hash",
        { recipients: [{ id: "a#b", email: "x@example.com" }] },
        "recipients[0].id",
      ],
      ["an empty id", { recipients: [""] }, "recipients[0]"],
      ["an id over 256 characters", { recipients: ["x".repeat(257)] }, "recipients[0]"],
      ["data that is not an object", { recipients: ["u1"], data: [1, 2] }, "data"],
      ["a bad actor", { recipients: ["u1"], actor: 42 }, "actor"],
      ["a bad tenant", { recipients: ["u1"], tenant: { name: "no id" } }, "tenant.id"],
      ["a bad cancellation key", { recipients: ["u1"], cancellation_key: 7 }, "cancellation_key"],
    ];
    it.each(cases)("%s", async (_name, params, field) => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      const error = await t.workflows.trigger("welcome", params as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as InvalidParamsError).code).toBe("invalid_params");
      expect((error as InvalidParamsError).errors.map((e) => e.field)).toContain(field);
      await t.idle();
      expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(0);
    });

    it("exactly 1,000 recipients are accepted (1,001 are not, above)", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      const recipients = Array.from({ length: 1000 }, (_, i) => ({
        id: `u${i}`,
        email: `u${i}@example.com`,
      }));
      const { workflow_run_id } = await t.workflows.trigger("welcome", { recipients });
      await t.idle();
      expect(workflow_run_id).toMatch(UUID_V4);
      expect(new Set(t.outbox.map((m) => m.recipient_ref)).size).toBe(1000);
    });

    const badIds: Array<[string, string]> = [
      ["a slash", "a/b"],
      ["a hash", "a#b"],
      ["nothing", ""],
      ["over 256 characters", "x".repeat(257)],
    ];
    const badParticipants = badIds.flatMap(([what, id]) => [
      { name: `an actor id with ${what}`, params: { actor: id }, field: "actor" },
      { name: `an inline actor id with ${what}`, params: { actor: { id } }, field: "actor.id" },
      { name: `a tenant id with ${what}`, params: { tenant: id }, field: "tenant" },
      { name: `an inline tenant id with ${what}`, params: { tenant: { id } }, field: "tenant.id" },
    ]);
    for (const { name, params, field } of badParticipants) {
      it(`${name}, storing no recipient, actor or tenant`, async () => {
        const t = createTestEngine({ workflows: [emailWorkflow()] });
        // Whichever of actor and tenant is fine is inline too: it must not be stored either.
        const error = await t.workflows
          .trigger("welcome", {
            recipients: [{ id: "ok", email: "ok@example.com" }],
            actor: { id: "good-actor", name: "Actor" },
            tenant: { id: "good-tenant", name: "Tenant" },
            ...params,
          } as never)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidParamsError);
        expect((error as InvalidParamsError).errors.map((e) => e.field)).toContain(field);
        await t.idle();
        await expect(t.users.get("ok")).rejects.toMatchObject({ code: "not_found" });
        await expect(t.users.get("good-actor")).rejects.toMatchObject({ code: "not_found" });
        await expect(t.tenants.get("good-tenant")).rejects.toMatchObject({ code: "not_found" });
        expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(0);
      });
    }

    it("a trigger or cancel on a closed engine, before anything is stored", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      await t.idle();
      await t.close();
      const error = await t.workflows
        .trigger("welcome", { recipients: [{ id: "u1", email: "u1@example.com" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineClosedError);
      expect(error).toBeInstanceOf(CrierError);
      expect(error).toMatchObject({ code: "engine_closed", operation: "workflows.trigger" });
      expect((error as Error).message).toMatch(/close\(\) was already called.*Create a new engine/);
      await expect(t.users.get("u1")).rejects.toMatchObject({ code: "not_found" });
      await expect(t.workflows.cancel("welcome", { cancellation_key: "k" })).rejects.toBeInstanceOf(
        EngineClosedError,
      );
    });

    it("an inline recipient list with one bad entry identifies none of them", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      await expect(
        t.workflows.trigger("welcome", {
          recipients: [{ id: "ok", email: "ok@example.com" }, { id: "bad/id" }],
        }),
      ).rejects.toBeInstanceOf(InvalidParamsError);
      await expect(t.users.get("ok")).rejects.toMatchObject({ code: "not_found" });
    });

    it("data over 10 MB", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      const big = { blob: "x".repeat(10 * 1024 * 1024 + 1) };
      await expect(
        t.workflows.trigger("welcome", {
          recipients: [{ id: "u1", email: "u1@example.com" }],
          actor: { id: "a1", name: "A" },
          tenant: "fine",
          data: big,
        }),
      ).rejects.toMatchObject({
        code: "invalid_params",
        errors: [expect.objectContaining({ field: "data", type: "size" })],
      });
      await expect(t.users.get("u1")).rejects.toMatchObject({ code: "not_found" });
      await expect(t.users.get("a1")).rejects.toMatchObject({ code: "not_found" });
      await expect(t.tenants.get("fine")).rejects.toMatchObject({ code: "not_found" });
    });

    it("an unknown workflow", async () => {
      const t = createTestEngine();
      const error = await t.workflows
        .trigger("nope", { recipients: ["u1"] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowNotFoundError);
      expect((error as WorkflowNotFoundError).code).toBe("workflow_missing");
      expect((error as Error).message).toContain("workflows.upsert");
    });

    it("an inactive workflow", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow({ active: false })] });
      const error = await t.workflows
        .trigger("welcome", { recipients: [{ id: "u1", email: "a@example.com" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowInactiveError);
      expect((error as WorkflowInactiveError).code).toBe("workflow_inactive");
      await expect(t.users.get("u1")).rejects.toMatchObject({ code: "not_found" });
    });

    /** A workflow whose trigger data must have `order.id`, a string. */
    const orderWorkflow = emailWorkflow({
      trigger_data_json_schema: {
        type: "object",
        required: ["order"],
        properties: {
          order: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
        },
      },
    });

    it("data that fails the workflow's trigger_data_json_schema, naming the field", async () => {
      const t = createTestEngine({ workflows: [orderWorkflow] });
      await expect(
        t.workflows.trigger("welcome", { recipients: ["u1"], data: {} }),
      ).rejects.toMatchObject({
        errors: [expect.objectContaining({ field: "data.order" })],
      });
      await expect(
        t.workflows.trigger("welcome", { recipients: ["u1"], data: { order: { id: 5 } } }),
      ).rejects.toMatchObject({
        errors: [expect.objectContaining({ field: "data.order.id" })],
      });
      await t.workflows.trigger("welcome", {
        recipients: [{ id: "u1", email: "a@example.com" }],
        data: { order: { id: "o1" } },
      });
      await t.idle();
      expect(t.outbox).toHaveLength(1);
    });

    it("a recipient's $trigger_data that, merged over data, fails the schema, naming the recipient", async () => {
      const t = createTestEngine({ workflows: [orderWorkflow] });
      const data = { order: { id: "o1" } };
      const error = await t.workflows
        .trigger("welcome", {
          recipients: [
            { id: "u1", email: "u1@example.com", $trigger_data: { order: { id: "o-u1" } } },
            { id: "u2", email: "u2@example.com", $trigger_data: { order: { id: 7 } } },
            { id: "u3", email: "u3@example.com", $trigger_data: { order: null } },
          ],
          data,
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as InvalidParamsError).errors.map((e) => e.field)).toEqual([
        "recipients[1].$trigger_data.order.id",
        "recipients[2].$trigger_data.order",
      ]);
      // Nothing stored: no recipient identified, no run.
      await expect(t.users.get("u1")).rejects.toMatchObject({ code: "not_found" });
      expect((await t.workflowRecipientRuns.list()).entries).toEqual([]);
      // Many failing recipients: ten named, the rest counted.
      const many = await t.workflows
        .trigger("welcome", {
          recipients: Array.from({ length: 13 }, (_, i) => ({
            id: `m${i}`,
            $trigger_data: { order: {} },
          })),
          data,
        })
        .catch((e: unknown) => e);
      const issues = (many as InvalidParamsError).errors;
      expect(issues).toHaveLength(11);
      expect(issues[10]).toMatchObject({ field: "recipients", type: "trigger_data" });
      expect(issues[10]?.message).toMatch(/^3 more recipients/);
      // A merge that passes runs with it.
      await t.workflows.trigger("welcome", {
        recipients: [
          { id: "u1", email: "u1@example.com", $trigger_data: { order: { id: "o-u1" } } },
        ],
        data,
      });
      await t.idle();
      expect(t.outbox).toHaveLength(1);
    });
  });

  describe("idempotencyKey", () => {
    it("replays the first result for the same params within 24 hours", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      const params = { recipients: [{ id: "u1", email: "a@example.com" }] };
      const first = await t.workflows.trigger("welcome", params, { idempotencyKey: "k1" });
      const again = await t.workflows.trigger("welcome", params, { idempotencyKey: "k1" });
      await t.idle();
      expect(again.workflow_run_id).toBe(first.workflow_run_id);
      expect(t.outbox).toHaveLength(1);
      await t.clock.advance("25h");
      const later = await t.workflows.trigger("welcome", params, { idempotencyKey: "k1" });
      await t.idle();
      expect(later.workflow_run_id).not.toBe(first.workflow_run_id);
      expect(t.outbox).toHaveLength(2);
    });

    it("rejects the same key with other params", async () => {
      const t = createTestEngine({ workflows: [emailWorkflow()] });
      await t.workflows.trigger("welcome", { recipients: ["u1"] }, { idempotencyKey: "k1" });
      const error = await t.workflows
        .trigger("welcome", { recipients: ["u2"] }, { idempotencyKey: "k1" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdempotencyConflictError);
      expect((error as IdempotencyConflictError).code).toBe("idempotency_conflict");
    });
  });

  describe("trigger_frequency", () => {
    it("once_per_recipient runs a workflow once for each recipient", async () => {
      const t = createTestEngine({
        workflows: [emailWorkflow({ trigger_frequency: "once_per_recipient" })],
      });
      const recipients = [{ id: "u1", email: "a@example.com" }];
      await t.workflows.trigger("welcome", { recipients });
      await t.workflows.trigger("welcome", { recipients, tenant: "acme" });
      await t.workflows.trigger("welcome", {
        recipients: [...recipients, { id: "u2", email: "b@example.com" }],
      });
      await t.idle();
      expect(t.outbox.map((m) => m.recipient_ref).sort()).toEqual(["u1", "u2"]);
      const limited = (await t.workflowRecipientRuns.list({ recipient: "u1" })).entries;
      expect(limited).toHaveLength(3);
    });

    it("once_per_recipient_per_tenant runs once per recipient and tenant", async () => {
      const t = createTestEngine({
        workflows: [emailWorkflow({ trigger_frequency: "once_per_recipient_per_tenant" })],
      });
      const recipients = [{ id: "u1", email: "a@example.com" }];
      await t.workflows.trigger("welcome", { recipients, tenant: "acme" });
      await t.workflows.trigger("welcome", { recipients, tenant: "acme" });
      await t.workflows.trigger("welcome", { recipients, tenant: "globex" });
      await t.workflows.trigger("welcome", { recipients });
      await t.idle();
      // Sorted: runs of separate triggers may finish in any order on a concurrent (durable) queue.
      expect(t.outbox.map((m) => m.tenant?.id ?? "").sort()).toEqual(["", "acme", "globex"]);
    });
  });

  it("identifies the actor and an inline tenant, and creates a stub tenant for an unknown id", async () => {
    const t = createTestEngine({
      workflows: [
        emailWorkflow({
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              template: { subject: "{{ actor.name }} @ {{ tenant.name }}" },
            },
          ],
        }),
      ],
    });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "a@example.com" }],
      actor: { id: "boss", name: "The Boss" },
      tenant: { id: "acme", name: "Acme Inc" },
    });
    await t.workflows.trigger("welcome", { recipients: ["u1"], tenant: "globex" });
    await t.idle();
    // Sorted: runs of separate triggers may finish in any order on a concurrent (durable) queue.
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual([" @ ", "The Boss @ Acme Inc"]);
    expect((await t.users.get("boss")).name).toBe("The Boss");
    expect((await t.tenants.get("globex")).id).toBe("globex");
    const { items } = await t.messages.list({ tenant: "acme" });
    expect(items).toHaveLength(1);
  });

  it("emits workflow.triggered, run and message events with the run's ids", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    const seen: string[] = [];
    const runIds = new Set<string>();
    for (const event of [
      "workflow.triggered",
      "run.queued",
      "run.processing",
      "run.completed",
      "message.created",
      "message.sent",
    ] as const) {
      t.on(event, (payload: { workflow_run_id: string; workflow_recipient_run_id?: string }) => {
        seen.push(event);
        runIds.add(payload.workflow_run_id);
      });
    }
    const { workflow_run_id } = await t.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "a@example.com" }],
    });
    await t.idle();
    expect(seen).toEqual([
      "workflow.triggered",
      "run.queued",
      "run.processing",
      "message.created",
      "message.sent",
      "run.completed",
    ]);
    expect([...runIds]).toEqual([workflow_run_id]);
  });

  it("a listener that throws is reported as an error event and breaks nothing", async () => {
    const t = createTestEngine({ workflows: [emailWorkflow()] });
    const errors: unknown[] = [];
    t.on("error", (e) => errors.push(e.error));
    t.on("message.created", () => {
      throw new Error("listener bug");
    });
    const after: string[] = [];
    t.on("message.created", (e) => after.push(e.message.id));
    await t.workflows.trigger("welcome", { recipients: [{ id: "u1", email: "a@example.com" }] });
    await t.idle();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("listener bug");
    expect(after).toHaveLength(1);
    expect(t.outbox).toHaveLength(1);
  });

  it("runs on the system clock with the default in-memory adapters", async () => {
    const sent: string[] = [];
    const engine = createEngine({
      workflows: [emailWorkflow()],
      channels: [
        {
          key: "email",
          type: "email",
          provider: { send: async (m) => void sent.push(String(m.content.subject)) },
        },
      ],
    });
    await engine.workflows.trigger("welcome", {
      recipients: [{ id: "u1", name: "Ada", email: "a@example.com" }],
    });
    await engine.idle();
    expect(sent).toEqual(["Hello Ada"]);
    await engine.close();
  });
});
