import { describe, expect, it } from "vitest";
import { compileConditions, explainConditions } from "../../src/conditions/evaluate.js";
import type { ConditionGroup, ConditionScope } from "../../src/conditions/types.js";
import { cond, NOW } from "./helpers.js";

const T = cond("data.t", "equal_to", true);
const F = cond("data.f", "equal_to", true);
const scope: ConditionScope = { data: { t: true, f: false } };

function run(group: ConditionGroup | null | undefined, s: ConditionScope = scope): boolean {
  const fast = compileConditions(group)(s, NOW);
  expect(explainConditions(group, s, NOW).passed).toBe(fast);
  return fast;
}

describe("groups", () => {
  it.each([
    ["all of true", { all: [T] }, true],
    ["all of true, true, true", { all: [T, T, T] }, true],
    ["all of true, false", { all: [T, F] }, false],
    ["all of false, true", { all: [F, T] }, false],
    ["all of true, true, false", { all: [T, T, F] }, false],
    ["any of false, true", { any: [F, T] }, true],
    ["any of false, false", { any: [F, F] }, false],
    ["any of false, false, true", { any: [F, F, T] }, true],
    ["any of false, false, false", { any: [F, F, F] }, false],
    ["any of (all of true, false), (all of true)", { any: [{ all: [T, F] }, { all: [T] }] }, true],
    [
      "any of (all of true, false), (all of false)",
      { any: [{ all: [T, F] }, { all: [F] }] },
      false,
    ],
    ["all of (any of false, true), true", { all: [{ any: [F, T] }, T] }, true],
    ["all of (any of false, false), true", { all: [{ any: [F, F] }, T] }, false],
    ["deep nesting", { all: [{ any: [{ all: [{ any: [F, { all: [T, T] }] }] }] }] }, true],
    ["empty all passes", { all: [] }, true],
    ["empty any passes", { any: [] }, true],
  ] as Array<[string, ConditionGroup, boolean]>)("%s → %s", (_name, group, expected) => {
    expect(run(group)).toBe(expected);
  });

  it("null and undefined groups always pass", () => {
    expect(run(null)).toBe(true);
    expect(run(undefined)).toBe(true);
    expect(explainConditions(null, scope, NOW)).toEqual({
      passed: true,
      failed: [],
      text: "no conditions",
    });
  });

  it("compiles once and evaluates many scopes", () => {
    const test = compileConditions({
      any: [cond("recipient.plan", "equal_to", "pro"), cond("recipient.admin", "equal_to", true)],
    });
    expect(test({ recipient: { plan: "pro" } }, NOW)).toBe(true);
    expect(test({ recipient: { plan: "free", admin: true } }, NOW)).toBe(true);
    expect(test({ recipient: { plan: "free", admin: false } }, NOW)).toBe(false);
    expect(test({}, NOW)).toBe(false);
  });

  describe("short-circuit", () => {
    /** A scope whose `data.<key>` reads are counted. */
    function counting(values: Record<string, unknown>) {
      const reads: string[] = [];
      const data = {};
      for (const [key, value] of Object.entries(values)) {
        Object.defineProperty(data, key, {
          enumerable: true,
          get: () => {
            reads.push(key);
            return value;
          },
        });
      }
      return { scope: { data } as ConditionScope, reads };
    }

    it("all stops at the first false condition", () => {
      const { scope: s, reads } = counting({ a: 1, b: 2, c: 3 });
      const test = compileConditions({
        all: [
          cond("data.a", "equal_to", 1),
          cond("data.b", "equal_to", 0),
          cond("data.c", "equal_to", 3),
        ],
      });
      expect(test(s, NOW)).toBe(false);
      expect(reads).toEqual(["a", "b"]);
    });

    it("any stops at the first true condition", () => {
      const { scope: s, reads } = counting({ a: 1, b: 2, c: 3 });
      const test = compileConditions({
        any: [
          cond("data.a", "equal_to", 0),
          cond("data.b", "equal_to", 2),
          cond("data.c", "equal_to", 3),
        ],
      });
      expect(test(s, NOW)).toBe(true);
      expect(reads).toEqual(["a", "b"]);
    });

    it("a nested group is skipped when an earlier item decides", () => {
      const { scope: s, reads } = counting({ a: 1, b: 2 });
      const test = compileConditions({
        any: [cond("data.a", "equal_to", 1), { all: [cond("data.b", "equal_to", 2)] }],
      });
      expect(test(s, NOW)).toBe(true);
      expect(reads).toEqual(["a"]);
    });

    it("explain short-circuits the same way", () => {
      const { scope: s, reads } = counting({ a: 1, b: 2, c: 3 });
      explainConditions(
        {
          all: [
            cond("data.a", "equal_to", 1),
            cond("data.b", "equal_to", 0),
            cond("data.c", "equal_to", 3),
          ],
        },
        s,
        NOW,
      );
      expect(reads).not.toContain("c");
    });
  });

  describe("malformed input never throws and never passes", () => {
    const cases: Array<[string, unknown]> = [
      ["unknown operator", { all: [{ variable: "data.t", operator: "is_awesome", argument: 1 }] }],
      ["missing variable", { all: [{ operator: "exists" }] }],
      ["missing argument", { all: [{ variable: "data.t", operator: "equal_to" }] }],
      ["item is a string", { all: ["data.t"] }],
      ["item is null", { all: [null] }],
      ["all is not a list", { all: "nope" }],
      ["bad between", { all: [{ variable: "data.t", operator: "is_between", argument: 5 }] }],
      [
        "bad message status",
        { all: [{ variable: "data.t", operator: "equal_to", argument: "$message.exploded" }] },
      ],
      ["not a group at all", 42],
    ];
    it.each(cases)("%s", (_name, group) => {
      const test = compileConditions(group as ConditionGroup);
      expect(test(scope, NOW)).toBe(false);
    });

    it("a malformed item inside any does not block the others", () => {
      const group = {
        any: [{ variable: "data.t", operator: "bogus" }, T],
      } as unknown as ConditionGroup;
      expect(run(group)).toBe(true);
    });
  });

  describe("lenient shapes", () => {
    it("a list is read as all", () => {
      const group = [T, F] as unknown as ConditionGroup;
      expect(run(group)).toBe(false);
      expect(run([T, T] as unknown as ConditionGroup)).toBe(true);
    });

    it("a bare condition is read as a one-condition group", () => {
      expect(run(T as unknown as ConditionGroup)).toBe(true);
      expect(run(F as unknown as ConditionGroup)).toBe(false);
    });

    it("a group with both all and any needs both", () => {
      expect(run({ all: [T], any: [F, T] } as unknown as ConditionGroup)).toBe(true);
      expect(run({ all: [T], any: [F] } as unknown as ConditionGroup)).toBe(false);
    });
  });
});
