import { afterEach, describe, expect, it, vi } from "vitest";
import { compileConditions } from "../../src/conditions/evaluate.js";
import type { ConditionGroup } from "../../src/conditions/types.js";
import { cond, NOW } from "./helpers.js";

/** A group whose arguments are all static: everything can be decoded at compile time. */
const STATIC_GROUP: ConditionGroup = {
  all: [
    cond("data.count", "greater_than", "5"),
    cond("data.tags", "contains_all", '["a", "b"]'),
    cond("data.flag", "equal_to", "true"),
    cond("data.created_at", "is_timestamp_before", "2024-06-01T00:00:00Z"),
    cond(
      "data.created_at",
      "is_timestamp_on_or_after",
      '{"value": 30, "unit": "days", "direction": "ago"}',
    ),
    cond("data.n", "is_between", "[1, 10]"),
    cond("refs.email.delivery_status", "greater_than_or_equal_to", "$message.sent"),
    cond("recipient.id", "is_in_random_cohort", "100"),
  ],
};

const SCOPE = {
  data: {
    count: 6,
    tags: ["a", "b", "c"],
    flag: true,
    created_at: new Date("2024-04-15T00:00:00Z"),
    n: 5,
  },
  recipient: { id: "u1" },
  refs: { email: { delivery_status: "delivered", engagement_status: [] } },
};

describe("compiled tests", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("decode static arguments once, at compile time (no JSON.parse per call)", () => {
    const test = compileConditions(STATIC_GROUP);
    const parse = vi.spyOn(JSON, "parse");
    for (let i = 0; i < 100; i++) expect(test(SCOPE, NOW)).toBe(true);
    expect(parse).not.toHaveBeenCalled();
  });

  it("do not run regular expressions on static arguments per call", () => {
    const test = compileConditions(STATIC_GROUP);
    const exec = vi.spyOn(RegExp.prototype, "exec");
    const regexTest = vi.spyOn(RegExp.prototype, "test");
    expect(test(SCOPE, NOW)).toBe(true);
    expect(exec).not.toHaveBeenCalled();
    // Only the variable `data.count` (a number) and `data.n` are coerced; neither needs a regex.
    expect(regexTest).not.toHaveBeenCalled();
  });

  it("evaluate a typical group quickly", () => {
    const test = compileConditions(STATIC_GROUP);
    const start = performance.now();
    let passed = 0;
    for (let i = 0; i < 50_000; i++) if (test(SCOPE, NOW)) passed += 1;
    const elapsed = performance.now() - start;
    expect(passed).toBe(50_000);
    // Generous bound (about 20 µs per evaluation); typical runs are far below it.
    expect(elapsed).toBeLessThan(1000);
  });
});
