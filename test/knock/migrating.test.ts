/**
 * docs/migrating-from-knock.md, as code: the same dependency interface is satisfied by Knock's
 * client and by a crier test engine, and the guide's test passes on the fixture workflows.
 */
import type { Knock } from "@knocklabs/node";
import { describe, expect, expectTypeOf, it } from "vitest";
import { createEngine, defineWorkflow } from "../../src/index.js";
import { loadKnockWorkflows } from "../../src/knock/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const fixtures = new URL("../fixtures/knock/workflows", import.meta.url).pathname;

interface Notifications {
  workflows: {
    trigger(
      key: string,
      params: { recipients: string[]; actor?: string; data?: Record<string, unknown> },
    ): Promise<unknown>;
  };
  users: {
    update(id: string, props: { name?: string; email?: string }): Promise<unknown>;
  };
}

interface Comment {
  followers: string[];
  authorId: string;
  document: { id: string; title: string };
  text: string;
}

async function commentPosted(notify: Notifications, comment: Comment) {
  await notify.workflows.trigger("comment-digest", {
    recipients: comment.followers,
    actor: comment.authorId,
    data: {
      document_id: comment.document.id,
      document_title: comment.document.title,
      comment: comment.text,
    },
  });
}

describe("migrating from Knock (the guide's code)", () => {
  it("types Knock's client and crier's engines as the same dependency", () => {
    expectTypeOf<Knock>().toExtend<Notifications>();
    expectTypeOf(createTestEngine()).toExtend<Notifications>();
    expectTypeOf(createEngine()).toExtend<Notifications>();
  });

  it("runs the guide's test on the loaded workflows", async () => {
    const workflows = await loadKnockWorkflows(fixtures);
    const t = createTestEngine({ workflows });
    await t.users.update("ada", { name: "Ada", email: "ada@example.com" });
    await t.users.update("bo", { name: "Bo" });

    await commentPosted(t, {
      followers: ["ada"],
      authorId: "bo",
      document: { id: "doc-1", title: "Roadmap" },
      text: "Ship it",
    });
    await t.clock.advance("10m");
    await t.clock.advance("1h");

    expect(t.outbox.map((m) => m.channel_type)).toEqual(["in_app_feed", "email"]);
    expect(t.outbox[1]?.content.subject).toBe("A new comment on Roadmap");
  });

  it("checks the typed trigger of the guide's last example", async () => {
    const welcome = defineWorkflow({
      key: "welcome",
      trigger_data_json_schema: {
        type: "object",
        properties: { plan: { enum: ["free", "pro"] } },
        required: ["plan"],
      },
      steps: [
        { ref: "email_1", type: "channel", channel_key: "postmark", template: { subject: "Hi" } },
      ],
    });
    const engine = createEngine({ workflows: [welcome] });
    await engine.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "pro" } });
    await expect(
      // @ts-expect-error: "gold" is not a plan (and the run-time check says so too)
      engine.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "gold" } }),
    ).rejects.toThrow(/data\.plan/);
    await engine.close();
  });
});
