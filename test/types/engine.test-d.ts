import { describe, expectTypeOf, it } from "vitest";
import {
  createEngine,
  defineWorkflow,
  type Engine,
  type FeedChangedEvent,
  type FeedPage,
  type Message,
  type MessageEvent,
  type StepSkippedEvent,
  type TriggerResult,
  type User,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";

describe("engine types", () => {
  it("types event payloads by name", () => {
    const engine = createEngine();
    engine.on("step.skipped", (event) => {
      expectTypeOf(event).toEqualTypeOf<StepSkippedEvent>();
      expectTypeOf(event.reason).toEqualTypeOf<
        | "conditions"
        | "preferences"
        | "no_channel_data"
        | "channel_not_configured"
        | "invalid_settings"
        | "inactive_workflow"
      >();
    });
    engine.on("message.sent", (event) => expectTypeOf(event).toEqualTypeOf<MessageEvent>());
    // @ts-expect-error: not an event crier emits
    engine.on("message.teleported", () => {});
  });

  it("types namespaces' results", () => {
    const engine: Engine = createEngine();
    expectTypeOf(engine.workflows.trigger("k", { recipients: ["u1"] })).toEqualTypeOf<
      Promise<TriggerResult>
    >();
    expectTypeOf(engine.users.get("u1")).toEqualTypeOf<Promise<User>>();
    // @ts-expect-error: recipients is required
    void engine.workflows.trigger("k", { data: {} });
  });

  it("types the feed, engagement calls and their events", () => {
    const engine = createEngine();
    expectTypeOf(engine.users.feeds.listItems("u1", "in-app", { status: "unread" })).toEqualTypeOf<
      Promise<FeedPage>
    >();
    // @ts-expect-error: not a feed status
    void engine.users.feeds.listItems("u1", "in-app", { status: "new" });
    expectTypeOf(engine.messages.markAsRead("m1")).toEqualTypeOf<Promise<Message>>();
    expectTypeOf(engine.messages.batch.archive(["m1"])).toEqualTypeOf<Promise<Message[]>>();
    expectTypeOf(engine.messages.batch.markAsSeen({ message_ids: ["m1"] })).toEqualTypeOf<
      Promise<Message[]>
    >();
    engine.on("feed.changed", (event) => expectTypeOf(event).toEqualTypeOf<FeedChangedEvent>());
    engine.on("message.unarchived", (event) => expectTypeOf(event).toEqualTypeOf<MessageEvent>());
    expectTypeOf(engine.explain("run-id")).toEqualTypeOf<Promise<string>>();
  });

  it("keeps literal keys and refs of a defined workflow, and rejects unknown step types", () => {
    const workflow = defineWorkflow({
      key: "welcome",
      steps: [
        { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } },
      ],
    });
    expectTypeOf(workflow.key).toEqualTypeOf<"welcome">();
    expectTypeOf(workflow.steps[0].ref).toEqualTypeOf<"email_1">();
    defineWorkflow({
      key: "bad",
      // @ts-expect-error: "teleport" is not a step type
      steps: [{ ref: "x", type: "teleport" }],
    });
  });

  it("makes the test engine an engine with a clock and an outbox", () => {
    const t = createTestEngine();
    expectTypeOf(t).toExtend<Engine>();
    expectTypeOf<TestEngine["outbox"][number]["content"]>().toEqualTypeOf<
      Record<string, unknown>
    >();
    expectTypeOf<number | "3d" | { unit: "days"; value: number }>().toExtend<
      Parameters<typeof t.clock.advance>[0]
    >();
  });
});
