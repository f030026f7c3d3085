import { formatInTimeZone } from "date-fns-tz";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidParamsError } from "../../src/errors.js";
import {
  isValidTimeZone,
  localDateTime,
  nextOccurrence,
  occurrences,
  type RepeatRule,
  validateRepeatRule,
  zonedInstant,
} from "../../src/scheduling/repeat.js";

const at = (iso: string) => new Date(iso);
const isos = (dates: Date[]) => dates.map((date) => date.toISOString());
const list = (rule: RepeatRule, tz: string, start: string, n: number, endingAt?: string) =>
  isos(occurrences(rule, tz, at(start), n, endingAt ? at(endingAt) : null));

describe("occurrences on local wall time", () => {
  const cases: Array<{
    name: string;
    rule: RepeatRule;
    tz: string;
    start: string;
    expected: string[];
  }> = [
    {
      name: "UTC daily 09:00",
      rule: { frequency: "daily", hours: 9 },
      tz: "UTC",
      start: "2026-01-01T10:00:00Z",
      expected: ["2026-01-02T09:00:00.000Z", "2026-01-03T09:00:00.000Z"],
    },
    {
      name: "New York daily 09:00 across spring-forward (2026-03-08)",
      rule: { frequency: "daily", hours: 9 },
      tz: "America/New_York",
      start: "2026-03-07T00:00:00Z",
      expected: [
        "2026-03-07T14:00:00.000Z",
        "2026-03-08T13:00:00.000Z",
        "2026-03-09T13:00:00.000Z",
      ],
    },
    {
      name: "New York daily 09:00 across fall-back (2026-11-01)",
      rule: { frequency: "daily", hours: 9 },
      tz: "America/New_York",
      start: "2026-10-31T00:00:00Z",
      expected: [
        "2026-10-31T13:00:00.000Z",
        "2026-11-01T14:00:00.000Z",
        "2026-11-02T14:00:00.000Z",
      ],
    },
    {
      name: "New York daily 02:30: the missing 02:30 fires at 03:00 EDT",
      rule: { frequency: "daily", hours: 2, minutes: 30 },
      tz: "America/New_York",
      start: "2026-03-07T00:00:00Z",
      expected: [
        "2026-03-07T07:30:00.000Z",
        "2026-03-08T07:00:00.000Z",
        "2026-03-09T06:30:00.000Z",
      ],
    },
    {
      name: "New York daily 01:30 on fall-back day fires once, at the first (EDT) 01:30",
      rule: { frequency: "daily", hours: 1, minutes: 30 },
      tz: "America/New_York",
      start: "2026-10-31T12:00:00Z",
      expected: ["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"],
    },
    {
      name: "New York daily 02:30 on fall-back day (exists once, after the overlap)",
      rule: { frequency: "daily", hours: 2, minutes: 30 },
      tz: "America/New_York",
      start: "2026-10-31T12:00:00Z",
      expected: ["2026-11-01T07:30:00.000Z", "2026-11-02T07:30:00.000Z"],
    },
    {
      name: "London daily 01:30 across spring-forward (2026-03-29): 02:00 BST",
      rule: { frequency: "daily", hours: 1, minutes: 30 },
      tz: "Europe/London",
      start: "2026-03-28T00:00:00Z",
      expected: [
        "2026-03-28T01:30:00.000Z",
        "2026-03-29T01:00:00.000Z",
        "2026-03-30T00:30:00.000Z",
      ],
    },
    {
      name: "London daily 01:30 across fall-back (2026-10-25): once, BST",
      rule: { frequency: "daily", hours: 1, minutes: 30 },
      tz: "Europe/London",
      start: "2026-10-24T12:00:00Z",
      expected: ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
    },
    {
      name: "London daily 09:00 across both changes",
      rule: { frequency: "daily", hours: 9 },
      tz: "Europe/London",
      start: "2026-03-28T10:00:00Z",
      expected: ["2026-03-29T08:00:00.000Z", "2026-03-30T08:00:00.000Z"],
    },
    {
      name: "Kolkata (+05:30) daily 09:00",
      rule: { frequency: "daily", hours: 9 },
      tz: "Asia/Kolkata",
      start: "2026-06-01T00:00:00Z",
      expected: ["2026-06-01T03:30:00.000Z", "2026-06-02T03:30:00.000Z"],
    },
    {
      name: "Lord Howe (30-minute DST) daily 02:15 across spring-forward (2026-10-04)",
      rule: { frequency: "daily", hours: 2, minutes: 15 },
      tz: "Australia/Lord_Howe",
      start: "2026-10-02T00:00:00Z",
      expected: [
        "2026-10-02T15:45:00.000Z",
        "2026-10-03T15:30:00.000Z",
        "2026-10-04T15:15:00.000Z",
      ],
    },
    {
      name: "Lord Howe daily 01:45 across fall-back (2026-04-05): once",
      rule: { frequency: "daily", hours: 1, minutes: 45 },
      tz: "Australia/Lord_Howe",
      start: "2026-04-04T00:00:00Z",
      expected: ["2026-04-04T14:45:00.000Z", "2026-04-05T15:15:00.000Z"],
    },
    {
      name: "São Paulo midnight gap (2018-11-04): 00:00 fires at 01:00",
      rule: { frequency: "daily" },
      tz: "America/Sao_Paulo",
      start: "2018-11-02T12:00:00Z",
      expected: [
        "2018-11-03T03:00:00.000Z",
        "2018-11-04T03:00:00.000Z",
        "2018-11-05T02:00:00.000Z",
      ],
    },
    {
      name: "hourly at :30 across New York spring-forward",
      rule: { frequency: "hourly", minutes: 30 },
      tz: "America/New_York",
      start: "2026-03-08T05:00:00Z",
      expected: [
        "2026-03-08T05:30:00.000Z",
        "2026-03-08T06:30:00.000Z",
        "2026-03-08T07:00:00.000Z",
        "2026-03-08T07:30:00.000Z",
      ],
    },
    {
      name: "hourly at :30 across New York fall-back: the repeated 01:30 fires once",
      rule: { frequency: "hourly", minutes: 30 },
      tz: "America/New_York",
      start: "2026-11-01T04:00:00Z",
      expected: [
        "2026-11-01T04:30:00.000Z",
        "2026-11-01T05:30:00.000Z",
        "2026-11-01T07:30:00.000Z",
        "2026-11-01T08:30:00.000Z",
      ],
    },
    {
      name: "hourly every 3 hours from the anchor's hour",
      rule: { frequency: "hourly", interval: 3, minutes: 15 },
      tz: "UTC",
      start: "2026-01-01T10:20:00Z",
      expected: [
        "2026-01-01T13:15:00.000Z",
        "2026-01-01T16:15:00.000Z",
        "2026-01-01T19:15:00.000Z",
      ],
    },
    {
      name: "hourly restricted to hours, several minutes",
      rule: { frequency: "hourly", hours: [9, 17], minutes: [0, 30] },
      tz: "UTC",
      start: "2026-01-01T09:10:00Z",
      expected: [
        "2026-01-01T09:30:00.000Z",
        "2026-01-01T17:00:00.000Z",
        "2026-01-01T17:30:00.000Z",
        "2026-01-02T09:00:00.000Z",
      ],
    },
    {
      name: "daily every 3 days",
      rule: { frequency: "daily", interval: 3, hours: 8 },
      tz: "UTC",
      start: "2026-01-01T00:00:00Z",
      expected: [
        "2026-01-01T08:00:00.000Z",
        "2026-01-04T08:00:00.000Z",
        "2026-01-07T08:00:00.000Z",
      ],
    },
    {
      name: "daily on weekdays at 09:30 (Knock's example)",
      rule: { frequency: "daily", days: "weekdays", hours: 9, minutes: 30 },
      tz: "UTC",
      start: "2026-01-09T10:00:00Z", // a Friday
      expected: ["2026-01-12T09:30:00.000Z", "2026-01-13T09:30:00.000Z"],
    },
    {
      name: "weekly on weekends",
      rule: { frequency: "weekly", days: "weekends", hours: 10 },
      tz: "UTC",
      start: "2026-01-05T00:00:00Z", // a Monday
      expected: [
        "2026-01-10T10:00:00.000Z",
        "2026-01-11T10:00:00.000Z",
        "2026-01-17T10:00:00.000Z",
      ],
    },
    {
      name: "weekly without days: the anchor's weekday",
      rule: { frequency: "weekly", hours: 9 },
      tz: "UTC",
      start: "2026-01-07T12:00:00Z", // a Wednesday, after 09:00
      expected: ["2026-01-14T09:00:00.000Z", "2026-01-21T09:00:00.000Z"],
    },
    {
      name: "every other week on mon/fri, weeks counted from the anchor's (Mon–Sun) week",
      rule: { frequency: "weekly", interval: 2, days: ["mon", "fri"], hours: 18 },
      tz: "Asia/Kolkata",
      start: "2026-01-07T00:00:00Z", // Wednesday of the anchor week
      expected: [
        "2026-01-09T12:30:00.000Z",
        "2026-01-19T12:30:00.000Z",
        "2026-01-23T12:30:00.000Z",
        "2026-02-02T12:30:00.000Z",
      ],
    },
    {
      name: "Knock's docs spelling tues is accepted",
      rule: { frequency: "weekly", days: ["tues" as "tue"], hours: 6 },
      tz: "UTC",
      start: "2026-01-05T00:00:00Z",
      expected: ["2026-01-06T06:00:00.000Z", "2026-01-13T06:00:00.000Z"],
    },
    {
      name: "monthly on day 31 skips months without one",
      rule: { frequency: "monthly", day_of_month: 31, hours: 9 },
      tz: "UTC",
      start: "2026-01-01T00:00:00Z",
      expected: [
        "2026-01-31T09:00:00.000Z",
        "2026-03-31T09:00:00.000Z",
        "2026-05-31T09:00:00.000Z",
        "2026-07-31T09:00:00.000Z",
        "2026-08-31T09:00:00.000Z",
      ],
    },
    {
      name: "monthly without day_of_month: the anchor's day, every 2 months",
      rule: { frequency: "monthly", interval: 2, hours: 12 },
      tz: "Europe/London",
      start: "2026-01-15T08:00:00Z",
      expected: [
        "2026-01-15T12:00:00.000Z",
        "2026-03-15T12:00:00.000Z",
        "2026-05-15T11:00:00.000Z",
      ],
    },
    {
      name: "monthly with days and no day_of_month: every matching weekday",
      rule: { frequency: "monthly", days: ["mon"], hours: 9 },
      tz: "UTC",
      start: "2026-02-20T00:00:00Z",
      expected: [
        "2026-02-23T09:00:00.000Z",
        "2026-03-02T09:00:00.000Z",
        "2026-03-09T09:00:00.000Z",
      ],
    },
    {
      name: "monthly on several days",
      rule: { frequency: "monthly", day_of_month: [1, 15], hours: 9 },
      tz: "America/New_York",
      start: "2026-03-02T00:00:00Z",
      expected: [
        "2026-03-15T13:00:00.000Z",
        "2026-04-01T13:00:00.000Z",
        "2026-04-15T13:00:00.000Z",
      ],
    },
  ];

  it.each(cases)("$name", ({ rule, tz, start, expected }) => {
    expect(list(rule, tz, start, expected.length)).toEqual(expected);
  });
});

describe("nextOccurrence bounds", () => {
  const rule: RepeatRule = { frequency: "daily", hours: 9 };

  it("is strictly after `after`", () => {
    expect(nextOccurrence(rule, "UTC", at("2026-01-01T09:00:00Z"))?.toISOString()).toBe(
      "2026-01-02T09:00:00.000Z",
    );
  });

  it("is at or after `notBefore` when that is not before `after`", () => {
    const start = at("2026-01-01T09:00:00Z");
    expect(nextOccurrence(rule, "UTC", start, { notBefore: start })?.toISOString()).toBe(
      "2026-01-01T09:00:00.000Z",
    );
    expect(
      nextOccurrence(rule, "UTC", at("2025-12-01T00:00:00Z"), {
        notBefore: at("2026-01-05T10:00:00Z"),
      })?.toISOString(),
    ).toBe("2026-01-06T09:00:00.000Z");
    // notBefore earlier than after: after (strict) wins.
    expect(
      nextOccurrence(rule, "UTC", start, { notBefore: at("2025-01-01T00:00:00Z") })?.toISOString(),
    ).toBe("2026-01-02T09:00:00.000Z");
  });

  it("counts intervals from the anchor, not from `after`", () => {
    const anchor = at("2026-01-01T00:00:00Z");
    const every3 = { frequency: "daily", interval: 3, hours: 8 } as const;
    expect(
      nextOccurrence(every3, "UTC", at("2026-01-04T09:00:00Z"), { anchor })?.toISOString(),
    ).toBe("2026-01-07T08:00:00.000Z");
    const biweekly = { frequency: "weekly", interval: 2, days: ["mon"], hours: 9 } as const;
    // Anchor week is 2026-01-05..11: Mondays 01-05, 01-19, 02-02…
    expect(
      nextOccurrence(biweekly, "UTC", at("2026-01-06T00:00:00Z"), {
        anchor: at("2026-01-08T00:00:00Z"),
      })?.toISOString(),
    ).toBe("2026-01-19T09:00:00.000Z");
  });

  it("honours endingAt (inclusive) and returns null after it", () => {
    expect(list(rule, "UTC", "2026-01-01T00:00:00Z", 10, "2026-01-03T09:00:00Z")).toEqual([
      "2026-01-01T09:00:00.000Z",
      "2026-01-02T09:00:00.000Z",
      "2026-01-03T09:00:00.000Z",
    ]);
    expect(
      nextOccurrence(rule, "UTC", at("2026-01-03T09:00:00Z"), {
        endingAt: at("2026-01-04T08:59:59Z"),
      }),
    ).toBeNull();
    expect(
      nextOccurrence(rule, "UTC", at("2026-01-05T00:00:00Z"), {
        endingAt: at("2026-01-04T00:00:00Z"),
      }),
    ).toBeNull();
    expect(
      nextOccurrence(rule, "UTC", at("2026-01-03T09:00:00Z"), { endingAt: null })?.toISOString(),
    ).toBe("2026-01-04T09:00:00.000Z");
  });

  it("returns null when the rule can never fire, quickly", () => {
    const started = performance.now();
    // Every 12 months from April: no month ever has a 31st.
    expect(
      nextOccurrence(
        { frequency: "monthly", interval: 12, day_of_month: 31 },
        "UTC",
        at("2026-04-10T00:00:00Z"),
      ),
    ).toBeNull();
    // Every 7 days from a Monday, but only on Tuesdays.
    expect(
      nextOccurrence(
        { frequency: "daily", interval: 7, days: ["tue"] },
        "UTC",
        at("2026-01-05T00:00:00Z"),
      ),
    ).toBeNull();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("finds February 29 in the next leap year", () => {
    expect(
      nextOccurrence(
        { frequency: "monthly", day_of_month: 29, hours: 0 },
        "UTC",
        at("2027-03-01T00:00:00Z"),
        { anchor: at("2027-01-01T00:00:00Z") },
      )?.toISOString(),
    ).toBe("2027-03-29T00:00:00.000Z");
    expect(
      nextOccurrence(
        { frequency: "monthly", interval: 12, day_of_month: 29 },
        "UTC",
        at("2025-02-01T00:00:00Z"),
      )?.toISOString(),
    ).toBe("2028-02-29T00:00:00.000Z");
  });

  it("throws InvalidParamsError naming an invalid timezone", () => {
    expect(() => nextOccurrence(rule, "Mars/Olympus_Mons", at("2026-01-01T00:00:00Z"))).toThrow(
      InvalidParamsError,
    );
    expect(() => nextOccurrence(rule, "Mars/Olympus_Mons", at("2026-01-01T00:00:00Z"))).toThrow(
      /Mars\/Olympus_Mons/,
    );
    expect(() => nextOccurrence(rule, "", at("2026-01-01T00:00:00Z"))).toThrow(InvalidParamsError);
  });

  it("throws InvalidParamsError for an invalid rule", () => {
    expect(() =>
      nextOccurrence({ frequency: "yearly" } as never, "UTC", at("2026-01-01T00:00:00Z")),
    ).toThrow(/rule\.frequency/);
  });
});

describe("validateRepeatRule", () => {
  it.each([
    [{ frequency: "daily" }, []],
    [{ frequency: "weekly", interval: 2, days: ["mon", "fri"], hours: 18, minutes: 0 }, []],
    [{ frequency: "daily", days: "weekdays", hours: [9, 17], minutes: [0, 30] }, []],
    [{ frequency: "monthly", day_of_month: [1, 31] }, []],
    [null, [["repeats", "object"]]],
    [[], [["repeats", "object"]]],
    [{}, [["repeats.frequency", "required"]]],
    [{ frequency: "yearly" }, [["repeats.frequency", "enum"]]],
    [{ frequency: "daily", interval: 0 }, [["repeats.interval", "range"]]],
    [{ frequency: "daily", interval: 1.5 }, [["repeats.interval", "integer"]]],
    [{ frequency: "daily", interval: [2] }, [["repeats.interval", "integer"]]],
    [{ frequency: "daily", hours: 24 }, [["repeats.hours", "range"]]],
    [{ frequency: "daily", hours: [9, -1] }, [["repeats.hours[1]", "range"]]],
    [{ frequency: "daily", hours: [] }, [["repeats.hours", "array"]]],
    [{ frequency: "daily", hours: "9" }, [["repeats.hours", "integer"]]],
    [{ frequency: "daily", minutes: 7 }, [["repeats.minutes", "range"]]],
    [{ frequency: "daily", minutes: 60 }, [["repeats.minutes", "range"]]],
    [{ frequency: "monthly", day_of_month: 0 }, [["repeats.day_of_month", "range"]]],
    [{ frequency: "monthly", day_of_month: 32 }, [["repeats.day_of_month", "range"]]],
    [{ frequency: "weekly", days: ["monday"] }, [["repeats.days[0]", "enum"]]],
    [{ frequency: "weekly", days: [] }, [["repeats.days", "array"]]],
    [{ frequency: "weekly", days: "workdays" }, [["repeats.days", "type"]]],
    [
      { frequency: "hourly", interval: -1, minutes: 3 },
      [
        ["repeats.interval", "range"],
        ["repeats.minutes", "range"],
      ],
    ],
  ] as Array<[unknown, Array<[string, string]>]>)("%j", (rule, expected) => {
    const issues = validateRepeatRule(rule, "repeats");
    expect(issues.map((issue) => [issue.field, issue.type])).toEqual(expected);
    for (const issue of issues) expect(issue.message.length).toBeGreaterThan(5);
  });
});

describe("timezone helpers", () => {
  it("recognises tz database names", () => {
    expect(isValidTimeZone("America/New_York")).toBe(true);
    expect(isValidTimeZone("UTC")).toBe(true);
    expect(isValidTimeZone("Etc/UTC")).toBe(true);
    expect(isValidTimeZone("Not/AZone")).toBe(false);
    expect(isValidTimeZone("")).toBe(false);
    expect(isValidTimeZone(42)).toBe(false);
  });

  it("reads and resolves local times", () => {
    expect(localDateTime(at("2026-03-08T07:00:00Z"), "America/New_York")).toMatchObject({
      year: 2026,
      month: 3,
      day: 8,
      hour: 3,
      minute: 0,
      weekday: 6,
    });
    const gap = { year: 2026, month: 3, day: 8, hour: 2, minute: 30 };
    expect(zonedInstant("America/New_York", gap).toISOString()).toBe("2026-03-08T07:00:00.000Z");
    const overlap = { year: 2026, month: 11, day: 1, hour: 1, minute: 30 };
    expect(zonedInstant("America/New_York", overlap).toISOString()).toBe(
      "2026-11-01T05:30:00.000Z",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const MINUTE = 60_000;
const ZONES = [
  "UTC",
  "America/New_York",
  "Europe/London",
  "Asia/Kolkata",
  "Australia/Lord_Howe",
  "America/Sao_Paulo",
  "Asia/Kathmandu",
  "Pacific/Chatham",
  "America/St_Johns",
] as const;
/** DST transitions (UTC) per zone, to aim starts at the interesting days. */
const TRANSITIONS: Record<string, string[]> = {
  "America/New_York": ["2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"],
  "Europe/London": ["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"],
  "Australia/Lord_Howe": ["2026-10-03T15:30:00Z", "2026-04-04T15:00:00Z"],
  "America/Sao_Paulo": ["2018-11-04T03:00:00Z", "2019-02-17T02:00:00Z"],
  "Pacific/Chatham": ["2026-09-26T14:00:00Z", "2026-04-04T14:00:00Z"],
  "America/St_Johns": ["2026-03-08T05:30:00Z", "2026-11-01T04:30:00Z"],
};
const zoneAndStartArb: fc.Arbitrary<[string, Date]> = fc.oneof(
  fc.tuple(
    fc.constantFrom(...ZONES),
    fc.date({
      min: new Date("2016-01-01T00:00:00Z"),
      max: new Date("2030-12-31T00:00:00Z"),
      noInvalidDate: true,
    }),
  ),
  fc.constantFrom(...Object.entries(TRANSITIONS)).chain(([tz, instants]) =>
    fc.tuple(
      fc.constant(tz),
      fc
        .tuple(fc.constantFrom(...instants), fc.integer({ min: -48 * 60, max: 60 }))
        .map(([iso, minutes]) => new Date(Date.parse(iso) + minutes * MINUTE)),
    ),
  ),
);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** The oracle: wall time through date-fns-tz, as ms read as UTC. */
function wallOf(instant: number, tz: string): number {
  return Date.parse(formatInTimeZone(new Date(instant), tz, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"));
}

const ruleArb: fc.Arbitrary<RepeatRule> = fc
  .record(
    {
      frequency: fc.constantFrom("hourly", "daily", "weekly", "monthly"),
      interval: fc.integer({ min: 1, max: 4 }),
      days: fc.oneof(
        fc.constantFrom("weekdays" as const, "weekends" as const),
        fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }),
      ),
      hours: fc.oneof(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 23 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 4 }),
      ),
      minutes: fc.oneof(
        fc.integer({ min: 0, max: 11 }).map((n) => n * 5),
        fc.uniqueArray(
          fc.integer({ min: 0, max: 11 }).map((n) => n * 5),
          { minLength: 1, maxLength: 3 },
        ),
      ),
      day_of_month: fc.oneof(
        fc.integer({ min: 1, max: 31 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 31 }), { minLength: 1, maxLength: 3 }),
      ),
    },
    { requiredKeys: ["frequency"] },
  )
  .map((rule) => rule as RepeatRule);

const asList = (value: number | readonly number[] | undefined, fallback: number[]) =>
  value === undefined ? fallback : Array.isArray(value) ? value : [value];

const ALL_HOURS = Array.from({ length: 24 }, (_, h) => h);

/** The rule's wall times of day in ms after midnight (ignoring day filters and interval). */
function timesOfDay(rule: RepeatRule): number[] {
  const hours = asList(rule.hours, rule.frequency === "hourly" ? ALL_HOURS : [0]);
  const minutes = asList(rule.minutes, [0]);
  return hours.flatMap((h) => minutes.map((m) => (h * 60 + m) * MINUTE));
}

describe("nextOccurrence properties", () => {
  it("increases strictly, stays in bounds and lands on the rule's wall time", () => {
    fc.assert(
      fc.property(
        ruleArb,
        zoneAndStartArb,
        fc.option(fc.integer({ min: 1, max: 120 * 24 }), { nil: undefined }),
        (rule, [tz, start], endHours) => {
          const endingAt =
            endHours === undefined ? null : new Date(start.getTime() + endHours * 3.6e6);
          const found = occurrences(rule, tz, start, 6, endingAt);
          const times = new Set(timesOfDay(rule));
          let previous = start.getTime() - 1;
          for (const occurrence of found) {
            const t = occurrence.getTime();
            expect(t).toBeGreaterThan(previous);
            expect(t).toBeGreaterThanOrEqual(start.getTime());
            if (endingAt) expect(t).toBeLessThanOrEqual(endingAt.getTime());
            previous = t;
            const wall = wallOf(t, tz);
            const timeOfDay = ((wall % 86_400_000) + 86_400_000) % 86_400_000;
            if (times.has(timeOfDay)) {
              // Exists: fires at the first instant with that wall time, never the second.
              for (const shift of [30, 60, 120]) {
                expect(wallOf(t - shift * MINUTE, tz)).not.toBe(wall);
              }
            } else {
              // Did not exist: t is the moment the clocks jumped past a rule time.
              const before = wallOf(t - 1000, tz) + 1000;
              expect(before).toBeLessThan(wall);
              const skipped = timesOfDay(rule).some((time) => {
                const day = Math.floor(wall / 86_400_000) * 86_400_000;
                return [day, day - 86_400_000].some((d) => d + time >= before && d + time < wall);
              });
              expect(skipped).toBe(true);
            }
            // Day filters hold on the local date.
            const local = localDateTime(occurrence, tz);
            if (rule.day_of_month !== undefined && times.has(timeOfDay)) {
              expect(asList(rule.day_of_month, [])).toContain(local.day);
            }
            if (Array.isArray(rule.days) && times.has(timeOfDay)) {
              expect(rule.days).toContain(DAYS[local.weekday]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("skips no occurrence (interval 1, checked on a 5-minute grid)", () => {
    fc.assert(
      fc.property(
        ruleArb
          .filter((rule) => rule.frequency !== "monthly")
          .map((rule) => ({ ...rule, interval: 1, day_of_month: undefined })),
        zoneAndStartArb,
        (rule, [tz, rawStart]) => {
          const start = new Date(Math.ceil(rawStart.getTime() / (5 * MINUTE)) * 5 * MINUTE);
          const first = nextOccurrence(rule, tz, start, { notBefore: start, anchor: start });
          expect(first).not.toBeNull();
          const limit = Math.min(first!.getTime(), start.getTime() + 8 * 86_400_000);
          const times = new Set(timesOfDay(rule));
          const weekdays =
            rule.days === "weekdays"
              ? [0, 1, 2, 3, 4]
              : rule.days === "weekends"
                ? [5, 6]
                : Array.isArray(rule.days)
                  ? rule.days.map((d) => DAYS.indexOf(d))
                  : rule.frequency === "weekly"
                    ? [localDateTime(start, tz).weekday]
                    : [0, 1, 2, 3, 4, 5, 6];
          for (let t = start.getTime(); t < limit; t += 5 * MINUTE) {
            const wall = wallOf(t, tz);
            const timeOfDay = ((wall % 86_400_000) + 86_400_000) % 86_400_000;
            const weekday = (((Math.floor(wall / 86_400_000) + 3) % 7) + 7) % 7;
            const matches = times.has(timeOfDay) && weekdays.includes(weekday);
            // A match before `first` is only allowed as the second pass of a repeated wall time.
            if (matches)
              expect(
                wallOf(t - 60 * MINUTE, tz) === wall || wallOf(t - 30 * MINUTE, tz) === wall,
              ).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
