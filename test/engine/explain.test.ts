import { describe, expect, it } from "vitest";
import { processDeliver } from "../../src/channels/execute.js";
import type { EngineContext } from "../../src/engine/context.js";
import { InvalidParamsError, NotFoundError, type WorkflowInput } from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";

const onboarding: WorkflowInput = {
  key: "onboarding",
  categories: ["marketing"],
  steps: [
    { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
    {
      ref: "in_app_1",
      type: "channel",
      channel_key: "in-app",
      channel_type: "in_app_feed",
      template: { markdown_body: "Welcome aboard" },
    },
    {
      ref: "pro_only",
      type: "channel",
      channel_key: "email",
      template: { subject: "Pro tips" },
      conditions: { all: [{ variable: "data.plan", operator: "equal_to", argument: "pro" }] },
    },
    { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Welcome" } },
  ],
};

/** An engine whose email provider fails `failures` times, then accepts. */
function engine(failures: number, workflows: WorkflowInput[] = [onboarding]): TestEngine {
  let left = failures;
  return createTestEngine({
    workflows,
    channels: [
      {
        key: "email",
        type: "email",
        provider: {
          send: async () => {
            if (left-- > 0) throw new Error("SMTP 451 try later");
          },
        },
      },
    ],
  });
}

/** The run's explanation with its generated ids replaced by names, so it can be compared whole. */
async function explained(t: TestEngine, runId: string): Promise<string[]> {
  const run = await t.workflowRecipientRuns.get(runId);
  const messages = (await t.messages.list({ workflow_recipient_run_id: runId })).items;
  let text = await t.explain(runId);
  text = text.replaceAll(run.id, "<run>").replaceAll(run.workflow_run_id, "<workflow run>");
  for (const message of messages)
    text = text.replaceAll(message.id, `<${message.source.step_ref}>`);
  return text.split("\n");
}

describe("engine.explain", () => {
  it("tells every step of a run: waits, deliveries, retries, skips with their reasons", async () => {
    const t = engine(2);
    await t.users.update("ada", { email: "ada@example.com" });
    const { workflow_run_id } = await t.workflows.trigger("onboarding", {
      recipients: ["ada"],
      tenant: "acme",
      actor: "ada",
      data: { plan: "free" },
    });
    await t.clock.advance("1h");
    await t.clock.advance("10s");
    const [run] = (await t.workflowRecipientRuns.list({ workflow_run_id })).entries;
    expect(await explained(t, run?.id as string)).toEqual([
      "workflow recipient run <run>: workflow onboarding v1 for user ada, tenant acme, actor ada (api trigger, workflow run <workflow run>)",
      "status: completed",
      "2026-01-01T00:00:00.000Z run started",
      "2026-01-01T00:00:00.000Z step wait (delay) waits until 2026-01-01T01:00:00.000Z",
      "2026-01-01T00:00:00.000Z run paused until 2026-01-01T01:00:00.000Z",
      "2026-01-01T01:00:00.000Z run resumed",
      "2026-01-01T01:00:00.000Z step in_app_1 created message <in_app_1> on channel in-app",
      "2026-01-01T01:00:00.000Z step in_app_1: message <in_app_1> delivered",
      '2026-01-01T01:00:00.000Z step pro_only skipped: conditions: data.plan equal_to "pro" was false (data.plan = "free")',
      "2026-01-01T01:00:00.000Z step email_1 created message <email_1> on channel email",
      "2026-01-01T01:00:00.000Z [error] step email_1: delivery attempt 1 of message <email_1> failed: SMTP 451 try later; retrying at 2026-01-01T01:00:01.000Z",
      "2026-01-01T01:00:00.000Z run completed",
      "2026-01-01T01:00:01.000Z [error] step email_1: delivery attempt 2 of message <email_1> failed: SMTP 451 try later; retrying at 2026-01-01T01:00:05.000Z",
      "2026-01-01T01:00:05.000Z step email_1: message <email_1> sent (attempt 3)",
      "messages now:",
      "  message <in_app_1> (step in_app_1, channel in-app): delivered",
      "  message <email_1> (step email_1, channel email): sent",
    ]);
  });

  it("names the preference that blocked a channel, and where it was set", async () => {
    const t = engine(0);
    await t.users.update("bob", { email: "bob@example.com" });
    await t.users.setPreferences("bob", "default", { categories: { marketing: false } });
    const { workflow_run_id } = await t.workflows.trigger("onboarding", {
      recipients: ["bob"],
      tenant: "acme",
    });
    await t.clock.advance("1h");
    const [run] = (await t.workflowRecipientRuns.list({ workflow_run_id })).entries;
    const text = await t.explain(run?.id as string);
    expect(text).toContain(
      "step email_1 skipped: preferences: categories.marketing = false in set default (tenant acme)",
    );
    expect(text).toContain(
      "step in_app_1 skipped: preferences: categories.marketing = false in set default (tenant acme)",
    );
    expect(text).not.toContain("messages now:");

    await t.tenants.set("globex", {
      settings: { preference_set: { channel_types: { email: false } } },
    });
    const second = await t.workflows.trigger("onboarding", {
      recipients: [{ id: "cy", email: "cy@example.com" }],
      tenant: "globex",
    });
    await t.clock.advance("1h");
    const [cy] = (await t.workflowRecipientRuns.list({ workflow_run_id: second.workflow_run_id }))
      .entries;
    expect(await t.explain(cy?.id as string)).toContain(
      "step email_1 skipped: preferences: channel_types.email = false in tenant globex's default preference_set",
    );
  });

  it("explains runs that end early: a batch joined, throttled, cancelled, trigger conditions, no recipient", async () => {
    const digest: WorkflowInput = {
      key: "digest",
      conditions: { all: [{ variable: "data.ok", operator: "equal_to", argument: true }] },
      steps: [
        {
          ref: "batch_1",
          type: "batch",
          settings: { batch_window: { unit: "minutes", value: 10 } },
        },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          template: { subject: "{{ total_activities }} updates" },
        },
      ],
    };
    const limited: WorkflowInput = {
      key: "limited",
      steps: [
        {
          ref: "throttle_1",
          type: "throttle",
          settings: { throttle_window: { unit: "hours", value: 1 }, throttle_limit: 1 },
        },
        { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "hi" } },
      ],
    };
    const t = engine(0, [digest, limited]);
    await t.users.update("ada", { email: "ada@example.com" });
    const explainAll = async (workflow: string) => {
      const runs = (await t.workflowRecipientRuns.list({ workflow })).entries.reverse();
      return Promise.all(runs.map((run) => t.explain(run.id)));
    };
    await t.workflows.trigger("digest", {
      recipients: ["ada"],
      data: { ok: true },
      cancellation_key: "c1",
    });
    await t.idle();
    await t.workflows.trigger("digest", { recipients: ["ada"], data: { ok: true } });
    await t.idle();
    await t.workflows.trigger("digest", { recipients: ["ada"], data: { ok: false } });
    await t.idle();
    await t.workflows.trigger("digest", { recipients: ["ghost"], data: { ok: true } });
    await t.idle();
    await t.clock.advance("10m");
    const [opener, joiner, conditions, ghost] = await explainAll("digest");
    expect(opener).toMatch(
      /step batch_1 \(batch\) opened batch \S+ closing at 2026-01-01T00:10:00.000Z/,
    );
    expect(opener).toMatch(/run paused until batch \S+ closes/);
    expect(opener).toMatch(/step batch_1 \(batch\) batch \S+ closed with 2 activities/);
    expect(opener).toContain("step email_1: message");
    expect(joiner).toMatch(
      /added this trigger to batch \S+ \(2 items\): the batch's own run sends it/,
    );
    expect(joiner).toContain("run ended: its trigger joined a batch another run sends");
    expect(conditions).toContain(
      "trigger conditions failed: data.ok equal_to true was false (data.ok = false)",
    );
    expect(conditions).toContain("run ended: trigger conditions not met");
    expect(ghost).toContain("[error] recipient user ghost was not found");

    await t.workflows.trigger("limited", { recipients: ["ada"] });
    await t.idle();
    await t.workflows.trigger("limited", { recipients: ["ada"] });
    await t.idle();
    const [, throttled] = await explainAll("limited");
    expect(throttled).toMatch(
      /step throttle_1 \(throttle\) throttled: execution 2 is over the limit of 1 until 2026-01-01T01:10:00.000Z\n.*run ended: throttled/,
    );

    await t.workflows.trigger("digest", {
      recipients: ["ada"],
      data: { ok: true },
      cancellation_key: "c2",
    });
    await t.idle();
    await t.workflows.cancel("digest", { cancellation_key: "c2" });
    await t.idle();
    const cancelled = (await explainAll("digest")).at(-1);
    expect(cancelled).toContain("status: cancelled");
    expect(cancelled).toContain("run cancelled (cancellation_key c2)");
  });

  it("logs a retry given up on because its channel is no longer configured", async () => {
    const t = engine(5);
    await t.users.update("ada", { email: "ada@example.com" });
    await t.workflows.trigger("onboarding", { recipients: ["ada"] });
    await t.clock.advance("1h");
    const [email] = (await t.messages.list({ channel_id: "email" })).items;
    // The engine restarted without the email channel while the retry was queued.
    const ctx = (t as unknown as { context: EngineContext }).context;
    await processDeliver(
      { ...ctx, channels: new Map(), channelFallback: undefined },
      { message_id: email?.id as string, attempt: 2 },
    );
    expect((await t.messages.get(email?.id as string)).status).toBe("undelivered");
    expect(await t.explain(email?.source.workflow_recipient_run_id as string)).toContain(
      `[error] step email_1: message ${email?.id} undelivered after 1 attempts: channel "email" is no longer configured`,
    );
  });

  it("rejects an unknown run id and a malformed one", async () => {
    const t = engine(0);
    const missing = await t.explain("nope").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toContain("workflowRecipientRuns.list");
    await expect(t.explain(42 as never)).rejects.toBeInstanceOf(InvalidParamsError);
  });
});

describe("workflowRecipientRuns.list filters", () => {
  it("counts a message given up on as the run's error: has_errors finds it", async () => {
    // Three attempts in all, every one failing.
    const t = engine(3);
    await t.users.update("ada", { email: "ada@example.com" });
    await t.users.update("bob", { email: "bob@example.com" });
    await t.workflows.trigger("onboarding", { recipients: ["ada"] });
    await t.clock.advance("2h");
    const [ada] = (await t.workflowRecipientRuns.list({ recipient: "ada" })).entries;
    expect(ada?.error_count).toBe(1);
    expect((await t.messages.list({ status: ["undelivered"] })).items).toHaveLength(1);
    const withErrors = await t.workflowRecipientRuns.list({ has_errors: true });
    expect(withErrors.entries.map((r) => r.id)).toEqual([ada?.id]);
    // The delivery attempts and the error are in its log, counted once.
    const log = (await t.workflowRecipientRuns.get(ada?.id ?? "")).events ?? [];
    expect(log.filter((e) => e.event === "message_undelivered")).toHaveLength(1);
    await t.workflows.trigger("onboarding", { recipients: ["bob"] });
    await t.clock.advance("2h");
    expect((await t.workflowRecipientRuns.list({ has_errors: false })).entries).toHaveLength(1);
  });

  it("pages runs with after and before cursors, newest first", async () => {
    const t = engine(0);
    for (const id of ["a", "b", "c", "d", "e"]) {
      await t.users.update(id, { email: `${id}@example.com` });
      await t.workflows.trigger("onboarding", { recipients: [id] });
      await t.idle();
    }
    const first = await t.workflowRecipientRuns.list({ page_size: 2 });
    expect(first.entries.map((r) => r.recipient)).toEqual(["e", "d"]);
    const second = await t.workflowRecipientRuns.list({
      page_size: 2,
      after: first.page_info.after,
    });
    expect(second.entries.map((r) => r.recipient)).toEqual(["c", "b"]);
    const back = await t.workflowRecipientRuns.list({
      page_size: 2,
      before: second.page_info.before,
    });
    expect(back.entries.map((r) => r.recipient)).toEqual(["e", "d"]);
    expect(back.page_info.before).toBeNull();
  });

  it("filters by Knock's parameters and rejects bad ones, naming each", async () => {
    const t = engine(0);
    await t.users.update("ada", { email: "ada@example.com" });
    await t.objects.set("teams", "core", {});
    await t.workflows.trigger("onboarding", { recipients: ["ada"], tenant: "acme" });
    await t.clock.advance("2h");
    await t.workflows.trigger("onboarding", { recipients: [{ id: "core", collection: "teams" }] });
    await t.idle();
    const list = async (params: Parameters<TestEngine["workflowRecipientRuns"]["list"]>[0]) =>
      (await t.workflowRecipientRuns.list(params)).entries.map((r) => [r.recipient, r.status]);
    expect(await list({ tenant: "acme" })).toEqual([["ada", "completed"]]);
    expect(await list({ status: ["paused"] })).toEqual([
      [{ id: "core", collection: "teams" }, "paused"],
    ]);
    expect(await list({ recipient: { id: "core", collection: "teams" } })).toHaveLength(1);
    expect(await list({ starting_at: "2026-01-01T01:00:00Z" })).toHaveLength(1);
    expect(await list({ ending_at: "2026-01-01T01:00:00Z" })).toEqual([["ada", "completed"]]);
    expect(await list({ has_errors: true })).toEqual([]);
    expect(await list({ workflow: "other" })).toEqual([]);
    expect(await list({ workflow: "onboarding" })).toHaveLength(2);

    const error = await t.workflowRecipientRuns
      .list({
        status: ["done"] as never,
        starting_at: "last week",
        has_errors: "no" as never,
        recipient: 7 as never,
        cursor: "x",
      } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).errors.map((e) => e.field).sort()).toEqual([
      "cursor",
      "has_errors",
      "recipient",
      "starting_at",
      "status[0]",
    ]);
  });
});
