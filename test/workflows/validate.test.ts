import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { InvalidParamsError, type ValidationIssue } from "../../src/errors.js";
import { workflowJsonSchema } from "../../src/workflows/schema.js";
import type { Step, WorkflowInput } from "../../src/workflows/types.js";
import { compileDataSchema, validateWorkflow } from "../../src/workflows/validate.js";

/** A definition that uses every step type, nested branches included. */
function everyStepType(): WorkflowInput {
  return {
    key: "order-shipped",
    name: "Order shipped",
    description: "Tells the buyer their order is on its way.",
    categories: ["orders"],
    tags: ["transactional"],
    active: true,
    conditions: { all: [{ variable: "data.order.id", operator: "exists" }] },
    settings: { is_commercial: false, override_preferences: false },
    trigger_frequency: "every_trigger",
    trigger_data_json_schema: {
      type: "object",
      required: ["order"],
      properties: { order: { type: "object", properties: { id: { type: "string" } } } },
    },
    steps: [
      {
        ref: "fetch_order",
        type: "http_fetch",
        name: "Fetch the order",
        settings: {
          url: "https://example.com/orders/{{ data.order.id }}",
          method: "GET",
          headers: [{ key: "Authorization", value: "Bearer {{ vars.token }}" }],
          query_params: [{ key: "expand", value: "items" }],
        },
      },
      { ref: "remember", type: "update_data", settings: { data: { notified: true } } },
      {
        ref: "batch_1",
        type: "batch",
        settings: {
          batch_key: "data.order.id",
          batch_window: { unit: "minutes", value: 5 },
          batch_window_type: "sliding",
          batch_window_extension_limit: { unit: "hours", value: 1 },
          batch_items_max_limit: 100,
          batch_order: "desc",
          batch_items_render_limit: 10,
          batch_execution_mode: "flush_leading",
          workflow_version_mode: "latest",
        },
      },
      {
        ref: "throttle_1",
        type: "throttle",
        settings: {
          throttle_window: { unit: "days", value: 1 },
          throttle_limit: 3,
          throttle_key: "data.order.id",
        },
      },
      {
        ref: "email_1",
        type: "channel",
        channel_key: "postmark",
        channel_type: "email",
        template: { subject: "Shipped", html_body: "<p>{{ data.order.id }}</p>" },
        conditions: { any: [{ variable: "recipient.email", operator: "not_empty" }, { all: [] }] },
        send_windows: [
          { day: "monday", type: "send", from: "09:00", until: "18:00:00" },
          { day: "sunday", type: "do_not_send" },
        ],
      },
      {
        ref: "plan_branch",
        type: "branch",
        branches: [
          {
            name: "Pro",
            conditions: {
              all: [{ variable: "recipient.plan", operator: "equal_to", argument: "pro" }],
            },
            steps: [
              {
                ref: "wait_a_bit",
                type: "delay",
                settings: { delay_for: { unit: "seconds", value: 30 } },
              },
              {
                ref: "inner_branch",
                type: "branch",
                branches: [
                  {
                    name: "VIP",
                    conditions: {
                      all: [{ variable: "recipient.vip", operator: "equal_to", argument: true }],
                    },
                    steps: [
                      {
                        ref: "sms_1",
                        type: "channel",
                        channel_key: "twilio",
                        template: { text_body: "Hi" },
                      },
                    ],
                    terminates: true,
                  },
                  { name: "Default", conditions: null, steps: [] },
                ],
              },
            ],
          },
          {
            name: "Everyone else",
            conditions: null,
            steps: [
              {
                ref: "until_ship_date",
                type: "delay",
                settings: { delay_until_field_path: "data.ship_at" },
              },
              {
                ref: "follow_up",
                type: "trigger_workflow",
                settings: {
                  workflow_key: "order-follow-up",
                  recipients: "{{ recipient.id }}",
                  data: "{{ data | json }}",
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

/** Runs validateWorkflow and returns the issues it throws (failing when it does not throw). */
function issuesOf(input: unknown): ValidationIssue[] {
  try {
    validateWorkflow(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParamsError);
    const invalid = error as InvalidParamsError;
    expect(invalid.code).toBe("invalid_params");
    return invalid.errors;
  }
  throw new Error("expected validateWorkflow to throw");
}

function workflowWith(...steps: unknown[]): Record<string, unknown> {
  return { key: "test-workflow", steps };
}

function channel(ref: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ref, type: "channel", channel_key: "postmark", template: { subject: "Hi" }, ...extra };
}

function delay(ref: string, delayFor: unknown): Record<string, unknown> {
  return { ref, type: "delay", settings: { delay_for: delayFor } };
}

function branchStep(ref: string, branches: unknown[]): Record<string, unknown> {
  return { ref, type: "branch", branches };
}

const when = { all: [{ variable: "data.x", operator: "exists" }] };

/** `levels` branch steps, each nested in the default branch of the one before. */
function nestedBranches(levels: number): unknown {
  let steps: unknown[] = [channel("leaf")];
  for (let level = levels; level >= 1; level--) {
    steps = [branchStep(`branch_${level}`, [{ name: "default", conditions: null, steps }])];
  }
  return workflowWith(...steps);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe("workflowJsonSchema", () => {
  it("is a valid draft-07 schema that compiles in ajv's strict mode", () => {
    // strictRequired is off: `anyOf: [{ required: [a] }, { required: [b] }]` is how "at least one
    // of" is written, and the properties are declared beside it.
    const strict = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true });
    expect(strict.validateSchema(workflowJsonSchema)).toBe(true);
    expect(() => strict.compile(workflowJsonSchema)).not.toThrow();
  });

  it("is frozen, so no importer can change what validateWorkflow checks", () => {
    expect(Object.isFrozen(workflowJsonSchema)).toBe(true);
    expect(Object.isFrozen(workflowJsonSchema.properties)).toBe(true);
  });
});

describe("validateWorkflow: valid definitions", () => {
  it("accepts a workflow with every step type and nested branches, and returns it unchanged", () => {
    const input = everyStepType();
    const before = structuredClone(input);
    const result = validateWorkflow(input);
    expect(result).toBe(input);
    expect(input).toEqual(before);
  });

  it("never writes to its input (a deeply frozen definition validates)", () => {
    const input = deepFreeze(everyStepType());
    expect(validateWorkflow(input)).toBe(input);
  });

  it("accepts knock-cli extras (__readonly, $schema), file-reference template keys and a default branch without conditions", () => {
    const cliFile = {
      key: "user-onboarding",
      name: "User onboarding",
      steps: [
        {
          ref: "welcome_email",
          name: "Welcome email",
          type: "channel",
          channel_key: "knock-email",
          channel_type: "email",
          template: { subject: "Welcome", "visual_blocks@": "welcome_email/visual_blocks.json" },
        },
        {
          ref: "plan_branch",
          name: "Branch by plan",
          type: "branch",
          branches: [
            { name: "Free", conditions: when, steps: [], terminates: false },
            { name: "Paid", steps: [], terminates: false },
          ],
        },
      ],
      trigger_frequency: "every_trigger",
      __readonly: { environment: "development", key: "user-onboarding", active: true, valid: true },
      $schema: "https://schemas.knock.app/cli/workflow.json",
    };
    expect(validateWorkflow(cliFile)).toBe(cliFile);
  });

  it("accepts a stored workflow read back (version, sha, valid, timestamps)", () => {
    const stored = {
      ...everyStepType(),
      version: 3,
      sha: "abc123",
      valid: true,
      inserted_at: "2026-01-01T00:00:00.000Z",
      updated_at: "2026-01-02T00:00:00.000Z",
    };
    expect(validateWorkflow(stored)).toBe(stored);
  });

  it("accepts branch steps nested exactly 5 deep", () => {
    expect(() => validateWorkflow(nestedBranches(5))).not.toThrow();
  });

  it("accepts delays up to 365 days and throttle windows up to 31 days (a month counting 30)", () => {
    const throttle = (ref: string, window: unknown) => ({
      ref,
      type: "throttle",
      settings: { throttle_window: window },
    });
    expect(() =>
      validateWorkflow(
        workflowWith(
          delay("d1", { unit: "days", value: 365 }),
          delay("d2", { unit: "weeks", value: 52 }),
          delay("d3", { unit: "months", value: 12 }),
          delay("d4", { unit: "hours", value: 8760 }),
          throttle("t1", { unit: "days", value: 31 }),
          throttle("t2", { unit: "months", value: 1 }),
          throttle("t3", { unit: "hours", value: 744 }),
        ),
      ),
    ).not.toThrow();
  });

  it("accepts a workflow with no steps and null conditions", () => {
    expect(() => validateWorkflow({ key: "nothing", steps: [], conditions: null })).not.toThrow();
  });
});

interface RejectCase {
  name: string;
  input: unknown;
  expected: Array<{ field: string; type: string; message?: string | RegExp }>;
}

const tooManyBranches = Array.from({ length: 11 }, (_, i) => ({
  name: `arm ${i}`,
  conditions: i === 10 ? null : when,
  steps: [],
}));

const rejectCases: RejectCase[] = [
  {
    name: "an unknown step type",
    input: workflowWith({ ref: "oops", type: "emial" }),
    expected: [
      {
        field: "steps[0].type",
        type: "enum",
        message:
          'expected one of channel, delay, batch, throttle, branch, http_fetch, trigger_workflow, update_data; received "emial"',
      },
    ],
  },
  {
    name: "a missing step type",
    input: workflowWith({ ref: "oops", channel_key: "x" }),
    expected: [{ field: "steps[0].type", type: "required" }],
  },
  {
    name: "a duplicate ref in a nested branch",
    input: workflowWith(
      channel("email_1"),
      branchStep("branch_1", [{ name: "default", conditions: null, steps: [channel("email_1")] }]),
    ),
    expected: [
      {
        field: "steps[1].branches[0].steps[0].ref",
        type: "unique",
        message: /"email_1", which steps\[0\]\.ref already uses/,
      },
    ],
  },
  {
    name: "a missing channel_key",
    input: workflowWith({ ref: "email_1", type: "channel", template: {} }),
    expected: [{ field: "steps[0].channel_key", type: "required" }],
  },
  {
    name: "a misspelt step field",
    input: workflowWith({ ref: "email_1", type: "channel", chanel_key: "postmark", template: {} }),
    expected: [
      {
        field: "steps[0].chanel_key",
        type: "additionalProperties",
        message: /did you mean "channel_key"/,
      },
      { field: "steps[0].channel_key", type: "required" },
    ],
  },
  {
    name: "a missing ref",
    input: workflowWith({ type: "channel", channel_key: "postmark", template: {} }),
    expected: [{ field: "steps[0].ref", type: "required" }],
  },
  {
    name: "a Duration unit of fortnights",
    input: workflowWith(delay("wait", { unit: "fortnights", value: 1 })),
    expected: [
      { field: "steps[0].settings.delay_for.unit", type: "enum", message: /received "fortnights"/ },
    ],
  },
  {
    name: "a Duration value of 0",
    input: workflowWith(delay("wait", { unit: "days", value: 0 })),
    expected: [
      { field: "steps[0].settings.delay_for.value", type: "minimum", message: /received 0/ },
    ],
  },
  {
    name: "a Duration value of 1.5",
    input: workflowWith(delay("wait", { unit: "days", value: 1.5 })),
    expected: [
      { field: "steps[0].settings.delay_for.value", type: "type", message: /expected an integer/ },
    ],
  },
  {
    name: "a Duration without a value",
    input: workflowWith(delay("wait", { unit: "days" })),
    expected: [{ field: "steps[0].settings.delay_for.value", type: "required" }],
  },
  {
    name: "a bad Duration inside a nested branch",
    input: workflowWith(
      branchStep("branch_1", [
        { name: "a", conditions: when, steps: [] },
        { name: "b", conditions: null, steps: [delay("wait", { unit: "fortnights", value: 1 })] },
      ]),
    ),
    expected: [{ field: "steps[0].branches[1].steps[0].settings.delay_for.unit", type: "enum" }],
  },
  {
    name: "a delay without delay_for or delay_until_field_path",
    input: workflowWith({ ref: "wait", type: "delay", settings: {} }),
    expected: [
      {
        field: "steps[0].settings",
        type: "required",
        message: /at least one of "delay_for" or "delay_until_field_path"/,
      },
    ],
  },
  {
    name: "a branch step without a default branch",
    input: workflowWith(
      branchStep("branch_1", [
        { name: "a", conditions: when, steps: [] },
        { name: "b", conditions: when, steps: [] },
      ]),
    ),
    expected: [{ field: "steps[0].branches[1].conditions", type: "default_branch" }],
  },
  {
    name: "a default branch that is not last",
    input: workflowWith(
      branchStep("branch_1", [
        { name: "default", conditions: null, steps: [] },
        { name: "b", conditions: when, steps: [] },
      ]),
    ),
    expected: [
      {
        field: "steps[0].branches[0].conditions",
        type: "default_branch",
        message: /move it to the end/,
      },
    ],
  },
  {
    name: "two default branches",
    input: workflowWith(
      branchStep("branch_1", [
        { name: "a", conditions: null, steps: [] },
        { name: "b", conditions: null, steps: [] },
      ]),
    ),
    expected: [{ field: "steps[0].branches[0].conditions", type: "default_branch" }],
  },
  {
    name: "more than 10 branches",
    input: workflowWith(branchStep("branch_1", tooManyBranches)),
    expected: [
      { field: "steps[0].branches", type: "maxItems", message: /at most 10 branches, received 11/ },
    ],
  },
  {
    name: "a branch step with no branches",
    input: workflowWith(branchStep("branch_1", [])),
    expected: [{ field: "steps[0].branches", type: "minItems" }],
  },
  {
    name: "conditions on a branch step itself",
    input: workflowWith({
      ...branchStep("branch_1", [{ name: "d", conditions: null, steps: [] }]),
      conditions: when,
    }),
    expected: [
      { field: "steps[0].conditions", type: "additionalProperties", message: /on its branches/ },
    ],
  },
  {
    name: "branch steps nested 6 deep",
    input: nestedBranches(6),
    expected: [
      {
        field: `steps[0]${".branches[0].steps[0]".repeat(5)}`,
        type: "max_depth",
        message: /at most 5 deep, received a branch step at depth 6/,
      },
    ],
  },
  {
    name: "a key with uppercase letters and spaces",
    input: { key: "Order Shipped", steps: [] },
    expected: [{ field: "key", type: "pattern", message: /e\.g\. "order-shipped"/ }],
  },
  {
    name: "a key shorter than 3 characters",
    input: { key: "ab", steps: [] },
    expected: [{ field: "key", type: "minLength" }],
  },
  {
    name: "a missing key (with the knock-cli hint)",
    input: { steps: [], __readonly: { key: "from-cli" } },
    expected: [
      { field: "key", type: "required", message: /__readonly\.key: add "key": "from-cli"/ },
    ],
  },
  {
    name: "a ref with a dot",
    input: workflowWith(channel("email.1")),
    expected: [{ field: "steps[0].ref", type: "pattern" }],
  },
  {
    name: "an invalid trigger_data_json_schema",
    input: { key: "test-workflow", steps: [], trigger_data_json_schema: { type: "strnig" } },
    expected: [
      { field: "trigger_data_json_schema", type: "schema", message: /type must be one of/ },
    ],
  },
  {
    name: "a trigger_data_json_schema with an unresolvable $ref",
    input: {
      key: "test-workflow",
      steps: [],
      trigger_data_json_schema: { $ref: "#/definitions/missing" },
    },
    expected: [
      { field: "trigger_data_json_schema", type: "schema", message: /can't resolve reference/ },
    ],
  },
  {
    name: "an unknown top-level field",
    input: { key: "test-workflow", steps: [], stepz: [] },
    expected: [{ field: "stepz", type: "additionalProperties" }],
  },
  {
    name: "an unknown condition operator",
    input: {
      key: "test-workflow",
      steps: [],
      conditions: { all: [{ variable: "data.x", operator: "equals" }] },
    },
    expected: [{ field: "conditions.all[0].operator", type: "enum" }],
  },
  ...(["is_audience_member", "is_not_audience_member"] as const).map((operator) => ({
    name: `Knock's audience operator ${operator}, saying crier has no audiences`,
    input: workflowWith(
      channel("email_1", {
        conditions: { all: [{ variable: "recipient.id", operator, argument: "beta-testers" }] },
      }),
    ),
    expected: [
      {
        field: "steps[0].conditions.all[0].operator",
        type: "enum",
        message: /crier has none.*contains/,
      },
    ],
  })),
  ...[
    { unit: "days", value: 366 },
    { unit: "weeks", value: 53 },
    { unit: "months", value: 13 },
    { unit: "seconds", value: 365 * 86_400 + 1 },
  ].map((delayFor) => ({
    name: `a delay_for of ${delayFor.value} ${delayFor.unit}, over 365 days`,
    input: workflowWith(delay("wait", delayFor)),
    expected: [
      {
        field: "steps[0].settings.delay_for",
        type: "maximum",
        message: /^expected a delay_for of at most 365 days .*, received .*; shorten it/,
      },
    ],
  })),
  ...[
    { unit: "days", value: 32 },
    { unit: "weeks", value: 5 },
    { unit: "months", value: 2 },
  ].map((window) => ({
    name: `a throttle_window of ${window.value} ${window.unit}, over 31 days`,
    input: workflowWith(
      channel("email_1"),
      branchStep("branch_1", [
        {
          name: "default",
          conditions: null,
          steps: [{ ref: "gate", type: "throttle", settings: { throttle_window: window } }],
        },
      ]),
    ),
    expected: [
      {
        field: "steps[1].branches[0].steps[0].settings.throttle_window",
        type: "maximum",
        message: /^expected a throttle_window of at most 31 days .*, received /,
      },
    ],
  })),
  {
    name: "a condition group with both all and any",
    input: workflowWith(channel("email_1", { conditions: { all: [], any: [] } })),
    expected: [{ field: "steps[0].conditions", type: "maxProperties" }],
  },
  {
    name: "a condition without a variable, nested in an any group",
    input: workflowWith(
      channel("email_1", { conditions: { any: [{ all: [{ operator: "exists" }] }] } }),
    ),
    expected: [{ field: "steps[0].conditions.any[0].all[0].variable", type: "required" }],
  },
  {
    name: "an unknown channel_type",
    input: workflowWith(channel("email_1", { channel_type: "fax" })),
    expected: [{ field: "steps[0].channel_type", type: "enum" }],
  },
  {
    name: "a send window with a bad time and a duplicate day",
    input: workflowWith(
      channel("email_1", {
        send_windows: [
          { day: "monday", type: "send", from: "9am" },
          { day: "monday", type: "do_not_send", until: "10:00" },
        ],
      }),
    ),
    expected: [
      { field: "steps[0].send_windows[0].from", type: "pattern" },
      { field: "steps[0].send_windows[1].day", type: "unique" },
      { field: "steps[0].send_windows[1].until", type: "send_window" },
    ],
  },
  {
    name: "batch limits out of range",
    input: workflowWith({
      ref: "batch_1",
      type: "batch",
      settings: {
        batch_window: { unit: "minutes", value: 5 },
        batch_items_max_limit: 1,
        batch_items_render_limit: 101,
      },
    }),
    expected: [
      { field: "steps[0].settings.batch_items_max_limit", type: "minimum" },
      { field: "steps[0].settings.batch_items_render_limit", type: "maximum" },
    ],
  },
  {
    name: "a batch without a window",
    input: workflowWith({ ref: "batch_1", type: "batch", settings: { batch_key: "data.id" } }),
    expected: [
      {
        field: "steps[0].settings",
        type: "required",
        message: /"batch_window" or "batch_until_field_path"/,
      },
    ],
  },
  {
    name: "a throttle limit of 0 and a misspelt setting",
    input: workflowWith({
      ref: "throttle_1",
      type: "throttle",
      settings: {
        throttle_window: { unit: "hours", value: 1 },
        throttle_limit: 0,
        throttle_kee: "x",
      },
    }),
    expected: [
      { field: "steps[0].settings.throttle_limit", type: "minimum" },
      {
        field: "steps[0].settings.throttle_kee",
        type: "additionalProperties",
        message: /did you mean "throttle_key"/,
      },
    ],
  },
  {
    name: "an http_fetch without a url and with an unknown method",
    input: workflowWith({ ref: "fetch_1", type: "http_fetch", settings: { method: "FETCH" } }),
    expected: [
      { field: "steps[0].settings.url", type: "required" },
      { field: "steps[0].settings.method", type: "enum" },
    ],
  },
  {
    name: "a header and a send window missing fields (hints fit the field)",
    input: workflowWith(
      {
        ref: "fetch_1",
        type: "http_fetch",
        settings: { url: "https://example.com", headers: [{ key: "X-Id" }] },
      },
      channel("email_1", { send_windows: [{ day: "monday" }] }),
    ),
    expected: [
      {
        field: "steps[0].settings.headers[0].value",
        type: "required",
        message: /the value, a Liquid template/,
      },
      { field: "steps[1].send_windows[0].type", type: "required", message: /send or do_not_send/ },
    ],
  },
  {
    name: "a trigger_workflow without a workflow_key",
    input: workflowWith({
      ref: "trigger_1",
      type: "trigger_workflow",
      settings: { recipients: "x" },
    }),
    expected: [{ field: "steps[0].settings.workflow_key", type: "required" }],
  },
  {
    name: "update_data with a number",
    input: workflowWith({ ref: "update_1", type: "update_data", settings: { data: 42 } }),
    expected: [
      {
        field: "steps[0].settings.data",
        type: "type",
        message: /an object or a string, received 42/,
      },
    ],
  },
  {
    name: "a step that is not an object",
    input: workflowWith("email"),
    expected: [{ field: "steps[0]", type: "type" }],
  },
  {
    name: "a definition that is not an object",
    input: null,
    expected: [{ field: "workflow", type: "type" }],
  },
];

describe("validateWorkflow: rejected definitions", () => {
  it.each(rejectCases)("rejects $name", ({ input, expected }) => {
    const issues = issuesOf(input);
    for (const { field, type, message } of expected) {
      const match = issues.find((issue) => issue.field === field && issue.type === type);
      expect(
        match,
        `no issue ${type} at ${field} in ${JSON.stringify(issues, null, 2)}`,
      ).toBeDefined();
      if (typeof message === "string") expect(match?.message).toContain(message);
      else if (message) expect(match?.message).toMatch(message);
    }
  });

  it("reports exactly one issue for a single problem", () => {
    expect(issuesOf(workflowWith({ ref: "oops", type: "emial" }))).toHaveLength(1);
    expect(issuesOf(workflowWith(delay("wait", { unit: "days", value: 0 })))).toHaveLength(1);
    expect(issuesOf(workflowWith({ ref: "wait", type: "delay", settings: {} }))).toHaveLength(1);
    for (const operator of ["equals", "is_audience_member"]) {
      const issues = issuesOf({
        key: "one-issue",
        steps: [],
        conditions: { any: [{ variable: "data.x", operator, argument: "a" }] },
      });
      expect(issues.map((issue) => issue.field)).toEqual(["conditions.any[0].operator"]);
    }
  });

  it("reports every problem together, in document order, under one message", () => {
    const input = {
      key: "multi-problem",
      steps: [
        { ref: "a", type: "emial" },
        { ref: "a", type: "channel", template: {} },
        delay("wait", { unit: "days", value: 0 }),
        branchStep("branch_1", [{ name: "x", conditions: when, steps: [] }]),
      ],
      trigger_data_json_schema: { type: 12 },
    };
    let thrown: unknown;
    try {
      validateWorkflow(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidParamsError);
    const error = thrown as InvalidParamsError;
    expect(error.message.startsWith('Invalid workflow "multi-problem": ')).toBe(true);
    expect(error.errors.map((issue) => [issue.field, issue.type])).toEqual([
      ["trigger_data_json_schema", "schema"],
      ["steps[0].type", "enum"],
      ["steps[1].channel_key", "required"],
      ["steps[1].ref", "unique"],
      ["steps[2].settings.delay_for.value", "minimum"],
      ["steps[3].branches[0].conditions", "default_branch"],
    ]);
    for (const issue of error.errors) expect(issue.message).toMatch(/^expected .+[,;] received /);
  });

  it("names the workflow key in the message, or says definition when there is none", () => {
    expect(() => validateWorkflow({ key: "has-key", steps: "no" })).toThrow(
      /^Invalid workflow "has-key": steps: /,
    );
    expect(() => validateWorkflow({ steps: [] })).toThrow(/^Invalid workflow definition: key: /);
  });

  it("validates a Step typed object (types and runtime agree on a channel step)", () => {
    const step: Step = {
      ref: "email_1",
      type: "channel",
      channel_key: "postmark",
      template: { subject: "Hi" },
    };
    expect(() => validateWorkflow({ key: "typed", steps: [step] })).not.toThrow();
  });
});

describe("compileDataSchema", () => {
  const orderSchema = {
    type: "object",
    required: ["order", "user"],
    properties: {
      user: { type: "string" },
      count: { type: "integer" },
      email: { type: "string", format: "email" },
      placed_at: { type: "string", format: "date-time" },
      "first name": { type: "string" },
      order: {
        type: "object",
        required: ["id"],
        properties: {
          id: { type: "string" },
          items: {
            type: "array",
            items: { type: "object", required: ["sku"], properties: { sku: { type: "string" } } },
          },
        },
      },
    },
  };
  const validate = compileDataSchema(orderSchema);
  const valid = { user: "u1", order: { id: "o1", items: [{ sku: "a" }] }, email: "a@example.com" };

  it("returns [] for valid data", () => {
    expect(validate(valid)).toEqual([]);
  });

  it("names a missing required property by its full path", () => {
    expect(validate({ order: { id: "o1" } })).toEqual([
      expect.objectContaining({ field: "data.user", type: "required" }),
    ]);
    expect(validate({ user: "u1", order: {} })).toEqual([
      expect.objectContaining({ field: "data.order.id", type: "required" }),
    ]);
  });

  it("names a field of the wrong type", () => {
    const [issue, ...rest] = validate({ ...valid, count: "three" });
    expect(rest).toEqual([]);
    expect(issue).toEqual({
      field: "data.count",
      type: "type",
      message: 'expected an integer, received "three"; change it to an integer',
    });
  });

  it("names nested array items", () => {
    const issues = validate({
      user: "u1",
      order: { id: "o1", items: [{ sku: "a" }, { sku: 7 }, {}] },
    });
    expect(issues.map((issue) => [issue.field, issue.type])).toEqual([
      ["data.order.items[1].sku", "type"],
      ["data.order.items[2].sku", "required"],
    ]);
  });

  it("quotes property names that are not identifiers", () => {
    expect(validate({ ...valid, "first name": 1 })).toEqual([
      expect.objectContaining({ field: 'data["first name"]', type: "type" }),
    ]);
  });

  it("checks formats", () => {
    expect(validate({ ...valid, email: "not-an-email", placed_at: "yesterday" })).toEqual([
      expect.objectContaining({ field: "data.email", type: "format" }),
      expect.objectContaining({ field: "data.placed_at", type: "format" }),
    ]);
    expect(validate({ ...valid, placed_at: "2026-01-01T10:00:00Z" })).toEqual([]);
  });

  it("names the data itself when it has the wrong type", () => {
    expect(validate(null)).toEqual([expect.objectContaining({ field: "data", type: "type" })]);
  });

  it("reports an anyOf mismatch as one issue listing the alternatives", () => {
    const check = compileDataSchema({
      properties: { id: { anyOf: [{ type: "string" }, { type: "integer" }] } },
    });
    expect(check({ id: true })).toEqual([
      {
        field: "data.id",
        type: "anyOf",
        message: "expected a string or an integer, received true; change it",
      },
    ]);
  });

  it("throws InvalidParamsError on field trigger_data_json_schema for an invalid schema", () => {
    for (const schema of [
      { type: "strnig" },
      { properties: { email: { type: "string", format: "emial" } } },
      { $schema: "http://json-schema.org/draft-04/schema#" },
    ]) {
      let thrown: unknown;
      try {
        compileDataSchema(schema);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidParamsError);
      expect((thrown as InvalidParamsError).errors).toEqual([
        expect.objectContaining({ field: "trigger_data_json_schema", type: "schema" }),
      ]);
    }
  });

  it("supports 2020-12 schemas and schemas of different workflows sharing an $id", () => {
    const modern = compileDataSchema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      properties: { tags: { type: "array", prefixItems: [{ type: "string" }] } },
    });
    expect(modern({ tags: [1] })).toEqual([
      expect.objectContaining({ field: "data.tags[0]", type: "type" }),
    ]);

    const first = compileDataSchema({ $id: "https://example.com/data.json", required: ["a"] });
    const second = compileDataSchema({ $id: "https://example.com/data.json", required: ["b"] });
    expect(first({})).toEqual([expect.objectContaining({ field: "data.a" })]);
    expect(second({})).toEqual([expect.objectContaining({ field: "data.b" })]);
  });

  it("allows unknown keywords in user schemas", () => {
    const check = compileDataSchema({
      type: "object",
      "x-owner": "growth",
      properties: { a: { examples: [1] } },
    });
    expect(check({ a: 1 })).toEqual([]);
  });
});
