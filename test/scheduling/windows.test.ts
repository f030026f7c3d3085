import { formatInTimeZone } from "date-fns-tz";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidParamsError } from "../../src/errors.js";
import {
  nextSendInstant,
  nextWindowInstant,
  parseTimeOfDay,
  validateSendWindows,
} from "../../src/scheduling/windows.js";
import type { SendWindow } from "../../src/workflows/types.js";

const at = (iso: string) => new Date(iso);

describe("nextWindowInstant (delay window rules)", () => {
  it.each([
    {
      name: "Knock's example: weekly on Monday at 09:00 (London, across BST start)",
      rule: { frequency: "weekly", days: ["mon"], hours: 9 },
      tz: "Europe/London",
      from: "2026-03-25T10:00:00Z", // Wednesday
      expected: "2026-03-30T08:00:00.000Z",
    },
    {
      name: "daily 09:30 later today, recipient time",
      rule: { frequency: "daily", hours: 9, minutes: 30 },
      tz: "America/New_York",
      from: "2026-06-01T12:00:00Z", // 08:00 EDT
      expected: "2026-06-01T13:30:00.000Z",
    },
    {
      name: "daily 09:30 already passed: tomorrow",
      rule: { frequency: "daily", hours: 9, minutes: 30 },
      tz: "America/New_York",
      from: "2026-06-01T14:00:00Z",
      expected: "2026-06-02T13:30:00.000Z",
    },
    {
      name: "at or after: an exact match is returned as is",
      rule: { frequency: "daily", hours: 9, minutes: 30 },
      tz: "UTC",
      from: "2026-06-01T09:30:00Z",
      expected: "2026-06-01T09:30:00.000Z",
    },
    {
      name: "weekdays in Kolkata, from a Saturday",
      rule: { frequency: "daily", days: "weekdays", hours: 8 },
      tz: "Asia/Kolkata",
      from: "2026-06-06T00:00:00Z",
      expected: "2026-06-08T02:30:00.000Z",
    },
    {
      name: "monthly on the 1st",
      rule: { frequency: "monthly", day_of_month: 1, hours: 6 },
      tz: "UTC",
      from: "2026-06-15T00:00:00Z",
      expected: "2026-07-01T06:00:00.000Z",
    },
    {
      name: "hourly at :15",
      rule: { frequency: "hourly", minutes: 15 },
      tz: "Asia/Kolkata",
      from: "2026-06-01T00:00:00Z", // 05:30 IST
      expected: "2026-06-01T00:45:00.000Z",
    },
    {
      name: "spring-forward gap: 02:30 becomes 03:00 EDT",
      rule: { frequency: "daily", hours: 2, minutes: 30 },
      tz: "America/New_York",
      from: "2026-03-08T05:00:00Z",
      expected: "2026-03-08T07:00:00.000Z",
    },
  ])("$name", ({ rule, tz, from, expected }) => {
    expect(nextWindowInstant(rule, tz, at(from))?.toISOString()).toBe(expected);
  });

  it.each([
    null,
    "daily",
    {},
    { frequency: "yearly" },
    { frequency: "daily", hours: 25 },
    { frequency: "daily", minutes: 7 },
    { frequency: "weekly", days: ["monday"] },
  ])("returns null for the invalid rule %j", (rule) => {
    expect(nextWindowInstant(rule, "UTC", at("2026-01-01T00:00:00Z"))).toBeNull();
  });

  it("throws InvalidParamsError naming an invalid timezone", () => {
    expect(() =>
      nextWindowInstant({ frequency: "daily" }, "Nowhere/Land", at("2026-01-01T00:00:00Z")),
    ).toThrow(/Nowhere\/Land/);
  });
});

const workHours: SendWindow[] = [
  { day: "monday", type: "send", from: "09:00", until: "17:00" },
  { day: "tuesday", type: "send", from: "09:00", until: "17:00" },
  { day: "wednesday", type: "send", from: "09:00", until: "17:00" },
  { day: "thursday", type: "send", from: "09:00", until: "17:00" },
  { day: "friday", type: "send", from: "09:00:00", until: "17:00:00" },
  { day: "saturday", type: "do_not_send" },
  { day: "sunday", type: "do_not_send" },
];

describe("nextSendInstant", () => {
  it.each([
    {
      name: "no windows: always allowed",
      windows: [],
      tz: "UTC",
      at: "2026-06-06T03:00:00Z",
      expected: "2026-06-06T03:00:00.000Z",
    },
    {
      name: "inside the window: now",
      windows: workHours,
      tz: "UTC",
      at: "2026-06-01T10:15:00Z", // Monday
      expected: "2026-06-01T10:15:00.000Z",
    },
    {
      name: "from is inclusive",
      windows: workHours,
      tz: "UTC",
      at: "2026-06-01T09:00:00Z",
      expected: "2026-06-01T09:00:00.000Z",
    },
    {
      name: "before the window: opens later today",
      windows: workHours,
      tz: "UTC",
      at: "2026-06-01T07:59:00Z",
      expected: "2026-06-01T09:00:00.000Z",
    },
    {
      name: "until is exclusive: next day's opening",
      windows: workHours,
      tz: "UTC",
      at: "2026-06-01T17:00:00Z",
      expected: "2026-06-02T09:00:00.000Z",
    },
    {
      name: "Friday evening: skips the do_not_send weekend",
      windows: workHours,
      tz: "UTC",
      at: "2026-06-05T18:00:00Z",
      expected: "2026-06-08T09:00:00.000Z",
    },
    {
      name: "evaluated in recipient time: 10:00 UTC Monday is 06:00 in New York",
      windows: workHours,
      tz: "America/New_York",
      at: "2026-06-01T10:00:00Z",
      expected: "2026-06-01T13:00:00.000Z",
    },
    {
      name: "evaluated in recipient time: Monday 02:00 UTC is still Sunday in New York",
      windows: workHours,
      tz: "America/New_York",
      at: "2026-06-01T02:00:00Z",
      expected: "2026-06-01T13:00:00.000Z",
    },
    {
      name: "evaluated in recipient time: Kolkata is already Saturday",
      windows: workHours,
      tz: "Asia/Kolkata",
      at: "2026-06-05T20:00:00Z", // Sat 01:30 IST
      expected: "2026-06-08T03:30:00.000Z",
    },
    {
      name: "unlisted days allow sending all day",
      windows: [{ day: "monday", type: "do_not_send" }] as SendWindow[],
      tz: "UTC",
      at: "2026-06-01T12:00:00Z",
      expected: "2026-06-02T00:00:00.000Z",
    },
    {
      name: "send window without bounds: the whole day",
      windows: [
        { day: "monday", type: "send" },
        { day: "tuesday", type: "do_not_send" },
      ] as SendWindow[],
      tz: "UTC",
      at: "2026-06-01T23:59:00Z",
      expected: "2026-06-01T23:59:00.000Z",
    },
    {
      name: "only until: from midnight",
      windows: [{ day: "tuesday", type: "send", until: "08:00" }] as SendWindow[],
      tz: "UTC",
      at: "2026-06-02T08:30:00Z",
      expected: "2026-06-03T00:00:00.000Z",
    },
    {
      name: "only from: until the end of the day",
      windows: [{ day: "tuesday", type: "send", from: "20:00" }] as SendWindow[],
      tz: "UTC",
      at: "2026-06-02T23:30:00Z",
      expected: "2026-06-02T23:30:00.000Z",
    },
    {
      name: "window opening inside the spring-forward gap opens at 03:00 EDT",
      windows: [{ day: "sunday", type: "send", from: "02:30", until: "05:00" }] as SendWindow[],
      tz: "America/New_York",
      at: "2026-03-08T05:00:00Z", // Sun 00:00 EST
      expected: "2026-03-08T07:00:00.000Z",
    },
    {
      name: "a window wholly inside the gap never opens that day",
      windows: [
        { day: "sunday", type: "send", from: "02:00", until: "02:45" },
        { day: "monday", type: "send", from: "09:00", until: "10:00" },
      ] as SendWindow[],
      tz: "America/New_York",
      at: "2026-03-08T05:00:00Z",
      expected: "2026-03-09T13:00:00.000Z",
    },
    {
      name: "fall-back overlap, second pass: the window's repeated opening is still ahead",
      windows: [{ day: "sunday", type: "send", from: "01:20", until: "02:00" }] as SendWindow[],
      tz: "America/New_York",
      at: "2026-11-01T06:10:00Z", // 01:10 EST, after the first 01:20 (EDT) has passed
      expected: "2026-11-01T06:20:00.000Z",
    },
    {
      name: "24:00 closes at the end of the day",
      windows: [{ day: "monday", type: "send", from: "22:00", until: "24:00" }] as SendWindow[],
      tz: "UTC",
      at: "2026-06-01T23:59:59Z",
      expected: "2026-06-01T23:59:59.000Z",
    },
  ])("$name", ({ windows, tz, at: instant, expected }) => {
    expect(nextSendInstant(windows, tz, at(instant))?.toISOString()).toBe(expected);
  });

  it("returns null when every day is blocked", () => {
    const blocked = workHours.map((w) => ({ day: w.day, type: "do_not_send" as const }));
    expect(nextSendInstant(blocked, "Europe/London", at("2026-06-01T12:00:00Z"))).toBeNull();
  });

  it("throws on an invalid timezone or invalid windows", () => {
    expect(() => nextSendInstant(workHours, "Bad/Zone", at("2026-06-01T12:00:00Z"))).toThrow(
      InvalidParamsError,
    );
    expect(() =>
      nextSendInstant(
        [{ day: "monday", type: "send", from: "9am" }],
        "UTC",
        at("2026-06-01T12:00:00Z"),
      ),
    ).toThrow(/send_windows\[0\]\.from/);
  });

  it("returns an allowed instant, never earlier than `at`, with nothing allowed in between", () => {
    const ZONES = [
      "UTC",
      "America/New_York",
      "Europe/London",
      "Asia/Kolkata",
      "Australia/Lord_Howe",
    ];
    const DAYS = workHours.map((w) => w.day);
    const windowArb: fc.Arbitrary<SendWindow> = fc.oneof(
      fc.record({ day: fc.constantFrom(...DAYS), type: fc.constant("do_not_send" as const) }),
      fc
        .tuple(
          fc.constantFrom(...DAYS),
          fc.integer({ min: 0, max: 47 }),
          fc.integer({ min: 1, max: 48 }),
        )
        .map(([day, a, b]) => {
          const [from, until] = [Math.min(a, b - 1), Math.max(a + 1, b)];
          const hhmm = (half: number) =>
            `${String(Math.floor(half / 2)).padStart(2, "0")}:${half % 2 ? "30" : "00"}`;
          return { day, type: "send" as const, from: hhmm(from), until: hhmm(until) };
        }),
    );
    const allowedAt = (windows: SendWindow[], tz: string, instant: number) => {
      const weekday = formatInTimeZone(new Date(instant), tz, "EEEE").toLowerCase();
      const hhmm = formatInTimeZone(new Date(instant), tz, "HH:mm");
      const rule = windows.find((w) => w.day === weekday);
      if (!rule) return true;
      if (rule.type === "do_not_send") return false;
      return hhmm >= (rule.from ?? "00:00") && hhmm < (rule.until ?? "24:00");
    };
    fc.assert(
      fc.property(
        fc.uniqueArray(windowArb, { selector: (w) => w.day, maxLength: 7 }),
        fc.constantFrom(...ZONES),
        fc
          .integer({ min: 0, max: 4 * 365 * 48 })
          .map((n) => Date.UTC(2024, 0, 1) + n * 30 * 60_000),
        (windows, tz, instant) => {
          const result = nextSendInstant(windows, tz, new Date(instant));
          const blocked = DAYS.every((day) =>
            windows.some((w) => w.day === day && w.type === "do_not_send"),
          );
          if (result === null) {
            expect(blocked).toBe(true);
            return;
          }
          const t = result.getTime();
          expect(t).toBeGreaterThanOrEqual(instant);
          expect(allowedAt(windows, tz, t)).toBe(true);
          // Nothing allowed on the 15-minute grid before it.
          for (let probe = instant; probe < t; probe += 15 * 60_000) {
            expect(allowedAt(windows, tz, probe)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("validateSendWindows", () => {
  it.each([
    [workHours, []],
    [[], []],
    ["monday", [["send_windows", "array"]]],
    [[null], [["send_windows[0]", "object"]]],
    [[{ type: "send" }], [["send_windows[0].day", "required"]]],
    [[{ day: "funday", type: "send" }], [["send_windows[0].day", "enum"]]],
    [
      [
        { day: "monday", type: "send" },
        { day: "monday", type: "do_not_send" },
      ],
      [["send_windows[1].day", "unique"]],
    ],
    [[{ day: "monday" }], [["send_windows[0].type", "required"]]],
    [[{ day: "monday", type: "maybe" }], [["send_windows[0].type", "enum"]]],
    [[{ day: "monday", type: "send", from: "9:00" }], [["send_windows[0].from", "format"]]],
    [[{ day: "monday", type: "send", until: "25:00" }], [["send_windows[0].until", "format"]]],
    [
      [{ day: "monday", type: "send", from: "17:00", until: "09:00" }],
      [["send_windows[0].until", "range"]],
    ],
  ] as Array<[unknown, Array<[string, string]>]>)("%j", (windows, expected) => {
    const issues = validateSendWindows(windows, "send_windows");
    expect(issues.map((issue) => [issue.field, issue.type])).toEqual(expected);
  });

  it("parses HH:MM and ISO-8601 time-only strings", () => {
    expect(parseTimeOfDay("09:30")).toBe(9.5 * 3_600_000);
    expect(parseTimeOfDay("09:30:15")).toBe(9.5 * 3_600_000 + 15_000);
    expect(parseTimeOfDay("09:30:15.5")).toBe(9.5 * 3_600_000 + 15_500);
    expect(parseTimeOfDay("24:00")).toBe(24 * 3_600_000);
    expect(parseTimeOfDay("24:01")).toBeNull();
    expect(parseTimeOfDay("12:60")).toBeNull();
    expect(parseTimeOfDay("noon")).toBeNull();
  });
});
