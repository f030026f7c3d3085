import { describe, expect, it } from "vitest";
import { validateConditionGroup } from "../../src/conditions/evaluate.js";

const P = "steps[0].conditions";

describe("validateConditionGroup", () => {
  it("accepts a well-formed group using every kind of argument", () => {
    const group = {
      any: [
        {
          all: [
            { variable: "data.plan", operator: "equal_to", argument: "pro" },
            { variable: "recipient.id", operator: "not_equal_to", argument: "actor.id" },
            { variable: "data.count", operator: "greater_than", argument: "5" },
            { variable: "data.tags", operator: "contains_all", argument: ["a", "b"] },
            { variable: "data.tags", operator: "contains_all", argument: "a" },
            { variable: "data.x", operator: "empty" },
            { variable: "data.x", operator: "exists" },
            { variable: "data.at", operator: "is_timestamp" },
            {
              variable: "data.at",
              operator: "is_timestamp_before",
              argument: "2024-05-01T00:00:00Z",
            },
            {
              variable: "data.at",
              operator: "is_timestamp_before",
              argument: { value: 15, unit: "minutes", direction: "ago" },
            },
            {
              variable: "data.at",
              operator: "is_timestamp_on_or_after",
              argument: '{"value": 2, "unit": "days", "direction": "from_now"}',
            },
            { variable: "data.at", operator: "is_timestamp_on_or_after", argument: "3 days ago" },
            {
              variable: "data.at",
              operator: "is_timestamp_on_or_after_date",
              argument: "{{ data.other }}",
            },
            { variable: "data.at", operator: "is_timestamp_before", argument: 1714564800000 },
            {
              variable: "data.at",
              operator: "is_timestamp_between",
              argument: ["2024-05-01", "data.end"],
            },
            {
              variable: "data.at",
              operator: "is_timestamp_between",
              argument: '["2024-05-01", "2024-06-01"]',
            },
            { variable: "data.at", operator: "is_timestamp_before_now" },
            { variable: "data.n", operator: "is_between", argument: [1, "10"] },
            { variable: "recipient.id", operator: "is_in_random_cohort", argument: "12.5" },
          ],
        },
        {
          all: [
            {
              variable: "refs.email.delivery_status",
              operator: "greater_than_or_equal_to",
              argument: "$message.sent",
            },
            {
              variable: "refs.email.delivery_status",
              operator: "equal_to",
              argument: "$message.skipped",
            },
            {
              variable: "refs.in_app.engagement_status",
              operator: "contains",
              argument: "$message.seen_not_read",
            },
            {
              variable: "refs.in_app.engagement_status",
              operator: "not_contains",
              argument: "$message.read",
            },
          ],
        },
      ],
    };
    expect(validateConditionGroup(group, P)).toEqual([]);
  });

  it("accepts null and undefined (no conditions)", () => {
    expect(validateConditionGroup(null, P)).toEqual([]);
    expect(validateConditionGroup(undefined, P)).toEqual([]);
  });

  it("accepts empty groups", () => {
    expect(validateConditionGroup({ all: [] }, P)).toEqual([]);
    expect(validateConditionGroup({ any: [] }, P)).toEqual([]);
  });

  it.each([
    ["a string", "data.x"],
    ["a number", 3],
    ["a list", [{ variable: "data.x", operator: "exists" }]],
    ["an object without all or any", { foo: [] }],
  ])("rejects %s as a group", (_name, group) => {
    const issues = validateConditionGroup(group, P);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ field: P, type: "type" });
    expect(issues[0]?.message).toContain("{ all: [...] } or { any: [...] }");
  });

  it("suggests wrapping a bare condition", () => {
    const [issue] = validateConditionGroup({ variable: "data.x", operator: "exists" }, P);
    expect(issue?.message).toContain("wrap a single condition as { all: [condition] }");
  });

  it("rejects all and any together", () => {
    const issues = validateConditionGroup({ all: [], any: [] }, P);
    expect(issues).toEqual([expect.objectContaining({ field: P, type: "type" })]);
  });

  it("rejects all / any that are not lists", () => {
    expect(validateConditionGroup({ all: { variable: "data.x" } }, P)).toEqual([
      expect.objectContaining({ field: `${P}.all`, type: "type" }),
    ]);
    expect(validateConditionGroup({ any: "x" }, P)).toEqual([
      expect.objectContaining({ field: `${P}.any`, type: "type" }),
    ]);
  });

  it("rejects items that are neither conditions nor groups", () => {
    const issues = validateConditionGroup({ all: [null, "data.x", 5] }, P);
    expect(issues.map((i) => [i.field, i.type])).toEqual([
      [`${P}.all[0]`, "type"],
      [`${P}.all[1]`, "type"],
      [`${P}.all[2]`, "type"],
    ]);
  });

  it.each([
    ["missing variable", { operator: "exists" }, ".variable", "required"],
    ["empty variable", { variable: "", operator: "exists" }, ".variable", "required"],
    ["non-string variable", { variable: 5, operator: "exists" }, ".variable", "type"],
    ["missing operator", { variable: "data.x" }, ".operator", "required"],
    ["unknown operator", { variable: "data.x", operator: "is_awesome" }, ".operator", "enum"],
    [
      "equal_to without argument",
      { variable: "data.x", operator: "equal_to" },
      ".argument",
      "required",
    ],
    [
      "contains without argument",
      { variable: "data.x", operator: "contains" },
      ".argument",
      "required",
    ],
    [
      "contains_all without argument",
      { variable: "data.x", operator: "contains_all" },
      ".argument",
      "required",
    ],
    [
      "greater_than without argument",
      { variable: "data.x", operator: "greater_than" },
      ".argument",
      "required",
    ],
    [
      "greater_than a list",
      { variable: "data.x", operator: "greater_than", argument: [1] },
      ".argument",
      "type",
    ],
    [
      "less_than a JSON object",
      { variable: "data.x", operator: "less_than", argument: '{"a":1}' },
      ".argument",
      "type",
    ],
    [
      "less_than a boolean",
      { variable: "data.x", operator: "less_than", argument: true },
      ".argument",
      "type",
    ],
    [
      "is_timestamp_before without argument",
      { variable: "data.x", operator: "is_timestamp_before" },
      ".argument",
      "required",
    ],
    [
      "is_timestamp_before words",
      { variable: "data.x", operator: "is_timestamp_before", argument: "someday" },
      ".argument",
      "format",
    ],
    [
      "is_timestamp_before bad date",
      { variable: "data.x", operator: "is_timestamp_before", argument: "2024-13-01" },
      ".argument",
      "format",
    ],
    [
      "is_timestamp_before a list",
      { variable: "data.x", operator: "is_timestamp_before", argument: ["2024-01-01"] },
      ".argument",
      "format",
    ],
    [
      "relative without unit",
      { variable: "data.x", operator: "is_timestamp_before", argument: { value: 5 } },
      ".argument",
      "format",
    ],
    [
      "relative with a bad unit",
      {
        variable: "data.x",
        operator: "is_timestamp_before",
        argument: { value: 1, unit: "months", direction: "ago" },
      },
      ".argument",
      "format",
    ],
    [
      "relative with a bad value",
      {
        variable: "data.x",
        operator: "is_timestamp_before",
        argument: { value: "soon", unit: "days" },
      },
      ".argument",
      "format",
    ],
    [
      "relative with a bad direction",
      {
        variable: "data.x",
        operator: "is_timestamp_before",
        argument: { value: 1, unit: "days", direction: "later" },
      },
      ".argument",
      "format",
    ],
    [
      "relative text with a bad unit",
      { variable: "data.x", operator: "is_timestamp_before", argument: "3 fortnights ago" },
      ".argument",
      "format",
    ],
    [
      "between without argument",
      { variable: "data.x", operator: "is_timestamp_between" },
      ".argument",
      "required",
    ],
    [
      "between with one item",
      { variable: "data.x", operator: "is_timestamp_between", argument: ["2024-01-01"] },
      ".argument",
      "type",
    ],
    [
      "between with a string",
      { variable: "data.x", operator: "is_timestamp_between", argument: "2024-01-01" },
      ".argument",
      "type",
    ],
    [
      "between with a relative item",
      {
        variable: "data.x",
        operator: "is_timestamp_between",
        argument: ["2024-01-01", { value: 1, unit: "days" }],
      },
      ".argument[1]",
      "format",
    ],
    [
      "between with a bad item",
      { variable: "data.x", operator: "is_timestamp_between", argument: ["nope", "2024-01-01"] },
      ".argument[0]",
      "format",
    ],
    [
      "between reversed",
      {
        variable: "data.x",
        operator: "is_timestamp_between",
        argument: ["2024-02-01", "2024-01-01"],
      },
      ".argument",
      "range",
    ],
    [
      "is_between without argument",
      { variable: "data.x", operator: "is_between" },
      ".argument",
      "required",
    ],
    [
      "is_between with a number",
      { variable: "data.x", operator: "is_between", argument: 5 },
      ".argument",
      "type",
    ],
    [
      "is_between with a word",
      { variable: "data.x", operator: "is_between", argument: [1, "ten"] },
      ".argument[1]",
      "type",
    ],
    [
      "is_between reversed",
      { variable: "data.x", operator: "is_between", argument: [10, 1] },
      ".argument",
      "range",
    ],
    [
      "cohort without argument",
      { variable: "recipient.id", operator: "is_in_random_cohort" },
      ".argument",
      "required",
    ],
    [
      "cohort above 100",
      { variable: "recipient.id", operator: "is_in_random_cohort", argument: 101 },
      ".argument",
      "range",
    ],
    [
      "cohort below 0",
      { variable: "recipient.id", operator: "is_in_random_cohort", argument: "-1" },
      ".argument",
      "range",
    ],
    [
      "cohort not a number",
      { variable: "recipient.id", operator: "is_in_random_cohort", argument: "half" },
      ".argument",
      "type",
    ],
    [
      "unknown message status",
      { variable: "refs.e.delivery_status", operator: "equal_to", argument: "$message.exploded" },
      ".argument",
      "enum",
    ],
    [
      "X_not_Y with an ordered operator",
      {
        variable: "refs.e.delivery_status",
        operator: "greater_than",
        argument: "$message.seen_not_read",
      },
      ".argument",
      "type",
    ],
    [
      "message status as a timestamp",
      { variable: "data.x", operator: "is_timestamp_before", argument: "$message.sent" },
      ".argument",
      "type",
    ],
  ])("%s", (_name, condition, suffix, type) => {
    const issues = validateConditionGroup(
      { all: [{ variable: "data.ok", operator: "exists" }, condition] },
      P,
    );
    expect(issues).toEqual([expect.objectContaining({ field: `${P}.all[1]${suffix}`, type })]);
    expect(issues[0]?.message.length).toBeGreaterThan(10);
  });

  it("does not ask for an argument where none is needed", () => {
    for (const operator of [
      "empty",
      "not_empty",
      "exists",
      "not_exists",
      "is_timestamp",
      "is_not_timestamp",
      "is_timestamp_before_now",
      "is_timestamp_on_or_after_now",
    ]) {
      expect(validateConditionGroup({ all: [{ variable: "data.x", operator }] }, P)).toEqual([]);
    }
  });

  it("reports nested fields with their full path", () => {
    const group = {
      any: [
        { variable: "data.a", operator: "exists" },
        {
          all: [
            { variable: "data.b", operator: "exists" },
            { variable: "data.c", operator: "nope" },
          ],
        },
      ],
    };
    expect(validateConditionGroup(group, "conditions")).toEqual([
      expect.objectContaining({ field: "conditions.any[1].all[1].operator", type: "enum" }),
    ]);
  });

  it("reports every issue, in order", () => {
    const issues = validateConditionGroup(
      {
        all: [
          { variable: "data.a", operator: "nope" },
          { operator: "exists" },
          { variable: "data.c", operator: "equal_to" },
        ],
      },
      "c",
    );
    expect(issues.map((i) => i.field)).toEqual([
      "c.all[0].operator",
      "c.all[1].variable",
      "c.all[2].argument",
    ]);
  });

  it("stops at absurd nesting depth", () => {
    let group: unknown = { all: [] };
    for (let i = 0; i < 40; i++) group = { all: [group] };
    const issues = validateConditionGroup(group, "c");
    expect(issues).toHaveLength(1);
    expect(issues[0]?.type).toBe("range");
  });
});
