import { describe, expect, it } from "vitest";
import { readPath } from "../../src/conditions/evaluate.js";
import { parsePath } from "../../src/conditions/path.js";
import { cond, evaluate } from "./helpers.js";

const scope = {
  data: {
    items: [{ name: "first" }, { name: "second" }],
    "odd.key": { deep: 1 },
    nested: { a: { b: { c: { d: "deep" } } } },
    zero: 0,
    nothing: null,
  },
  recipient: { id: "u1", email: "ada@example.com" },
};

describe("parsePath", () => {
  it.each([
    ["data.x", ["data", "x"]],
    ["data.items.0.name", ["data", "items", "0", "name"]],
    ["data.items[0].name", ["data", "items", "0", "name"]],
    ["data.items[1]", ["data", "items", "1"]],
    ['data["odd.key"].deep', ["data", "odd.key", "deep"]],
    ["data['odd.key']", ["data", "odd.key"]],
    ["data[ 2 ]", ["data", "2"]],
    ["data", ["data"]],
    ["", []],
  ])("%s", (path, segments) => {
    expect(parsePath(path)).toEqual(segments);
  });
});

describe("readPath", () => {
  it.each([
    ["recipient.email", "ada@example.com"],
    ["data.items.0.name", "first"],
    ["data.items[1].name", "second"],
    ['data["odd.key"].deep', 1],
    ["data.nested.a.b.c.d", "deep"],
    ["data.zero", 0],
    ["data.nothing", null],
    ["data.items.length", 2],
    ["recipient.id.length", 2],
    ["recipient.id.0", "u"],
  ])("%s reads %j", (path, expected) => {
    expect(readPath(scope, path)).toEqual(expected);
  });

  it.each([
    "data.missing",
    "data.missing.deeper",
    "data.nothing.below",
    "data.zero.below",
    "data.items.2.name",
    "data.items.-1",
    "nope.x",
  ])("%s is undefined", (path) => {
    expect(readPath(scope, path)).toBeUndefined();
  });

  it("reads from non-object roots as undefined", () => {
    expect(readPath(null, "a")).toBeUndefined();
    expect(readPath(42, "a")).toBeUndefined();
  });

  describe("prototype safety", () => {
    it.each([
      "data.__proto__",
      "data.constructor",
      "data.constructor.name",
      "data.toString",
      "data.hasOwnProperty",
      "data.items.map",
      "recipient.id.toUpperCase",
      "__proto__",
      "constructor",
    ])("%s is not read from the prototype", (path) => {
      expect(readPath(scope, path)).toBeUndefined();
    });

    it("reads __proto__ and constructor when they are own properties", () => {
      const own = JSON.parse('{"data": {"__proto__": {"x": 1}, "constructor": "mine"}}') as unknown;
      expect(readPath(own, "data.__proto__.x")).toBe(1);
      expect(readPath(own, "data.constructor")).toBe("mine");
    });

    it("does not read getters inherited from a class", () => {
      class Account {
        get plan() {
          return "pro";
        }
      }
      expect(readPath({ data: new Account() }, "data.plan")).toBeUndefined();
    });

    it("reads null-prototype objects", () => {
      const bare = Object.create(null) as Record<string, unknown>;
      bare.x = "y";
      expect(readPath({ data: bare }, "data.x")).toBe("y");
    });

    it("applies to compiled conditions too", () => {
      expect(evaluate(cond("data.constructor", "exists"), { data: {} })).toBe(false);
      expect(evaluate(cond("data.__proto__", "empty"), { data: {} })).toBe(true);
      expect(evaluate(cond("data.toString", "not_exists"), { data: {} })).toBe(true);
      expect(evaluate(cond("data.items.length", "equal_to", 2), scope)).toBe(true);
    });
  });
});
