import { describe, expect, it } from "vitest";
import type { SendWindow, Step, StepSkippedEvent, WorkflowInput } from "../../src/index.js";
import { createEngine, InvalidParamsError } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

// 2026-01-01T00:00:00Z, the test clock's default start, is a Thursday (Wednesday 19:00 in New York).
const workHours: SendWindow[] = [
  ...(["monday", "tuesday", "wednesday", "thursday", "friday"] as const).map((day) => ({
    day,
    type: "send" as const,
    from: "09:00",
    until: "17:00",
  })),
  { day: "saturday", type: "do_not_send" },
  { day: "sunday", type: "do_not_send" },
];

const windowed = (windows: SendWindow[], extra: Partial<WorkflowInput> = {}): WorkflowInput => ({
  key: "windowed",
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: { subject: "Hi {{ recipient.id }}" },
      send_windows: windows,
    },
    { ref: "after", type: "update_data", settings: { data: { went_on: true } } },
  ],
  ...extra,
});

function engine(workflows: WorkflowInput[], options: Parameters<typeof createTestEngine>[0] = {}) {
  const t = createTestEngine({ workflows, ...options });
  const skipped: StepSkippedEvent[] = [];
  t.on("step.skipped", (e) => skipped.push(e));
  return { t, skipped };
}

describe("send windows", () => {
  it("keeps the message queued until the window opens in the recipient's timezone, without pausing the run", async () => {
    const { t } = engine([windowed(workHours)]);
    await t.workflows.trigger("windowed", {
      recipients: [{ id: "ny", email: "ny@example.com", timezone: "America/New_York" }],
    });
    await t.idle();
    expect(t.outbox).toHaveLength(0);
    const [message] = (await t.messages.list()).items;
    expect(message?.status).toBe("queued");
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("completed");
    expect(run?.data).toEqual({ went_on: true });
    const events = (await t.workflowRecipientRuns.get(run?.id ?? "")).events ?? [];
    expect(events.find((e) => e.event === "message_scheduled")?.data).toMatchObject({
      send_at: "2026-01-01T14:00:00.000Z",
      timezone: "America/New_York",
      reason: "send_window",
    });

    expect(await t.explain(run?.id ?? "")).toContain(
      `step email_1: message ${message?.id} waits for its send window, until 2026-01-01T14:00:00.000Z (America/New_York)`,
    );

    // Thursday 09:00 in New York is 14:00 UTC.
    await t.clock.advanceTo("2026-01-01T13:59:59Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advanceTo("2026-01-01T14:00:00Z");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["ny"]);
    expect((await t.messages.get(message?.id ?? "")).status).toBe("sent");
    const log = (await t.workflowRecipientRuns.get(run?.id ?? "")).events ?? [];
    expect(log.map((e) => e.event)).toContain("message_sent");
  });

  it("sends at once inside the window, and uses the engine's defaultTimezone for recipients without one", async () => {
    const { t } = engine([windowed(workHours)], {
      now: "2026-01-01T10:00:00Z",
      defaultTimezone: "Europe/Paris",
    });
    // 11:00 in Paris on a Thursday: inside the window. 05:00 in New York: outside it.
    await t.workflows.trigger("windowed", {
      recipients: [
        { id: "paris", email: "p@example.com" },
        { id: "ny", email: "ny@example.com", timezone: "America/New_York" },
      ],
    });
    await t.idle();
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["paris"]);
    await t.clock.advanceTo("2026-01-01T14:00:00Z");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["paris", "ny"]);
  });

  it("waits over closed days to the next open one", async () => {
    // Friday 18:00 UTC: past Friday's window; Saturday and Sunday are closed.
    const { t } = engine([windowed(workHours)], { now: "2026-01-02T18:00:00Z" });
    await t.workflows.trigger("windowed", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.clock.advanceTo("2026-01-05T08:59:00Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advance("1m");
    expect(t.outbox).toHaveLength(1);
  });

  it("checks preferences before send windows: an opted-out step makes no queued message", async () => {
    const { t, skipped } = engine([windowed(workHours)]);
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.setPreferences("u1", "default", { channel_types: { email: false } });
    await t.workflows.trigger("windowed", { recipients: ["u1"] });
    await t.clock.advance("1d");
    expect(skipped.map((e) => e.reason)).toEqual(["preferences"]);
    expect((await t.messages.list()).items).toHaveLength(0);
  });

  it("retries a failed delivery after the window opened as any other delivery", async () => {
    let calls = 0;
    const { t } = engine([windowed(workHours)], {
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async () => {
              calls++;
              if (calls === 1) throw new Error("smtp down");
            },
          },
        },
      ],
    });
    await t.workflows.trigger("windowed", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.clock.advanceTo("2026-01-01T09:00:00Z");
    expect(calls).toBe(1);
    await t.clock.advance("1s");
    expect(calls).toBe(2);
    expect((await t.messages.list()).items[0]?.status).toBe("sent");
  });

  it("rejects windows that could never send, or that run backwards, at upsert", async () => {
    const t = createTestEngine();
    const closed = (
      ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const
    ).map((day) => ({ day, type: "do_not_send" as const }));
    const error = await t.workflows.upsert(windowed(closed)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).errors).toEqual([
      expect.objectContaining({ field: "steps[0].send_windows", type: "send_window" }),
    ]);
    const backwards = await t.workflows
      .upsert(windowed([{ day: "monday", type: "send", from: "17:00", until: "09:00" }]))
      .catch((e: unknown) => e);
    expect((backwards as InvalidParamsError).errors).toEqual([
      expect.objectContaining({ field: "steps[0].send_windows[0].until", type: "range" }),
    ]);
    await expect(t.workflows.list()).resolves.toEqual([]);
    // The end of the day is spelled 24:00.
    await expect(
      t.workflows.upsert(
        windowed([{ day: "monday", type: "send", from: "18:00", until: "24:00" }]),
      ),
    ).resolves.toMatchObject({ key: "windowed" });
  });
});

describe("delay window rules", () => {
  const untilRule: WorkflowInput = {
    key: "until-rule",
    steps: [
      { ref: "wait", type: "delay", settings: { delay_until_field_path: "data.window" } },
      {
        ref: "email_1",
        type: "channel",
        channel_key: "email",
        template: { subject: "go" },
      } as Step,
    ],
  };

  it("waits until the rule's next local time in the recipient's timezone", async () => {
    const { t } = engine([untilRule]);
    await t.workflows.trigger("until-rule", {
      recipients: [{ id: "u1", email: "u1@example.com", timezone: "Europe/Paris" }],
      data: { window: { frequency: "weekly", days: ["mon"], hours: 9 } },
    });
    await t.idle();
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.status).toBe("paused");
    // Monday 2026-01-05 09:00 in Paris is 08:00 UTC.
    await t.clock.advanceTo("2026-01-05T07:59:59Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advanceTo("2026-01-05T08:00:00Z");
    expect(t.outbox).toHaveLength(1);
  });

  it("skips the step with invalid_settings when the rule is invalid, saying why", async () => {
    const { t, skipped } = engine([untilRule]);
    await t.workflows.trigger("until-rule", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
      data: { window: { frequency: "daily", hours: 9, minutes: 7 } },
    });
    await t.idle();
    expect(t.outbox).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.reason).toBe("invalid_settings");
    expect(skipped[0]?.detail).toMatch(/data\.window\.minutes must be a multiple of 5/);
  });
});

describe("timezones", () => {
  it("rejects an unknown timezone on identify and on an inline recipient, storing nothing", async () => {
    const t = createTestEngine({ workflows: [windowed(workHours)] });
    const update = await t.users.update("u1", { timezone: "Mars/Olympus" }).catch((e) => e);
    expect(update).toBeInstanceOf(InvalidParamsError);
    expect((update as InvalidParamsError).errors[0]?.field).toBe("props.timezone");
    const trigger = await t.workflows
      .trigger("windowed", { recipients: [{ id: "u2", timezone: "EST5" }] })
      .catch((e) => e);
    expect((trigger as InvalidParamsError).errors[0]?.field).toBe("recipients[0].timezone");
    await expect(t.users.get("u1")).rejects.toMatchObject({ code: "not_found" });
    await expect(t.users.get("u2")).rejects.toMatchObject({ code: "not_found" });
    // null clears it.
    await t.users.update("u1", { timezone: "Asia/Tokyo" });
    expect((await t.users.update("u1", { timezone: null })).timezone).toBeNull();
  });

  it("rejects an unknown defaultTimezone when the engine is created", () => {
    expect(() => createEngine({ defaultTimezone: "Nowhere/Land" })).toThrow(/defaultTimezone/);
  });
});
