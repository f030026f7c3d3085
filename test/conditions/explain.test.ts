import { describe, expect, it } from "vitest";
import { explainConditions } from "../../src/conditions/evaluate.js";
import type { ConditionGroup, ConditionScope } from "../../src/conditions/types.js";
import { cond, NOW } from "./helpers.js";

describe("explainConditions", () => {
  it("names the failed condition and the value it saw", () => {
    const result = explainConditions(
      { all: [cond("data.plan", "equal_to", "pro")] },
      { data: { plan: "free" } },
      NOW,
    );
    expect(result).toEqual({
      passed: false,
      failed: [
        {
          variable: "data.plan",
          operator: "equal_to",
          argument: "pro",
          value: "free",
          resolved_argument: "pro",
        },
      ],
      text: 'data.plan equal_to "pro" was false (data.plan = "free")',
    });
  });

  it("says when the variable is not set", () => {
    const result = explainConditions({ all: [cond("data.plan", "exists")] }, { data: {} }, NOW);
    expect(result.text).toBe("data.plan exists was false (data.plan is not set)");
    expect(result.failed).toEqual([
      {
        variable: "data.plan",
        operator: "exists",
        argument: undefined,
        value: undefined,
        resolved_argument: undefined,
      },
    ]);
  });

  it("reports a passing group without failures", () => {
    const result = explainConditions(
      { all: [cond("data.plan", "equal_to", "pro")] },
      { data: { plan: "pro" } },
      NOW,
    );
    expect(result).toEqual({ passed: true, failed: [], text: "conditions passed" });
  });

  it("for all, reports only the first failure (the one that decided)", () => {
    const group: ConditionGroup = {
      all: [
        cond("data.a", "equal_to", 1),
        cond("data.b", "equal_to", 2),
        cond("data.c", "equal_to", 3),
      ],
    };
    const result = explainConditions(group, { data: { a: 1, b: 0, c: 0 } }, NOW);
    expect(result.failed.map((f) => f.variable)).toEqual(["data.b"]);
    expect(result.text).toBe("data.b equal_to 2 was false (data.b = 0)");
  });

  it("for any, reports every failure", () => {
    const group: ConditionGroup = {
      any: [
        cond("data.a", "equal_to", 1),
        { all: [cond("data.b", "equal_to", 2), cond("data.c", "equal_to", 3)] },
      ],
    };
    const result = explainConditions(group, { data: { a: 0, b: 0, c: 0 } }, NOW);
    expect(result.failed.map((f) => f.variable)).toEqual(["data.a", "data.b"]);
    expect(result.text).toBe(
      "data.a equal_to 1 was false (data.a = 0); data.b equal_to 2 was false (data.b = 0)",
    );
  });

  it("shows a dynamic argument's value", () => {
    const scope: ConditionScope = { recipient: { id: "u1" }, actor: { id: "u2" } };
    const result = explainConditions(
      { all: [cond("recipient.id", "equal_to", "actor.id")] },
      scope,
      NOW,
    );
    expect(result.text).toBe(
      'recipient.id equal_to actor.id was false (recipient.id = "u1", actor.id = "u2")',
    );
    expect(result.failed[0]?.resolved_argument).toBe("u2");
  });

  it("shows a missing dynamic argument", () => {
    const result = explainConditions(
      { all: [cond("data.x", "equal_to", "{{ actor.id }}")] },
      { data: { x: "a" } },
      NOW,
    );
    expect(result.text).toBe(
      'data.x equal_to {{ actor.id }} was false (data.x = "a", actor.id is not set)',
    );
    expect(result.failed[0]?.resolved_argument).toBe("");
  });

  it("resolves a relative timestamp to its instant", () => {
    const argument = { value: 15, unit: "minutes", direction: "ago" };
    const result = explainConditions(
      { all: [cond("data.at", "is_timestamp_before", argument)] },
      { data: { at: "2024-05-01T11:50:00Z" } },
      NOW,
    );
    expect(result.failed[0]).toEqual({
      variable: "data.at",
      operator: "is_timestamp_before",
      argument,
      value: "2024-05-01T11:50:00Z",
      resolved_argument: "2024-05-01T11:45:00.000Z",
    });
    expect(result.text).toContain("15 minutes ago = 2024-05-01T11:45:00.000Z");
  });

  it("shows now for the *_now operators", () => {
    const result = explainConditions(
      { all: [cond("data.at", "is_timestamp_before_now")] },
      { data: { at: "2030-01-01" } },
      NOW,
    );
    expect(result.text).toBe(
      'data.at is_timestamp_before_now was false (data.at = "2030-01-01", now = 2024-05-01T12:00:00.000Z)',
    );
    expect(result.failed[0]?.resolved_argument).toBe("2024-05-01T12:00:00.000Z");
  });

  it("shows a message's highest status", () => {
    const scope: ConditionScope = {
      refs: { email: { delivery_status: "queued", engagement_status: [] } },
    };
    const result = explainConditions(
      { all: [cond("refs.email.delivery_status", "greater_than_or_equal_to", "$message.sent")] },
      scope,
      NOW,
    );
    expect(result.text).toBe(
      'refs.email.delivery_status greater_than_or_equal_to "$message.sent" was false (refs.email.delivery_status = "queued", highest message status = queued)',
    );
    expect(result.failed[0]?.resolved_argument).toBe("sent");
    const skipped = explainConditions(
      { all: [cond("refs.email.delivery_status", "greater_than_or_equal_to", "$message.sent")] },
      { refs: {} },
      NOW,
    );
    expect(skipped.text).toContain("highest message status = none (no message)");
  });

  it("shows the cohort bucket", () => {
    const result = explainConditions(
      { all: [cond("recipient.id", "is_in_random_cohort", 0)] },
      { recipient: { id: "u1" } },
      NOW,
    );
    expect(result.text).toMatch(
      /^recipient\.id is_in_random_cohort 0 was false \(recipient\.id = "u1", cohort bucket = \d+\.\d\d\)$/,
    );
  });

  it("says why a malformed condition failed", () => {
    const group = {
      all: [{ variable: "data.x", operator: "is_awesome", argument: 1 }],
    } as unknown as ConditionGroup;
    const result = explainConditions(group, { data: {} }, NOW);
    expect(result.passed).toBe(false);
    expect(result.failed).toHaveLength(1);
    expect(result.text).toBe('data.x is_awesome is invalid: unknown operator "is_awesome"');
    const noArgument = explainConditions({ all: [cond("data.x", "equal_to")] }, { data: {} }, NOW);
    expect(noArgument.text).toBe("data.x equal_to is invalid: this operator needs an argument");
  });

  it("truncates long values", () => {
    const result = explainConditions(
      { all: [cond("data.x", "equal_to", "y")] },
      { data: { x: "z".repeat(500) } },
      NOW,
    );
    expect(result.text.length).toBeLessThan(200);
    expect(result.text).toContain("…");
  });
});
