import { afterEach, describe, expect, it, vi } from "vitest";
import {
  memoryQueue,
  memoryStore,
  type RunStatusEvent,
  type Step,
  type StepSkippedEvent,
  type Store,
  type WorkflowInput,
} from "../../src/index.js";
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

afterEach(() => {
  vi.restoreAllMocks();
});

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
    // A timestamp already past: skipped as well (Knock: it must be in the future); the run goes on.
    await t.workflows.trigger("until", {
      recipients: [user("d")],
      data: { send_at: "2025-12-31T00:00:00Z", label: "past" },
    });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid", "past"]);
    expect(skipped.map((e) => [e.recipient, e.reason])).toEqual([
      ["c", "invalid_settings"],
      ["d", "invalid_settings"],
    ]);
    expect(skipped[1]?.detail).toContain("already past");
    await t.clock.advance("2h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid", "past", "duration"]);
    await t.clock.advanceTo("2026-01-01T05:00:00Z");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["invalid", "past", "duration", "iso"]);
  });

  it("rejects a static delay over 365 days at upsert, storing nothing", async () => {
    const { t } = engine([]);
    await expect(
      t.workflows.upsert({
        key: "too-long",
        steps: [
          { ref: "wait", type: "delay", settings: { delay_for: { unit: "days", value: 400 } } },
        ],
      }),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "steps[0].settings.delay_for", type: "maximum" })],
    });
    await expect(t.workflows.get("too-long")).rejects.toMatchObject({ code: "not_found" });
  });

  it("skips a delay read from the data that would wait over 365 days, and goes on", async () => {
    const { t, skipped } = engine([
      {
        key: "until",
        steps: [
          { ref: "wait", type: "delay", settings: { delay_until_field_path: "data.send_at" } },
          email("email_1", "{{ data.label }}"),
        ],
      },
    ]);
    const cases = [
      ["too-far-duration", { unit: "days", value: 366 }],
      ["too-far-months", { unit: "months", value: 13 }],
      ["too-far-date", "2027-01-02T00:00:01Z"],
      ["ok-date", "2026-12-31T00:00:00Z"],
      ["ok-months", { unit: "months", value: 12 }],
    ] as const;
    for (const [label, send_at] of cases)
      await t.workflows.trigger("until", { recipients: [user(label)], data: { send_at, label } });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject).sort()).toEqual([
      "too-far-date",
      "too-far-duration",
      "too-far-months",
    ]);
    // (In whatever order the runs ran: a durable queue runs them concurrently.)
    expect(skipped.map((e) => [e.recipient, e.reason]).sort()).toEqual([
      ["too-far-date", "invalid_settings"],
      ["too-far-duration", "invalid_settings"],
      ["too-far-months", "invalid_settings"],
    ]);
    expect(skipped.find((e) => e.recipient === "too-far-duration")?.detail).toMatch(
      /would wait 366\.0 days: expected at most 365 days/,
    );
    const waiting = (await t.workflowRecipientRuns.list({ status: ["paused"] })).entries;
    expect(waiting.map((r) => r.recipient).sort()).toEqual(["ok-date", "ok-months"]);
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

  it("renders at most batch_items_render_limit activities: the last ones with batch_order desc, oldest first", async () => {
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
    // Knock: the order picks which activities show; they are always listed oldest first.
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["3,4 of 4"]);
  });

  it("merges into data only the activities the batch shows", async () => {
    for (const [order, expected] of [
      ["asc", "n=2 early=1"],
      ["desc", "n=4 early="],
    ] as const) {
      const { t } = engine([
        digest(
          { batch_order: order, batch_items_render_limit: 2 },
          "n={{ data.n }} early={{ data.early }}",
        ),
      ]);
      await t.users.update("u1", { email: "u1@example.com" });
      for (let n = 1; n <= 4; n++) {
        // Only the first activity has `early`: merged only when it is among those shown.
        await t.workflows.trigger("digest", {
          recipients: ["u1"],
          data: n === 1 ? { n, early: 1 } : { n },
        });
        await t.idle();
      }
      await t.clock.advance("10m");
      expect(t.outbox.map((m) => m.content.subject)).toEqual([expected]);
    }
  });

  it("caps actors at the 10 most recent distinct ones, and counts every actor and activity", async () => {
    const { t } = engine([
      digest(
        {},
        "{{ actors | size }}/{{ total_actors }} actors, {{ activities | size }}/{{ total_activities }}: {{ actors | map: 'id' | join: ',' }}",
      ),
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    // 13 triggers by 12 distinct actors (a0 twice: first and last).
    const actors = [...Array.from({ length: 12 }, (_, i) => `a${i}`), "a0"];
    for (const actor of actors) {
      await t.workflows.trigger("digest", { recipients: ["u1"], actor });
      // Each joins the batch before the next is triggered (a durable queue runs them in any order).
      await t.idle();
    }
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual([
      "10/12 actors, 10/13: a0,a11,a10,a9,a8,a7,a6,a5,a4,a3",
    ]);
  });

  it("closes at the time or Duration read from batch_until_field_path, fixed by the first trigger", async () => {
    const { t, skipped } = engine([
      {
        key: "digest",
        steps: [
          { ref: "batch", type: "batch", settings: { batch_until_field_path: "data.close_at" } },
          email("email_1", "{{ total_activities }}"),
        ],
      },
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.update("u2", { email: "u2@example.com" });
    await t.users.update("u3", { email: "u3@example.com" });
    // u1: a timestamp 1 hour ahead; later triggers' own values do not move a fixed window.
    await t.workflows.trigger("digest", {
      recipients: ["u1"],
      data: { close_at: "2026-01-01T01:00:00Z" },
    });
    // The first opens the batch before the second arrives (on any queue).
    await t.idle();
    await t.workflows.trigger("digest", {
      recipients: ["u1"],
      data: { close_at: "2026-01-01T03:00:00Z" },
    });
    // u2: a Duration counted from the first trigger.
    for (let i = 0; i < 3; i++)
      await t.workflows.trigger("digest", {
        recipients: ["u2"],
        data: { close_at: { unit: "minutes", value: 90 } },
      });
    // u3: a value that is not a time skips the step, and the run goes on unbatched.
    await t.workflows.trigger("digest", { recipients: ["u3"], data: { close_at: "soon" } });
    await t.idle();
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`)).toEqual(["u3:"]);
    expect(skipped.map((e) => [e.recipient, e.step_ref, e.reason])).toEqual([
      ["u3", "batch", "invalid_settings"],
    ]);
    await t.clock.advance("59m");
    expect(t.outbox).toHaveLength(1);
    await t.clock.advance("1m");
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`)).toEqual(["u3:", "u1:2"]);
    await t.clock.advance("30m");
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`)).toEqual([
      "u3:",
      "u1:2",
      "u2:3",
    ]);
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
    // Long after, two triggers at once: the first leads a new batch (sent at once, unbatched),
    // the second waits for that batch's window.
    await t.clock.advance("1d");
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "2", "", ""]);
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "2", "", "", "1"]);
  });

  it("resumes the continuing run once when two close jobs of its batch race", async () => {
    // flush_leading gives a batch two close jobs due at once (the leading run's and the
    // continuing run's). The second, a little late (another worker), must find the run resumed
    // while its run job is still under way (a slow provider), and leave it alone.
    const base = memoryStore();
    let closes = 0;
    const store: Store = {
      ...base,
      async closeBatch(id, now, force) {
        if (++closes === 2) await new Promise((resolve) => setTimeout(resolve, 15));
        return base.closeBatch(id, now, force);
      },
    };
    const { t } = engine(
      [digest({ batch_execution_mode: "flush_leading" }, "{{ total_activities }}")],
      {
        store,
        // The memory queue runs both close jobs at once, which is the race (on the durable runs
        // of this file too: a BullMQ queue may run them one after the other).
        queue: memoryQueue(),
        channels: [
          {
            key: "email",
            type: "email",
            provider: { send: () => new Promise((resolve) => setTimeout(resolve, 40)) },
          },
        ],
      },
    );
    await t.users.update("u1", { email: "u1@example.com" });
    for (let i = 0; i < 2; i++) {
      await t.workflows.trigger("digest", { recipients: ["u1"], data: { n: i } });
      await t.idle();
      await t.clock.advance("1m");
    }
    await t.clock.advance("30m");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await t.idle();
    expect(closes).toBe(2);
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "1"]);
    const runs = await Promise.all(
      (await t.workflowRecipientRuns.list()).entries.map((run) =>
        t.workflowRecipientRuns.get(run.id),
      ),
    );
    expect(runs.map((run) => run.status)).toEqual(["completed", "completed"]);
    const continuing = runs.find((run) => run.events?.some((e) => e.event === "batch_closed"));
    expect(continuing?.events?.filter((e) => e.event === "batch_closed")).toHaveLength(1);
  });

  it("flush_leading: a batch that a trigger joins just before it closes still resumes that trigger's run", async () => {
    const { t } = engine([
      digest({ batch_execution_mode: "flush_leading" }, "{{ total_activities }}"),
    ]);
    await t.users.update("u1", { email: "u1@example.com" });
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.clock.advance(10 * 60_000 - 1);
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.clock.advance("1m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["", "1"]);
    const runs = (await t.workflowRecipientRuns.list()).entries;
    expect(runs.map((run) => run.status)).toEqual(["completed", "completed"]);
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

  const fromData: WorkflowInput = {
    key: "alerts",
    steps: [
      {
        ref: "throttle",
        type: "throttle",
        settings: { throttle_window_field_path: "data.window" },
      },
      email("email_1", "{{ data.n }}"),
    ],
  };

  it("reads the window from throttle_window_field_path", async () => {
    const { t } = engine([fromData]);
    await t.users.update("u1", { email: "u1@example.com" });
    const window = { unit: "minutes", value: 30 };
    for (const n of [1, 2]) {
      await t.workflows.trigger("alerts", { recipients: ["u1"], data: { n, window } });
      await t.idle();
    }
    await t.clock.advance("29m");
    await t.workflows.trigger("alerts", { recipients: ["u1"], data: { n: 3, window } });
    await t.clock.advance("1m"); // the window that opened with the first trigger is over
    await t.workflows.trigger("alerts", { recipients: ["u1"], data: { n: 4, window } });
    await t.idle();
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["1", "4"]);
  });

  it("rejects a static window over 31 days at upsert, and skips one read from the data", async () => {
    const { t, skipped } = engine([fromData]);
    await expect(
      t.workflows.upsert({
        key: "monthly",
        steps: [
          {
            ref: "gate",
            type: "throttle",
            settings: { throttle_window: { unit: "days", value: 32 } },
          },
        ],
      }),
    ).rejects.toMatchObject({
      errors: [
        expect.objectContaining({ field: "steps[0].settings.throttle_window", type: "maximum" }),
      ],
    });
    await expect(t.workflows.get("monthly")).rejects.toMatchObject({ code: "not_found" });
    await t.users.update("u1", { email: "u1@example.com" });
    // Over the limit (or missing, or not positive): the step is skipped and nothing is throttled.
    for (const [n, window] of [
      [1, { unit: "weeks", value: 5 }],
      [2, { unit: "weeks", value: 5 }],
      [3, { unit: "days", value: 0 }],
    ] as const) {
      await t.workflows.trigger("alerts", { recipients: ["u1"], data: { n, window } });
      await t.idle();
    }
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["1", "2", "3"]);
    expect(skipped.map((e) => e.reason)).toEqual([
      "invalid_settings",
      "invalid_settings",
      "invalid_settings",
    ]);
    expect(skipped[0]?.detail).toMatch(/5 weeks \(35 days\): expected a window of at most 31 days/);
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

  it("gives each request a 15-second timeout signal, and retries a request that timed out", async () => {
    // The timeout is real time: the test takes the signal's place instead of waiting 15 s.
    const timeouts: number[] = [];
    const controllers: AbortController[] = [];
    vi.spyOn(AbortSignal, "timeout").mockImplementation((ms: number) => {
      timeouts.push(ms);
      const controller = new AbortController();
      controllers.push(controller);
      return controller.signal;
    });
    let called: () => void = () => {};
    const firstCall = new Promise<void>((resolve) => {
      called = resolve;
    });
    let calls = 0;
    const signals: Array<AbortSignal | null | undefined> = [];
    const fetchStub: typeof fetch = (_input, init) => {
      calls += 1;
      signals.push(init?.signal);
      if (calls > 1) return Promise.resolve(Response.json({ late: "answer" }));
      called();
      // Hangs until the signal aborts, then rejects as fetch does: with the signal's reason.
      return new Promise((_resolve, reject) => {
        const signal = init?.signal;
        if (!signal) return reject(new Error("no signal given to fetch"));
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    };
    const { t } = engine(
      [
        {
          key: "receipt",
          steps: [
            { ref: "fetch", type: "http_fetch", settings: { url: "https://slow.example/x?t=1" } },
            email("email_1", "{{ data.late }}"),
          ],
        },
      ],
      { fetch: fetchStub },
    );
    await t.workflows.trigger("receipt", { recipients: [user("u1")] });
    await firstCall;
    expect(timeouts).toEqual([15_000]);
    // The request carries the timeout's own signal.
    expect(signals[0]).toBe(controllers[0]?.signal);
    controllers[0]?.abort(new DOMException("The operation timed out.", "TimeoutError"));
    await t.idle();
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("paused");
    const log = (await t.workflowRecipientRuns.get(run?.id ?? "")).events ?? [];
    expect(log.find((e) => e.event === "fetch_retrying")?.data.error).toBe(
      "GET https://slow.example/x did not answer within 15 s (the step's timeout)",
    );
    await t.clock.advance("30s");
    expect(timeouts).toEqual([15_000, 15_000]);
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["answer"]);
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

  it("reads refs.<step>.* in branch conditions too", async () => {
    const { t } = engine([
      {
        key: "escalate",
        steps: [
          email("email_1", "first"),
          {
            ref: "route",
            type: "branch",
            branches: [
              {
                name: "sent",
                conditions: {
                  all: [
                    {
                      variable: "refs.email_1.delivery_status",
                      operator: "greater_than_or_equal_to",
                      argument: "$message.sent",
                    },
                  ],
                },
                steps: [email("email_2", "follow-up")],
              },
              { name: "default", conditions: null, steps: [email("email_3", "fallback")] },
            ],
          } as Step,
        ],
      },
    ]);
    await t.workflows.trigger("escalate", { recipients: [user("u1"), { id: "no-email" }] });
    await t.idle();
    // u1's first email was sent: the "sent" arm. no-email has no message: the default arm
    // (which has no address to send to either).
    expect(t.outbox.map((m) => `${m.recipient_ref}:${m.content.subject}`)).toEqual([
      "u1:first",
      "u1:follow-up",
    ]);
    const runs = (await t.workflowRecipientRuns.list()).entries;
    const taken = await Promise.all(
      runs.map(async (run) => {
        const log = (await t.workflowRecipientRuns.get(run.id)).events ?? [];
        return [run.recipient, log.find((e) => e.event === "branch_taken")?.data.branch];
      }),
    );
    expect(taken.sort()).toEqual([
      ["no-email", "default"],
      ["u1", "sent"],
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

  it("never cancels a trigger made after the cancel, even within the same instant", async () => {
    const { t } = engine([delayed]);
    await t.workflows.trigger("reminder", { recipients: [user("a")], cancellation_key: "k" });
    await t.workflows.cancel("reminder", { cancellation_key: "k" });
    // Same virtual millisecond: only the order of the calls tells them apart.
    await t.workflows.trigger("reminder", { recipients: [user("b")], cancellation_key: "k" });
    await t.clock.advance("2h");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["b"]);
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

  describe("cancelling a batch's activities", () => {
    const digestSteps = (settings: Record<string, unknown> = {}): WorkflowInput => ({
      key: "digest",
      steps: [
        {
          ref: "batch",
          type: "batch",
          settings: { batch_window: { unit: "minutes", value: 10 }, ...settings },
        } as Step,
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "minutes", value: 5 } } },
        email(
          "email_1",
          "{{ total_activities }}: {{ activities | map: 'data' | map: 'n' | join: ',' }}",
        ),
      ],
    });
    // One at a time, so that the batch holds them in this order on any queue.
    const triggerAll = async (t: ReturnType<typeof engine>["t"], keys: string[]) => {
      for (const [n, key] of keys.entries()) {
        await t.workflows.trigger("digest", {
          recipients: ["u1"],
          cancellation_key: key,
          data: { n },
        });
        await t.idle();
      }
    };

    it("still sends the others when the run that opened the batch is cancelled", async () => {
      const { t } = engine([digestSteps()]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["opener", "keep-1", "keep-2"]);
      await t.workflows.cancel("digest", { cancellation_key: "opener" });
      // The window is unchanged: nothing is sent before it closes (plus the delay after it).
      await t.clock.advance("14m");
      expect(t.outbox).toHaveLength(0);
      await t.clock.advance("1m");
      expect(t.outbox.map((m) => m.content.subject)).toEqual(["2: 1,2"]);
      const runs = (await t.workflowRecipientRuns.list()).entries;
      const byKey = new Map(runs.map((r) => [r.trigger_source.cancellation_key, r]));
      expect(byKey.get("opener")?.status).toBe("cancelled");
      // The earliest remaining activity's run went on with the batch, through the delay after it.
      const continued = byKey.get("keep-1");
      expect(continued?.status).toBe("completed");
      expect(t.outbox[0]?.workflow_recipient_run_id).toBe(continued?.id);
      const log = (await t.workflowRecipientRuns.get(continued?.id ?? "")).events ?? [];
      expect(log.map((e) => e.event)).toEqual(
        expect.arrayContaining([
          "batch_joined",
          "batch_continuing",
          "batch_closed",
          "delay_started",
        ]),
      );
      expect(byKey.get("keep-2")?.status).toBe("completed");
    });

    it("hands on again when the next one is cancelled too", async () => {
      const { t } = engine([digestSteps()]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["opener", "second", "third"]);
      await t.workflows.cancel("digest", { cancellation_key: "opener" });
      await t.clock.advance("5m");
      await t.workflows.cancel("digest", { cancellation_key: "second" });
      await t.clock.advance("1h");
      expect(t.outbox.map((m) => m.content.subject)).toEqual(["1: 2"]);
    });

    /** Closes early at `max` items: its `due` close job still fires at 10 minutes, a second close. */
    const fullEarly = (delayMinutes: number, max = 2): WorkflowInput => ({
      key: "digest",
      steps: [
        {
          ref: "batch",
          type: "batch",
          settings: { batch_window: { unit: "minutes", value: 10 }, batch_items_max_limit: max },
        } as Step,
        { ref: "mark", type: "update_data", settings: { data: { extra: "after-batch" } } },
        {
          ref: "wait",
          type: "delay",
          settings: { delay_for: { unit: "minutes", value: delayMinutes } },
        },
        email("email_1", "{{ total_activities }} {{ data.extra }}"),
      ],
    });

    it("a second close of a batch whose run went on leaves that run where it is", async () => {
      const { t } = engine([fullEarly(20)]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["a", "b"]); // full: closed at once; the opener waits on the delay
      await t.clock.advance("10m"); // the window's own close job fires too
      await t.clock.advance("10m");
      expect(t.outbox.map((m) => m.content.subject)).toEqual(["2 after-batch"]);
    });

    it("resumes a handed-over run once, whatever the close jobs", async () => {
      const { t } = engine([fullEarly(1, 3)]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["a", "b"]);
      await t.workflows.cancel("digest", { cancellation_key: "a" });
      // b, c and d fill the batch: b continues at once, and is done a minute later.
      await triggerAll(t, ["c", "d"]);
      await t.clock.advance("1h");
      expect(t.outbox.map((m) => m.content.subject)).toEqual(["3 after-batch"]);
      const runs = (await t.workflowRecipientRuns.list()).entries;
      const b = runs.find((r) => r.trigger_source.cancellation_key === "b");
      const log = (await t.workflowRecipientRuns.get(b?.id ?? "")).events ?? [];
      expect(log.filter((e) => e.event === "batch_closed")).toHaveLength(1);
      expect(log.filter((e) => e.event === "run_resumed")).toHaveLength(2); // batch, then delay
      expect(b?.status).toBe("completed");
    });

    it("sends nothing when every activity is cancelled", async () => {
      const { t } = engine([digestSteps()]);
      const completed: RunStatusEvent[] = [];
      t.on("run.completed", (e) => completed.push(e));
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["a", "b", "c"]);
      for (const key of ["b", "a", "c"])
        await t.workflows.cancel("digest", { cancellation_key: key });
      await t.clock.advance("1h");
      expect(t.outbox).toHaveLength(0);
      const statuses = (await t.workflowRecipientRuns.list()).entries.map((r) => r.status);
      expect(statuses).toEqual(["cancelled", "cancelled", "cancelled"]);
      // The emptied batch's window still runs: a trigger before it closes continues with it.
      await t.workflows.trigger("digest", { recipients: ["u1"], data: { n: 9 } });
      await t.clock.advance("1h");
      expect(t.outbox.map((m) => m.content.subject)).toEqual(["1: 9"]);
    });

    it("with flush_leading, hands on from a cancelled continuing run, never to the leading one", async () => {
      const { t } = engine([digestSteps({ batch_execution_mode: "flush_leading" })]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["lead"]);
      await t.clock.advance("5m");
      expect(t.outbox.map((m) => m.content.subject)).toEqual([": "]);
      await triggerAll(t, ["first", "next"]);
      await t.workflows.cancel("digest", { cancellation_key: "first" });
      await t.clock.advance("1h");
      expect(t.outbox.map((m) => m.content.subject)).toEqual([": ", "1: 1"]);
    });

    it("after the batch closed, cancels the continuing run and leaves joined activities alone", async () => {
      const { t } = engine([digestSteps()]);
      await t.users.update("u1", { email: "u1@example.com" });
      await triggerAll(t, ["opener", "joined"]);
      await t.clock.advance("10m"); // closed; the opener waits on the delay after it
      await t.workflows.cancel("digest", { cancellation_key: "joined" });
      await t.workflows.cancel("digest", { cancellation_key: "opener" });
      await t.clock.advance("1h");
      expect(t.outbox).toHaveLength(0);
      const runs = (await t.workflowRecipientRuns.list()).entries;
      const byKey = new Map(runs.map((r) => [r.trigger_source.cancellation_key, r.status]));
      expect(Object.fromEntries(byKey)).toEqual({ opener: "cancelled", joined: "completed" });
    });
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
