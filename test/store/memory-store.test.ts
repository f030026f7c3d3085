import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Message, MessageEngagementStatus } from "../../src/messages/types.js";
import { IndexMap, memoryStore } from "../../src/store/memory.js";
import {
  type MessageFilter,
  type PageResult,
  type StoredSubscription,
  USERS_COLLECTION,
} from "../../src/store/types.js";
import {
  at,
  messageFixture,
  recipientRunFixture,
  runEventFixture,
  workflowFixture,
} from "../../src/testing/conformance/fixtures.js";
import { testStore } from "../../src/testing/conformance/store.js";

testStore(() => memoryStore(), { name: "memoryStore: Store conformance" });

/** True when `value` and every object and array inside it is frozen. */
function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every(deeplyFrozen);
}

const u1 = { collection: USERS_COLLECTION, id: "u1" };
const team = { collection: "teams", id: "core" };

describe("memoryStore", () => {
  it("is named memory and answers synchronously, without promises", () => {
    const store = memoryStore();
    expect(store.name).toBe("memory");
    expect(store.getRecipient(u1)).toBeNull();
    expect(store.claimOnce("k", at(0))).toBe(true);
    expect(store.listMessages({}, { limit: 1 })).not.toBeInstanceOf(Promise);
  });

  it("returns deeply frozen stored objects, the same object on every read", async () => {
    const store = memoryStore();
    const recipient = await store.upsertRecipient(
      u1,
      {
        properties: { a: { b: [1, { c: 2 }] } },
        channel_data: { push: { t: ["x"] } },
        preferences: { default: { x: { y: 1 } } },
      },
      at(1),
    );
    expect(deeplyFrozen(recipient)).toBe(true);
    expect(await store.getRecipient(u1)).toBe(recipient);
    expect(() => {
      (recipient.properties as { a: { b: unknown[] } }).a.b.push(3);
    }).toThrow(TypeError);

    const [sub] = await store.upsertSubscriptions(team, [u1], { role: { name: "x" } }, at(1));
    expect(deeplyFrozen(sub)).toBe(true);

    await store.createRecipientRuns([recipientRunFixture({ id: "r1", data: { d: [1] } })]);
    const run = await store.getRecipientRun("r1");
    expect(deeplyFrozen(run)).toBe(true);
    expect(await store.getRecipientRun("r1")).toBe(run);
    const updated = await store.updateRecipientRun("r1", 0, { data: { e: { f: 1 } } }, [
      runEventFixture("x", { data: { g: [1] } }),
    ]);
    expect(deeplyFrozen(updated)).toBe(true);
    expect((await store.getRunEvents("r1")).every(deeplyFrozen)).toBe(true);

    const { message } = await store.createMessage(messageFixture({ id: "m1" }));
    expect(deeplyFrozen(message)).toBe(true);
    expect(await store.getMessage("m1")).toBe(message);
    expect(deeplyFrozen(await store.updateMessage("m1", { metadata: { a: { b: 1 } } }))).toBe(true);

    const workflow = await store.putWorkflow({
      definition: workflowFixture("welcome"),
      sha: "s",
      now: at(1),
    });
    expect(deeplyFrozen(workflow)).toBe(true);
    expect(await store.getWorkflow("welcome")).toBe(workflow);

    await store.claimIdempotencyKey("k", "f", { r: { s: 1 } }, at(10), at(0));
    const replay = await store.claimIdempotencyKey("k", "f", {}, at(10), at(1));
    expect(replay.claimed === false && deeplyFrozen(replay.result)).toBe(true);
  });

  it("shares untouched parts between versions of a run and of a recipient", async () => {
    const store = memoryStore();
    await store.createRecipientRuns([
      recipientRunFixture({ id: "r1", subscription: { role: "x" } }),
    ]);
    const before = await store.getRecipientRun("r1");
    const after = await store.updateRecipientRun("r1", 0, { cursor: 1 }, []);
    expect(after?.subscription).toBe(before?.subscription);
    expect(after?.trigger_source).toBe(before?.trigger_source);

    const first = await store.upsertRecipient(
      u1,
      { properties: { big: { a: 1 }, other: { b: 2 } } },
      at(1),
    );
    const second = await store.upsertRecipient(u1, { properties: { other: { c: 3 } } }, at(2));
    expect(second.properties.big).toBe(first.properties.big);
    expect(second.properties.other).toEqual({ b: 2, c: 3 });
  });

  it("hands out a fresh log array, so pushing to it does not change the log", async () => {
    const store = memoryStore();
    await store.createRecipientRuns([recipientRunFixture({ id: "r1" })]);
    await store.appendRunEvents("r1", [runEventFixture("a")]);
    const events = await store.getRunEvents("r1");
    events.push(runEventFixture("junk"));
    expect(await store.getRunEvents("r1")).toHaveLength(1);
  });

  it("drops log entries for a run that does not exist", async () => {
    const store = memoryStore();
    await store.appendRunEvents("missing", [runEventFixture("a")]);
    expect(await store.getRunEvents("missing")).toEqual([]);
  });

  it("pages 100,000 subscribers of one object, each once, in time linear in the pages read", async () => {
    const store = memoryStore();
    const total = 100_000;
    for (let i = 0; i < total; i += 1000) {
      await store.upsertSubscriptions(
        team,
        Array.from({ length: 1000 }, (_, j) => ({ collection: USERS_COLLECTION, id: `u${i + j}` })),
        null,
        at(0),
      );
    }
    // Delete every tenth, then page through the rest.
    await store.deleteSubscriptions(
      team,
      Array.from({ length: total / 10 }, (_, i) => ({
        collection: USERS_COLLECTION,
        id: `u${i * 10}`,
      })),
    );
    let after: string | null = null;
    let count = 0;
    let pages = 0;
    let everyTenth = 0;
    const started = performance.now();
    do {
      const page: PageResult<StoredSubscription> = await store.listSubscribers(team, {
        limit: 500,
        after,
      });
      for (const item of page.items) {
        if (Number(item.recipient.id.slice(1)) % 10 === 0) everyTenth++;
        count++;
      }
      after = page.after;
      pages++;
    } while (after !== null && pages < 1_000);
    const elapsed = performance.now() - started;
    expect(everyTenth).toBe(0);
    expect(count).toBe(total - total / 10);
    expect(pages).toBe(180);
    // O(page) paging: rescanning from the start for every page would take far longer.
    expect(elapsed).toBeLessThan(2_000);
  });

  it("keeps indexes in order when updates move runs and messages between them", async () => {
    const store = memoryStore();
    const total = 1_200;
    const runs = Array.from({ length: total }, (_, i) =>
      recipientRunFixture({ id: `r${i}`, recipient: i % 2 === 0 ? "a" : "b", inserted_at: at(i) }),
    );
    await store.createRecipientRuns(runs);
    // Move every third run of "a" to "b": inserts into the middle of b's chunked index.
    const moved = new Set<number>();
    for (let i = 0; i < total; i += 6) {
      await store.updateRecipientRun(`r${i}`, 0, { recipient: "b" }, []);
      moved.add(i);
    }
    const expectedB = Array.from({ length: total }, (_, i) => i)
      .filter((i) => i % 2 === 1 || moved.has(i))
      .reverse()
      .map((i) => `r${i}`);
    const expectedA = Array.from({ length: total }, (_, i) => i)
      .filter((i) => i % 2 === 0 && !moved.has(i))
      .reverse()
      .map((i) => `r${i}`);
    const readAll = async (recipient: string, limit: number) => {
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: PageResult<{ id: string }> = await store.listRecipientRuns(
          { recipient: { collection: USERS_COLLECTION, id: recipient } },
          { limit, after },
        );
        seen.push(...page.items.map((run) => run.id));
        after = page.after;
      } while (after !== null && seen.length <= total);
      return seen;
    };
    expect(await readAll("b", 7)).toEqual(expectedB);
    expect(await readAll("a", 1000)).toEqual(expectedA);

    // Messages moved to another recipient run follow the same way.
    for (let i = 0; i < 600; i++) {
      await store.createMessage(
        messageFixture({ id: `m${i}`, source: { workflow_recipient_run_id: i % 2 ? "x" : "y" } }),
      );
    }
    for (let i = 0; i < 600; i += 4) {
      await store.updateMessage(`m${i}`, {
        source: { ...messageFixture({ id: "m" }).source, workflow_recipient_run_id: "x" },
      });
    }
    const listed = await store.listMessages({ workflow_recipient_run_id: "x" }, { limit: 1000 });
    const expectedX = Array.from({ length: 600 }, (_, i) => i)
      .filter((i) => i % 2 === 1 || i % 4 === 0)
      .reverse()
      .map((i) => `m${i}`);
    expect(listed.items.map((m) => m.id)).toEqual(expectedX);
    const y = await store.listMessages({ workflow_recipient_run_id: "y" }, { limit: 1000 });
    expect(y.items).toHaveLength(600 - expectedX.length);
  });

  it("rejects unparseable timestamps in filters and claims", () => {
    const store = memoryStore();
    const invalid = expect.objectContaining({ code: "invalid_params" });
    expect(() => store.listMessages({ inserted_at: { gte: "yesterday" } }, { limit: 10 })).toThrow(
      invalid,
    );
    expect(() => store.listRecipientRuns({ starting_at: "soon" }, { limit: 10 })).toThrow(invalid);
    expect(() => store.claimIdempotencyKey("k", "f", {}, "later", at(0))).toThrow(invalid);
  });

  it("lists a run's messages whether they were stored before the run, after it, or moved to it", async () => {
    const store = memoryStore();
    const ofRun = async (id: string) =>
      (
        await store.listMessages({ workflow_recipient_run_id: id }, { limit: 10, after: null })
      ).items.map((m) => m.id);
    const message = (id: string, run: string) =>
      messageFixture({ id, source: { workflow_recipient_run_id: run } });
    await store.createMessage(message("early", "r1"));
    expect(await ofRun("r1")).toEqual(["early"]);
    await store.createRecipientRuns([
      recipientRunFixture({ id: "r1" }),
      recipientRunFixture({ id: "r2" }),
    ]);
    await store.createMessage(message("late", "r1"));
    expect(await ofRun("r1")).toEqual(["late", "early"]);
    // A message moved to another run (its source patched) is listed with that run only.
    await store.updateMessage("early", { source: message("early", "r2").source });
    expect(await ofRun("r1")).toEqual(["late"]);
    expect(await ofRun("r2")).toEqual(["early"]);
    await store.updateMessage("late", { source: message("late", "r9").source });
    expect(await ofRun("r1")).toEqual([]);
    expect(await ofRun("r9")).toEqual(["late"]);
    expect((await store.countMessages({ workflow_recipient_run_id: "r9" })).total).toBe(1);
  });

  it("keeps each key's numbers in its index maps as a sorted set would, through any adds and deletes", () => {
    const op = fc.record({
      add: fc.boolean(),
      key: fc.constantFrom("a", "b"),
      // Few distinct numbers, so that keys grow past the small-array size and shrink back.
      seq: fc.integer({ min: 1, max: 30 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const index = new IndexMap();
        const model = new Map<string, Set<number>>();
        for (const o of ops) {
          const set = model.get(o.key) ?? new Set<number>();
          model.set(o.key, set);
          if (o.add) {
            index.add(o.key, o.seq);
            set.add(o.seq);
          } else {
            index.delete(o.key, o.seq);
            set.delete(o.seq);
          }
          for (const key of ["a", "b"]) {
            const expected = [...(model.get(key) ?? [])].sort((x, y) => x - y);
            const held = index.get(key);
            expect(held?.toArray() ?? []).toEqual(expected);
            if (held) expect(held.size).toBe(expected.length);
            if (expected.length === 0) expect(held).toBeUndefined();
          }
        }
      }),
    );
  });

  it("keeps its per-recipient message counters equal to counting the messages, through any writes", () => {
    const engagement: MessageEngagementStatus[] = [
      "seen",
      "read",
      "interacted",
      "link_clicked",
      "archived",
    ];
    const recipient = fc.constantFrom("u1", "u2", "u3");
    const tenant = fc.constantFrom(null, "t1", "t2");
    const status = fc.constantFrom<Message["status"]>("queued", "delivered", "sent", "undelivered");
    const channel = fc.constantFrom("feed", "email");
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("create" as const),
        recipient,
        tenant,
        status,
        channel,
        engagement: fc.subarray(engagement),
      }),
      fc.record({
        kind: fc.constant("engage" as const),
        target: fc.nat(40),
        status: fc.constantFrom(...engagement),
        set: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant("update" as const),
        target: fc.nat(40),
        recipient,
        tenant,
        status,
      }),
    );
    const filter = fc.record(
      {
        recipient: recipient.map((id) => ({ collection: USERS_COLLECTION, id })),
        channel_id: channel,
        status: fc.subarray(["queued", "delivered", "sent", "undelivered"] as Message["status"][]),
        tenant: fc.constantFrom("t1", "t2"),
        has_tenant: fc.boolean(),
        engagement_status: fc.subarray([...engagement, "unseen", "unread", "unarchived"] as const),
        with_engagement: fc.subarray(engagement),
        without_engagement: fc.subarray(engagement),
      },
      { requiredKeys: ["recipient"] },
    ) as fc.Arbitrary<MessageFilter>;
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.array(filter, { maxLength: 8 }),
        (ops, filters) => {
          const store = memoryStore();
          let created = 0;
          ops.forEach((o, i) => {
            if (o.kind === "create") {
              store.createMessage(
                messageFixture({
                  id: `m${created++}`,
                  recipient: o.recipient,
                  tenant: o.tenant,
                  status: o.status,
                  channel_id: o.channel,
                  engagement_statuses: o.engagement,
                }),
              );
            } else if (o.kind === "engage") {
              store.updateEngagement([`m${o.target % Math.max(created, 1)}`], o, at(i));
            } else {
              store.updateMessage(`m${o.target % Math.max(created, 1)}`, {
                recipient: o.recipient,
                tenant: o.tenant,
                status: o.status,
              });
            }
          });
          for (const f of [...filters, { recipient: { collection: USERS_COLLECTION, id: "u1" } }]) {
            const listed = (store.listMessages(f, { limit: 1000 }) as PageResult<Message>).items;
            expect(store.countMessages(f)).toEqual({
              total: listed.length,
              unread: listed.filter((m) => !m.engagement_statuses.includes("read")).length,
              unseen: listed.filter((m) => !m.engagement_statuses.includes("seen")).length,
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
