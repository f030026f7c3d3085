/**
 * @internal The part of `testStore` that checks flow control: batches, throttle windows and
 * cancellations (the "Batches, throttles, cancellations" section of the {@link Store} contract).
 */
import type {
  BatchAppend,
  BatchAppendResult,
  PageRequest,
  PageResult,
  Store,
  StoredBatch,
} from "../../store/types.js";
import { USERS_COLLECTION } from "../../store/types.js";
import type { WorkflowRecipientRun } from "../../workflows/run-types.js";
import {
  at,
  batchAppendFixture,
  batchItemFixture,
  cancellationFixture,
  recipientRunFixture,
} from "./fixtures.js";
import type { vitestApi } from "./vitest.js";

const u1 = { collection: USERS_COLLECTION, id: "u1" };
const u2 = { collection: USERS_COLLECTION, id: "u2" };

/** Runs `call` so that a synchronous throw becomes a rejection (stores may be sync or async). */
function attempt<T>(call: () => T | Promise<T>): Promise<T> {
  return Promise.resolve().then(call);
}

function runIds(batch: StoredBatch | null | undefined): string[] | undefined {
  return batch?.items.map((item) => item.run_id);
}

function pageIds(page: PageResult<WorkflowRecipientRun>): string[] {
  return page.items.map((run) => run.id);
}

/** A recipient run of `workflow` triggered with `cancellationKey` (absent when undefined). */
function keyedRun(
  id: string,
  seconds: number,
  cancellationKey: string | null | undefined,
  workflow = "welcome",
): WorkflowRecipientRun {
  return recipientRunFixture({
    id,
    workflow,
    workflow_run_id: `wr-${id}`,
    trigger_source:
      cancellationKey === undefined
        ? { type: "api" }
        : { type: "api", cancellation_key: cancellationKey },
    inserted_at: at(seconds),
    updated_at: at(seconds),
  });
}

/**
 * @internal Registers the flow-control tests inside `testStore`'s suite. `store` returns the fresh
 * store of the running test.
 */
export function flowControlTests(api: ReturnType<typeof vitestApi>, store: () => Store): void {
  const { describe, expect, it } = api;

  /** Appends one after another, each at its own instant `at(seconds[i])`. */
  async function appendAll(
    inputs: BatchAppend[],
    seconds: (i: number) => number = (i) => i + 1,
  ): Promise<BatchAppendResult[]> {
    const results: BatchAppendResult[] = [];
    for (const [i, input] of inputs.entries()) {
      results.push(await store().appendToBatch(input, at(seconds(i))));
    }
    return results;
  }

  describe("batches", () => {
    it("opens a batch with the first append: its run continues, its item is stored", async () => {
      const input = batchAppendFixture({
        id: "b1",
        run_id: "r1",
        closes_at: at(60),
        closes_by: at(300),
        slide_to: at(61),
      });
      const result = await store().appendToBatch(input, at(1));
      const expected: StoredBatch = {
        id: "b1",
        key: input.key,
        workflow: "welcome",
        step_ref: "batch_1",
        recipient: u1,
        continuing_run_id: "r1",
        leading_run_id: null,
        status: "open",
        opened_at: at(1),
        closes_at: at(60),
        closes_by: at(300),
        items: [batchItemFixture("r1")],
        closed_at: null,
      };
      expect(result).toEqual({ batch: expected, role: "opened", closed: false });
      expect(await store().getBatch("b1")).toEqual(expected);
    });

    it("adds later appends with the same key to the open batch, in arrival order", async () => {
      const results = await appendAll(
        ["r1", "r2", "r3"].map((run) => batchAppendFixture({ id: `b-${run}`, run_id: run })),
      );
      expect(results.map((r) => r.role)).toEqual(["opened", "joined", "joined"]);
      expect(results.map((r) => r.closed)).toEqual([false, false, false]);
      expect(results.map((r) => r.batch.id)).toEqual(["b-r1", "b-r1", "b-r1"]);
      expect(runIds(results[2]?.batch)).toEqual(["r1", "r2", "r3"]);
      const batch = await store().getBatch("b-r1");
      expect(batch).toMatchObject({
        continuing_run_id: "r1",
        status: "open",
        opened_at: at(1),
        closed_at: null,
      });
      expect(batch?.items).toEqual(["r1", "r2", "r3"].map((run) => batchItemFixture(run)));
      // The ids of appends that joined name no batch.
      expect(await store().getBatch("b-r2")).toBeNull();
      expect(await store().getBatch("b-r3")).toBeNull();
    });

    it("moves a sliding window's close to slide_to, never past closes_by and never earlier", async () => {
      const sliding = (run: string, slideTo: string) =>
        batchAppendFixture({
          id: `b-${run}`,
          run_id: run,
          closes_at: at(60),
          closes_by: at(100),
          slide_to: slideTo,
        });
      const results = await appendAll([
        sliding("r1", at(61)),
        sliding("r2", at(70)),
        sliding("r3", at(90)),
        sliding("r4", at(80)),
        sliding("r5", at(130)),
        sliding("r6", at(95)),
      ]);
      expect(results.map((r) => r.batch.closes_at)).toEqual([
        at(60),
        at(70),
        at(90),
        at(90),
        at(100),
        at(100),
      ]);
      expect(results.every((r) => r.batch.closes_by === at(100))).toBe(true);
      expect(await store().getBatch("b-r1")).toMatchObject({
        closes_at: at(100),
        closes_by: at(100),
        status: "open",
      });
    });

    it("slides without a limit when closes_by is null", async () => {
      const results = await appendAll(
        [at(61), at(500), at(10_000)].map((slideTo, i) =>
          batchAppendFixture({ id: `b${i}`, run_id: `r${i}`, slide_to: slideTo }),
        ),
      );
      expect(results.map((r) => r.batch.closes_at)).toEqual([at(60), at(500), at(10_000)]);
      expect((await store().getBatch("b0"))?.closes_at).toBe(at(10_000));
    });

    it("keeps a fixed window's close where it was opened", async () => {
      const results = await appendAll(
        [0, 1, 2].map((i) =>
          batchAppendFixture({ id: `b${i}`, run_id: `r${i}`, closes_by: at(100), slide_to: null }),
        ),
      );
      expect(results.map((r) => r.batch.closes_at)).toEqual([at(60), at(60), at(60)]);
      expect((await store().getBatch("b0"))?.closes_at).toBe(at(60));
    });

    it("closes the batch on the append that reaches max_items; the next append opens a new one", async () => {
      const full = (run: string) =>
        batchAppendFixture({ id: `b-${run}`, run_id: run, max_items: 3 });
      const results = await appendAll([full("r1"), full("r2"), full("r3")]);
      expect(results.map((r) => [r.role, r.closed, r.batch.status])).toEqual([
        ["opened", false, "open"],
        ["joined", false, "open"],
        ["joined", true, "closed"],
      ]);
      expect(results[2]?.batch).toMatchObject({ id: "b-r1", closed_at: at(3) });
      const closed = await store().getBatch("b-r1");
      expect(closed).toMatchObject({ status: "closed", closed_at: at(3), continuing_run_id: "r1" });
      expect(runIds(closed)).toEqual(["r1", "r2", "r3"]);

      const next = await store().appendToBatch(full("r4"), at(4));
      expect(next.role).toBe("opened");
      expect(next.closed).toBe(false);
      expect(next.batch).toMatchObject({
        id: "b-r4",
        continuing_run_id: "r4",
        status: "open",
        opened_at: at(4),
        closed_at: null,
      });
      expect(runIds(next.batch)).toEqual(["r4"]);
      expect(runIds(await store().getBatch("b-r1"))).toEqual(["r1", "r2", "r3"]);
      expect((await store().getBatch("b-r1"))?.status).toBe("closed");
    });

    it("opens a leading batch without an item; the next append continues, later ones join", async () => {
      const leading = (run: string) =>
        batchAppendFixture({ id: `b-${run}`, run_id: run, leading: true });
      const first = await store().appendToBatch({ ...leading("r1"), item: null }, at(1));
      expect(first).toMatchObject({ role: "leading", closed: false });
      expect(first.batch).toMatchObject({
        id: "b-r1",
        continuing_run_id: null,
        leading_run_id: "r1",
        status: "open",
        items: [],
      });
      expect(await store().getBatch("b-r1")).toMatchObject({
        continuing_run_id: null,
        leading_run_id: "r1",
        items: [],
      });

      const second = await store().appendToBatch(leading("r2"), at(2));
      expect(second).toMatchObject({ role: "continuing", closed: false });
      expect(second.batch).toMatchObject({
        id: "b-r1",
        continuing_run_id: "r2",
        leading_run_id: "r1",
      });
      expect(second.batch.items).toEqual([batchItemFixture("r2")]);

      const third = await store().appendToBatch(leading("r3"), at(3));
      expect(third).toMatchObject({ role: "joined", closed: false });
      expect(third.batch.continuing_run_id).toBe("r2");
      const stored = await store().getBatch("b-r1");
      expect(stored?.continuing_run_id).toBe("r2");
      expect(runIds(stored)).toEqual(["r2", "r3"]);
    });

    it("records no item for a leading open even when the append carries one", async () => {
      const first = await store().appendToBatch(
        batchAppendFixture({ id: "b1", run_id: "r1", leading: true }),
        at(1),
      );
      expect(first.role).toBe("leading");
      expect(first.batch.items).toEqual([]);
      expect((await store().getBatch("b1"))?.items).toEqual([]);
    });

    it("changes nothing when a run already in the open batch appends again (a retried job)", async () => {
      const append = (run: string, id: string, slideTo: string) =>
        batchAppendFixture({
          id,
          run_id: run,
          item: batchItemFixture(run, { data: { attempt: id } }),
          closes_by: at(500),
          slide_to: slideTo,
          max_items: 3,
        });
      await appendAll([append("r1", "b1", at(70)), append("r2", "b2", at(80))]);
      const before = await store().getBatch("b1");
      expect(before?.closes_at).toBe(at(80));

      const opener = await store().appendToBatch(append("r1", "b1-retry", at(200)), at(10));
      expect(opener).toMatchObject({ role: "opened", closed: false });
      expect(opener.batch).toEqual(before);
      const joiner = await store().appendToBatch(append("r2", "b2-retry", at(300)), at(11));
      expect(joiner).toMatchObject({ role: "joined", closed: false });
      expect(joiner.batch).toEqual(before);
      expect(await store().getBatch("b1")).toEqual(before);
      expect(await store().getBatch("b1-retry")).toBeNull();

      // The retries did not count towards max_items: the third run fills the batch.
      const third = await store().appendToBatch(append("r3", "b3", at(90)), at(12));
      expect(third).toMatchObject({ role: "joined", closed: true });
      expect(runIds(third.batch)).toEqual(["r1", "r2", "r3"]);
      expect(third.batch.items[0]?.data).toEqual({ attempt: "b1" });
    });

    it("keeps the roles of a leading batch's runs when their jobs are retried", async () => {
      const leading = (run: string, id: string) =>
        batchAppendFixture({ id, run_id: run, leading: true });
      await store().appendToBatch(leading("r1", "b1"), at(1));
      const again = await store().appendToBatch(leading("r1", "b1-retry"), at(2));
      expect(again).toMatchObject({ role: "leading", closed: false });
      expect(again.batch).toMatchObject({
        id: "b1",
        leading_run_id: "r1",
        continuing_run_id: null,
        items: [],
      });

      expect((await store().appendToBatch(leading("r2", "b2"), at(3))).role).toBe("continuing");
      const continuing = await store().appendToBatch(leading("r2", "b2-retry"), at(4));
      expect(continuing).toMatchObject({ role: "continuing", closed: false });
      expect(runIds(continuing.batch)).toEqual(["r2"]);

      expect((await store().appendToBatch(leading("r3", "b3"), at(5))).role).toBe("joined");
      expect((await store().appendToBatch(leading("r3", "b3-retry"), at(6))).role).toBe("joined");
      expect((await store().appendToBatch(leading("r1", "b1-retry"), at(7))).role).toBe("leading");
      const stored = await store().getBatch("b1");
      expect(stored).toMatchObject({ leading_run_id: "r1", continuing_run_id: "r2" });
      expect(runIds(stored)).toEqual(["r2", "r3"]);
    });

    it("keeps batches with different keys apart", async () => {
      const a = await store().appendToBatch(
        batchAppendFixture({ id: "ba", run_id: "r1", key: "k-a", max_items: 2 }),
        at(1),
      );
      const b = await store().appendToBatch(
        batchAppendFixture({
          id: "bb",
          run_id: "r2",
          key: "k-b",
          recipient: u2,
          closes_at: at(90),
          max_items: 2,
        }),
        at(2),
      );
      expect([a.role, b.role]).toEqual(["opened", "opened"]);
      expect(b.batch).toMatchObject({ id: "bb", key: "k-b", recipient: u2, closes_at: at(90) });
      const a2 = await store().appendToBatch(
        batchAppendFixture({ id: "ba2", run_id: "r3", key: "k-a", max_items: 2 }),
        at(3),
      );
      expect(a2).toMatchObject({ role: "joined", closed: true });
      expect(a2.batch.id).toBe("ba");
      expect(runIds(await store().getBatch("ba"))).toEqual(["r1", "r3"]);
      expect(await store().getBatch("bb")).toMatchObject({ status: "open", key: "k-b" });
      expect(runIds(await store().getBatch("bb"))).toEqual(["r2"]);
      expect(await store().closeBatch("bb", at(90))).not.toBeNull();
      expect((await store().getBatch("ba"))?.closed_at).toBe(at(3));
    });

    it("returns null for a batch that does not exist", async () => {
      expect(await store().getBatch("missing")).toBeNull();
      expect(await store().closeBatch("missing", at(1000), true)).toBeNull();
    });

    it("closes a batch only once it is due, once; then its key opens a new batch", async () => {
      await appendAll([
        batchAppendFixture({ id: "b1", run_id: "r1" }),
        batchAppendFixture({ id: "b2", run_id: "r2" }),
      ]);
      expect(await store().closeBatch("b1", at(59))).toBeNull();
      expect(await store().getBatch("b1")).toMatchObject({ status: "open", closed_at: null });

      const closed = await store().closeBatch("b1", at(61));
      expect(closed).toMatchObject({
        id: "b1",
        status: "closed",
        closed_at: at(61),
        closes_at: at(60),
        continuing_run_id: "r1",
      });
      expect(runIds(closed)).toEqual(["r1", "r2"]);
      expect(await store().getBatch("b1")).toEqual(closed);
      expect(await store().closeBatch("b1", at(62))).toBeNull();
      expect(await store().closeBatch("b1", at(62), true)).toBeNull();
      expect((await store().getBatch("b1"))?.closed_at).toBe(at(61));

      const next = await store().appendToBatch(
        batchAppendFixture({ id: "b3", run_id: "r3" }),
        at(63),
      );
      expect(next.role).toBe("opened");
      expect(next.batch).toMatchObject({ id: "b3", status: "open", continuing_run_id: "r3" });
      expect(runIds(await store().getBatch("b1"))).toEqual(["r1", "r2"]);
    });

    it("closes a batch exactly at closes_at, and any open batch when forced", async () => {
      await store().appendToBatch(batchAppendFixture({ id: "b1", run_id: "r1", key: "k1" }), at(1));
      await store().appendToBatch(batchAppendFixture({ id: "b2", run_id: "r2", key: "k2" }), at(1));
      expect(await store().closeBatch("b1", at(60))).toMatchObject({
        status: "closed",
        closed_at: at(60),
      });
      const forced = await store().closeBatch("b2", at(5), true);
      expect(forced).toMatchObject({ id: "b2", status: "closed", closed_at: at(5) });
      expect(runIds(forced)).toEqual(["r2"]);
      expect((await store().getBatch("b2"))?.status).toBe("closed");
      const reopened = await store().appendToBatch(
        batchAppendFixture({ id: "b3", run_id: "r3", key: "k2" }),
        at(6),
      );
      expect(reopened).toMatchObject({ role: "opened", batch: { id: "b3" } });
    });

    it("removes one run's item and leaves the window as it was", async () => {
      const sliding = (run: string) =>
        batchAppendFixture({
          id: `b-${run}`,
          run_id: run,
          closes_by: at(200),
          slide_to: at(100),
        });
      await appendAll([sliding("r1"), sliding("r2"), sliding("r3")]);
      const before = await store().getBatch("b-r1");
      expect(before?.closes_at).toBe(at(100));

      const removed = await store().removeBatchItem("b-r1", "r2");
      expect(runIds(removed)).toEqual(["r1", "r3"]);
      const expected = {
        ...before,
        items: [batchItemFixture("r1"), batchItemFixture("r3")],
      };
      expect(removed).toEqual(expected);
      expect(await store().getBatch("b-r1")).toEqual(expected);

      expect(await store().removeBatchItem("b-r1", "nobody")).toEqual(expected);
      expect(await store().getBatch("b-r1")).toEqual(expected);
      expect(await store().removeBatchItem("missing", "r1")).toBeNull();

      // The batch still takes appends, and its window still slides.
      const next = await store().appendToBatch(
        batchAppendFixture({ id: "b-r4", run_id: "r4", closes_by: at(200), slide_to: at(150) }),
        at(4),
      );
      expect(next.role).toBe("joined");
      expect(runIds(next.batch)).toEqual(["r1", "r3", "r4"]);
      expect(next.batch.closes_at).toBe(at(150));
    });

    it("hands continuation to the earliest remaining item's run when the continuing run's item is removed", async () => {
      await appendAll(
        ["r1", "r2", "r3"].map((run) => batchAppendFixture({ id: `b-${run}`, run_id: run })),
      );
      const before = await store().getBatch("b-r1");
      const removed = await store().removeBatchItem("b-r1", "r1");
      const expected = {
        ...before,
        items: [batchItemFixture("r2"), batchItemFixture("r3")],
        continuing_run_id: "r2",
      };
      expect(removed).toEqual(expected);
      expect(await store().getBatch("b-r1")).toEqual(expected);
      // Removing another item leaves the continuing run as it is.
      expect(await store().removeBatchItem("b-r1", "r3")).toMatchObject({
        continuing_run_id: "r2",
        items: [batchItemFixture("r2")],
      });
      // The last item leaves: nobody continues, and the batch stays open (its window unchanged).
      const empty = await store().removeBatchItem("b-r1", "r2");
      expect(empty).toMatchObject({
        continuing_run_id: null,
        items: [],
        status: "open",
        closes_at: before?.closes_at,
      });
      // A later append to the emptied batch becomes its continuing run.
      const next = await store().appendToBatch(
        batchAppendFixture({ id: "b-r4", run_id: "r4" }),
        at(4),
      );
      expect(next).toMatchObject({ role: "continuing", batch: { id: "b-r1" } });
      expect(next.batch.continuing_run_id).toBe("r4");
    });

    it("hands continuation on in a leading batch too, never to the leading run", async () => {
      const leading = (run: string) =>
        batchAppendFixture({ id: `b-${run}`, run_id: run, leading: true });
      await appendAll([leading("r1"), leading("r2"), leading("r3")]);
      const removed = await store().removeBatchItem("b-r1", "r2");
      expect(removed).toMatchObject({ leading_run_id: "r1", continuing_run_id: "r3" });
      expect(runIds(removed)).toEqual(["r3"]);
      expect(await store().removeBatchItem("b-r1", "r3")).toMatchObject({
        leading_run_id: "r1",
        continuing_run_id: null,
        items: [],
      });
    });

    it("never changes a closed batch when an item is removed", async () => {
      await appendAll(
        ["r1", "r2"].map((run) => batchAppendFixture({ id: `b-${run}`, run_id: run })),
      );
      const closed = await store().closeBatch("b-r1", at(60));
      expect(await store().removeBatchItem("b-r1", "r1")).toEqual(closed);
      expect(await store().removeBatchItem("b-r1", "r2")).toEqual(closed);
      expect(await store().getBatch("b-r1")).toEqual(closed);
    });

    it("hands continuation over exactly once when the items are removed concurrently", async () => {
      await appendAll(
        Array.from({ length: 10 }, (_, i) =>
          batchAppendFixture({ id: `b-r${i}`, run_id: `r${i}` }),
        ),
      );
      await Promise.all(
        ["r0", "r1", "r2", "r3"].map((run) => attempt(() => store().removeBatchItem("b-r0", run))),
      );
      const batch = await store().getBatch("b-r0");
      expect(runIds(batch)).toEqual(["r4", "r5", "r6", "r7", "r8", "r9"]);
      expect(batch?.continuing_run_id).toBe("r4");
    });

    it("opens exactly one batch for 50 concurrent appends with the same key", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          attempt(() =>
            store().appendToBatch(batchAppendFixture({ id: `b${i}`, run_id: `r${i}` }), at(1)),
          ),
        ),
      );
      const opened = results.filter((r) => r.role === "opened");
      expect(opened).toHaveLength(1);
      expect(results.filter((r) => r.role === "joined")).toHaveLength(49);
      const id = opened[0]?.batch.id ?? "";
      expect(new Set(results.map((r) => r.batch.id))).toEqual(new Set([id]));
      const batch = await store().getBatch(id);
      expect(batch?.continuing_run_id).toBe(`r${id.slice(1)}`);
      expect(batch?.items).toHaveLength(50);
      expect(new Set(runIds(batch))).toEqual(
        new Set(Array.from({ length: 50 }, (_, i) => `r${i}`)),
      );
      expect(batch?.status).toBe("open");
    });

    it("fills exactly 5 batches of 10 from 50 concurrent appends with max_items 10", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          attempt(() =>
            store().appendToBatch(
              batchAppendFixture({ id: `b${i}`, run_id: `r${i}`, max_items: 10 }),
              at(1),
            ),
          ),
        ),
      );
      expect(results.filter((r) => r.role === "opened")).toHaveLength(5);
      expect(results.filter((r) => r.role === "joined")).toHaveLength(45);
      expect(results.filter((r) => r.closed)).toHaveLength(5);
      const ids = [...new Set(results.map((r) => r.batch.id))];
      expect(ids).toHaveLength(5);
      const seen: string[] = [];
      for (const id of ids) {
        const batch = await store().getBatch(id);
        expect(batch).toMatchObject({ status: "closed", closed_at: at(1) });
        expect(batch?.items).toHaveLength(10);
        // The batch was opened by the append whose id it carries, and that run continues.
        expect(batch?.continuing_run_id).toBe(`r${id.slice(1)}`);
        expect(runIds(batch)).toContain(`r${id.slice(1)}`);
        seen.push(...(runIds(batch) ?? []));
      }
      expect(seen.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`).sort());
    });

    it("keeps no reference to the append it was given", async () => {
      const input = batchAppendFixture({ id: "b1", run_id: "r1" });
      const result = await store().appendToBatch(input, at(1));
      expect(result.batch.items[0]).not.toBe(input.item);
      expect(result.batch.recipient).not.toBe(input.recipient);
      const order = input.item?.data.order as { id: string } | undefined;
      if (order) order.id = "changed";
      input.recipient.id = "changed";
      input.key = "changed";
      const joiner = batchAppendFixture({ id: "b2", run_id: "r2" });
      await store().appendToBatch(joiner, at(2));
      (joiner.item?.data.order as { lines: number[] } | undefined)?.lines.push(3);
      const stored = await store().getBatch("b1");
      expect(stored).toMatchObject({ key: "welcome:batch_1:$users:u1", recipient: u1 });
      expect(stored?.items).toEqual([batchItemFixture("r1"), batchItemFixture("r2")]);
    });
  });

  describe("throttles", () => {
    it("counts executions in a window and starts a new one once it has ended", async () => {
      expect(await store().countThrottle("t1", at(60), at(0))).toEqual({
        count: 1,
        window_started_at: at(0),
        window_ends_at: at(60),
      });
      // Within the window: the window given is ignored.
      expect(await store().countThrottle("t1", at(90), at(30))).toEqual({
        count: 2,
        window_started_at: at(0),
        window_ends_at: at(60),
      });
      expect(await store().countThrottle("t1", at(119), at(59))).toEqual({
        count: 3,
        window_started_at: at(0),
        window_ends_at: at(60),
      });
      // At its end, the window has ended.
      expect(await store().countThrottle("t1", at(120), at(60))).toEqual({
        count: 1,
        window_started_at: at(60),
        window_ends_at: at(120),
      });
      expect(await store().countThrottle("t1", at(150), at(61))).toEqual({
        count: 2,
        window_started_at: at(60),
        window_ends_at: at(120),
      });
      // Long after it.
      expect(await store().countThrottle("t1", at(1060), at(1000))).toEqual({
        count: 1,
        window_started_at: at(1000),
        window_ends_at: at(1060),
      });
    });

    it("keeps the windows of different keys apart", async () => {
      await store().countThrottle("t1", at(60), at(0));
      await store().countThrottle("t1", at(60), at(1));
      expect(await store().countThrottle("t2", at(70), at(2))).toEqual({
        count: 1,
        window_started_at: at(2),
        window_ends_at: at(70),
      });
      expect((await store().countThrottle("t1", at(60), at(3))).count).toBe(3);
      expect((await store().countThrottle("t2", at(70), at(4))).count).toBe(2);
    });

    it("gives 50 concurrent executions in one window the counts 1 to 50, each once", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => attempt(() => store().countThrottle("t1", at(60), at(1)))),
      );
      expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      for (const result of results) {
        expect(result).toMatchObject({ window_started_at: at(1), window_ends_at: at(60) });
      }
      expect((await store().countThrottle("t1", at(60), at(2))).count).toBe(51);
    });
  });

  describe("cancellations", () => {
    it("returns a workflow key's unexpired cancellations, oldest first", async () => {
      const first = cancellationFixture({
        recipients: [u1],
        cancelled_at: at(0),
        expires_at: at(100),
      });
      const second = cancellationFixture({ cancelled_at: at(10), expires_at: at(200) });
      await store().putCancellation(first);
      await store().putCancellation(
        cancellationFixture({ workflow: "digest", cancelled_at: at(5), expires_at: at(300) }),
      );
      await store().putCancellation(
        cancellationFixture({
          cancellation_key: "order-2",
          cancelled_at: at(6),
          expires_at: at(300),
        }),
      );
      await store().putCancellation(second);

      expect(await store().getCancellations("welcome", "order-1", at(20))).toEqual([first, second]);
      expect(await store().getCancellations("digest", "order-1", at(20))).toEqual([
        cancellationFixture({ workflow: "digest", cancelled_at: at(5), expires_at: at(300) }),
      ]);
      expect(await store().getCancellations("welcome", "order-2", at(20))).toHaveLength(1);
      expect(await store().getCancellations("welcome", "order-3", at(20))).toEqual([]);
      expect(await store().getCancellations("other", "order-1", at(20))).toEqual([]);

      // Expired at expires_at.
      expect(await store().getCancellations("welcome", "order-1", at(99))).toEqual([first, second]);
      expect(await store().getCancellations("welcome", "order-1", at(100))).toEqual([second]);
      expect(await store().getCancellations("welcome", "order-1", at(199))).toEqual([second]);
      expect(await store().getCancellations("welcome", "order-1", at(200))).toEqual([]);
    });

    it("keeps no reference to the cancellation it was given", async () => {
      const cancellation = cancellationFixture({ recipients: [{ ...u1 }] });
      await store().putCancellation(cancellation);
      cancellation.recipients?.push(u2);
      const recipient = cancellation.recipients?.[0];
      if (recipient) recipient.id = "changed";
      cancellation.expires_at = at(1);
      const [stored] = await store().getCancellations("welcome", "order-1", at(10));
      expect(stored).toEqual(cancellationFixture({ recipients: [u1] }));
      expect(stored).not.toBe(cancellation);
    });

    describe("listRunsByCancellationKey", () => {
      /** Runs r0..r6 of `welcome` with key order-1, among runs that must not be listed. */
      async function createKeyedRuns(): Promise<void> {
        await store().createRecipientRuns([keyedRun("r0", 0, "order-1"), keyedRun("x0", 1, null)]);
        await store().createRecipientRuns([keyedRun("r1", 2, "order-1")]);
        await store().createRecipientRuns([
          keyedRun("x1", 3, undefined),
          keyedRun("x2", 4, "order-2"),
          keyedRun("x3", 5, "order-1", "digest"),
          keyedRun("r2", 6, "order-1"),
          keyedRun("r3", 7, "order-1"),
        ]);
        for (let i = 4; i < 7; i++) {
          await store().createRecipientRuns([keyedRun(`r${i}`, 4 + i * 2, "order-1")]);
          await store().createRecipientRuns([keyedRun(`y${i}`, 5 + i * 2, "order-9")]);
        }
      }

      it("lists a workflow's runs with the key, oldest first, in any status", async () => {
        await createKeyedRuns();
        await store().updateRecipientRun("r1", 0, { status: "cancelled", updated_at: at(50) }, []);
        const page = await store().listRunsByCancellationKey("welcome", "order-1", { limit: 100 });
        expect(pageIds(page)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
        expect(page.after).toBeNull();
        expect(page.before).toBeNull();
        expect(page.items[1]?.status).toBe("cancelled");
        expect(page.items.every((run) => run.trigger_source.cancellation_key === "order-1")).toBe(
          true,
        );

        expect(
          pageIds(await store().listRunsByCancellationKey("digest", "order-1", { limit: 100 })),
        ).toEqual(["x3"]);
        expect(
          pageIds(await store().listRunsByCancellationKey("welcome", "order-2", { limit: 100 })),
        ).toEqual(["x2"]);
        expect(
          await store().listRunsByCancellationKey("welcome", "order-3", { limit: 10 }),
        ).toEqual({
          items: [],
          after: null,
          before: null,
        });
        expect(
          (await store().listRunsByCancellationKey("other", "order-1", { limit: 10 })).items,
        ).toEqual([]);
      });

      it("pages with after and before cursors", async () => {
        await createKeyedRuns();
        const list = (page: PageRequest) =>
          store().listRunsByCancellationKey("welcome", "order-1", page);
        const pages: Array<PageResult<WorkflowRecipientRun>> = [];
        let after: string | null = null;
        do {
          const page: PageResult<WorkflowRecipientRun> = await list({ limit: 3, after });
          pages.push(page);
          after = page.after;
        } while (after !== null && pages.length < 10);
        expect(pages.map(pageIds)).toEqual([["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]);
        expect(pages[0]?.before).toBeNull();
        expect(pages[1]?.before).not.toBeNull();
        expect(pages[2]?.before).not.toBeNull();
        expect(pages[2]?.after).toBeNull();

        const back = await list({ limit: 3, before: pages[2]?.before ?? null });
        expect(pageIds(back)).toEqual(["r3", "r4", "r5"]);
        expect(back.after).not.toBeNull();
        expect(back.before).not.toBeNull();
        const first = await list({ limit: 3, before: back.before ?? null });
        expect(pageIds(first)).toEqual(["r0", "r1", "r2"]);
        expect(first.before).toBeNull();
        expect(pageIds(await list({ limit: 2, after: first.after ?? null }))).toEqual(["r3", "r4"]);

        await expect(attempt(() => list({ limit: 0 }))).rejects.toMatchObject({
          code: "invalid_params",
        });
        await expect(
          attempt(() => list({ limit: 3, after: "not a cursor!" })),
        ).rejects.toMatchObject({ code: "invalid_params" });
      });
    });
  });
}
