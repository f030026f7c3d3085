import { describe, expect, it } from "vitest";
import { createEngine, type StepSkippedEvent } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";
import { emailWorkflow, feedWorkflow } from "./helpers.js";

describe("conditions", () => {
  it("trigger conditions end a recipient's run before any step, saying why", async () => {
    const t = createTestEngine({
      workflows: [
        emailWorkflow({
          conditions: {
            all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }],
          },
        }),
      ],
    });
    await t.workflows.trigger("welcome", {
      recipients: [
        { id: "pro", plan: "pro", email: "p@example.com" },
        { id: "free", plan: "free", email: "f@example.com" },
      ],
    });
    await t.idle();
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["pro"]);
    const [run] = (await t.workflowRecipientRuns.list({ recipient: "free" })).entries;
    const detail = await t.workflowRecipientRuns.get(run?.id ?? "");
    expect(detail.status).toBe("completed");
    const failed = detail.events?.find((e) => e.event === "trigger_conditions_failed");
    expect(String(failed?.data.reason)).toContain("free");
  });

  it("a step whose conditions fail is skipped with reason conditions, and the run goes on", async () => {
    const t = createTestEngine({
      workflows: [
        {
          key: "two-steps",
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              template: { subject: "only for admins" },
              conditions: {
                any: [{ variable: "data.admin", operator: "equal_to", argument: true }],
              },
            },
            {
              ref: "email_2",
              type: "channel",
              channel_key: "email",
              template: { subject: "for all" },
            },
          ],
        },
      ],
    });
    const skipped: StepSkippedEvent[] = [];
    t.on("step.skipped", (e) => skipped.push(e));
    await t.workflows.trigger("two-steps", {
      recipients: [{ id: "u1", email: "a@example.com" }],
      data: { admin: false },
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["for all"]);
    expect(skipped).toMatchObject([
      { step_ref: "email_1", reason: "conditions", step_type: "channel" },
    ]);
    expect(skipped[0]?.detail).toContain("data.admin");
  });

  it("branches take the first arm whose conditions hold, else the default", async () => {
    const t = createTestEngine({
      workflows: [
        {
          key: "branchy",
          steps: [
            {
              ref: "plan_branch",
              type: "branch",
              branches: [
                {
                  name: "pro",
                  conditions: {
                    all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }],
                  },
                  steps: [
                    {
                      ref: "pro_email",
                      type: "channel",
                      channel_key: "email",
                      template: { subject: "pro" },
                    },
                  ],
                  terminates: true,
                },
                {
                  name: "default",
                  conditions: null,
                  steps: [
                    {
                      ref: "free_email",
                      type: "channel",
                      channel_key: "email",
                      template: { subject: "free" },
                    },
                  ],
                },
              ],
            },
            { ref: "after", type: "channel", channel_key: "email", template: { subject: "after" } },
          ],
        },
      ],
    });
    await t.workflows.trigger("branchy", {
      recipients: [
        { id: "a", plan: "pro", email: "a@example.com" },
        { id: "b", plan: "free", email: "b@example.com" },
      ],
    });
    await t.idle();
    const byRecipient = (id: string) =>
      t.outbox.filter((m) => m.recipient_ref === id).map((m) => m.content.subject);
    expect(byRecipient("a")).toEqual(["pro"]);
    expect(byRecipient("b")).toEqual(["free", "after"]);
  });

  it("runs nested branches: resumes after a delay inside a nested arm, and an inner terminates ends the run", async () => {
    const email = (ref: string) => ({
      ref,
      type: "channel" as const,
      channel_key: "email",
      template: { subject: ref },
    });
    const equals = (variable: string, argument: number) => ({
      all: [{ variable, operator: "equal_to" as const, argument }],
    });
    const t = createTestEngine({
      workflows: [
        {
          key: "nested",
          steps: [
            {
              ref: "outer",
              type: "branch",
              branches: [
                {
                  name: "x1",
                  conditions: equals("data.x", 1),
                  steps: [
                    {
                      ref: "inner",
                      type: "branch",
                      branches: [
                        {
                          name: "y1",
                          conditions: equals("data.y", 1),
                          steps: [
                            {
                              ref: "wait",
                              type: "delay",
                              settings: { delay_for: { unit: "hours", value: 1 } },
                            },
                            email("in_y1"),
                          ],
                          terminates: true,
                        },
                        {
                          name: "y_default",
                          conditions: null,
                          steps: [
                            {
                              ref: "wait_default",
                              type: "delay",
                              settings: { delay_for: { unit: "hours", value: 2 } },
                            },
                            email("in_y_default"),
                          ],
                        },
                      ],
                    },
                    email("after_inner"),
                  ],
                },
                { name: "x_default", conditions: null, steps: [email("x_default")] },
              ],
            },
            email("end"),
          ],
        },
      ],
    });
    const person = (id: string) => ({ id, email: `${id}@example.com` });
    await t.workflows.trigger("nested", { recipients: [person("a")], data: { x: 1, y: 1 } });
    await t.workflows.trigger("nested", { recipients: [person("b")], data: { x: 1, y: 2 } });
    await t.workflows.trigger("nested", { recipients: [person("c")], data: { x: 2 } });
    await t.idle();
    const sent = (id: string) =>
      t.outbox.filter((m) => m.recipient_ref === id).map((m) => m.content.subject);
    expect(sent("c")).toEqual(["x_default", "end"]);
    expect(sent("a")).toEqual([]);
    const paused = (await t.workflowRecipientRuns.list({ status: ["paused"] })).entries;
    expect(paused.map((r) => r.recipient).sort()).toEqual(["a", "b"]);
    await t.clock.advance("1h");
    // a resumed inside the nested arm, and its terminates ended the whole run there.
    expect(sent("a")).toEqual(["in_y1"]);
    expect(sent("b")).toEqual([]);
    await t.clock.advance("1h");
    // b resumed inside the inner default arm, then went on after the inner and the outer branch.
    expect(sent("b")).toEqual(["in_y_default", "after_inner", "end"]);
    await t.clock.advance("1d");
    expect(sent("a")).toEqual(["in_y1"]);
    const runs = (await t.workflowRecipientRuns.list()).entries;
    expect(runs.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
  });
});

describe("channel steps", () => {
  it("skips an unconfigured channel with reason channel_not_configured", async () => {
    const engine = createEngine({ workflows: [emailWorkflow()] });
    const skipped: StepSkippedEvent[] = [];
    engine.on("step.skipped", (e) => skipped.push(e));
    await engine.workflows.trigger("welcome", {
      recipients: [{ id: "u1", email: "a@example.com" }],
    });
    await engine.idle();
    expect(skipped.map((e) => e.reason)).toEqual(["channel_not_configured"]);
    expect((await engine.messages.list()).items).toHaveLength(0);
    await engine.close();
  });

  it("skips recipients without the address the channel type needs", async () => {
    const t = createTestEngine({
      workflows: [
        {
          key: "all-channels",
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              channel_type: "email",
              template: { subject: "s" },
            },
            {
              ref: "sms_1",
              type: "channel",
              channel_key: "sms",
              channel_type: "sms",
              template: { text_body: "t" },
            },
            {
              ref: "push_1",
              type: "channel",
              channel_key: "apns",
              channel_type: "push",
              template: { title: "p", text_body: "p" },
            },
            {
              ref: "chat_1",
              type: "channel",
              channel_key: "slack",
              channel_type: "chat",
              template: { markdown_body: "c" },
            },
          ],
        },
      ],
    });
    const skipped: StepSkippedEvent[] = [];
    t.on("step.skipped", (e) => skipped.push(e));
    await t.users.setChannelData("reachable", "apns", { data: { tokens: ["tok"] } });
    await t.users.setChannelData("reachable", "slack", {
      data: { connections: [{ incoming_webhook: { url: "https://hooks.example/x" } }] },
    });
    // Channel data for another channel does not reach this one.
    await t.users.setChannelData("bare", "other-chat", { data: { connections: [] } });
    await t.workflows.trigger("all-channels", {
      recipients: [
        { id: "reachable", email: "r@example.com", phone_number: "+15555550100" },
        { id: "bare", name: "No address" },
      ],
    });
    await t.idle();
    expect(t.outbox.filter((m) => m.recipient_ref === "reachable").map((m) => m.step_ref)).toEqual([
      "email_1",
      "sms_1",
      "push_1",
      "chat_1",
    ]);
    expect(t.outbox.find((m) => m.step_ref === "push_1")?.channel_data).toEqual({
      tokens: ["tok"],
    });
    expect(skipped.map((e) => [e.recipient, e.step_ref, e.reason])).toEqual([
      ["bare", "email_1", "no_channel_data"],
      ["bare", "sms_1", "no_channel_data"],
      ["bare", "push_1", "no_channel_data"],
      ["bare", "chat_1", "no_channel_data"],
    ]);
    expect(skipped.find((e) => e.step_ref === "chat_1")?.detail).toContain(
      'no channel data for this channel (channel "slack", type chat)',
    );
  });

  it("never marks push or chat messages above sent, whatever the provider answers", async () => {
    const delivered = { send: async () => ({ status: "delivered" as const }) };
    const t = createTestEngine({
      channels: [
        { key: "apns", type: "push", provider: delivered },
        { key: "slack", type: "chat", provider: delivered },
        { key: "postmark", type: "email", provider: delivered },
      ],
      workflows: [
        {
          key: "status",
          steps: [
            { ref: "push_1", type: "channel", channel_key: "apns", template: { title: "p" } },
            {
              ref: "chat_1",
              type: "channel",
              channel_key: "slack",
              template: { markdown_body: "c" },
            },
            {
              ref: "email_1",
              type: "channel",
              channel_key: "postmark",
              template: { subject: "e" },
            },
          ],
        },
      ],
    });
    const events: string[] = [];
    for (const name of ["message.sent", "message.delivered"] as const)
      t.on(name, (e) => events.push(`${name}:${e.message.source.step_ref}`));
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.setChannelData("u1", "apns", { data: { tokens: ["tok"] } });
    await t.users.setChannelData("u1", "slack", { data: { token: "x" } });
    await t.workflows.trigger("status", { recipients: ["u1"] });
    await t.idle();
    const { items } = await t.messages.list();
    const byStep = Object.fromEntries(items.map((m) => [m.source.step_ref, m.status]));
    expect(byStep).toEqual({ push_1: "sent", chat_1: "sent", email_1: "delivered" });
    expect(events.sort()).toEqual([
      "message.delivered:email_1",
      "message.sent:chat_1",
      "message.sent:push_1",
    ]);
  });

  it("renders a template key named __proto__ as an own key of the content", async () => {
    const template = JSON.parse(
      '{"subject":"hi {{ recipient.id }}","__proto__":{"polluted":"{{ recipient.id }}"}}',
    );
    const t = createTestEngine({
      workflows: [
        {
          key: "proto",
          steps: [{ ref: "email_1", type: "channel", channel_key: "email", template }],
        },
      ],
    });
    await t.workflows.trigger("proto", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.idle();
    const content = t.outbox[0]?.content as Record<string, unknown>;
    expect(content.subject).toBe("hi u1");
    expect(Object.getPrototypeOf(content)).toBe(Object.prototype);
    expect(content.polluted).toBeUndefined();
    expect(Object.keys(content)).toEqual(["subject", "__proto__"]);
    expect(Object.getOwnPropertyDescriptor(content, "__proto__")?.value).toEqual({
      polluted: "u1",
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("stores in-app messages as delivered, without any provider", async () => {
    const engine = createEngine({
      workflows: [feedWorkflow()],
      channels: [{ key: "in-app", type: "in_app_feed" }],
    });
    await engine.workflows.trigger("comment-created", {
      recipients: ["u1"].map((id) => ({ id })),
      actor: { id: "ann", name: "Ann" },
      data: { comment: "Nice!" },
    });
    await engine.idle();
    const { items } = await engine.users.listMessages("u1");
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      status: "delivered",
      channel_id: "in-app",
      content: { markdown_body: "Ann commented: Nice!" },
      actors: ["ann"],
    });
    await engine.close();
  });

  it("sends webhooks through the fetch option, delivered on 2xx", async () => {
    const calls: Array<{
      url: string;
      method: string;
      body: string | undefined;
      auth: string | null;
    }> = [];
    const fetchStub: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      calls.push({
        url: String(input),
        method: String(init?.method),
        body: init?.body as string | undefined,
        auth: headers.get("authorization"),
      });
      return new Response("{}", { status: 200 });
    };
    const engine = createEngine({
      fetch: fetchStub,
      channels: [{ key: "hooks", type: "http" }],
      workflows: [
        {
          key: "hooked",
          steps: [
            {
              ref: "webhook_1",
              type: "channel",
              channel_key: "hooks",
              template: {
                url: "https://hooks.example.com/{{ recipient.id }}",
                method: "post",
                headers: [{ key: "Authorization", value: "Bearer {{ vars.token }}" }],
                query_params: [{ key: "wf", value: "{{ workflow.key }}" }],
                body: '{"order":"{{ data.order }}"}',
              },
            },
          ],
        },
      ],
      vars: { token: "secret" },
    });
    await engine.workflows.trigger("hooked", {
      recipients: ["u1"].map((id) => ({ id })),
      data: { order: "o-1" },
    });
    await engine.idle();
    expect(calls).toEqual([
      {
        url: "https://hooks.example.com/u1?wf=hooked",
        method: "POST",
        body: '{"order":"o-1"}',
        auth: "Bearer secret",
      },
    ]);
    expect((await engine.messages.list()).items[0]?.status).toBe("delivered");
    await engine.close();
  });

  it("retries a failing provider with backoff, three attempts in all, then marks the message undelivered and goes on", async () => {
    let calls = 0;
    const t = createTestEngine({
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async () => {
              calls += 1;
              throw new Error("SMTP down");
            },
          },
        },
      ],
      workflows: [
        {
          key: "flaky",
          steps: [
            { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "s" } },
            {
              ref: "in_app_1",
              type: "channel",
              channel_key: "in_app_feed",
              template: { markdown_body: "still here" },
            },
          ],
        },
      ],
    });
    const undelivered: string[] = [];
    t.on("message.undelivered", (e) => undelivered.push(e.error ?? ""));
    await t.workflows.trigger("flaky", { recipients: [{ id: "u1", email: "a@example.com" }] });
    await t.idle();
    expect(calls).toBe(1);
    // The run went on while the email waits for its retry.
    expect(t.outbox.map((m) => m.step_ref)).toEqual(["in_app_1"]);
    await t.clock.advance("999ms");
    expect(calls).toBe(1);
    await t.clock.advance("1ms");
    expect(calls).toBe(2);
    await t.clock.advance("4s");
    expect(calls).toBe(3);
    await t.clock.advance("1h");
    expect(calls).toBe(3);
    expect(undelivered).toEqual(["SMTP down"]);
    const email = (await t.messages.list({ channel_id: "email" })).items[0];
    expect(email).toMatchObject({ status: "undelivered", attempts: 3, last_error: "SMTP down" });
    const run = await t.workflowRecipientRuns.get(email?.source.workflow_recipient_run_id ?? "");
    expect(run.events?.filter((e) => e.event === "delivery_failed").map((e) => e.attempt)).toEqual([
      1, 2,
    ]);
    expect(run.events?.some((e) => e.event === "message_undelivered" && e.attempt === 3)).toBe(
      true,
    );
  });

  it("recovers when a retry succeeds", async () => {
    let calls = 0;
    const t = createTestEngine({
      channels: [
        {
          key: "sms",
          type: "sms",
          provider: {
            send: async () => {
              calls += 1;
              if (calls === 1) throw new Error("timeout");
              return { status: "delivered", provider_message_id: "tw-1" };
            },
          },
        },
      ],
      workflows: [
        {
          key: "texts",
          steps: [
            { ref: "sms_1", type: "channel", channel_key: "sms", template: { text_body: "hi" } },
          ],
        },
      ],
    });
    await t.workflows.trigger("texts", {
      recipients: [{ id: "u1", phone_number: "+15555550100" }],
    });
    await t.clock.advance("1s");
    const [message] = (await t.messages.list()).items;
    expect(message).toMatchObject({
      status: "delivered",
      attempts: 2,
      provider_message_id: "tw-1",
      last_error: null,
    });
  });

  it("rejects a workflow whose template does not parse, naming the field", async () => {
    const t = createTestEngine();
    await expect(
      t.workflows.upsert({
        key: "bad-template",
        steps: [
          {
            ref: "email_1",
            type: "channel",
            channel_key: "email",
            template: { subject: "{{ data.x | no_such_filter }}" },
          },
        ],
      }),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "steps[0].template.subject" })],
    });
    await expect(t.workflows.get("bad-template")).rejects.toMatchObject({ code: "not_found" });
  });
});
