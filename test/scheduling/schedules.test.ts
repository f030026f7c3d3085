import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextOccurrence, type RepeatRule } from "../../src/scheduling/repeat.js";
import { nextScheduleOccurrence, type ScheduleTiming } from "../../src/scheduling/schedules.js";

const ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"];
const HOUR = 3_600_000;

const ruleArb: fc.Arbitrary<RepeatRule> = fc.oneof(
  fc.record({
    frequency: fc.constant("daily" as const),
    hours: fc.integer({ min: 0, max: 23 }),
    minutes: fc.integer({ min: 0, max: 11 }).map((n) => n * 5),
  }),
  fc.record({
    frequency: fc.constant("weekly" as const),
    interval: fc.integer({ min: 1, max: 3 }),
    days: fc.uniqueArray(fc.constantFrom("mon", "wed", "sat" as const), { minLength: 1 }),
    hours: fc.integer({ min: 0, max: 23 }),
  }),
  fc.record({
    frequency: fc.constant("hourly" as const),
    interval: fc.integer({ min: 1, max: 6 }),
    minutes: fc.integer({ min: 0, max: 11 }).map((n) => n * 5),
  }),
  fc.record({
    frequency: fc.constant("monthly" as const),
    day_of_month: fc.integer({ min: 1, max: 28 }),
    hours: fc.integer({ min: 0, max: 23 }),
  }),
);

/** The occurrences a schedule goes through, firing each in turn (as the engine does). */
function walk(timing: ScheduleTiming, tz: string, from: Date, limit: number): Date[] {
  const out: Date[] = [];
  let current = { ...timing };
  let next = nextScheduleOccurrence(current, tz, from);
  while (next && out.length < limit) {
    out.push(next);
    current = { ...current, last_occurrence_at: next.toISOString() };
    next = nextScheduleOccurrence(current, tz, next);
  }
  return out;
}

describe("nextScheduleOccurrence", () => {
  it("increases strictly, never before scheduled_at or after ending_at, each a rule's occurrence", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(ruleArb, { minLength: 1, maxLength: 3, selector: (r) => JSON.stringify(r) }),
        fc.constantFrom(...ZONES),
        fc.date({
          min: new Date("2024-01-01T00:00:00Z"),
          max: new Date("2028-01-01T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.option(fc.integer({ min: -72, max: 72 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 24 * 60 }), { nil: undefined }),
        (rules, tz, created, startHours, endHours) => {
          const scheduledAt =
            startHours === undefined ? null : new Date(created.getTime() + startHours * HOUR);
          const lower = Math.max(created.getTime(), scheduledAt?.getTime() ?? 0);
          const endingAt = endHours === undefined ? null : new Date(lower + endHours * HOUR);
          const timing: ScheduleTiming = {
            repeats: rules,
            scheduled_at: scheduledAt?.toISOString() ?? null,
            ending_at: endingAt?.toISOString() ?? null,
            last_occurrence_at: null,
            inserted_at: created.toISOString(),
          };
          const found = walk(timing, tz, created, 8);
          let previous = Number.NEGATIVE_INFINITY;
          for (const occurrence of found) {
            const t = occurrence.getTime();
            expect(t).toBeGreaterThan(previous);
            expect(t).toBeGreaterThanOrEqual(lower);
            if (endingAt) expect(t).toBeLessThanOrEqual(endingAt.getTime());
            // It is the next occurrence of some rule after the previous one (none skipped).
            const anchor = scheduledAt ?? created;
            // (The first: at/after a future scheduled_at, else strictly after creation.)
            const after =
              previous !== Number.NEGATIVE_INFINITY
                ? previous
                : scheduledAt && scheduledAt.getTime() >= created.getTime()
                  ? scheduledAt.getTime() - 1
                  : created.getTime();
            const candidates = rules.map((rule) =>
              nextOccurrence(rule, tz, new Date(after), { anchor })?.getTime(),
            );
            expect(Math.min(...candidates.map((c) => c ?? Number.POSITIVE_INFINITY))).toBe(t);
            previous = t;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("walks on from a scheduled_at that is itself an occurrence, as the fire job calls it", () => {
    fc.assert(
      fc.property(
        ruleArb,
        fc.constantFrom(...ZONES),
        fc.date({
          min: new Date("2024-01-01T00:00:00Z"),
          max: new Date("2028-01-01T00:00:00Z"),
          noInvalidDate: true,
        }),
        (rule, tz, created) => {
          // scheduled_at snapped onto one of the rule's own occurrences.
          const first = nextOccurrence(rule, tz, created, { anchor: created });
          if (!first) return;
          let timing: ScheduleTiming = {
            repeats: [rule],
            scheduled_at: first.toISOString(),
            ending_at: null,
            last_occurrence_at: null,
            inserted_at: created.toISOString(),
          };
          let next = nextScheduleOccurrence(timing, tz, created);
          expect(next?.toISOString()).toBe(first.toISOString());
          for (let fired = 0; fired < 5 && next; fired++) {
            // The fire job: the occurrence fired, compute the next one after it.
            timing = { ...timing, last_occurrence_at: next.toISOString() };
            const after: Date = nextScheduleOccurrence(timing, tz, next) ?? new Date(Number.NaN);
            expect(after.getTime()).toBeGreaterThan(next.getTime());
            next = after;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("fires a one-off once, at once when its time has passed", () => {
    const timing: ScheduleTiming = {
      repeats: [],
      scheduled_at: "2026-01-01T08:00:00.000Z",
      ending_at: null,
      last_occurrence_at: null,
      inserted_at: "2026-01-01T09:00:00.000Z",
    };
    const now = new Date("2026-01-01T09:00:00Z");
    expect(nextScheduleOccurrence(timing, "UTC", now)?.toISOString()).toBe(timing.scheduled_at);
    expect(
      nextScheduleOccurrence({ ...timing, last_occurrence_at: timing.scheduled_at }, "UTC", now),
    ).toBeNull();
    expect(
      nextScheduleOccurrence({ ...timing, ending_at: "2026-01-01T07:00:00.000Z" }, "UTC", now),
    ).toBeNull();
  });
});
