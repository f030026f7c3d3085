import { describe, expect, it } from "vitest";
import type { RunStatusEvent, Step, StepSkippedEvent, WorkflowInput } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const email = (ref: string, subject: string, extra: Partial<Step> = {}): Step =>
  ({ ref, type: "channel", channel_key: "email", template: { subject }, ...extra }) as Step;

function engine(workflows: WorkflowInput[], options: Parameters<typeof createTestEngine>[0] = {}) {
  const t = createTestEngine({ workflows, ...options });
  const skipped: StepSkippedEvent[] = [];
  t.on("step.skipped", (e) => skipped.push(e));
  return { t, skipped };
}

const user = (id: string) => ({ id, email: `${id}@example.com`, name: id.toUpperCase() });

describe("delay", () => {
  it("parks the run (paused) until the delay is over, then goes on", async () => {
    const { t } = engine([
      {
        key: "later",
        steps: [
          { ref: "wait", type: "delay", settings: { delay_for: { unit: "days", value: 3 } } },
          email("email_1", "done"),
        ],
      },
    ]);
    const paused: RunStatusEvent[] = [];
    t.on("run.paused", (e) => paused.push(e));
    await t.workflows.trigger("later", { recipients: [user("u1")] });
    await t.idle();
    expect(paused).toHaveLength(1);
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("paused");
    await t.clock.advance({ unit: "days", value: 3 });
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["done"]);
    expect((await t.workflowRecipientRuns.get(run?.id ?? "")).status).toBe("completed");
  });

  it("delays until a timestamp or Duration read from the data, and skips an invalid one", async () => {
    const { t, skipped } = engine([
      {
        key: "until",
        steps: [
          { ref: "wait", type: "delay", settings: { delay_until_field_path: "data.send_at" } },
          email("email_1", "{{ data.label }}"),
        ],
      },
    ]);
    await t.workflows.trigger("until", {
      recipients: [user("a")],
      data: { send_at: "2026-01-01T05:00:00Z", label: "iso" },
    });
    await t.workflows.trigger("until", {
      recipients: [user("b")],
      data: { send_at: { unit: "hours", value: 2 }, label: "duration" },
    });
    await t.workflows.trigger("until", {
      recipients: [user("c")],
      data: { send_at: "not a date", label: "invalid" },
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid"]);
    expect(skipped.map((e) => [e.step_ref, e.reason])).toEqual([["wait", "invalid_settings"]]);
    await t.clock.advance("2h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid", "duration"]);
    await t.clock.advanceTo("2026-01-01T05:00:00Z");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid", "duration", "iso"]);
  });
});

describe("batch", () => {
  const digest = (
    settings: Record<string, unknown>,
    subject = "{{ total_activities }} comments by {{ actors | map: 'name' | join: ', ' }}",
  ): WorkflowInput => ({
    key: "digest",
    steps: [
      {
        ref: "batch",
        type: "batch",
        settings: { batch_window: { unit: "minutes", value: 10 }, ...settings },
      } as Step,
      email("email_1", subject),
    ],
  });

  it("collects triggers in a fixed window and sends once with activities and actors", async () => {
    const { t } = engine([digest({})]);
    await t.users.update("u1", { email: "u1@example.com" });
    for (const [i, actor] of ["ann", "bob", "ann"].entries()) {
      await t.workflows.trigger("digest", {
        recipients: ["u1"],
        actor: { id: actor, name: actor.toUpperCase() },
        data: { n: i },
      });
      await t.clock.advance("1m");
    }
    expect(t.outbox).toHaveLength(0);
    await t.clock.advance("7m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["3 comments by ANN, BOB"]);
    expect(t.outbox[0]?.data).toEqual({ n: 2 });
    const runs = (await t.workflowRecipientRuns.list()).entries;
    expect(runs.map((r) => r.status).sort()).toEqual(["completed", "completed", "completed"]);
  });

  it("opens one batch for two triggers that arrive together", async () => {
    const { t } = engine([digest({})]);
    await t.users.update("u1", { email: "u1@example.com" });
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        t.workflows.trigger("digest", { recipients: ["u1"], actor: `a${n}`, data: { n } }),
      ),
    );
    await t.clock.advance("10m");
    expect(t.outbox).toHaveLength(1);
    expect(t.outbox[0]?.content.subject).toMatch(/^4 comments/);
  });

  it("keeps separate batches per recipient and batch_key", async () => {
    const { t } = engine([
      digest({ batch_key: "data.doc" }, "{{ total_activities }} on {{ data.doc }}"),
    ]);
    await t.workflows.trigger("digest", {
      recipients: [user("u1"), user("u2")],
      data: { doc: "a" },
    });
    await t.workflows.trigger("digest", { recipients: [user("u1")], data: { doc: "a" } });
    await t.workflows.trigger("digest", { recipients: [user("u1")], data: { doc: "b" } });
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`).sort()).toEqual([
      "u1:1 on b",
      "u1:2 on a",
      "u2:1 on a",
    ]);
  });

  it("closes early at batch_items_max_limit, and the next trigger opens a new batch", async () => {
    const { t } = engine([digest({ batch_items_max_limit: 2 }, "{{ total_activities }}")]);
    await t.users.update("u1", { email: "u1@example.com" });
    for (let i = 0; i < 3; i++) await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.idle();
    await t.clock.advance("1s");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["2"]);
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["2", "1"]);
  });

  it("slides the window with each trigger, up to the extension limit", async () => {
    const { t } = engine([
      digest(
        {
          batch_window_type: "sliding",
          batch_window_extension_limit: { unit: "minutes", value: 25 },
        },
        "{{ total_activities }}",
      ),
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    await t.workflows.trigger("digest", { recipients: ["u1"] }); // closes at 10m
    await t.clock.advance("8m");
    await t.workflows.trigger("digest", { recipients: ["u1"] }); // slides to 18m
    await t.clock.advance("8m");
    await t.workflows.trigger("digest", { recipients: ["u1"] }); // slides to 26m, capped at 25m
    await t.clock.advance("8m"); // 24m
    expect(t.outbox).toHaveLength(0);
    await t.clock.advance("1m"); // 25m
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["3"]);
  });

  it("renders at most batch_items_render_limit activities, newest first with batch_order desc", async () => {
    const { t } = engine([
      digest(
        { batch_order: "desc", batch_items_render_limit: 2 },
        "{{ activities | map: 'data' | map: 'n' | join: ',' }} of {{ total_activities }}",
      ),
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    // Each trigger reaches the batch before the next one is made: batch order is arrival order,
    // and with a concurrent (durable) queue, triggers made back to back may arrive in any order.
    for (let n = 1; n <= 4; n++) {
      await t.workflows.trigger("digest", { recipients: ["u1"], data: { n } });
      await t.idle();
    }
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["4,3 of 4"]);
  });

  it("flush_leading sends the first trigger at once and batches the rest", async () => {
    const { t } = engine([
      digest({ batch_execution_mode: "flush_leading" }, "{{ total_activities }}"),
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.idle();
    // The leading trigger goes on as if unbatched: no batch variables in its scope.
    expect(t.outbox.map((m) => m.content.subject)).toEqual([""]);
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "2"]);
    // A leading trigger alone: the batch closes with nothing after it and sends nothing more.
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "2", ""]);
  });
});

describe("throttle", () => {
  it("lets throttle_limit runs through per window and stops the others", async () => {
    const { t } = engine([
      {
        key: "alerts",
        steps: [
          {
            ref: "throttle",
            type: "throttle",
            settings: {
              throttle_window: { unit: "hours", value: 1 },
              throttle_limit: 2,
              throttle_key: "{{ data.service }}",
            },
          },
          email("email_1", "{{ data.service }}"),
        ],
      },
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    for (const service of ["api", "api", "api", "db"])
      await t.workflows.trigger("alerts", { recipients: ["u1"], data: { service } });
    await t.idle();
    // Sorted: runs of separate triggers may finish in any order on a concurrent (durable) queue.
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual(["api", "api", "db"]);
    const throttled = (await t.workflowRecipientRuns.list()).entries.filter(
      (r) => r.status === "completed",
    );
    expect(throttled).toHaveLength(4);
    await t.clock.advance("1h");
    await t.workflows.trigger("alerts", { recipients: ["u1"], data: { service: "api" } });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject).slice(3)).toEqual(["api"]);
    expect(t.outbox).toHaveLength(4);
  });
});

describe("http_fetch", () => {
  it("merges the JSON answer into data", async () => {
    const calls: string[] = [];
    const fetchStub: typeof fetch = async (input, init) => {
      calls.push(`${init?.method} ${String(input)}`);
      return Response.json({ order: { total: 42 }, status: "paid" });
    };
    const { t } = engine(
      [
        {
          key: "receipt",
          steps: [
            {
              ref: "fetch",
              type: "http_fetch",
              settings: { url: "https://shop.example/orders/{{ data.order_id }}", method: "get" },
            },
            email("email_1", "{{ data.status }} {{ data.order.total }}"),
          ],
        },
      ],
      { fetch: fetchStub },
    );
    await t.workflows.trigger("receipt", { recipients: [user("u1")], data: { order_id: "o7" } });
    await t.idle();
    expect(calls).toEqual(["GET https://shop.example/orders/o7"]);
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["paid 42"]);
  });

  it("retries after 30 s and 60 s, then halts the run with the error logged", async () => {
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls += 1;
      return new Response("nope", { status: 503, statusText: "Service Unavailable" });
    };
    const { t } = engine(
      [
        {
          key: "receipt",
          steps: [
            { ref: "fetch", type: "http_fetch", settings: { url: "https://shop.example/x" } },
            email("email_1", "never"),
          ],
        },
      ],
      { fetch: fetchStub },
    );
    await t.workflows.trigger("receipt", { recipients: [user("u1")] });
    await t.idle();
    expect(calls).toBe(1);
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("paused");
    await t.clock.advance("30s");
    expect(calls).toBe(2);
    await t.clock.advance("60s");
    expect(calls).toBe(3);
    await t.clock.advance("1h");
    expect(calls).toBe(3);
    const detail = await t.workflowRecipientRuns.get(run?.id ?? "");
    expect(detail).toMatchObject({ status: "completed", error_count: 1 });
    expect(
      detail.events?.filter((e) => e.event.startsWith("fetch_")).map((e) => [e.event, e.attempt]),
    ).toEqual([
      ["fetch_retrying", 1],
      ["fetch_retrying", 2],
      ["fetch_failed", 3],
    ]);
    expect(t.outbox).toHaveLength(0);
  });
});

describe("trigger_workflow", () => {
  it("triggers another workflow for the same recipient with Knock's defaults, once", async () => {
    const { t } = engine([
      {
        key: "parent",
        steps: [
          { ref: "child", type: "trigger_workflow", settings: { workflow_key: "child-flow" } },
        ],
      },
      { key: "child-flow", steps: [email("email_1", "{{ data.from }} via {{ actor.id }}")] },
    ]);
    await t.workflows.trigger("parent", {
      recipients: [user("u1")],
      actor: "boss",
      data: { from: "parent" },
    });
    await t.idle();
    expect(t.outbox.map((m) => [m.recipient_ref, m.content.subject])).toEqual([
      ["u1", "parent via boss"],
    ]);
    const child = (await t.workflowRecipientRuns.list({ workflow: "child-flow" })).entries[0];
    expect(child?.trigger_source).toMatchObject({ type: "workflow_step" });
  });

  it("skips an inactive target", async () => {
    const { t, skipped } = engine([
      {
        key: "parent",
        steps: [
          { ref: "child", type: "trigger_workflow", settings: { workflow_key: "child-flow" } },
        ],
      },
      { key: "child-flow", active: false, steps: [email("email_1", "x")] },
    ]);
    await t.workflows.trigger("parent", { recipients: [user("u1")] });
    await t.idle();
    expect(skipped.map((e) => [e.step_ref, e.reason])).toEqual([["child", "inactive_workflow"]]);
  });
});

describe("message status conditions", () => {
  it("reads refs.<step>.delivery_status of an earlier step", async () => {
    const { t } = engine([
      {
        key: "escalate",
        steps: [
          email("email_1", "first"),
          email("email_2", "follow-up", {
            conditions: {
              all: [
                {
                  variable: "refs.email_1.delivery_status",
                  operator: "greater_than_or_equal_to",
                  argument: "$message.sent",
                },
              ],
            },
          }),
        ],
      },
    ]);
    await t.workflows.trigger("escalate", { recipients: [user("u1"), { id: "no-email" }] });
    await t.idle();
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`)).toEqual([
      "u1:first",
      "u1:follow-up",
    ]);
  });
});

describe("cancellation", () => {
  const delayed: WorkflowInput = {
    key: "reminder",
    steps: [
      { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
      email("email_1", "reminder"),
    ],
  };

  it("cancels runs parked on a delay, for every recipient or only some", async () => {
    const { t } = engine([delayed]);
    const cancelled: string[] = [];
    t.on("run.cancelled", (e) => cancelled.push(String(e.recipient)));
    await t.workflows.trigger("reminder", {
      recipients: [user("a"), user("b"), user("c")],
      cancellation_key: "k1",
    });
    await t.workflows.trigger("reminder", { recipients: [user("d")], cancellation_key: "k2" });
    await t.idle();
    await t.workflows.cancel("reminder", { cancellation_key: "k1", recipients: ["a"] });
    await t.workflows.cancel("reminder", { cancellation_key: "k2" });
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.recipient_ref).sort()).toEqual(["b", "c"]);
    expect(cancelled.sort()).toEqual(["a", "d"]);
    const statuses = (await t.workflowRecipientRuns.list()).entries
      .map((r) => `${r.recipient}:${r.status}`)
      .sort();
    expect(statuses).toEqual(["a:cancelled", "b:completed", "c:completed", "d:cancelled"]);
  });

  it("leaves finished runs alone and is scoped per workflow", async () => {
    const { t } = engine([
      delayed,
      { key: "instant", steps: [email("email_1", "now")] },
      { ...delayed, key: "other" },
    ]);
    await t.workflows.trigger("instant", { recipients: [user("a")], cancellation_key: "k" });
    await t.workflows.trigger("other", { recipients: [user("a")], cancellation_key: "k" });
    await t.idle();
    await t.workflows.cancel("instant", { cancellation_key: "k" });
    await t.workflows.cancel("reminder", { cancellation_key: "k" });
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["now", "reminder"]);
    expect((await t.workflowRecipientRuns.list({ workflow: "instant" })).entries[0]?.status).toBe(
      "completed",
    );
  });

  it("cancels a trigger's runs even when the cancel arrives before they are created", async () => {
    const { t } = engine([delayed]);
    await t.workflows.trigger("reminder", { recipients: [user("a")], cancellation_key: "fast" });
    // No idle: the fan-out job has not run yet.
    await t.workflows.cancel("reminder", { cancellation_key: "fast" });
    await t.clock.advance("2h");
    expect(t.outbox).toHaveLength(0);
    expect((await t.workflowRecipientRuns.list()).entries.map((r) => r.status)).toEqual([
      "cancelled",
    ]);
    // A later trigger with the same key is not affected.
    await t.workflows.trigger("reminder", { recipients: [user("a")], cancellation_key: "fast" });
    await t.clock.advance("2h");
    expect(t.outbox).toHaveLength(1);
  });

  it("removes a cancelled activity from its batch without closing the window", async () => {
    const { t } = engine([
      {
        key: "digest",
        steps: [
          {
            ref: "batch",
            type: "batch",
            settings: { batch_window: { unit: "minutes", value: 10 } },
          },
          email("email_1", "{{ total_activities }}"),
        ],
      },
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    // One at a time, so that "keep-1" opens the batch on any queue (with a concurrent durable
    // queue, triggers made back to back reach the batch in any order).
    for (const key of ["keep-1", "drop", "keep-2"]) {
      await t.workflows.trigger("digest", { recipients: ["u1"], cancellation_key: key });
      await t.idle();
    }
    await t.workflows.cancel("digest", { cancellation_key: "drop" });
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["2"]);
  });

  it("rejects a bad cancel with a clear error", async () => {
    const { t } = engine([delayed]);
    await expect(t.workflows.cancel("reminder", {} as never)).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "cancellation_key" })],
    });
    await expect(t.workflows.cancel("missing", { cancellation_key: "k" })).rejects.toMatchObject({
      code: "workflow_missing",
    });
  });
});

describe("real time and virtual time", () => {
  it("give the same results on the system clock as on the test clock", async () => {
    const workflow: WorkflowInput = {
      key: "timed",
      steps: [
        { ref: "batch", type: "batch", settings: { batch_window: { unit: "seconds", value: 1 } } },
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "seconds", value: 1 } } },
        email("email_1", "{{ total_activities }} for {{ recipient.id }}"),
      ],
    };
    const scenario = async (t: {
      workflows: { trigger: (key: string, params: { recipients: unknown[] }) => Promise<unknown> };
    }) => {
      for (const id of ["a", "b", "a"])
        await t.workflows.trigger("timed", { recipients: [user(id)] });
    };
    const virtual = createTestEngine({ workflows: [workflow] });
    await scenario(virtual as never);
    await virtual.clock.advance("3s");

    const sent: string[] = [];
    const { createEngine } = await import("../../src/index.js");
    const real = createEngine({
      workflows: [workflow],
      channels: [
        {
          key: "email",
          type: "email",
          provider: { send: async (m) => void sent.push(String(m.content.subject)) },
        },
      ],
    });
    await scenario(real as never);
    // Real time: wait (up to 10 s on a slow machine) for the two digests the virtual run sent.
    for (let waited = 0; sent.length < 2 && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await real.idle();
    await real.close();
    expect(sent.sort()).toEqual(virtual.outbox.map((m) => String(m.content.subject)).sort());
    expect(sent.sort()).toEqual(["1 for b", "2 for a"]);
  });
});

describe("cancelling a fetch backoff", () => {
  it("stops a run waiting to retry its fetch", async () => {
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls += 1;
      throw new Error("connection refused");
    };
    const { t } = engine(
      [
        {
          key: "receipt",
          steps: [
            { ref: "fetch", type: "http_fetch", settings: { url: "https://shop.example/x" } },
            email("email_1", "never"),
          ],
        },
      ],
      { fetch: fetchStub },
    );
    await t.workflows.trigger("receipt", { recipients: [user("u1")], cancellation_key: "order-1" });
    await t.idle();
    await t.workflows.cancel("receipt", { cancellation_key: "order-1" });
    await t.clock.advance("5m");
    expect(calls).toBe(1);
    expect((await t.workflowRecipientRuns.list()).entries[0]?.status).toBe("cancelled");
  });
});
