import { describe, expect, it } from "vitest";
import { GenerationalCache } from "../../src/_internal/cache.js";

describe("GenerationalCache", () => {
  it("keeps the entries set or read lately, between one and two generations of them", () => {
    const cache = new GenerationalCache<string, number>(3);
    for (const [i, key] of ["a", "b", "c"].entries()) cache.set(key, i);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([0, 1, 2]);
    // A fourth entry starts a new generation; the first three are still there (the old one).
    cache.set("d", 3);
    expect(cache.get("c")).toBe(2); // read: moved to the young generation (d, c)
    cache.set("e", 4); // young: d, c, e (full)
    cache.set("f", 5); // young: f; old: d, c, e; a and b are gone
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")).toBeUndefined();
    expect([cache.get("c"), cache.get("d"), cache.get("e"), cache.get("f")]).toEqual([2, 3, 4, 5]);
  });

  it("replaces the value of a key set again", () => {
    const cache = new GenerationalCache<string, number>(2);
    cache.set("a", 1);
    cache.set("a", 2);
    expect(cache.get("a")).toBe(2);
  });
});
