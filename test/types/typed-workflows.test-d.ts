import { describe, expectTypeOf, it } from "vitest";
import {
  type AnyTriggerData,
  createEngine,
  defineWorkflow,
  type Engine,
  type EngineEvents,
  type ErrorEvent,
  type FeedChangedEvent,
  type MessageEvent,
  type RunStatusEvent,
  type ScheduleFiredEvent,
  type ScheduleSkippedEvent,
  type SourceSkippedEvent,
  type StepRefs,
  type StepSkippedEvent,
  type TriggerData,
  type WorkflowInput,
  type WorkflowTriggeredEvent,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";

const welcome = defineWorkflow({
  key: "welcome",
  trigger_data_json_schema: {
    type: "object",
    properties: {
      plan: { enum: ["free", "pro"] },
      seats: { type: "integer" },
    },
    required: ["plan"],
    additionalProperties: false,
  },
  steps: [{ ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } }],
});

const digest = defineWorkflow({
  key: "digest",
  trigger_data_json_schema: {
    type: "object",
    properties: { document: { type: "object", properties: { id: { type: "string" } } } },
  },
  steps: [
    { ref: "batch_1", type: "batch", settings: { batch_window: { unit: "minutes", value: 5 } } },
    { ref: "in_app_1", type: "channel", channel_key: "in-app", template: { markdown_body: "x" } },
    {
      ref: "if_unread",
      type: "branch",
      branches: [
        {
          name: "unread",
          conditions: {
            all: [
              {
                variable: "refs.in_app_1.engagement_status",
                operator: "not_contains",
                argument: "$message.read",
              },
            ],
          },
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              template: { subject: "Digest" },
              conditions: {
                any: [
                  {
                    variable: "refs.in_app_1.delivery_status",
                    operator: "greater_than_or_equal_to",
                    argument: "$message.delivered",
                  },
                  { variable: "data.document.id", operator: "exists" },
                ],
              },
            },
          ],
        },
        { name: "default", conditions: null, steps: [] },
      ],
    },
  ],
});

describe("defineWorkflow: data inferred from trigger_data_json_schema", () => {
  it("infers the data type of a literal schema (no `as const` needed)", () => {
    expectTypeOf<TriggerData<typeof welcome>>().toEqualTypeOf<{
      plan: "free" | "pro";
      seats?: number;
    }>();
    // additionalProperties defaults to true: other keys are allowed.
    expectTypeOf<TriggerData<typeof digest>>().toEqualTypeOf<{
      [key: string]: unknown;
      document?: { [key: string]: unknown; id?: string };
    }>();
  });

  it("infers the same from a definition given `as const`", () => {
    const constant = defineWorkflow({
      key: "constant",
      trigger_data_json_schema: {
        type: "object",
        properties: { id: { type: "string" } },
        required: ["id"],
        additionalProperties: false,
      },
      steps: [{ ref: "e", type: "channel", channel_key: "email", template: { subject: "x" } }],
    } as const);
    expectTypeOf<TriggerData<typeof constant>>().toEqualTypeOf<{ id: string }>();
    // The result is a WorkflowInput (the readonly that `as const` adds is removed).
    expectTypeOf(constant).toExtend<WorkflowInput>();
    expectTypeOf(constant.key).toEqualTypeOf<"constant">();
  });

  it("keeps the curried form that names the data type", () => {
    const named = defineWorkflow<{ order_id: string }>()({ key: "order", steps: [] });
    expectTypeOf<TriggerData<typeof named>>().toEqualTypeOf<{ order_id: string }>();
    expectTypeOf(named.key).toEqualTypeOf<"order">();
  });

  it("takes any data without a schema, or with a schema typed only as an object", () => {
    const bare = defineWorkflow({ key: "bare", steps: [] });
    expectTypeOf<TriggerData<typeof bare>>().toEqualTypeOf<AnyTriggerData>();
    const schema: Record<string, unknown> = { type: "object" };
    const wide = defineWorkflow({ key: "wide", trigger_data_json_schema: schema, steps: [] });
    expectTypeOf<TriggerData<typeof wide>>().toEqualTypeOf<AnyTriggerData>();
    expectTypeOf<TriggerData<WorkflowInput>>().toEqualTypeOf<AnyTriggerData>();
  });
});

describe("an engine knows the workflows it is given", () => {
  it("checks trigger data for known keys and takes any data for other keys", () => {
    const engine = createEngine({ workflows: [welcome, digest] });
    void engine.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "pro" } });
    void engine.workflows.trigger("welcome", {
      recipients: ["u1"],
      // @ts-expect-error: "enterprise" is not in the schema's enum
      data: { plan: "enterprise" },
    });
    // @ts-expect-error: the schema requires data (plan is required)
    void engine.workflows.trigger("welcome", { recipients: ["u1"] });
    void engine.workflows.trigger("welcome", {
      recipients: ["u1"],
      // @ts-expect-error: additionalProperties is false
      data: { plan: "free", coupon: "X" },
    });
    // No required field: data may be left out.
    void engine.workflows.trigger("digest", { recipients: ["u1"] });
    // A key the engine does not know (upserted at run time) takes any JSON object.
    void engine.workflows.trigger("upserted-later", { recipients: ["u1"], data: { any: 1 } });
    const key: string = "welcome";
    void engine.workflows.trigger(key, { recipients: ["u1"], data: { anything: true } });
  });

  it("types the test engine the same way", () => {
    const t = createTestEngine({ workflows: [welcome] });
    expectTypeOf(t).toExtend<TestEngine>();
    // @ts-expect-error: seats is an integer
    void t.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "pro", seats: "2" } });
  });

  it("is still an Engine, and an engine given untyped definitions knows none", () => {
    const typed = createEngine({ workflows: [welcome] });
    expectTypeOf(typed).toExtend<Engine>();
    const engine: Engine = typed;
    void engine;
    const loaded: WorkflowInput[] = [];
    const untyped = createEngine({ workflows: loaded });
    void untyped.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: 42 } });
    expectTypeOf(createEngine()).toEqualTypeOf<Engine>();
  });
});

describe("step refs", () => {
  it("lists a workflow's refs, nested branch steps included", () => {
    expectTypeOf<StepRefs<typeof digest>>().toEqualTypeOf<
      "batch_1" | "in_app_1" | "if_unread" | "email_1"
    >();
    expectTypeOf(digest.steps[1].ref).toEqualTypeOf<"in_app_1">();
  });

  it("checks refs.<ref>.<field> in step and branch conditions against the workflow's refs", () => {
    defineWorkflow({
      key: "checked",
      steps: [
        { ref: "email_1", type: "channel", channel_key: "email", template: {} },
        {
          ref: "sms_1",
          type: "channel",
          channel_key: "sms",
          template: {},
          conditions: {
            all: [
              // @ts-expect-error: no step has the ref "emial_1"
              { variable: "refs.emial_1.delivery_status", operator: "exists" },
            ],
          },
        },
        {
          ref: "push_1",
          type: "channel",
          channel_key: "push",
          template: {},
          conditions: {
            any: [
              {
                all: [
                  // @ts-expect-error: a message has delivery_status and engagement_status only
                  { variable: "refs.email_1.status", operator: "exists" },
                ],
              },
            ],
          },
        },
      ],
    });
    defineWorkflow({
      key: "trigger-refs",
      conditions: {
        // @ts-expect-error: trigger conditions cannot read refs (no step has run yet)
        all: [{ variable: "refs.email_1.delivery_status", operator: "exists" }],
      },
      steps: [{ ref: "email_1", type: "channel", channel_key: "email", template: {} }],
    });
  });

  it("rejects fields a step type or a workflow does not have", () => {
    defineWorkflow({
      key: "typos",
      steps: [
        // @ts-expect-error: "chanel_type" is not a field of a channel step
        { ref: "e", type: "channel", channel_key: "email", template: {}, chanel_type: "sms" },
      ],
    });
    defineWorkflow({
      key: "typos",
      steps: [],
      // @ts-expect-error: "categoriez" is not a field of a workflow
      categoriez: ["x"],
    });
  });
});

describe("events", () => {
  it("types every event's payload by name", () => {
    expectTypeOf<EngineEvents>().toEqualTypeOf<{
      "workflow.triggered": [WorkflowTriggeredEvent];
      "run.queued": [RunStatusEvent];
      "run.processing": [RunStatusEvent];
      "run.paused": [RunStatusEvent];
      "run.completed": [RunStatusEvent];
      "run.cancelled": [RunStatusEvent];
      "step.skipped": [StepSkippedEvent];
      "message.created": [MessageEvent];
      "message.sent": [MessageEvent];
      "message.delivered": [MessageEvent];
      "message.undelivered": [MessageEvent];
      "message.not_sent": [MessageEvent];
      "message.seen": [MessageEvent];
      "message.read": [MessageEvent];
      "message.interacted": [MessageEvent];
      "message.archived": [MessageEvent];
      "message.unseen": [MessageEvent];
      "message.unread": [MessageEvent];
      "message.unarchived": [MessageEvent];
      "feed.changed": [FeedChangedEvent];
      "schedule.fired": [ScheduleFiredEvent];
      "schedule.skipped": [ScheduleSkippedEvent];
      "source.skipped": [SourceSkippedEvent];
      error: [ErrorEvent];
    }>();
  });

  it("gives each listener its event's payload", () => {
    const engine = createEngine({ workflows: [welcome] });
    engine.on("schedule.fired", (e) => expectTypeOf(e).toEqualTypeOf<ScheduleFiredEvent>());
    engine.on("schedule.skipped", (e) => expectTypeOf(e.reason).toBeString());
    engine.once("source.skipped", (e) =>
      expectTypeOf(e.action).toEqualTypeOf<"trigger" | "cancel">(),
    );
    engine.on("error", (e) => expectTypeOf(e).toEqualTypeOf<ErrorEvent>());
    engine.on("message.not_sent", (e) => expectTypeOf(e.message.status).toBeString());
    engine.on("workflow.triggered", (e) => expectTypeOf(e.workflow_run_id).toBeString());
    // @ts-expect-error: a listener of schedule.fired does not get a message event
    engine.on("schedule.fired", (e: MessageEvent) => e);
    engine.off("error");
  });
});
