/**
 * @internal The part of `testStore` that checks schedules and sources (the "Schedules" and
 * "Sources" sections of the {@link Store} contract).
 */
import type { PageRequest, PageResult, Store, StoredSchedule } from "../../store/types.js";
import { USERS_COLLECTION } from "../../store/types.js";
import { at, scheduleFixture } from "./fixtures.js";
import type { vitestApi } from "./vitest.js";

const user = (id: string) => ({ collection: USERS_COLLECTION, id });

function ids(page: PageResult<StoredSchedule>): string[] {
  return page.items.map((schedule) => schedule.id);
}

/** @internal Registers the schedule and source tests inside `testStore`'s suite. */
export function scheduleTests(api: ReturnType<typeof vitestApi>, store: () => Store): void {
  const { describe, expect, it } = api;

  /** Every page of a schedule list, following `after`. */
  async function allIds(
    list: (page: PageRequest) => PageResult<StoredSchedule> | Promise<PageResult<StoredSchedule>>,
    limit: number,
  ): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const page: PageResult<StoredSchedule> = await list({ limit, after });
      seen.push(...ids(page));
      after = page.after;
      if (after === null) return seen;
    }
    throw new Error("Paging did not end after 1,000 pages.");
  }

  describe("schedules", () => {
    it("creates schedules once (idempotent by id) and reads them back in the order asked", async () => {
      const s1 = scheduleFixture({
        id: "s1",
        tenant: "acme",
        actor: { id: "o1", collection: "teams" },
      });
      const s2 = scheduleFixture({ id: "s2", recipient: { id: "t1", collection: "teams" } });
      expect(await store().createSchedules([s1, s2])).toEqual([true, true]);
      expect(
        await store().createSchedules([scheduleFixture({ id: "s1", workflow: "other" })]),
      ).toEqual([false]);
      expect(await store().getSchedules(["s2", "missing", "s1"])).toEqual([s2, null, s1]);
    });

    it("keeps no reference to the values it was given", async () => {
      const input = scheduleFixture({ id: "s1" });
      await store().createSchedules([input]);
      input.data.edition = "changed";
      input.repeats.push({ frequency: "hourly" });
      const [stored] = await store().getSchedules(["s1"]);
      expect(stored?.data).toEqual({ edition: "morning" });
      expect(stored?.repeats).toEqual([{ frequency: "daily", hours: 9 }]);
      const patch = { data: { edition: "evening" } };
      await store().updateSchedule("s1", 0, patch);
      patch.data.edition = "night";
      expect((await store().getSchedules(["s1"]))[0]?.data).toEqual({ edition: "evening" });
    });

    it("updates with compare-and-set on version", async () => {
      await store().createSchedules([scheduleFixture({ id: "s1" })]);
      const updated = await store().updateSchedule("s1", 0, {
        last_occurrence_at: at(3600),
        next_occurrence_at: at(90_000),
        updated_at: at(3600),
      });
      expect(updated).toEqual(
        scheduleFixture({
          id: "s1",
          version: 1,
          last_occurrence_at: at(3600),
          next_occurrence_at: at(90_000),
          updated_at: at(3600),
        }),
      );
      expect(await store().updateSchedule("s1", 0, { next_occurrence_at: null })).toBeNull();
      expect(await store().updateSchedule("missing", 0, { next_occurrence_at: null })).toBeNull();
      expect((await store().getSchedules(["s1"]))[0]?.next_occurrence_at).toBe(at(90_000));
      expect((await store().updateSchedule("s1", 1, { next_occurrence_at: null }))?.version).toBe(
        2,
      );
    });

    it("lets exactly one of 20 concurrent updates of the same version through", async () => {
      await store().createSchedules([scheduleFixture({ id: "s1" })]);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store().updateSchedule("s1", 0, { data: { writer: i } }),
        ),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      const [stored] = await store().getSchedules(["s1"]);
      expect(stored?.version).toBe(1);
      expect(stored?.data).toEqual(winners[0]?.data);
    });

    it("deletes schedules, returning the ones that existed", async () => {
      await store().createSchedules([scheduleFixture({ id: "s1" }), scheduleFixture({ id: "s2" })]);
      const deleted = await store().deleteSchedules(["s2", "missing", "s1"]);
      expect(deleted.map((s) => s.id)).toEqual(["s2", "s1"]);
      expect(await store().getSchedules(["s1", "s2"])).toEqual([null, null]);
      expect(ids(await store().listSchedules({}, { limit: 10 }))).toEqual([]);
      expect(await store().deleteSchedules(["s1"])).toEqual([]);
    });

    it("lists by workflow, recipients and tenant in creation order", async () => {
      await store().createSchedules([
        scheduleFixture({ id: "s1", recipient: "a" }),
        scheduleFixture({ id: "s2", recipient: "b", tenant: "acme" }),
        scheduleFixture({ id: "s3", recipient: "a", workflow: "digest" }),
        scheduleFixture({ id: "s4", recipient: { id: "a", collection: "teams" } }),
        scheduleFixture({ id: "s5", recipient: "c", tenant: "acme" }),
      ]);
      const list = (filter: Parameters<Store["listSchedules"]>[0]) =>
        store().listSchedules(filter, { limit: 10 });
      expect(ids(await list({}))).toEqual(["s1", "s2", "s3", "s4", "s5"]);
      expect(ids(await list({ workflow: "welcome" }))).toEqual(["s1", "s2", "s4", "s5"]);
      expect(ids(await list({ recipients: [user("a")] }))).toEqual(["s1", "s3"]);
      expect(ids(await list({ recipients: [{ collection: "teams", id: "a" }] }))).toEqual(["s4"]);
      expect(ids(await list({ recipients: [user("c"), user("a")] }))).toEqual(["s1", "s3", "s5"]);
      expect(ids(await list({ recipients: [] }))).toEqual([]);
      expect(ids(await list({ recipients: [user("nobody")] }))).toEqual([]);
      expect(ids(await list({ tenant: "acme" }))).toEqual(["s2", "s5"]);
      expect(
        ids(await list({ workflow: "welcome", tenant: "acme", recipients: [user("b")] })),
      ).toEqual(["s2"]);
      expect(ids(await list({ workflow: "nothing" }))).toEqual([]);
    });

    it("pages with cursors that stay valid when schedules are deleted", async () => {
      const all = Array.from({ length: 25 }, (_, i) => scheduleFixture({ id: `s${i}` }));
      await store().createSchedules(all);
      expect(await allIds((page) => store().listSchedules({}, page), 4)).toEqual(
        all.map((s) => s.id),
      );
      const first = await store().listSchedules({ workflow: "welcome" }, { limit: 5 });
      expect(ids(first)).toEqual(["s0", "s1", "s2", "s3", "s4"]);
      expect(first.before).toBeNull();
      await store().deleteSchedules(["s4", "s5"]);
      const second = await store().listSchedules(
        { workflow: "welcome" },
        { limit: 5, after: first.after },
      );
      expect(ids(second)).toEqual(["s6", "s7", "s8", "s9", "s10"]);
      const back = await store().listSchedules(
        { workflow: "welcome" },
        { limit: 5, before: second.before },
      );
      expect(ids(back)).toEqual(["s0", "s1", "s2", "s3"]);
    });
  });

  describe("sources", () => {
    it("stores, replaces and reads a source's definition", async () => {
      expect(await store().getSource("app")).toBeNull();
      const definition = {
        events: { "Order Placed": { workflow: "order", recipients: "userId" } },
      };
      const first = await store().putSource("app", definition, at(1));
      expect(first).toEqual({ key: "app", definition, inserted_at: at(1), updated_at: at(1) });
      definition.events["Order Placed"].workflow = "changed";
      expect((await store().getSource("app"))?.definition).toEqual({
        events: { "Order Placed": { workflow: "order", recipients: "userId" } },
      });
      const replaced = await store().putSource("app", { events: {} }, at(2));
      expect(replaced).toEqual({
        key: "app",
        definition: { events: {} },
        inserted_at: at(1),
        updated_at: at(2),
      });
      expect(await store().getSource("other")).toBeNull();
    });
  });
}
