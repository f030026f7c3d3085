import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cohortBucket, compileConditions } from "../../src/conditions/evaluate.js";
import { cond, NOW } from "./helpers.js";

/** The documented algorithm, written the obvious way: FNV-1a over UTF-8, murmur3 finalizer. */
function referenceBucket(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) hash = Math.imul(hash ^ byte, 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % 10_000;
}

function inCohort(id: unknown, percentage: unknown): boolean {
  return compileConditions({ all: [cond("recipient.id", "is_in_random_cohort", percentage)] })(
    { recipient: { id } },
    NOW,
  );
}

const ids = Array.from({ length: 20_000 }, (_, i) => `user_${i}`);

describe("is_in_random_cohort", () => {
  it("hashes the UTF-8 bytes of the id, as documented", () => {
    const utf16Unit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
    fc.assert(
      fc.property(fc.string({ unit: utf16Unit, maxLength: 24 }), (key) => {
        expect(cohortBucket(key)).toBe(referenceBucket(key));
      }),
    );
    for (const key of ["", "a", "user_1", "é", "日本", "😀", "a\ud800b"]) {
      expect(cohortBucket(key)).toBe(referenceBucket(key));
    }
  });

  it("is stable across releases and processes (pinned buckets)", () => {
    // Computed independently (Python) from the documented algorithm; a change here would move
    // recipients between cohorts.
    expect(
      Object.fromEntries(
        ["user_1", "user_2", "u-42", "ada@example.com", "日本", "user_73"].map((id) => [
          id,
          cohortBucket(id),
        ]),
      ),
    ).toEqual({
      user_1: 6726,
      user_2: 4828,
      "u-42": 3217,
      "ada@example.com": 9389,
      日本: 1135,
      user_73: 9537,
    });
  });

  it("includes an id exactly when its bucket is below the percentage (hundredths)", () => {
    // user_73 is in bucket 9537, i.e. at 95.37%.
    expect(inCohort("user_73", 95.37)).toBe(false);
    expect(inCohort("user_73", 95.38)).toBe(true);
    expect(inCohort("user_2", 48.28)).toBe(false);
    expect(inCohort("user_2", 48.29)).toBe(true);
  });

  it("gives the same answer every time for the same id", () => {
    for (const id of ids.slice(0, 200)) {
      expect(inCohort(id, 50)).toBe(inCohort(id, 50));
      expect(inCohort(id, 50)).toBe(cohortBucket(id) < 5000);
    }
  });

  it.each([10, 25, 50, 12.5, 90])("puts roughly %s%% of ids in the cohort", (percentage) => {
    const test = compileConditions({
      all: [cond("recipient.id", "is_in_random_cohort", percentage)],
    });
    const share = ids.filter((id) => test({ recipient: { id } }, NOW)).length / ids.length;
    expect(Math.abs(share - percentage / 100)).toBeLessThan(0.015);
  });

  it("spreads ids evenly over ten deciles", () => {
    const deciles = new Array<number>(10).fill(0);
    for (const id of ids) deciles[Math.floor(cohortBucket(id) / 1000)]! += 1;
    for (const count of deciles)
      expect(Math.abs(count - ids.length / 10)).toBeLessThan(ids.length * 0.015);
  });

  it("nests cohorts: everyone in 10% is also in 20%", () => {
    for (const id of ids.slice(0, 2000)) {
      if (inCohort(id, 10)) expect(inCohort(id, 20)).toBe(true);
    }
  });

  it("treats a numeric id like its string", () => {
    for (const n of [1, 42, 1234567]) expect(inCohort(n, 50)).toBe(inCohort(String(n), 50));
  });

  it("reads a dynamic percentage", () => {
    const test = compileConditions({
      all: [cond("recipient.id", "is_in_random_cohort", "vars.rollout")],
    });
    expect(test({ recipient: { id: "user_1" }, vars: { rollout: 100 } }, NOW)).toBe(true);
    expect(test({ recipient: { id: "user_1" }, vars: { rollout: 0 } }, NOW)).toBe(false);
    expect(test({ recipient: { id: "user_1" }, vars: {} }, NOW)).toBe(false);
  });

  it("never includes an empty id", () => {
    expect(inCohort("", 100)).toBe(false);
  });
});
