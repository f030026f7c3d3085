/** Workflows that span days run in milliseconds on the virtual clock. */
import { describe, expect, it } from "vitest";
import type { WorkflowInput } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

describe("multi-day workflows on the virtual clock", () => {
  it("collects three days of comments into one digest", async () => {
    const digest: WorkflowInput = {
      key: "comment-digest",
      steps: [
        {
          ref: "collect",
          type: "batch",
          settings: { batch_window: { unit: "days", value: 3 }, batch_key: "data.doc" },
        },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          template: {
            subject:
              "{{ total_activities }} comments on {{ data.doc }} by {{ actors | map: 'id' | join: ', ' }}",
          },
        },
      ],
    };
    const t = createTestEngine({ workflows: [digest], now: "2026-03-02T09:00:00Z" });
    await t.users.update("ada", { email: "ada@example.com" });
    for (const [day, actor] of ["bob", "cy", "bob", "dee"].entries()) {
      await t.workflows.trigger("comment-digest", {
        recipients: ["ada"],
        actor,
        data: { doc: "roadmap" },
      });
      if (day < 3) await t.clock.advance("17h");
    }
    // 51 hours in: still collecting.
    expect(t.outbox).toHaveLength(0);
    await t.clock.advanceTo("2026-03-05T08:59:59Z");
    expect(t.outbox).toHaveLength(0);
    await t.clock.advance("1s");
    expect(t.outbox.map((m) => m.content.subject)).toEqual([
      "4 comments on roadmap by dee, bob, cy",
    ]);
  });

  it("cancels a three-day reminder on day two, for the one recipient who acted", async () => {
    const reminder: WorkflowInput = {
      key: "invoice-reminder",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "days", value: 3 } } },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          template: { subject: "Invoice {{ data.invoice }} is still open" },
        },
      ],
    };
    const t = createTestEngine({ workflows: [reminder] });
    await t.workflows.trigger("invoice-reminder", {
      recipients: [
        { id: "payer", email: "payer@example.com" },
        { id: "late", email: "late@example.com" },
      ],
      data: { invoice: "INV-42" },
      cancellation_key: "INV-42",
    });
    await t.clock.advance("1d");
    await t.clock.advance("12h");
    // Day two: the payer paid.
    await t.workflows.cancel("invoice-reminder", {
      cancellation_key: "INV-42",
      recipients: ["payer"],
    });
    await t.clock.advance("2d");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["late"]);
    const runs = (await t.workflowRecipientRuns.list()).entries;
    expect(Object.fromEntries(runs.map((r) => [r.recipient, r.status]))).toEqual({
      payer: "cancelled",
      late: "completed",
    });
  });
});
