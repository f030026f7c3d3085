import { describe, expect, it } from "vitest";
import { CONDITION_OPERATORS } from "../../src/conditions/evaluate.js";
import type { Condition, ConditionOperator, ConditionScope } from "../../src/conditions/types.js";
import { cond, evaluate } from "./helpers.js";

interface Row {
  name: string;
  condition: Condition;
  scope: ConditionScope;
  expected: boolean;
}

const data = (value: unknown): ConditionScope => ({ data: { x: value } });
const MISSING: ConditionScope = { data: {} };

function row(
  name: string,
  operator: ConditionOperator,
  scope: ConditionScope,
  argument: unknown,
  expected: boolean,
): Row {
  return { name, condition: cond("data.x", operator, argument), scope, expected };
}

const ROWS: Record<ConditionOperator, Row[]> = {
  equal_to: [
    row("equal strings", "equal_to", data("pro"), "pro", true),
    row("different strings", "equal_to", data("free"), "pro", false),
    row("missing equals empty string", "equal_to", MISSING, "", true),
    row("missing is not a non-empty string", "equal_to", MISSING, "pro", false),
    row("missing is not null", "equal_to", MISSING, null, false),
    row("null equals null", "equal_to", data(null), null, true),
    row("null is not the empty string", "equal_to", data(null), "", false),
    row("number equals its numeric string argument", "equal_to", data(5), "5", true),
    row("numeric string equals a number argument", "equal_to", data("5"), 5, true),
    row("numeric string equals numeric string argument", "equal_to", data("5"), "5", true),
    row("decimal forms compare numerically", "equal_to", data("5.0"), 5, true),
    row("different numbers", "equal_to", data(5), "6", false),
    row("boolean equals JSON boolean argument", "equal_to", data(true), "true", true),
    row("string 'true' equals boolean argument", "equal_to", data("true"), true, true),
    row("false is not true", "equal_to", data(false), "true", false),
    row("arrays compare deeply", "equal_to", data([1, "a"]), '[1, "a"]', true),
    row("array order matters", "equal_to", data([1, 2]), [2, 1], false),
    row("objects compare deeply", "equal_to", data({ a: { b: 1 } }), { a: { b: 1 } }, true),
    row("objects with different keys differ", "equal_to", data({ a: 1 }), { a: 1, b: 2 }, false),
    row("a non-numeric string never equals a number", "equal_to", data("5a"), 5, false),
    row("the empty string is not 0", "equal_to", data(""), 0, false),
    row(
      "a Date equals the same instant",
      "equal_to",
      data(new Date("2024-05-01T12:00:00Z")),
      "2024-05-01T14:00:00+02:00",
      true,
    ),
    row(
      "a Date differs from another instant",
      "equal_to",
      data(new Date("2024-05-01T12:00:00Z")),
      "2024-05-01T12:00:01Z",
      false,
    ),
  ],
  not_equal_to: [
    row("different strings", "not_equal_to", data("free"), "pro", true),
    row("equal strings", "not_equal_to", data("pro"), "pro", false),
    row("missing vs a value", "not_equal_to", MISSING, "pro", true),
    row("missing vs empty string", "not_equal_to", MISSING, "", false),
    row("number vs numeric string", "not_equal_to", data(5), "5", false),
    row("arrays deeply equal", "not_equal_to", data(["a"]), ["a"], false),
  ],
  greater_than: [
    row("numbers", "greater_than", data(10), 5, true),
    row("equal numbers", "greater_than", data(5), 5, false),
    row("smaller number", "greater_than", data(4), 5, false),
    row("numeric string vs number (not lexical)", "greater_than", data("10"), 9, true),
    row("number vs numeric string argument", "greater_than", data(10), "9", true),
    row("strings by code unit", "greater_than", data("b"), "a", true),
    row(
      "timestamps compare as instants, not text",
      "greater_than",
      data("2024-05-01T10:00:00+02:00"),
      "2024-05-01T09:00:00Z",
      false,
    ),
    row(
      "later timestamp",
      "greater_than",
      data("2024-05-02T00:00:00Z"),
      "2024-05-01T23:59:59Z",
      true,
    ),
    row("object vs number is incomparable", "greater_than", data({ a: 1 }), 0, false),
    row("boolean vs number is incomparable", "greater_than", data(true), 0, false),
    row("missing vs number is incomparable", "greater_than", MISSING, -1, false),
  ],
  greater_than_or_equal_to: [
    row("equal numbers", "greater_than_or_equal_to", data(5), 5, true),
    row("numeric string equal", "greater_than_or_equal_to", data("5"), 5, true),
    row("smaller", "greater_than_or_equal_to", data(4), 5, false),
    row(
      "same instant, different offsets",
      "greater_than_or_equal_to",
      data("2024-05-01T14:00:00+02:00"),
      "2024-05-01T12:00:00Z",
      true,
    ),
    row("missing", "greater_than_or_equal_to", MISSING, 0, false),
  ],
  less_than: [
    row("numbers", "less_than", data(4), 5, true),
    row("equal", "less_than", data(5), 5, false),
    row("numeric strings compare numerically", "less_than", data("9"), "10", true),
    row("strings", "less_than", data("apple"), "banana", true),
    row("missing vs number", "less_than", MISSING, 5, false),
    row("list vs number", "less_than", data([1]), 5, false),
  ],
  less_than_or_equal_to: [
    row("equal", "less_than_or_equal_to", data(5), 5, true),
    row("smaller", "less_than_or_equal_to", data(-1), 0, true),
    row("larger", "less_than_or_equal_to", data(6), 5, false),
    row("null vs number", "less_than_or_equal_to", data(null), 5, false),
  ],
  contains: [
    row("substring", "contains", data("hello world"), "world", true),
    row("not a substring", "contains", data("hello"), "x", false),
    row("list membership", "contains", data(["a", "b"]), "a", true),
    row("not a member", "contains", data(["a"]), "c", false),
    row("membership is loose on numbers", "contains", data(["1", "2"]), 2, true),
    row("decoded number argument in a list", "contains", data([1, 2]), "2", true),
    row("list vs list overlaps", "contains", data(["a", "b"]), '["x", "b"]', true),
    row("list vs list without overlap", "contains", data(["a", "b"]), ["x", "y"], false),
    row("decoded number is a substring", "contains", data("A5B"), "5", true),
    row(
      "string vs list argument: any item is a substring",
      "contains",
      data("hello"),
      ["zzz", "ell"],
      true,
    ),
    row("string vs list argument: none", "contains", data("hello"), ["zzz"], false),
    row("missing contains nothing", "contains", MISSING, "a", false),
    row("numbers are not strings", "contains", data(12345), "123", false),
    row("objects contain nothing", "contains", data({ a: 1 }), "a", false),
  ],
  not_contains: [
    row("no substring", "not_contains", data("hello"), "x", true),
    row("substring", "not_contains", data("hello"), "ell", false),
    row("member", "not_contains", data(["a", "b"]), "b", false),
    row("not a member", "not_contains", data(["a"]), "b", true),
    row("list vs list: no overlap", "not_contains", data(["a"]), ["b", "c"], true),
    row("list vs list: overlap", "not_contains", data(["a", "c"]), ["b", "c"], false),
    row("missing", "not_contains", MISSING, "a", true),
  ],
  contains_all: [
    row("all present", "contains_all", data(["a", "b", "c"]), ["a", "c"], true),
    row("one absent", "contains_all", data(["a"]), ["a", "b"], false),
    row("JSON list argument", "contains_all", data(["a", "b"]), '["b", "a"]', true),
    row("scalar argument is a one-item list", "contains_all", data(["a", "b"]), "a", true),
    row("scalar argument absent", "contains_all", data(["a", "b"]), "z", false),
    row("loose numbers", "contains_all", data([1, 2, 3]), ["1", "3"], true),
    row(
      "string variable: every item is a substring",
      "contains_all",
      data("hello world"),
      ["hello", "world"],
      true,
    ),
    row("string variable: one missing", "contains_all", data("hello"), ["hello", "world"], false),
    row("missing variable", "contains_all", MISSING, ["a"], false),
    row("number variable", "contains_all", data(5), [5], false),
  ],
  not_contains_all: [
    row("one absent", "not_contains_all", data(["a"]), ["a", "b"], true),
    row("all present", "not_contains_all", data(["a", "b"]), ["a", "b"], false),
    row("missing", "not_contains_all", MISSING, ["a"], true),
  ],
  empty: [
    row("empty string", "empty", data(""), undefined, true),
    row("null", "empty", data(null), undefined, true),
    row("empty list", "empty", data([]), undefined, true),
    row("empty object", "empty", data({}), undefined, true),
    row("missing", "empty", MISSING, undefined, true),
    row("a string", "empty", data("x"), undefined, false),
    row("a space is not empty", "empty", data(" "), undefined, false),
    row("a list", "empty", data([0]), undefined, false),
    row("an object", "empty", data({ a: null }), undefined, false),
    row("zero", "empty", data(0), undefined, false),
    row("false", "empty", data(false), undefined, false),
  ],
  not_empty: [
    row("a string", "not_empty", data("x"), undefined, true),
    row("zero", "not_empty", data(0), undefined, true),
    row("empty list", "not_empty", data([]), undefined, false),
    row("missing", "not_empty", MISSING, undefined, false),
  ],
  exists: [
    row("empty string exists", "exists", data(""), undefined, true),
    row("empty list exists", "exists", data([]), undefined, true),
    row("zero exists", "exists", data(0), undefined, true),
    row("false exists", "exists", data(false), undefined, true),
    row("null does not", "exists", data(null), undefined, false),
    row("missing does not", "exists", MISSING, undefined, false),
  ],
  not_exists: [
    row("null", "not_exists", data(null), undefined, true),
    row("missing", "not_exists", MISSING, undefined, true),
    row("empty string", "not_exists", data(""), undefined, false),
  ],
  is_timestamp: [
    row("ISO date-time", "is_timestamp", data("2024-05-01T12:00:00Z"), undefined, true),
    row(
      "with fraction and offset",
      "is_timestamp",
      data("2024-05-01T12:00:00.123456+05:30"),
      undefined,
      true,
    ),
    row("date only", "is_timestamp", data("2024-05-01"), undefined, true),
    row("a Date", "is_timestamp", data(new Date("2024-05-01T00:00:00Z")), undefined, true),
    row("an invalid Date", "is_timestamp", data(new Date(Number.NaN)), undefined, false),
    row("words", "is_timestamp", data("next tuesday"), undefined, false),
    row("a number is not a timestamp", "is_timestamp", data(1714564800000), undefined, false),
    row("impossible date", "is_timestamp", data("2024-02-30"), undefined, false),
    row("impossible hour", "is_timestamp", data("2024-05-01T25:00:00Z"), undefined, false),
    row("leap day", "is_timestamp", data("2024-02-29"), undefined, true),
    row("no leap day in 2023", "is_timestamp", data("2023-02-29"), undefined, false),
    row("missing", "is_timestamp", MISSING, undefined, false),
  ],
  is_not_timestamp: [
    row("words", "is_not_timestamp", data("soon"), undefined, true),
    row("missing", "is_not_timestamp", MISSING, undefined, true),
    row("ISO", "is_not_timestamp", data("2024-05-01T12:00:00Z"), undefined, false),
  ],
  is_timestamp_before: [
    row(
      "earlier",
      "is_timestamp_before",
      data("2024-04-30T00:00:00Z"),
      "2024-05-01T00:00:00Z",
      true,
    ),
    row(
      "same instant",
      "is_timestamp_before",
      data("2024-05-01T00:00:00Z"),
      "2024-05-01T00:00:00Z",
      false,
    ),
    row(
      "later",
      "is_timestamp_before",
      data("2024-05-02T00:00:00Z"),
      "2024-05-01T00:00:00Z",
      false,
    ),
    row(
      "offsets are honoured",
      "is_timestamp_before",
      data("2024-05-01T01:00:00+02:00"),
      "2024-05-01T00:00:00Z",
      true,
    ),
    row(
      "zone-less is UTC",
      "is_timestamp_before",
      data("2024-05-01T00:00:00"),
      "2024-05-01T00:00:01Z",
      true,
    ),
    row(
      "epoch milliseconds value",
      "is_timestamp_before",
      data(Date.UTC(2024, 3, 1)),
      "2024-05-01",
      true,
    ),
    row(
      "Date value",
      "is_timestamp_before",
      data(new Date("2024-04-01T00:00:00Z")),
      "2024-05-01",
      true,
    ),
    row("missing", "is_timestamp_before", MISSING, "2030-01-01T00:00:00Z", false),
    row("not a timestamp", "is_timestamp_before", data("yesterday"), "2030-01-01T00:00:00Z", false),
  ],
  is_timestamp_on_or_after: [
    row(
      "same instant",
      "is_timestamp_on_or_after",
      data("2024-05-01T00:00:00Z"),
      "2024-05-01T00:00:00Z",
      true,
    ),
    row(
      "later",
      "is_timestamp_on_or_after",
      data("2024-05-01T00:00:00.001Z"),
      "2024-05-01T00:00:00Z",
      true,
    ),
    row(
      "earlier",
      "is_timestamp_on_or_after",
      data("2024-04-30T23:59:59Z"),
      "2024-05-01T00:00:00Z",
      false,
    ),
    row("missing", "is_timestamp_on_or_after", MISSING, "2000-01-01T00:00:00Z", false),
  ],
  is_timestamp_between: [
    row(
      "start is inclusive",
      "is_timestamp_between",
      data("2024-05-01T00:00:00Z"),
      ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"],
      true,
    ),
    row(
      "inside",
      "is_timestamp_between",
      data("2024-05-15T00:00:00Z"),
      ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"],
      true,
    ),
    row(
      "end is exclusive",
      "is_timestamp_between",
      data("2024-06-01T00:00:00Z"),
      ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"],
      false,
    ),
    row(
      "before",
      "is_timestamp_between",
      data("2024-04-30T00:00:00Z"),
      ["2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"],
      false,
    ),
    row(
      "JSON list argument",
      "is_timestamp_between",
      data("2024-05-15"),
      '["2024-05-01", "2024-06-01"]',
      true,
    ),
    row("missing", "is_timestamp_between", MISSING, ["2024-05-01", "2024-06-01"], false),
  ],
  is_timestamp_before_now: [
    row("in the past", "is_timestamp_before_now", data("2024-05-01T11:59:59Z"), undefined, true),
    row("exactly now", "is_timestamp_before_now", data("2024-05-01T12:00:00Z"), undefined, false),
    row("in the future", "is_timestamp_before_now", data("2024-05-02T00:00:00Z"), undefined, false),
    row("missing", "is_timestamp_before_now", MISSING, undefined, false),
  ],
  is_timestamp_on_or_after_now: [
    row(
      "exactly now",
      "is_timestamp_on_or_after_now",
      data("2024-05-01T12:00:00Z"),
      undefined,
      true,
    ),
    row("in the future", "is_timestamp_on_or_after_now", data("2030-01-01"), undefined, true),
    row(
      "in the past",
      "is_timestamp_on_or_after_now",
      data("2024-05-01T11:59:59Z"),
      undefined,
      false,
    ),
    row("missing", "is_timestamp_on_or_after_now", MISSING, undefined, false),
  ],
  is_timestamp_before_date: [
    row(
      "previous day",
      "is_timestamp_before_date",
      data("2024-04-30T23:59:59Z"),
      "2024-05-01T00:00:01Z",
      true,
    ),
    row(
      "same day, earlier time: not before",
      "is_timestamp_before_date",
      data("2024-05-01T00:00:00Z"),
      "2024-05-01T23:00:00Z",
      false,
    ),
    row("next day", "is_timestamp_before_date", data("2024-05-02T00:00:00Z"), "2024-05-01", false),
    row(
      "dates are UTC",
      "is_timestamp_before_date",
      data("2024-04-30T23:00:00-02:00"),
      "2024-05-01",
      false,
    ),
    row("missing", "is_timestamp_before_date", MISSING, "2030-01-01", false),
  ],
  is_timestamp_on_or_after_date: [
    row(
      "same day, earlier time",
      "is_timestamp_on_or_after_date",
      data("2024-05-01T00:00:00Z"),
      "2024-05-01T23:00:00Z",
      true,
    ),
    row(
      "next day",
      "is_timestamp_on_or_after_date",
      data("2024-05-02T00:00:00Z"),
      "2024-05-01",
      true,
    ),
    row(
      "previous day",
      "is_timestamp_on_or_after_date",
      data("2024-04-30T23:59:59Z"),
      "2024-05-01T00:00:00Z",
      false,
    ),
    row("missing", "is_timestamp_on_or_after_date", MISSING, "2000-01-01", false),
  ],
  is_between: [
    row("inside", "is_between", data(5), [1, 10], true),
    row("min is inclusive", "is_between", data(1), [1, 10], true),
    row("max is inclusive", "is_between", data(10), [1, 10], true),
    row("above", "is_between", data(11), [1, 10], false),
    row("below", "is_between", data(0.5), [1, 10], false),
    row("numeric string value", "is_between", data("5"), [1, 10], true),
    row("JSON list argument", "is_between", data(5), "[1, 10]", true),
    row("numeric string bounds", "is_between", data(5), ["1", "10"], true),
    row("not a number", "is_between", data("abc"), [1, 10], false),
    row("missing", "is_between", MISSING, [0, 10], false),
  ],
  is_in_random_cohort: [
    row("100% takes everyone", "is_in_random_cohort", data("user-1"), 100, true),
    row("0% takes nobody", "is_in_random_cohort", data("user-1"), 0, false),
    row("JSON percentage", "is_in_random_cohort", data("user-1"), "100", true),
    row("missing id is never in a cohort", "is_in_random_cohort", MISSING, 100, false),
    row("null id", "is_in_random_cohort", data(null), 100, false),
  ],
};

describe("CONDITION_OPERATORS", () => {
  it("lists every operator exactly once", () => {
    expect(new Set(CONDITION_OPERATORS).size).toBe(CONDITION_OPERATORS.length);
    expect([...CONDITION_OPERATORS].sort()).toEqual(Object.keys(ROWS).sort());
  });
});

describe.each(Object.entries(ROWS))("%s", (_operator, rows) => {
  it("has true and false cases", () => {
    expect(rows.some((r) => r.expected)).toBe(true);
    expect(rows.some((r) => !r.expected)).toBe(true);
  });

  it.each(rows)("$name → $expected", ({ condition, scope, expected }) => {
    expect(evaluate(condition, scope)).toBe(expected);
  });
});
