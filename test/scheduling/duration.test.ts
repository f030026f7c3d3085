import { describe, expect, it } from "vitest";
import { InvalidParamsError } from "../../src/errors.js";
import { addDuration, isDuration, parseAdvance } from "../../src/scheduling/duration.js";

const at = (iso: string) => new Date(iso);
const iso = (date: Date) => date.toISOString();

describe("addDuration", () => {
  it("adds seconds, minutes and hours exactly", () => {
    const from = at("2026-03-29T00:30:00.000Z");
    expect(iso(addDuration(from, { unit: "seconds", value: 90 }))).toBe("2026-03-29T00:31:30.000Z");
    expect(iso(addDuration(from, { unit: "minutes", value: 15 }))).toBe("2026-03-29T00:45:00.000Z");
    expect(iso(addDuration(from, { unit: "hours", value: 2 }))).toBe("2026-03-29T02:30:00.000Z");
    expect(iso(addDuration(from, { unit: "hours", value: 1.5 }))).toBe("2026-03-29T02:00:00.000Z");
    expect(iso(addDuration(from, { unit: "seconds", value: 0.25 }))).toBe(
      "2026-03-29T00:30:00.250Z",
    );
  });

  it("adds days and weeks as 24-hour UTC days, across local DST changes", () => {
    // 2026-03-29 is the EU spring-forward day and 2026-11-01 the US fall-back day: UTC ignores both.
    expect(iso(addDuration(at("2026-03-28T12:00:00Z"), { unit: "days", value: 1 }))).toBe(
      "2026-03-29T12:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-10-31T12:00:00Z"), { unit: "days", value: 2 }))).toBe(
      "2026-11-02T12:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-03-25T08:00:00Z"), { unit: "weeks", value: 1 }))).toBe(
      "2026-04-01T08:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-02-27T00:00:00Z"), { unit: "days", value: 3 }))).toBe(
      "2026-03-02T00:00:00.000Z",
    );
    expect(iso(addDuration(at("2028-02-27T00:00:00Z"), { unit: "days", value: 3 }))).toBe(
      "2028-03-01T00:00:00.000Z",
    );
  });

  it("adds months calendar-wise, clamping to the end of shorter months", () => {
    expect(iso(addDuration(at("2026-01-31T09:15:00Z"), { unit: "months", value: 1 }))).toBe(
      "2026-02-28T09:15:00.000Z",
    );
    expect(iso(addDuration(at("2028-01-31T09:15:00Z"), { unit: "months", value: 1 }))).toBe(
      "2028-02-29T09:15:00.000Z",
    );
    expect(iso(addDuration(at("2026-03-31T00:00:00Z"), { unit: "months", value: 1 }))).toBe(
      "2026-04-30T00:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-01-15T23:59:59.999Z"), { unit: "months", value: 1 }))).toBe(
      "2026-02-15T23:59:59.999Z",
    );
    expect(iso(addDuration(at("2026-11-30T00:00:00Z"), { unit: "months", value: 3 }))).toBe(
      "2027-02-28T00:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-01-31T00:00:00Z"), { unit: "months", value: 12 }))).toBe(
      "2027-01-31T00:00:00.000Z",
    );
    expect(iso(addDuration(at("2026-03-31T00:00:00Z"), { unit: "months", value: -1 }))).toBe(
      "2026-02-28T00:00:00.000Z",
    );
  });

  it("adds a fractional month as whole months plus that fraction of 30 days", () => {
    expect(iso(addDuration(at("2026-01-01T00:00:00Z"), { unit: "months", value: 1.5 }))).toBe(
      "2026-02-16T00:00:00.000Z",
    );
  });

  it("does not depend on the process's timezone or its DST rules", () => {
    const previous = process.env.TZ;
    try {
      for (const tz of ["Europe/Berlin", "America/New_York", "Pacific/Auckland", "UTC"]) {
        process.env.TZ = tz;
        // Local-time arithmetic would give 11:00Z here in Berlin (spring forward on 2026-03-29).
        expect(iso(addDuration(at("2026-03-28T12:00:00Z"), { unit: "days", value: 1 })), tz).toBe(
          "2026-03-29T12:00:00.000Z",
        );
        expect(iso(addDuration(at("2026-10-31T12:00:00Z"), { unit: "weeks", value: 1 })), tz).toBe(
          "2026-11-07T12:00:00.000Z",
        );
        // 23:30Z on Jan 31 is already Feb 1 in Berlin and Auckland: the UTC day-of-month counts.
        expect(iso(addDuration(at("2026-01-31T23:30:00Z"), { unit: "months", value: 1 })), tz).toBe(
          "2026-02-28T23:30:00.000Z",
        );
      }
    } finally {
      if (previous === undefined) delete process.env.TZ;
      else process.env.TZ = previous;
    }
  });

  it("leaves its input alone", () => {
    const from = at("2026-01-31T00:00:00Z");
    addDuration(from, { unit: "months", value: 1 });
    expect(iso(from)).toBe("2026-01-31T00:00:00.000Z");
  });

  it("rejects invalid input with InvalidParamsError", () => {
    expect(() => addDuration(new Date("nope"), { unit: "days", value: 1 })).toThrow(
      InvalidParamsError,
    );
    expect(() =>
      addDuration(at("2026-01-01T00:00:00Z"), { unit: "fortnights", value: 1 } as never),
    ).toThrow(/Expected a Duration.*fortnights/);
    expect(() =>
      addDuration(at("2026-01-01T00:00:00Z"), { unit: "days", value: Number.NaN }),
    ).toThrow(InvalidParamsError);
    expect(() => addDuration(at("2026-01-01T00:00:00Z"), { unit: "days", value: 1e12 })).toThrow(
      /out of range/,
    );
  });
});

describe("isDuration", () => {
  it("accepts { unit, value } with a known unit and a finite value", () => {
    for (const unit of ["seconds", "minutes", "hours", "days", "weeks", "months"]) {
      expect(isDuration({ unit, value: 2 })).toBe(true);
    }
    expect(isDuration({ unit: "days", value: 0 })).toBe(true);
  });

  it("rejects everything else", () => {
    expect(isDuration(null)).toBe(false);
    expect(isDuration("2h")).toBe(false);
    expect(isDuration([])).toBe(false);
    expect(isDuration({ unit: "day", value: 1 })).toBe(false);
    expect(isDuration({ unit: "days", value: "1" })).toBe(false);
    expect(isDuration({ unit: "days", value: Number.POSITIVE_INFINITY })).toBe(false);
    expect(isDuration({ unit: "days" })).toBe(false);
  });
});

describe("parseAdvance", () => {
  const from = at("2026-01-31T00:00:00.000Z");
  const advanced = (input: Parameters<typeof parseAdvance>[0]) => iso(parseAdvance(input)(from));

  it("reads numbers as milliseconds", () => {
    expect(advanced(0)).toBe("2026-01-31T00:00:00.000Z");
    expect(advanced(1500)).toBe("2026-01-31T00:00:01.500Z");
    expect(advanced("250")).toBe("2026-01-31T00:00:00.250Z");
  });

  it("reads Duration objects", () => {
    expect(advanced({ unit: "days", value: 3 })).toBe("2026-02-03T00:00:00.000Z");
    expect(advanced({ unit: "months", value: 1 })).toBe("2026-02-28T00:00:00.000Z");
  });

  it("reads short strings", () => {
    expect(advanced("500ms")).toBe("2026-01-31T00:00:00.500Z");
    expect(advanced("90s")).toBe("2026-01-31T00:01:30.000Z");
    expect(advanced("15m")).toBe("2026-01-31T00:15:00.000Z");
    expect(advanced("2h")).toBe("2026-01-31T02:00:00.000Z");
    expect(advanced("3d")).toBe("2026-02-03T00:00:00.000Z");
    expect(advanced("1w")).toBe("2026-02-07T00:00:00.000Z");
    expect(advanced("1mo")).toBe("2026-02-28T00:00:00.000Z");
    expect(advanced("1.5h")).toBe("2026-01-31T01:30:00.000Z");
  });

  it("reads combinations, applied left to right", () => {
    expect(advanced("1h30m")).toBe("2026-01-31T01:30:00.000Z");
    expect(advanced("1d 12h")).toBe("2026-02-01T12:00:00.000Z");
    expect(advanced(" 2m30s500ms ")).toBe("2026-01-31T00:02:30.500Z");
    // From Jan 30, order matters: Feb 28 + 1 day, or Jan 31 + 1 month (clamped to Feb 28).
    const jan30 = at("2026-01-30T00:00:00.000Z");
    expect(iso(parseAdvance("1mo1d")(jan30))).toBe("2026-03-01T00:00:00.000Z");
    expect(iso(parseAdvance("1d1mo")(jan30))).toBe("2026-02-28T00:00:00.000Z");
  });

  it("rejects negative or malformed spans with a message naming the forms and the input", () => {
    for (const bad of [
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "",
      "h",
      "2x",
      "1h-",
      "-5m",
      "ten",
      "1h 30",
    ]) {
      expect(() => parseAdvance(bad as never), String(bad)).toThrow(InvalidParamsError);
    }
    expect(() => parseAdvance({ unit: "days", value: -1 })).toThrow(/non-negative/);
    expect(() => parseAdvance({ unit: "years", value: 1 } as never)).toThrow(
      /received \{"unit":"years","value":1\}/,
    );
    expect(() => parseAdvance("2x")).toThrow(/"90s".*received "2x"/);
    expect(() => parseAdvance(null as never)).toThrow(/received null/);
  });
});
