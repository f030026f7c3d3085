import { describe, expect, it } from "vitest";
import { compileConditions, DYNAMIC_PREFIXES } from "../../src/conditions/evaluate.js";
import type { ConditionScope } from "../../src/conditions/types.js";
import { cond, evaluate, NOW } from "./helpers.js";

describe("dynamic arguments", () => {
  const scope: ConditionScope = {
    data: {
      owner_id: "u1",
      limit: 10,
      count: 12,
      tags: ["a", "b"],
      due_at: "2024-05-02T00:00:00Z",
    },
    recipient: { id: "u1", email: "ada@example.com" },
    actor: { id: "u2", tag: "b" },
    tenant: { id: "acme" },
    vars: { domain: "example.com" },
    workflow: { key: "welcome" },
    run: { total_activities: 3 },
    refs: { email: { delivery_status: "sent" } },
  };

  it("exports the documented prefixes", () => {
    expect(DYNAMIC_PREFIXES).toEqual(
      expect.arrayContaining([
        "data.",
        "recipient.",
        "actor.",
        "tenant.",
        "vars.",
        "workflow.",
        "refs.",
        "run.",
      ]),
    );
  });

  it.each([
    [
      "recipient.id equal_to data.owner_id",
      cond("recipient.id", "equal_to", "data.owner_id"),
      true,
    ],
    ["recipient.id equal_to actor.id", cond("recipient.id", "equal_to", "actor.id"), false],
    ["recipient.id not_equal_to actor.id", cond("recipient.id", "not_equal_to", "actor.id"), true],
    ["data.count greater_than data.limit", cond("data.count", "greater_than", "data.limit"), true],
    ["data.limit greater_than data.count", cond("data.limit", "greater_than", "data.count"), false],
    [
      "recipient.email contains vars.domain",
      cond("recipient.email", "contains", "vars.domain"),
      true,
    ],
    ["data.tags contains actor.tag", cond("data.tags", "contains", "actor.tag"), true],
    [
      "data.tags contains_all actor.tag (scalar)",
      cond("data.tags", "contains_all", "actor.tag"),
      true,
    ],
    ["tenant.id equal_to {{ tenant.id }}", cond("tenant.id", "equal_to", "{{ tenant.id }}"), true],
    ["Liquid without spaces", cond("recipient.id", "equal_to", "{{data.owner_id}}"), true],
    ["Liquid any path", cond("workflow.key", "equal_to", "{{ workflow.key }}"), true],
    ["run.total_activities equal_to 3", cond("run.total_activities", "equal_to", "3"), true],
    ["refs path", cond("data.x", "equal_to", "refs.email.delivery_status"), false],
    ["timestamp from a path", cond("data.due_at", "is_timestamp_on_or_after", "data.due_at"), true],
    [
      "timestamp from Liquid",
      cond("data.due_at", "is_timestamp_before", "{{ data.due_at }}"),
      false,
    ],
  ])("%s", (_name, condition, expected) => {
    expect(evaluate(condition, scope)).toBe(expected);
  });

  it("reads the argument from each scope, not once", () => {
    const test = compileConditions({ all: [cond("recipient.id", "equal_to", "actor.id")] });
    expect(test({ recipient: { id: "a" }, actor: { id: "a" } }, NOW)).toBe(true);
    expect(test({ recipient: { id: "a" }, actor: { id: "b" } }, NOW)).toBe(false);
  });

  it("a missing dynamic argument reads as the empty string", () => {
    expect(evaluate(cond("data.x", "equal_to", "actor.id"), { data: { x: "" } })).toBe(true);
    expect(evaluate(cond("data.x", "equal_to", "actor.id"), { data: {} })).toBe(true);
    expect(evaluate(cond("data.x", "equal_to", "actor.id"), { data: { x: "u1" } })).toBe(false);
  });

  it("a Liquid argument with a filter is not a path: it stays a literal string", () => {
    const condition = cond("data.x", "equal_to", "{{ data.y | upcase }}");
    expect(
      evaluate(condition, { data: { x: "{{ data.y | upcase }}", y: "{{ data.y | upcase }}" } }),
    ).toBe(true);
    expect(evaluate(condition, { data: { x: "A", y: "a" } })).toBe(false);
  });
});

describe("static arguments", () => {
  it.each([
    ["a JSON number", "5", 5, true],
    ["a JSON boolean", "true", true, true],
    ["a JSON null", "null", null, true],
    ["a JSON list", '["a","b"]', ["a", "b"], true],
    ["a JSON object", '{"a":1}', { a: 1 }, true],
    ["a JSON string escapes a prefix", '"data.x"', "data.x", true],
    ["a plain word", "pro", "pro", true],
    ["not JSON", "{oops", "{oops", true],
    ["a large integer stays a string", "12345678901234567891", "12345678901234567891", true],
    [
      "a large integer does not match a neighbour",
      "12345678901234567890",
      "12345678901234567891",
      false,
    ],
    ["a non-string list", ["x"], ["x"], true],
    ["a number", 7, "7", true],
  ])("%s", (_name, argument, value, expected) => {
    expect(evaluate(cond("data.x", "equal_to", argument), { data: { x: value } })).toBe(expected);
  });

  it("a string that looks like a path but has no known prefix is a literal", () => {
    expect(
      evaluate(cond("data.x", "equal_to", "user.id"), {
        data: { x: "user.id" },
        user: { id: "z" },
      }),
    ).toBe(true);
  });
});

describe("timestamp arguments", () => {
  const at = (iso: string): ConditionScope => ({ data: { at: iso } });
  const fifteenMinutesAgo = { value: 15, unit: "minutes", direction: "ago" };

  it.each([
    [
      "before 15 minutes ago: 20 minutes ago",
      "is_timestamp_before",
      fifteenMinutesAgo,
      "2024-05-01T11:40:00Z",
      true,
    ],
    [
      "before 15 minutes ago: 10 minutes ago",
      "is_timestamp_before",
      fifteenMinutesAgo,
      "2024-05-01T11:50:00Z",
      false,
    ],
    [
      "on or after 15 minutes ago: exactly",
      "is_timestamp_on_or_after",
      fifteenMinutesAgo,
      "2024-05-01T11:45:00Z",
      true,
    ],
    [
      "on or after 7 days ago (within the last week)",
      "is_timestamp_on_or_after",
      { value: 7, unit: "days", direction: "ago" },
      "2024-04-25T00:00:00Z",
      true,
    ],
    [
      "not within the last week",
      "is_timestamp_on_or_after",
      { value: 7, unit: "days", direction: "ago" },
      "2024-04-24T11:59:59Z",
      false,
    ],
    [
      "before 2 hours from now",
      "is_timestamp_before",
      { value: 2, unit: "hours", direction: "from_now" },
      "2024-05-01T13:59:59Z",
      true,
    ],
    [
      "not before 2 hours from now",
      "is_timestamp_before",
      { value: 2, unit: "hours", direction: "from_now" },
      "2024-05-01T14:00:00Z",
      false,
    ],
    [
      "weeks",
      "is_timestamp_before",
      { value: 1, unit: "weeks", direction: "ago" },
      "2024-04-24T11:59:59Z",
      true,
    ],
    [
      "no direction: a negative value is the past",
      "is_timestamp_before",
      { value: -1, unit: "hours" },
      "2024-05-01T10:59:00Z",
      true,
    ],
    [
      "no direction: a positive value is the future",
      "is_timestamp_before",
      { value: 1, unit: "hours" },
      "2024-05-01T12:59:00Z",
      true,
    ],
    [
      "JSON-encoded relative object",
      "is_timestamp_before",
      JSON.stringify(fifteenMinutesAgo),
      "2024-05-01T11:40:00Z",
      true,
    ],
    ["relative text", "is_timestamp_before", "15 minutes ago", "2024-05-01T11:40:00Z", true],
    [
      "relative text from now",
      "is_timestamp_on_or_after",
      "2 days from now",
      "2024-05-03T12:00:00Z",
      true,
    ],
    [
      "relative date comparison",
      "is_timestamp_before_date",
      { value: 1, unit: "days", direction: "ago" },
      "2024-04-29T23:00:00Z",
      true,
    ],
    [
      "relative date comparison, same day",
      "is_timestamp_before_date",
      { value: 1, unit: "days", direction: "ago" },
      "2024-04-30T00:00:00Z",
      false,
    ],
    [
      "epoch milliseconds argument",
      "is_timestamp_before",
      Date.UTC(2024, 4, 1),
      "2024-04-30T00:00:00Z",
      true,
    ],
    [
      "Date argument",
      "is_timestamp_on_or_after",
      new Date("2024-05-01T00:00:00Z"),
      "2024-05-01T00:00:00Z",
      true,
    ],
  ] as const)("%s", (_name, operator, argument, value, expected) => {
    expect(evaluate(cond("data.at", operator, argument), at(value))).toBe(expected);
  });

  it("relative times are measured from the `now` of each call, not compile time", () => {
    const test = compileConditions({
      all: [cond("data.at", "is_timestamp_before", fifteenMinutesAgo)],
    });
    const scope = at("2024-05-01T11:50:00Z");
    expect(test(scope, NOW)).toBe(false);
    expect(test(scope, new Date("2024-05-01T12:10:00Z"))).toBe(true);
  });

  it("*_now operators use the `now` of each call", () => {
    const test = compileConditions({ all: [cond("data.at", "is_timestamp_before_now")] });
    const scope = at("2024-05-01T12:00:00Z");
    expect(test(scope, NOW)).toBe(false);
    expect(test(scope, new Date("2024-05-01T12:00:00.001Z"))).toBe(true);
  });

  it("is_timestamp_between reads [start, end] items from paths", () => {
    const condition = cond("data.at", "is_timestamp_between", ["data.start", "{{ data.end }}"]);
    const scope = { data: { at: "2024-05-10", start: "2024-05-01", end: "2024-06-01" } };
    expect(evaluate(condition, scope)).toBe(true);
    expect(evaluate(condition, { data: { ...scope.data, end: "2024-05-05" } })).toBe(false);
  });

  it("is_timestamp_between reads a whole [start, end] list from a path", () => {
    const condition = cond("data.at", "is_timestamp_between", "data.range");
    expect(
      evaluate(condition, { data: { at: "2024-05-10", range: ["2024-05-01", "2024-06-01"] } }),
    ).toBe(true);
    expect(
      evaluate(condition, { data: { at: "2024-07-10", range: ["2024-05-01", "2024-06-01"] } }),
    ).toBe(false);
    expect(
      evaluate(condition, { data: { at: "2024-05-01", range: ["2024-05-01", "2024-06-01"] } }),
    ).toBe(true);
    expect(
      evaluate(condition, { data: { at: "2024-06-01", range: ["2024-05-01", "2024-06-01"] } }),
    ).toBe(false);
    expect(evaluate(condition, { data: { at: "2024-05-10", range: "2024-05-01" } })).toBe(false);
  });

  it("is_timestamp_between with a relative item never passes", () => {
    const condition = cond("data.at", "is_timestamp_between", [fifteenMinutesAgo, "2030-01-01"]);
    expect(evaluate(condition, at("2024-05-01T11:50:00Z"))).toBe(false);
  });

  it("an argument that is not a timestamp never passes", () => {
    expect(evaluate(cond("data.at", "is_timestamp_before", "someday"), at("2000-01-01"))).toBe(
      false,
    );
    expect(evaluate(cond("data.at", "is_timestamp_on_or_after", "someday"), at("2000-01-01"))).toBe(
      false,
    );
  });

  it("is_between reads bounds from paths", () => {
    const condition = cond("data.n", "is_between", ["data.min", "data.max"]);
    expect(evaluate(condition, { data: { n: 5, min: 1, max: 5 } })).toBe(true);
    expect(evaluate(condition, { data: { n: 6, min: 1, max: 5 } })).toBe(false);
  });
});
