import { describe, expect, it } from "vitest";
import { isoString } from "../../src/_internal/time.js";

describe("isoString", () => {
  it("formats as toISOString does, across repeated and alternating instants", () => {
    const instants = [0, 0, 1, 1, 0, 1_764_000_000_123, 1_764_000_000_123, -62_000_000_000_000, 1];
    for (const ms of instants) expect(isoString(new Date(ms))).toBe(new Date(ms).toISOString());
  });

  it("gives the same string for the same millisecond, read from different Date objects", () => {
    const first = isoString(new Date(1_764_000_000_000));
    expect(isoString(new Date(1_764_000_000_000))).toBe(first);
    expect(isoString(new Date(1_764_000_000_001))).toBe("2025-11-24T16:00:00.001Z");
  });

  it("throws on an invalid date, as toISOString does", () => {
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError);
  });
});
