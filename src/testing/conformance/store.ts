/**
 * `testStore`: the executable form of the {@link Store} contract. Every store adapter runs it.
 *
 * @module
 */

import type { Message } from "../../messages/types.js";
import type {
  PageRequest,
  PageResult,
  RecipientKey,
  Store,
  StoredRecipient,
  StoredSubscription,
} from "../../store/types.js";
import { USERS_COLLECTION } from "../../store/types.js";
import type { WorkflowRecipientRun } from "../../workflows/run-types.js";
import {
  at,
  messageFixture,
  recipientRunFixture,
  runEventFixture,
  workflowFixture,
  workflowRunFixture,
} from "./fixtures.js";
import { feedStoreTests } from "./store-feed.js";
import { flowControlTests } from "./store-flow.js";
import { scheduleTests } from "./store-schedules.js";
import { vitestApi } from "./vitest.js";

/** Options of {@link testStore}. */
export interface TestStoreOptions {
  /** The suite's name. @default "Store conformance" */
  name?: string;
}

const user = (id: string): RecipientKey => ({ collection: USERS_COLLECTION, id });
const object = (collection: string, id: string): RecipientKey => ({ collection, id });

/** Runs `call` so that a synchronous throw becomes a rejection (stores may be sync or async). */
function attempt<T>(call: () => T | Promise<T>): Promise<T> {
  return Promise.resolve().then(call);
}

function ids(items: ReadonlyArray<{ id: string }>): string[] {
  return items.map((item) => item.id);
}

function subscriberIds(page: PageResult<StoredSubscription>): string[] {
  return page.items.map((sub) => sub.recipient.id);
}

/** Every page of a list, following `after` from the first page. */
async function allPages<T>(
  list: (page: PageRequest) => PageResult<T> | Promise<PageResult<T>>,
  limit: number,
): Promise<Array<PageResult<T>>> {
  const pages: Array<PageResult<T>> = [];
  let after: string | null = null;
  do {
    const page: PageResult<T> = await list({ limit, after });
    pages.push(page);
    after = page.after;
    if (pages.length > 10_000) throw new Error("Paging did not end after 10,000 pages.");
  } while (after !== null);
  return pages;
}

/**
 * Registers a vitest suite that checks a {@link Store} against every guarantee of its contract:
 * merge semantics, prototype safety, paging with stable cursors, workflow versioning, compare-and-set
 * runs and schedules, idempotent creates, every list filter, once-only records, batches,
 * throttles, cancellations, sources, atomicity under concurrent calls, and that a store never
 * keeps a reference to a value it was given.
 *
 * Each test gets a fresh store from `factory` and closes it afterwards (when it has `close`).
 *
 * @example
 * ```ts
 * // test/store/my-store.test.ts
 * import { testStore } from "crier/testing";
 * import { myStore } from "../src/my-store.js";
 *
 * testStore(() => myStore({ url: process.env.DATABASE_URL }), { name: "my store" });
 * ```
 */
export function testStore(
  factory: () => Store | Promise<Store>,
  options: TestStoreOptions = {},
): void {
  const { afterEach, beforeEach, describe, expect, it } = vitestApi("testStore");
  describe(options.name ?? "Store conformance", () => {
    let store: Store;

    beforeEach(async () => {
      store = await factory();
    });

    afterEach(async () => {
      await store.close?.();
    });

    it("has a name", () => {
      expect(typeof store.name).toBe("string");
      expect(store.name.length).toBeGreaterThan(0);
    });

    // ── Recipients ──────────────────────────────────────────────────────────────────────────

    describe("recipients", () => {
      it("returns null for a missing recipient, and many at once in the order asked", async () => {
        expect(await store.getRecipient(user("nobody"))).toBeNull();
        await store.upsertRecipient(user("u1"), { properties: { name: "One" } }, at(1));
        await store.upsertRecipient(user("u2"), { properties: { name: "Two" } }, at(1));
        const many = await store.getRecipients([user("u2"), user("missing"), user("u1")]);
        expect(many.map((r) => r?.id ?? null)).toEqual(["u2", null, "u1"]);
        expect(await store.getRecipients([])).toEqual([]);
      });

      it("creates a recipient with its properties, channel data, preferences and timestamps", async () => {
        const created = await store.upsertRecipient(
          user("u1"),
          {
            properties: { name: "Ada", nested: { a: 1 } },
            channel_data: { push: { tokens: ["t1"] } },
            preferences: { default: { channel_types: { email: true } } },
          },
          at(1),
        );
        expect(created).toEqual({
          collection: USERS_COLLECTION,
          id: "u1",
          properties: { name: "Ada", nested: { a: 1 } },
          channel_data: { push: { tokens: ["t1"] } },
          preferences: { default: { channel_types: { email: true } } },
          created_at: null,
          inserted_at: at(1),
          updated_at: at(1),
        });
        expect(await store.getRecipient(user("u1"))).toEqual(created);
      });

      it("creates a recipient from an empty patch", async () => {
        const created = await store.upsertRecipient(object("teams", "t1"), {}, at(1));
        expect(created).toMatchObject({
          collection: "teams",
          id: "t1",
          properties: {},
          channel_data: {},
          preferences: {},
          created_at: null,
          inserted_at: at(1),
          updated_at: at(1),
        });
      });

      it("deep-merges properties: objects key by key, arrays and scalars replace, null kept", async () => {
        await store.upsertRecipient(
          user("u1"),
          {
            properties: {
              profile: { first: "Ada", last: "L", address: { city: "London", zip: "N1" } },
              tags: ["a", "b", "c"],
              keep: "kept",
              count: 1,
            },
          },
          at(1),
        );
        const updated = await store.upsertRecipient(
          user("u1"),
          {
            properties: {
              profile: { last: "Lovelace", address: { zip: "N2" }, title: null },
              tags: ["z"],
              count: { now: "an object" },
              cleared: null,
            },
          },
          at(2),
        );
        const expected = {
          profile: {
            first: "Ada",
            last: "Lovelace",
            address: { city: "London", zip: "N2" },
            title: null,
          },
          tags: ["z"],
          keep: "kept",
          count: { now: "an object" },
          cleared: null,
        };
        expect(updated.properties).toEqual(expected);
        expect(Object.hasOwn(updated.properties, "cleared")).toBe(true);
        expect((await store.getRecipient(user("u1")))?.properties).toEqual(expected);
      });

      it("keeps inserted_at and sets updated_at on every upsert, even an empty one", async () => {
        await store.upsertRecipient(user("u1"), { properties: { a: 1 } }, at(1));
        const second = await store.upsertRecipient(user("u1"), { properties: { b: 2 } }, at(2));
        expect(second.inserted_at).toBe(at(1));
        expect(second.updated_at).toBe(at(2));
        const third = await store.upsertRecipient(user("u1"), {}, at(3));
        expect(third.inserted_at).toBe(at(1));
        expect(third.updated_at).toBe(at(3));
        expect(third.properties).toEqual({ a: 1, b: 2 });
      });

      it("replaces channel data per channel and keeps the channels not named", async () => {
        await store.upsertRecipient(
          user("u1"),
          { channel_data: { push: { tokens: ["a", "b"], extra: 1 }, sms: { phone: "+1" } } },
          at(1),
        );
        const updated = await store.upsertRecipient(
          user("u1"),
          { channel_data: { push: { tokens: ["c"] } } },
          at(2),
        );
        expect(updated.channel_data).toEqual({ push: { tokens: ["c"] }, sms: { phone: "+1" } });
      });

      it("updates an existing recipient only, creating none (updateRecipient)", async (context) => {
        const update = store.updateRecipient?.bind(store);
        if (!update) return context.skip("the store has no updateRecipient (an optional method)");
        expect(await update(user("ghost"), { properties: { a: 1 } }, at(1))).toBeNull();
        expect(await store.getRecipient(user("ghost"))).toBeNull();
        await store.upsertRecipient(
          user("u1"),
          { properties: { a: { b: 1 } }, channel_data: { push: { t: 1 }, sms: { p: 2 } } },
          at(1),
        );
        const updated = await update(
          user("u1"),
          { properties: { a: { c: 2 } }, channel_data: { push: null } },
          at(2),
        );
        expect(updated).toMatchObject({
          properties: { a: { b: 1, c: 2 } },
          channel_data: { sms: { p: 2 } },
          inserted_at: at(1),
          updated_at: at(2),
        });
        expect(await store.getRecipient(user("u1"))).toEqual(updated);
      });

      it("removes a channel's data given null, keeping the other channels", async () => {
        await store.upsertRecipient(
          user("u1"),
          { channel_data: { push: { tokens: ["a"] }, sms: { phone: "+1" } } },
          at(1),
        );
        const updated = await store.upsertRecipient(
          user("u1"),
          { channel_data: { push: null } },
          at(2),
        );
        expect(updated.channel_data).toEqual({ sms: { phone: "+1" } });
        expect((await store.getRecipient(user("u1")))?.channel_data).toEqual({
          sms: { phone: "+1" },
        });
      });

      it("deep-merges each preference set named and keeps the others", async () => {
        await store.upsertRecipient(
          user("u1"),
          {
            preferences: {
              default: { channel_types: { email: true, sms: false }, workflows: { w1: true } },
              t1: { channel_types: { push: false } },
            },
          },
          at(1),
        );
        const updated = await store.upsertRecipient(
          user("u1"),
          {
            preferences: {
              default: { channel_types: { sms: true } },
              t2: { categories: { marketing: false } },
            },
          },
          at(2),
        );
        expect(updated.preferences).toEqual({
          default: { channel_types: { email: true, sms: true }, workflows: { w1: true } },
          t1: { channel_types: { push: false } },
          t2: { categories: { marketing: false } },
        });
      });

      it("sets created_at when given, keeps it when absent, clears it with null", async () => {
        const first = await store.upsertRecipient(user("u1"), { created_at: at(-100) }, at(1));
        expect(first.created_at).toBe(at(-100));
        const second = await store.upsertRecipient(user("u1"), { properties: { a: 1 } }, at(2));
        expect(second.created_at).toBe(at(-100));
        const third = await store.upsertRecipient(user("u1"), { created_at: null }, at(3));
        expect(third.created_at).toBeNull();
      });

      it("keeps users and objects with the same id apart", async () => {
        await store.upsertRecipient(user("x"), { properties: { kind: "user" } }, at(1));
        await store.upsertRecipient(object("teams", "x"), { properties: { kind: "team" } }, at(1));
        await store.upsertRecipient(
          object("projects", "x"),
          { properties: { kind: "project" } },
          at(1),
        );
        expect((await store.getRecipient(user("x")))?.properties).toEqual({ kind: "user" });
        expect((await store.getRecipient(object("teams", "x")))?.properties).toEqual({
          kind: "team",
        });
        expect((await store.getRecipient(object("projects", "x")))?.properties).toEqual({
          kind: "project",
        });
        expect(await store.deleteRecipient(object("teams", "x"))).toBe(true);
        expect(await store.getRecipient(user("x"))).not.toBeNull();
        expect(await store.getRecipient(object("projects", "x"))).not.toBeNull();
      });

      it("stores __proto__, constructor and prototype keys as own data and never touches Object.prototype", async () => {
        const properties = JSON.parse(
          '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"x":1},"safe":1}',
        ) as Record<string, unknown>;
        await store.upsertRecipient(user("u1"), { properties }, at(1));
        const patch = JSON.parse(
          '{"__proto__":{"more":"merged"},"constructor":{"prototype":{"other":2}}}',
        ) as Record<string, unknown>;
        const merged = await store.upsertRecipient(user("u1"), { properties: patch }, at(2));
        const channelData = JSON.parse('{"__proto__":{"token":"t"}}') as Record<
          string,
          Record<string, unknown>
        >;
        const preferences = JSON.parse('{"__proto__":{"polluted":"yes"}}') as Record<
          string,
          Record<string, unknown>
        >;
        await store.upsertRecipient(user("u1"), { channel_data: channelData, preferences }, at(3));
        await store.setPreferenceSet(user("u1"), "constructor", { polluted: "yes" }, at(4));

        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(({} as Record<string, unknown>).more).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty("polluted");

        const stored = await store.getRecipient(user("u1"));
        if (!stored) throw new Error("Expected the recipient to exist.");
        for (const props of [merged.properties, stored.properties]) {
          expect(Object.getPrototypeOf(props)).toBe(Object.prototype);
          expect(Object.keys(props).sort()).toEqual([
            "__proto__",
            "constructor",
            "prototype",
            "safe",
          ]);
          expect(Object.getOwnPropertyDescriptor(props, "__proto__")?.value).toEqual({
            polluted: "yes",
            more: "merged",
          });
          expect(Object.getOwnPropertyDescriptor(props, "constructor")?.value).toEqual({
            prototype: { polluted: "yes", other: 2 },
          });
        }
        expect(Object.getOwnPropertyDescriptor(stored.channel_data, "__proto__")?.value).toEqual({
          token: "t",
        });
        expect(Object.getOwnPropertyDescriptor(stored.preferences, "__proto__")?.value).toEqual({
          polluted: "yes",
        });
        expect(Object.getOwnPropertyDescriptor(stored.preferences, "constructor")?.value).toEqual({
          polluted: "yes",
        });
      });

      it("keeps nested __proto__ keys as own data in every value it stores", async () => {
        const value = () =>
          JSON.parse('{"nested":{"__proto__":{"x":1}},"list":[{"__proto__":{"y":2}}]}') as Record<
            string,
            unknown
          >;
        const ownProto = (holder: unknown): unknown =>
          Object.getOwnPropertyDescriptor(holder, "__proto__")?.value;
        const check = (stored: Record<string, unknown> | null | undefined) => {
          expect(ownProto(stored?.nested)).toEqual({ x: 1 });
          expect(Object.getPrototypeOf(stored?.nested)).toBe(Object.prototype);
          expect(ownProto((stored?.list as unknown[] | undefined)?.[0])).toEqual({ y: 2 });
        };
        await store.upsertRecipient(user("u1"), { properties: value() }, at(1));
        check((await store.getRecipient(user("u1")))?.properties);
        await store.upsertSubscriptions(object("teams", "t"), [user("u1")], value(), at(1));
        check(
          (await store.listSubscribers(object("teams", "t"), { limit: 1 })).items[0]?.properties,
        );
        await store.createRecipientRuns([recipientRunFixture({ id: "r1", data: value() })]);
        check((await store.getRecipientRun("r1"))?.data);
        await store.updateRecipientRun("r1", 0, { subscription: value() }, []);
        check((await store.getRecipientRun("r1"))?.subscription);
        await store.createMessage(messageFixture({ id: "m1", data: value() }));
        check((await store.getMessage("m1"))?.data);
        await store.updateMessage("m1", { metadata: value() });
        check((await store.getMessage("m1"))?.metadata);
        expect(({} as Record<string, unknown>).x).toBeUndefined();
        expect(({} as Record<string, unknown>).y).toBeUndefined();
      });

      it("keeps no reference to the patch it was given", async () => {
        const patch = {
          properties: { profile: { name: "Ada" }, tags: ["a"] },
          channel_data: { push: { tokens: ["t1"] } },
          preferences: { default: { channel_types: { email: true } } },
        };
        const returned = await store.upsertRecipient(user("u1"), patch, at(1));
        expect(returned.properties).not.toBe(patch.properties);
        patch.properties.profile.name = "changed";
        patch.properties.tags.push("b");
        patch.channel_data.push.tokens.push("t2");
        patch.preferences.default.channel_types.email = false;
        expect(await store.getRecipient(user("u1"))).toMatchObject({
          properties: { profile: { name: "Ada" }, tags: ["a"] },
          channel_data: { push: { tokens: ["t1"] } },
          preferences: { default: { channel_types: { email: true } } },
        });
      });

      it("applies concurrent upserts of one recipient without losing any", async () => {
        await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            store.upsertRecipient(user("u1"), { properties: { nested: { [`k${i}`]: i } } }, at(1)),
          ),
        );
        const stored = await store.getRecipient(user("u1"));
        expect(Object.keys(stored?.properties.nested as object).sort()).toEqual(
          Array.from({ length: 25 }, (_, i) => `k${i}`).sort(),
        );
      });

      it("deletes a recipient and every subscription it is part of, on either side", async () => {
        await store.upsertRecipient(user("u1"), {}, at(1));
        await store.upsertRecipient(object("teams", "core"), {}, at(1));
        await store.upsertSubscriptions(
          object("teams", "core"),
          [user("u1"), user("u2")],
          null,
          at(1),
        );
        await store.upsertSubscriptions(
          object("projects", "p1"),
          [object("teams", "core"), user("u1")],
          null,
          at(1),
        );

        expect(await store.deleteRecipient(object("teams", "core"))).toBe(true);
        expect(await store.getRecipient(object("teams", "core"))).toBeNull();
        // As the object: its subscribers are gone.
        const subscribers = await store.listSubscribers(object("teams", "core"), { limit: 10 });
        expect(subscribers.items).toEqual([]);
        expect((await store.listSubscriptionsOf(user("u2"), { limit: 10 })).items).toEqual([]);
        // As a subscriber: its subscription to p1 is gone, u1's stays.
        expect(
          (await store.listSubscriptionsOf(object("teams", "core"), { limit: 10 })).items,
        ).toEqual([]);
        const p1 = await store.listSubscribers(object("projects", "p1"), { limit: 10 });
        expect(subscriberIds(p1)).toEqual(["u1"]);
        expect(
          (await store.listSubscriptionsOf(user("u1"), { limit: 10 })).items.map((s) => s.object),
        ).toEqual([object("projects", "p1")]);

        expect(await store.deleteRecipient(object("teams", "core"))).toBe(false);
        expect(await store.deleteRecipient(user("never"))).toBe(false);
        expect(await store.getRecipient(user("u1"))).not.toBeNull();
      });

      it("removes the subscriptions of a recipient that was never identified", async () => {
        await store.upsertSubscriptions(object("teams", "core"), [user("ghost")], null, at(1));
        expect(await store.deleteRecipient(user("ghost"))).toBe(false);
        expect((await store.listSubscribers(object("teams", "core"), { limit: 10 })).items).toEqual(
          [],
        );
      });

      it("replaces one preference set, deletes it with null, and leaves missing recipients alone", async () => {
        await store.upsertRecipient(
          user("u1"),
          {
            preferences: {
              default: { channel_types: { email: true, sms: true } },
              t1: { workflows: { w: false } },
            },
          },
          at(1),
        );
        const replaced = await store.setPreferenceSet(
          user("u1"),
          "default",
          { channel_types: { push: false } },
          at(2),
        );
        expect(replaced?.preferences).toEqual({
          default: { channel_types: { push: false } },
          t1: { workflows: { w: false } },
        });
        expect(replaced?.updated_at).toBe(at(2));
        expect(replaced?.inserted_at).toBe(at(1));

        const deleted = await store.setPreferenceSet(user("u1"), "t1", null, at(3));
        expect(deleted?.preferences).toEqual({ default: { channel_types: { push: false } } });
        expect((await store.getRecipient(user("u1")))?.preferences).toEqual({
          default: { channel_types: { push: false } },
        });

        expect(
          await store.setPreferenceSet(user("missing"), "default", { a: 1 }, at(4)),
        ).toBeNull();
        expect(await store.getRecipient(user("missing"))).toBeNull();

        const set = { channel_types: { email: false } };
        await store.setPreferenceSet(user("u1"), "t2", set, at(5));
        set.channel_types.email = true;
        expect((await store.getRecipient(user("u1")))?.preferences.t2).toEqual({
          channel_types: { email: false },
        });
      });
    });

    describe("listing recipients (listRecipients)", () => {
      it("lists one collection's recipients oldest first, paged both ways", async (context) => {
        const list = store.listRecipients?.bind(store);
        if (!list) return context.skip("the store has no listRecipients (an optional method)");
        for (const [i, id] of ["u3", "u1", "u2", "u4", "u5"].entries())
          await store.upsertRecipient(user(id), { properties: { n: i } }, at(i));
        await store.upsertRecipient(object("teams", "t1"), {}, at(9));
        // An update keeps the recipient's place.
        await store.upsertRecipient(user("u3"), { properties: { n: 10 } }, at(10));
        const ids = (page: { items: StoredRecipient[] }) => page.items.map((r) => r.id);
        const all = await list(USERS_COLLECTION, { limit: 10 });
        expect(ids(all)).toEqual(["u3", "u1", "u2", "u4", "u5"]);
        expect(all.items[0]?.properties).toEqual({ n: 10 });
        expect(all.after).toBeNull();
        expect(all.before).toBeNull();
        const first = await list(USERS_COLLECTION, { limit: 2 });
        expect(ids(first)).toEqual(["u3", "u1"]);
        expect(first.before).toBeNull();
        const second = await list(USERS_COLLECTION, { limit: 2, after: first.after });
        expect(ids(second)).toEqual(["u2", "u4"]);
        const back = await list(USERS_COLLECTION, { limit: 2, before: second.before });
        expect(ids(back)).toEqual(["u3", "u1"]);
        expect(ids(await list("teams", { limit: 10 }))).toEqual(["t1"]);
        expect((await list("nothing", { limit: 10 })).items).toEqual([]);
      });

      it("leaves a deleted recipient out, and lists one created again last", async (context) => {
        const list = store.listRecipients?.bind(store);
        if (!list) return context.skip("the store has no listRecipients (an optional method)");
        for (const [i, id] of ["a", "b", "c"].entries())
          await store.upsertRecipient(user(id), {}, at(i));
        await store.deleteRecipient(user("a"));
        const ids = async () =>
          (await list(USERS_COLLECTION, { limit: 10 })).items.map((r) => r.id);
        expect(await ids()).toEqual(["b", "c"]);
        await store.upsertRecipient(user("a"), {}, at(5));
        expect(await ids()).toEqual(["b", "c", "a"]);
      });
    });

    // ── Subscriptions ───────────────────────────────────────────────────────────────────────

    describe("subscriptions", () => {
      const team = object("teams", "core");

      async function subscribeMany(count: number, prefix = "u"): Promise<void> {
        for (let i = 0; i < count; i++) {
          await store.upsertSubscriptions(team, [user(`${prefix}${i}`)], { i }, at(i));
        }
      }

      it("subscribes recipients and returns the subscriptions in the order given", async () => {
        const subs = await store.upsertSubscriptions(
          team,
          [user("u2"), object("teams", "u1"), user("u1")],
          { role: "member" },
          at(1),
        );
        expect(subs).toEqual([
          {
            object: team,
            recipient: user("u2"),
            properties: { role: "member" },
            inserted_at: at(1),
            updated_at: at(1),
          },
          {
            object: team,
            recipient: object("teams", "u1"),
            properties: { role: "member" },
            inserted_at: at(1),
            updated_at: at(1),
          },
          {
            object: team,
            recipient: user("u1"),
            properties: { role: "member" },
            inserted_at: at(1),
            updated_at: at(1),
          },
        ]);
        const listed = await store.listSubscribers(team, { limit: 10 });
        expect(listed.items).toEqual(subs);
        expect(listed.after).toBeNull();
        expect(listed.before).toBeNull();
      });

      it("subscribes a recipient named twice in one call once, returning it in both places", async () => {
        const subs = await store.upsertSubscriptions(
          team,
          [user("u1"), user("u2"), user("u1")],
          { r: 1 },
          at(1),
        );
        expect(subs.map((s) => s.recipient.id)).toEqual(["u1", "u2", "u1"]);
        expect(subs[2]).toEqual(subs[0]);
        expect(subscriberIds(await store.listSubscribers(team, { limit: 10 }))).toEqual([
          "u1",
          "u2",
        ]);
      });

      it("replaces the properties of an existing subscription, keeping inserted_at and its place", async () => {
        await store.upsertSubscriptions(team, [user("u1")], { role: "owner", extra: 1 }, at(1));
        await store.upsertSubscriptions(team, [user("u2")], { role: "member" }, at(2));
        const [updated] = await store.upsertSubscriptions(
          team,
          [user("u1")],
          { role: "viewer" },
          at(3),
        );
        expect(updated).toEqual({
          object: team,
          recipient: user("u1"),
          properties: { role: "viewer" },
          inserted_at: at(1),
          updated_at: at(3),
        });
        const [cleared] = await store.upsertSubscriptions(team, [user("u2")], null, at(4));
        expect(cleared?.properties).toBeNull();
        const listed = await store.listSubscribers(team, { limit: 10 });
        expect(listed.items.map((s) => [s.recipient.id, s.properties])).toEqual([
          ["u1", { role: "viewer" }],
          ["u2", null],
        ]);
      });

      it("deletes subscriptions and returns only the ones that existed", async () => {
        await store.upsertSubscriptions(
          team,
          [user("u1"), user("u2"), user("u3")],
          { a: 1 },
          at(1),
        );
        const removed = await store.deleteSubscriptions(team, [
          user("u2"),
          user("nobody"),
          object("teams", "u1"),
        ]);
        expect(removed).toEqual([
          {
            object: team,
            recipient: user("u2"),
            properties: { a: 1 },
            inserted_at: at(1),
            updated_at: at(1),
          },
        ]);
        expect(subscriberIds(await store.listSubscribers(team, { limit: 10 }))).toEqual([
          "u1",
          "u3",
        ]);
        expect(await store.deleteSubscriptions(object("teams", "none"), [user("u1")])).toEqual([]);
        expect((await store.listSubscriptionsOf(user("u2"), { limit: 10 })).items).toEqual([]);
        // Subscribing again makes a new subscription at the end.
        await store.upsertSubscriptions(team, [user("u2")], null, at(2));
        expect(subscriberIds(await store.listSubscribers(team, { limit: 10 }))).toEqual([
          "u1",
          "u3",
          "u2",
        ]);
      });

      it("lists the subscriptions a recipient holds, oldest first", async () => {
        await store.upsertSubscriptions(object("projects", "p2"), [user("u1")], null, at(1));
        await store.upsertSubscriptions(team, [user("u1"), user("u2")], { r: 1 }, at(2));
        await store.upsertSubscriptions(object("projects", "p1"), [user("u1")], null, at(3));
        await store.upsertSubscriptions(
          object("projects", "p3"),
          [object("teams", "u1")],
          null,
          at(4),
        );
        const held = await store.listSubscriptionsOf(user("u1"), { limit: 10 });
        expect(held.items.map((s) => s.object)).toEqual([
          object("projects", "p2"),
          team,
          object("projects", "p1"),
        ]);
        expect(held.items[1]?.properties).toEqual({ r: 1 });
        const pages = await allPages((page) => store.listSubscriptionsOf(user("u1"), page), 2);
        expect(pages.map((p) => p.items.map((s) => s.object.id))).toEqual([["p2", "core"], ["p1"]]);
        expect((await store.listSubscriptionsOf(user("nobody"), { limit: 10 })).items).toEqual([]);
      });

      it("pages through subscribers with after and before cursors", async () => {
        await subscribeMany(10);
        const pages = await allPages((page) => store.listSubscribers(team, page), 3);
        expect(pages.map(subscriberIds)).toEqual([
          ["u0", "u1", "u2"],
          ["u3", "u4", "u5"],
          ["u6", "u7", "u8"],
          ["u9"],
        ]);
        expect(pages[0]?.before).toBeNull();
        for (const page of pages.slice(1)) expect(page.before).not.toBeNull();
        for (const page of pages.slice(0, -1)) expect(page.after).not.toBeNull();
        expect(pages[3]?.after).toBeNull();

        const back = await store.listSubscribers(team, {
          limit: 3,
          before: pages[2]?.before ?? null,
        });
        expect(subscriberIds(back)).toEqual(["u3", "u4", "u5"]);
        expect(back.after).not.toBeNull();
        expect(back.before).not.toBeNull();
        const first = await store.listSubscribers(team, { limit: 3, before: back.before ?? null });
        expect(subscriberIds(first)).toEqual(["u0", "u1", "u2"]);
        expect(first.before).toBeNull();
        const forward = await store.listSubscribers(team, { limit: 3, after: first.after ?? null });
        expect(subscriberIds(forward)).toEqual(["u3", "u4", "u5"]);
        // A short page before the start: what is left.
        const fromSecond = await store.listSubscribers(team, {
          limit: 5,
          before: pages[1]?.before ?? null,
        });
        expect(subscriberIds(fromSecond)).toEqual(["u0", "u1", "u2"]);
        expect(fromSecond.before).toBeNull();
      });

      it("returns one page when everything fits, with no cursors", async () => {
        await subscribeMany(3);
        const page = await store.listSubscribers(team, { limit: 3 });
        expect(subscriberIds(page)).toEqual(["u0", "u1", "u2"]);
        expect(page.after).toBeNull();
        expect(page.before).toBeNull();
        const empty = await store.listSubscribers(object("teams", "empty"), { limit: 5 });
        expect(empty).toEqual({ items: [], after: null, before: null });
      });

      it("keeps cursors stable when items are deleted: no duplicates, no gaps", async () => {
        await subscribeMany(10);
        const first = await store.listSubscribers(team, { limit: 3 });
        expect(subscriberIds(first)).toEqual(["u0", "u1", "u2"]);
        // Delete an item of the page already read, the item the cursor points at, and one ahead.
        await store.deleteSubscriptions(team, [user("u1"), user("u2"), user("u4")]);
        const second = await store.listSubscribers(team, { limit: 3, after: first.after ?? null });
        expect(subscriberIds(second)).toEqual(["u3", "u5", "u6"]);
        const third = await store.listSubscribers(team, { limit: 3, after: second.after ?? null });
        expect(subscriberIds(third)).toEqual(["u7", "u8", "u9"]);
        expect(third.after).toBeNull();
        const back = await store.listSubscribers(team, { limit: 3, before: second.before ?? null });
        expect(subscriberIds(back)).toEqual(["u0"]);
        expect(back.before).toBeNull();
      });

      it("pages a large object's subscribers with every one exactly once", async () => {
        const total = 2_500;
        for (let i = 0; i < total; i += 250) {
          await store.upsertSubscriptions(
            team,
            Array.from({ length: 250 }, (_, j) => user(`u${i + j}`)),
            null,
            at(i),
          );
        }
        const pages = await allPages((page) => store.listSubscribers(team, page), 1000);
        expect(pages.map((p) => p.items.length)).toEqual([1000, 1000, 500]);
        const seen = pages.flatMap(subscriberIds);
        expect(seen).toEqual(Array.from({ length: total }, (_, i) => `u${i}`));
      });

      it("shows subscriptions added while paging on a later page", async () => {
        await subscribeMany(4);
        const first = await store.listSubscribers(team, { limit: 2 });
        await store.upsertSubscriptions(team, [user("late")], null, at(10));
        const pages = await allPages(
          (page) => store.listSubscribers(team, { ...page, after: page.after ?? first.after }),
          2,
        );
        expect(pages.flatMap(subscriberIds)).toEqual(["u2", "u3", "late"]);
      });

      it("rejects a limit outside 1 to 1000 and a cursor it did not make", async () => {
        await subscribeMany(2);
        for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
          await expect(attempt(() => store.listSubscribers(team, { limit }))).rejects.toMatchObject(
            {
              code: "invalid_params",
            },
          );
        }
        expect((await store.listSubscribers(team, { limit: 1000 })).items).toHaveLength(2);
        expect((await store.listSubscribers(team, { limit: 1 })).items).toHaveLength(1);
        await expect(
          attempt(() => store.listSubscribers(team, { limit: 5, after: "not a cursor!" })),
        ).rejects.toMatchObject({ code: "invalid_params" });
      });

      it("keeps no reference to the properties it was given", async () => {
        const properties = { role: { name: "owner" } };
        const [sub] = await store.upsertSubscriptions(team, [user("u1")], properties, at(1));
        expect(sub?.properties).not.toBe(properties);
        properties.role.name = "changed";
        expect((await store.listSubscribers(team, { limit: 1 })).items[0]?.properties).toEqual({
          role: { name: "owner" },
        });
      });

      it("applies concurrent subscriptions without losing or duplicating any", async () => {
        await Promise.all([
          ...Array.from({ length: 20 }, (_, i) =>
            store.upsertSubscriptions(team, [user(`u${i}`)], null, at(1)),
          ),
          ...Array.from({ length: 20 }, () =>
            store.upsertSubscriptions(team, [user("same")], null, at(1)),
          ),
        ]);
        const listed = subscriberIds(await store.listSubscribers(team, { limit: 100 }));
        expect(listed).toHaveLength(21);
        expect([...listed].sort()).toEqual(
          [...Array.from({ length: 20 }, (_, i) => `u${i}`), "same"].sort(),
        );
      });
    });

    // ── Workflows ───────────────────────────────────────────────────────────────────────────

    describe("workflows", () => {
      it("stores version 1 with the definition, active true by default, and its timestamps", async () => {
        const definition = workflowFixture("welcome");
        const stored = await store.putWorkflow({ definition, sha: "sha-1", now: at(1) });
        expect(stored).toEqual({
          ...definition,
          active: true,
          version: 1,
          sha: "sha-1",
          valid: true,
          inserted_at: at(1),
          updated_at: at(1),
        });
        expect(await store.getWorkflow("welcome")).toEqual(stored);
        expect(await store.getWorkflow("welcome", 1)).toEqual(stored);
      });

      it("changes nothing for the same sha, except active when the definition names it", async () => {
        await store.putWorkflow({
          definition: workflowFixture("welcome"),
          sha: "sha-1",
          now: at(1),
        });
        const same = await store.putWorkflow({
          definition: workflowFixture("welcome"),
          sha: "sha-1",
          now: at(2),
        });
        expect(same.version).toBe(1);
        expect(same.updated_at).toBe(at(1));
        expect(await store.getWorkflow("welcome", 2)).toBeNull();

        const deactivated = await store.putWorkflow({
          definition: workflowFixture("welcome", { active: false }),
          sha: "sha-1",
          now: at(3),
        });
        expect(deactivated.version).toBe(1);
        expect(deactivated.active).toBe(false);
        expect((await store.getWorkflow("welcome"))?.active).toBe(false);

        const unnamed = await store.putWorkflow({
          definition: workflowFixture("welcome"),
          sha: "sha-1",
          now: at(4),
        });
        expect(unnamed.active).toBe(false);
        expect(unnamed.version).toBe(1);
        expect(await store.getWorkflow("welcome", 2)).toBeNull();
      });

      it("makes a new version for a new sha, keeping active and inserted_at; old versions stay readable", async () => {
        const v1 = await store.putWorkflow({
          definition: workflowFixture("welcome", { name: "First", active: false }),
          sha: "sha-1",
          now: at(1),
        });
        const v2 = await store.putWorkflow({
          definition: workflowFixture("welcome", { name: "Second" }),
          sha: "sha-2",
          now: at(2),
        });
        expect(v2).toMatchObject({
          name: "Second",
          version: 2,
          sha: "sha-2",
          active: false,
          valid: true,
          inserted_at: at(1),
          updated_at: at(2),
        });
        const v3 = await store.putWorkflow({
          definition: workflowFixture("welcome", { name: "Third", active: true }),
          sha: "sha-3",
          now: at(3),
        });
        expect(v3).toMatchObject({ version: 3, active: true, inserted_at: at(1) });
        expect(await store.getWorkflow("welcome")).toEqual(v3);
        expect(await store.getWorkflow("welcome", 1)).toEqual(v1);
        expect((await store.getWorkflow("welcome", 2))?.name).toBe("Second");
        expect(await store.getWorkflow("welcome", 4)).toBeNull();
        expect(await store.getWorkflow("welcome", 0)).toBeNull();
        // Going back to an earlier definition is a new version too.
        const v4 = await store.putWorkflow({
          definition: workflowFixture("welcome", { name: "First" }),
          sha: "sha-1",
          now: at(4),
        });
        expect(v4.version).toBe(4);
      });

      it("returns null for a missing workflow and lists the current version of each", async () => {
        expect(await store.getWorkflow("missing")).toBeNull();
        expect(await store.getWorkflow("missing", 1)).toBeNull();
        expect(await store.listWorkflows()).toEqual([]);
        await store.putWorkflow({ definition: workflowFixture("beta"), sha: "b1", now: at(1) });
        await store.putWorkflow({ definition: workflowFixture("alpha"), sha: "a1", now: at(1) });
        await store.putWorkflow({
          definition: workflowFixture("alpha", { name: "A2" }),
          sha: "a2",
          now: at(2),
        });
        const listed = await store.listWorkflows();
        expect(
          listed
            .map((w) => [w.key, w.version, w.sha])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        ).toEqual([
          ["alpha", 2, "a2"],
          ["beta", 1, "b1"],
        ]);
      });

      it("sets the current version's active flag", async () => {
        await store.putWorkflow({
          definition: workflowFixture("welcome"),
          sha: "sha-1",
          now: at(1),
        });
        const off = await store.setWorkflowActive("welcome", false, at(2));
        expect(off).toMatchObject({ key: "welcome", version: 1, active: false, updated_at: at(2) });
        expect((await store.getWorkflow("welcome"))?.active).toBe(false);
        expect((await store.listWorkflows())[0]?.active).toBe(false);
        const on = await store.setWorkflowActive("welcome", true, at(3));
        expect(on?.active).toBe(true);
        expect(await store.setWorkflowActive("missing", true, at(3))).toBeNull();
        expect(await store.getWorkflow("missing")).toBeNull();
      });

      it("keeps no reference to the definition it was given", async () => {
        const definition = workflowFixture("welcome");
        const stored = await store.putWorkflow({ definition, sha: "sha-1", now: at(1) });
        expect(stored).not.toBe(definition);
        definition.steps.push({ ref: "extra", type: "delay", settings: {} });
        (definition.categories as string[]).push("changed");
        const read = await store.getWorkflow("welcome");
        expect(read?.steps).toHaveLength(1);
        expect(read?.categories).toEqual(["updates"]);
      });

      it("numbers concurrent new versions without gaps or repeats", async () => {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.putWorkflow({
              definition: workflowFixture("welcome"),
              sha: `sha-${i}`,
              now: at(i),
            }),
          ),
        );
        expect((await store.getWorkflow("welcome"))?.version).toBe(10);
        const shas = new Set<string>();
        for (let version = 1; version <= 10; version++) {
          const workflow = await store.getWorkflow("welcome", version);
          expect(workflow?.version).toBe(version);
          shas.add(workflow?.sha ?? "");
        }
        expect(shas.size).toBe(10);
      });
    });

    // ── Runs ────────────────────────────────────────────────────────────────────────────────

    describe("workflow runs and recipient runs", () => {
      it("creates a workflow run once and never overwrites it", async () => {
        const run = workflowRunFixture({ id: "wr-1" });
        expect(await store.createWorkflowRun(run)).toBe(true);
        expect(
          await store.createWorkflowRun(workflowRunFixture({ id: "wr-1", workflow: "other" })),
        ).toBe(false);
        expect(await store.getWorkflowRun("wr-1")).toEqual(run);
        expect(await store.getWorkflowRun("missing")).toBeNull();
        (run.data.order as { id: string }).id = "changed";
        run.recipients.push("u9");
        expect(await store.getWorkflowRun("wr-1")).toEqual(workflowRunFixture({ id: "wr-1" }));
      });

      it("creates only one of 50 concurrent workflow runs with the same id", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.createWorkflowRun(workflowRunFixture({ id: "wr-1", data: { i } })),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.getWorkflowRun("wr-1"))?.data).toEqual({ i: results.indexOf(true) });
      });

      it("creates recipient runs, reports which were created, and never overwrites", async () => {
        const r1 = recipientRunFixture({ id: "r1" });
        expect(
          await store.createRecipientRuns([r1, recipientRunFixture({ id: "r2", recipient: "u2" })]),
        ).toEqual([true, true]);
        expect(
          await store.createRecipientRuns([
            recipientRunFixture({ id: "r3" }),
            recipientRunFixture({ id: "r1", status: "completed", cursor: 5 }),
          ]),
        ).toEqual([true, false]);
        expect(await store.getRecipientRun("r1")).toEqual(r1);
        expect(await store.getRecipientRun("missing")).toBeNull();
        expect(await store.createRecipientRuns([])).toEqual([]);
      });

      it("reads many runs at once, in the order asked, when it can (getRecipientRuns)", async (context) => {
        const getRuns = store.getRecipientRuns?.bind(store);
        // Optional: a store without it has the engine read runs one by one.
        if (!getRuns) return context.skip("the store has no getRecipientRuns (an optional method)");
        const r1 = recipientRunFixture({ id: "r1" });
        const r2 = recipientRunFixture({ id: "r2", recipient: "u2" });
        await store.createRecipientRuns([r1, r2]);
        await store.updateRecipientRun("r2", 0, { status: "processing" }, []);
        expect(await getRuns(["r2", "missing", "r1", "r2"])).toEqual([
          await store.getRecipientRun("r2"),
          null,
          r1,
          await store.getRecipientRun("r2"),
        ]);
        expect((await getRuns(["r2"]))[0]?.status).toBe("processing");
        expect(await getRuns([])).toEqual([]);
      });

      it("creates a run named twice in one call once: the first one", async () => {
        const first = recipientRunFixture({ id: "r1", data: { n: 1 } });
        expect(
          await store.createRecipientRuns([
            first,
            recipientRunFixture({ id: "r1", data: { n: 2 } }),
          ]),
        ).toEqual([true, false]);
        expect((await store.getRecipientRun("r1"))?.data).toEqual({ n: 1 });
        expect((await store.listRecipientRuns({}, { limit: 10 })).items).toHaveLength(1);
      });

      it("returns recipient runs without events", async () => {
        await store.createRecipientRuns([recipientRunFixture({ id: "r1" })]);
        await store.appendRunEvents("r1", [runEventFixture("run_started")]);
        const run = await store.getRecipientRun("r1");
        expect(run?.events).toBeUndefined();
      });

      it("creates exactly one of 100 concurrent recipient runs with the same id", async () => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            store.createRecipientRuns([recipientRunFixture({ id: "r1", data: { i } })]),
          ),
        );
        const created = results.map((r) => r[0]);
        expect(created.filter((c) => c === true)).toHaveLength(1);
        expect((await store.getRecipientRun("r1"))?.data).toEqual({ i: created.indexOf(true) });
      });

      it("keeps no reference to the runs it was given", async () => {
        const run = recipientRunFixture({
          id: "r1",
          data: { a: { b: 1 } },
          subscription: { role: "x" },
        });
        await store.createRecipientRuns([run]);
        (run.data as { a: { b: number } }).a.b = 2;
        run.status = "completed";
        expect(await store.getRecipientRun("r1")).toMatchObject({
          data: { a: { b: 1 } },
          status: "queued",
        });
        const patch = { data: { c: [1] } };
        const updated = await store.updateRecipientRun("r1", 0, patch, []);
        expect(updated?.data).not.toBe(patch.data);
        patch.data.c.push(2);
        expect((await store.getRecipientRun("r1"))?.data).toEqual({ c: [1] });
      });

      it("updates a run by compare-and-set, appending its events in the same write", async () => {
        await store.createRecipientRuns([recipientRunFixture({ id: "r1", version: 3 })]);
        const updated = await store.updateRecipientRun(
          "r1",
          3,
          { status: "processing", cursor: 2, data: { x: 1 }, updated_at: at(5) },
          [runEventFixture("run_started"), runEventFixture("step_executed", { step_ref: "a" })],
        );
        expect(updated).toEqual({
          ...recipientRunFixture({ id: "r1" }),
          status: "processing",
          cursor: 2,
          data: { x: 1 },
          updated_at: at(5),
          version: 4,
        });
        expect(await store.getRecipientRun("r1")).toEqual(updated);
        expect((await store.getRunEvents("r1")).map((e) => e.event)).toEqual([
          "run_started",
          "step_executed",
        ]);

        // A stale version changes nothing, events included.
        const stale = await store.updateRecipientRun("r1", 3, { status: "completed" }, [
          runEventFixture("run_completed"),
        ]);
        expect(stale).toBeNull();
        expect(await store.getRecipientRun("r1")).toEqual(updated);
        expect(await store.getRunEvents("r1")).toHaveLength(2);

        expect(
          await store.updateRecipientRun("missing", 0, { status: "completed" }, []),
        ).toBeNull();
        expect(await store.getRunEvents("missing")).toEqual([]);
      });

      it("lets exactly one of 50 concurrent updates with the same expected version succeed", async () => {
        await store.createRecipientRuns([recipientRunFixture({ id: "r1" })]);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.updateRecipientRun("r1", 0, { cursor: i + 1 }, [
              runEventFixture("step_executed", { data: { i } }),
            ]),
          ),
        );
        const winners = results.filter((r): r is WorkflowRecipientRun => r !== null);
        expect(winners).toHaveLength(1);
        const winner = results.findIndex((r) => r !== null);
        const stored = await store.getRecipientRun("r1");
        expect(stored?.version).toBe(1);
        expect(stored?.cursor).toBe(winner + 1);
        const events = await store.getRunEvents("r1");
        expect(events.map((e) => e.data)).toEqual([{ i: winner }]);
      });

      it("appends log entries in order across appends and updates", async () => {
        await store.createRecipientRuns([recipientRunFixture({ id: "r1" })]);
        await store.appendRunEvents("r1", [runEventFixture("e1"), runEventFixture("e2")]);
        await store.updateRecipientRun("r1", 0, { status: "processing" }, [runEventFixture("e3")]);
        await store.appendRunEvents("r1", []);
        await store.appendRunEvents("r1", [
          runEventFixture("e4", { status: "error", reason: "boom", data: { n: 1 } }),
        ]);
        await store.updateRecipientRun("r1", 1, { status: "completed" }, []);
        const events = await store.getRunEvents("r1");
        expect(events.map((e) => e.event)).toEqual(["e1", "e2", "e3", "e4"]);
        expect(events[3]).toEqual(
          runEventFixture("e4", { status: "error", reason: "boom", data: { n: 1 } }),
        );
        // Appending concurrently loses nothing.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.appendRunEvents("r1", [runEventFixture(`c${i}`)]),
          ),
        );
        expect(await store.getRunEvents("r1")).toHaveLength(24);
        const event = runEventFixture("late", { data: { a: 1 } });
        await store.appendRunEvents("r1", [event]);
        event.data.a = 2;
        expect((await store.getRunEvents("r1")).at(-1)?.data).toEqual({ a: 1 });
      });

      describe("listRecipientRuns", () => {
        const teamU1 = object("teams", "u1");

        beforeEach(async () => {
          await store.createRecipientRuns([
            recipientRunFixture({
              id: "r1",
              workflow_run_id: "wr-a",
              workflow: "welcome",
              recipient: "u1",
              status: "queued",
              inserted_at: at(1),
            }),
            recipientRunFixture({
              id: "r2",
              workflow_run_id: "wr-a",
              workflow: "welcome",
              recipient: "u2",
              status: "completed",
              tenant: "t1",
              inserted_at: at(2),
            }),
            recipientRunFixture({
              id: "r3",
              workflow_run_id: "wr-b",
              workflow: "digest",
              recipient: "u1",
              status: "processing",
              tenant: "t1",
              error_count: 2,
              inserted_at: at(3),
            }),
            recipientRunFixture({
              id: "r4",
              workflow_run_id: "wr-b",
              workflow: "digest",
              recipient: { collection: "teams", id: "u1" },
              status: "paused",
              tenant: "t2",
              inserted_at: at(4),
            }),
            recipientRunFixture({
              id: "r5",
              workflow_run_id: "wr-c",
              workflow: "welcome",
              recipient: "u1",
              status: "cancelled",
              error_count: 1,
              inserted_at: at(5),
            }),
          ]);
        });

        const list = async (filter: Parameters<Store["listRecipientRuns"]>[0], limit = 100) =>
          ids((await store.listRecipientRuns(filter, { limit })).items);

        it("lists newest first, without events", async () => {
          await store.appendRunEvents("r5", [runEventFixture("run_started")]);
          const page = await store.listRecipientRuns({}, { limit: 100 });
          expect(ids(page.items)).toEqual(["r5", "r4", "r3", "r2", "r1"]);
          expect(page.items[0]?.events).toBeUndefined();
          expect(page.after).toBeNull();
          expect(page.before).toBeNull();
        });

        it("applies every filter", async () => {
          expect(await list({ workflow: "welcome" })).toEqual(["r5", "r2", "r1"]);
          expect(await list({ workflow: "nope" })).toEqual([]);
          expect(await list({ status: ["queued", "completed"] })).toEqual(["r2", "r1"]);
          expect(await list({ tenant: "t1" })).toEqual(["r3", "r2"]);
          expect(await list({ has_errors: true })).toEqual(["r5", "r3"]);
          expect(await list({ has_errors: false })).toEqual(["r4", "r2", "r1"]);
          expect(await list({ recipient: user("u1") })).toEqual(["r5", "r3", "r1"]);
          expect(await list({ recipient: teamU1 })).toEqual(["r4"]);
          expect(await list({ recipient: user("nobody") })).toEqual([]);
          expect(await list({ workflow_run_id: "wr-b" })).toEqual(["r4", "r3"]);
          expect(await list({ workflow_run_id: "wr-none" })).toEqual([]);
          expect(await list({ starting_at: at(2) })).toEqual(["r5", "r4", "r3", "r2"]);
          expect(await list({ ending_at: at(3) })).toEqual(["r3", "r2", "r1"]);
          expect(await list({ starting_at: at(2), ending_at: at(4) })).toEqual(["r4", "r3", "r2"]);
        });

        it("requires every given filter to match", async () => {
          expect(await list({ recipient: user("u1"), workflow: "welcome" })).toEqual(["r5", "r1"]);
          expect(await list({ workflow_run_id: "wr-b", status: ["processing"] })).toEqual(["r3"]);
          expect(await list({ recipient: user("u1"), workflow_run_id: "wr-a" })).toEqual(["r1"]);
          expect(await list({ recipient: user("u2"), workflow_run_id: "wr-b" })).toEqual([]);
          expect(await list({ recipient: teamU1, workflow_run_id: "wr-a" })).toEqual([]);
          expect(await list({ recipient: user("u1"), workflow_run_id: "wr-c" })).toEqual(["r5"]);
          expect(await list({ tenant: "t1", has_errors: false, starting_at: at(1) })).toEqual([
            "r2",
          ]);
        });

        it("filters on the runs as they are now", async () => {
          await store.updateRecipientRun("r1", 0, { status: "completed", error_count: 1 }, []);
          expect(await list({ status: ["completed"] })).toEqual(["r2", "r1"]);
          expect(await list({ status: ["queued"] })).toEqual([]);
          expect(await list({ has_errors: true, recipient: user("u1") })).toEqual([
            "r5",
            "r3",
            "r1",
          ]);
        });

        it("pages newest first, with and without filters", async () => {
          const pages = await allPages((page) => store.listRecipientRuns({}, page), 2);
          expect(pages.map((p) => ids(p.items))).toEqual([["r5", "r4"], ["r3", "r2"], ["r1"]]);
          expect(pages[0]?.before).toBeNull();
          const back = await store.listRecipientRuns(
            {},
            { limit: 2, before: pages[2]?.before ?? null },
          );
          expect(ids(back.items)).toEqual(["r3", "r2"]);
          const first = await store.listRecipientRuns(
            {},
            { limit: 2, before: back.before ?? null },
          );
          expect(ids(first.items)).toEqual(["r5", "r4"]);
          expect(first.before).toBeNull();

          const byRecipient = await allPages(
            (page) => store.listRecipientRuns({ recipient: user("u1") }, page),
            1,
          );
          expect(byRecipient.map((p) => ids(p.items))).toEqual([["r5"], ["r3"], ["r1"]]);
          const scanned = await allPages(
            (page) => store.listRecipientRuns({ has_errors: false }, page),
            2,
          );
          expect(scanned.map((p) => ids(p.items))).toEqual([["r4", "r2"], ["r1"]]);
          const backScanned = await store.listRecipientRuns(
            { has_errors: false },
            { limit: 2, before: scanned[1]?.before ?? null },
          );
          expect(ids(backScanned.items)).toEqual(["r4", "r2"]);
          expect(backScanned.before).toBeNull();
        });

        it("rejects a limit outside 1 to 1000", async () => {
          await expect(
            attempt(() => store.listRecipientRuns({}, { limit: 0 })),
          ).rejects.toMatchObject({
            code: "invalid_params",
          });
          await expect(
            attempt(() => store.listRecipientRuns({}, { limit: 1001 })),
          ).rejects.toMatchObject({
            code: "invalid_params",
          });
        });
      });
    });

    // ── Messages ────────────────────────────────────────────────────────────────────────────

    describe("messages", () => {
      it("creates a message once and returns the stored one after", async () => {
        const message = messageFixture({ id: "m1" });
        const first = await store.createMessage(message);
        expect(first).toEqual({ message, created: true });
        const second = await store.createMessage(
          messageFixture({ id: "m1", content: { subject: "Other" } }),
        );
        expect(second).toEqual({ message, created: false });
        expect(await store.getMessage("m1")).toEqual(message);
        expect(await store.getMessage("missing")).toBeNull();
      });

      it("creates exactly one of 50 concurrent messages with the same id", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.createMessage(messageFixture({ id: "m1", content: { i } })),
          ),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const winner = results.findIndex((r) => r.created);
        for (const result of results) expect(result.message.content).toEqual({ i: winner });
        expect((await store.getMessage("m1"))?.content).toEqual({ i: winner });
      });

      it("updates a message and returns it; null when missing", async () => {
        await store.createMessage(messageFixture({ id: "m1" }));
        const updated = await store.updateMessage("m1", {
          status: "delivered",
          engagement_statuses: ["seen"],
          seen_at: at(5),
          attempts: 1,
          updated_at: at(5),
        });
        expect(updated).toEqual({
          ...messageFixture({ id: "m1" }),
          status: "delivered",
          engagement_statuses: ["seen"],
          seen_at: at(5),
          attempts: 1,
          updated_at: at(5),
        });
        expect(await store.getMessage("m1")).toEqual(updated);
        expect(await store.updateMessage("missing", { status: "sent" })).toBeNull();
        expect(await store.getMessage("missing")).toBeNull();
      });

      it("keeps no reference to the messages and patches it was given", async () => {
        const message = messageFixture({
          id: "m1",
          content: { subject: "Hi", blocks: [{ a: 1 }] },
        });
        const { message: stored } = await store.createMessage(message);
        expect(stored).not.toBe(message);
        (message.content.blocks as Array<{ a: number }>)[0]!.a = 2;
        message.source.categories.push("changed");
        expect(await store.getMessage("m1")).toEqual(
          messageFixture({ id: "m1", content: { subject: "Hi", blocks: [{ a: 1 }] } }),
        );
        const patch = { metadata: { tags: ["x"] } };
        await store.updateMessage("m1", patch);
        patch.metadata.tags.push("y");
        expect((await store.getMessage("m1"))?.metadata).toEqual({ tags: ["x"] });
      });

      describe("listMessages", () => {
        const teamU1 = object("teams", "u1");

        beforeEach(async () => {
          const messages: Message[] = [
            messageFixture({
              id: "m1",
              recipient: "u1",
              channel_id: "email",
              status: "sent",
              engagement_statuses: [],
              tenant: null,
              workflow: "welcome",
              inserted_at: at(1),
              source: {
                categories: ["updates"],
                workflow_run_id: "wr-a",
                workflow_recipient_run_id: "rr-1",
              },
            }),
            messageFixture({
              id: "m2",
              recipient: "u1",
              channel_id: "feed",
              status: "delivered",
              engagement_statuses: ["seen"],
              tenant: "t1",
              workflow: "welcome",
              inserted_at: at(2),
              source: {
                categories: ["updates", "marketing"],
                workflow_run_id: "wr-a",
                workflow_recipient_run_id: "rr-1",
              },
            }),
            messageFixture({
              id: "m3",
              recipient: "u2",
              channel_id: "feed",
              status: "delivered",
              engagement_statuses: ["seen", "read"],
              tenant: "t1",
              workflow: "digest",
              inserted_at: at(3),
              source: {
                categories: ["digest"],
                workflow_run_id: "wr-b",
                workflow_recipient_run_id: "rr-2",
              },
            }),
            messageFixture({
              id: "m4",
              recipient: { collection: "teams", id: "u1" },
              channel_id: "email",
              status: "bounced",
              engagement_statuses: ["archived"],
              tenant: "t2",
              workflow: "digest",
              inserted_at: at(4),
              source: {
                categories: [],
                workflow_run_id: "wr-b",
                workflow_recipient_run_id: "rr-3",
              },
            }),
            messageFixture({
              id: "m5",
              recipient: "u1",
              channel_id: "feed",
              status: "queued",
              engagement_statuses: ["seen", "read", "archived", "interacted"],
              tenant: null,
              workflow: "welcome",
              inserted_at: at(5),
              source: {
                categories: ["marketing"],
                workflow_run_id: "wr-c",
                workflow_recipient_run_id: "rr-4",
              },
            }),
          ];
          for (const message of messages) await store.createMessage(message);
        });

        const list = async (filter: Parameters<Store["listMessages"]>[0], limit = 100) =>
          ids((await store.listMessages(filter, { limit })).items);

        it("lists newest first", async () => {
          const page = await store.listMessages({}, { limit: 100 });
          expect(ids(page.items)).toEqual(["m5", "m4", "m3", "m2", "m1"]);
          expect(page.after).toBeNull();
          expect(page.before).toBeNull();
        });

        it("applies every filter", async () => {
          expect(await list({ recipient: user("u1") })).toEqual(["m5", "m2", "m1"]);
          expect(await list({ recipient: teamU1 })).toEqual(["m4"]);
          expect(await list({ recipient: user("nobody") })).toEqual([]);
          expect(await list({ status: ["delivered"] })).toEqual(["m3", "m2"]);
          expect(await list({ status: ["sent", "bounced"] })).toEqual(["m4", "m1"]);
          expect(await list({ channel_id: "feed" })).toEqual(["m5", "m3", "m2"]);
          expect(await list({ tenant: "t1" })).toEqual(["m3", "m2"]);
          expect(await list({ has_tenant: true })).toEqual(["m4", "m3", "m2"]);
          expect(await list({ has_tenant: false })).toEqual(["m5", "m1"]);
          expect(await list({ workflow: "digest" })).toEqual(["m4", "m3"]);
          expect(await list({ workflow_categories: ["marketing"] })).toEqual(["m5", "m2"]);
          expect(await list({ workflow_categories: ["updates", "digest"] })).toEqual([
            "m3",
            "m2",
            "m1",
          ]);
          expect(await list({ workflow_categories: ["none"] })).toEqual([]);
          expect(await list({ workflow_run_id: "wr-b" })).toEqual(["m4", "m3"]);
          expect(await list({ workflow_recipient_run_id: "rr-1" })).toEqual(["m2", "m1"]);
          expect(await list({ workflow_recipient_run_id: "rr-none" })).toEqual([]);
          expect(await list({ message_ids: ["m1", "m3", "missing"] })).toEqual(["m3", "m1"]);
          expect(await list({ message_ids: ["missing"] })).toEqual([]);
          expect(await list({ inserted_at: { gte: at(2), lt: at(4) } })).toEqual(["m3", "m2"]);
          expect(await list({ inserted_at: { gt: at(2), lte: at(4) } })).toEqual(["m4", "m3"]);
          expect(await list({ inserted_at: { gt: at(5) } })).toEqual([]);
          expect(await list({ inserted_at: { lte: at(1) } })).toEqual(["m1"]);
        });

        it("matches engagement statuses, with unseen, unread and unarchived meaning their absence", async () => {
          expect(await list({ engagement_status: ["seen"] })).toEqual(["m5", "m3", "m2"]);
          expect(await list({ engagement_status: ["read"] })).toEqual(["m5", "m3"]);
          expect(await list({ engagement_status: ["interacted"] })).toEqual(["m5"]);
          expect(await list({ engagement_status: ["link_clicked"] })).toEqual([]);
          expect(await list({ engagement_status: ["unseen"] })).toEqual(["m4", "m1"]);
          expect(await list({ engagement_status: ["unread"] })).toEqual(["m4", "m2", "m1"]);
          expect(await list({ engagement_status: ["unarchived"] })).toEqual(["m3", "m2", "m1"]);
          expect(await list({ engagement_status: ["archived", "unseen"] })).toEqual([
            "m5",
            "m4",
            "m1",
          ]);
        });

        it("requires every given filter to match", async () => {
          expect(await list({ recipient: user("u1"), channel_id: "feed" })).toEqual(["m5", "m2"]);
          expect(
            await list({ message_ids: ["m1", "m2", "m3"], engagement_status: ["unread"] }),
          ).toEqual(["m2", "m1"]);
          expect(
            await list({
              workflow_recipient_run_id: "rr-1",
              recipient: user("u1"),
              has_tenant: true,
            }),
          ).toEqual(["m2"]);
          expect(await list({ recipient: user("u2"), workflow_recipient_run_id: "rr-1" })).toEqual(
            [],
          );
          expect(await list({ recipient: user("u1"), workflow_recipient_run_id: "rr-2" })).toEqual(
            [],
          );
          expect(await list({ recipient: teamU1, message_ids: ["m1", "m2", "m3"] })).toEqual([]);
          expect(
            await list({ workflow_recipient_run_id: "rr-3", message_ids: ["m1", "m2"] }),
          ).toEqual([]);
          expect(
            await list({ workflow: "welcome", status: ["queued", "sent"], tenant: "t1" }),
          ).toEqual([]);
        });

        it("filters on the messages as they are now", async () => {
          await store.updateMessage("m1", { engagement_statuses: ["read"], status: "delivered" });
          expect(await list({ engagement_status: ["read"] })).toEqual(["m5", "m3", "m1"]);
          expect(await list({ status: ["delivered"], recipient: user("u1") })).toEqual([
            "m2",
            "m1",
          ]);
          expect(await list({ status: ["sent"] })).toEqual([]);
        });

        it("pages newest first, with and without filters", async () => {
          const pages = await allPages((page) => store.listMessages({}, page), 2);
          expect(pages.map((p) => ids(p.items))).toEqual([["m5", "m4"], ["m3", "m2"], ["m1"]]);
          expect(pages[0]?.before).toBeNull();
          expect(pages[1]?.before).not.toBeNull();
          const back = await store.listMessages({}, { limit: 2, before: pages[2]?.before ?? null });
          expect(ids(back.items)).toEqual(["m3", "m2"]);

          const byRecipient = await allPages(
            (page) => store.listMessages({ recipient: user("u1") }, page),
            2,
          );
          expect(byRecipient.map((p) => ids(p.items))).toEqual([["m5", "m2"], ["m1"]]);
          const scanned = await allPages(
            (page) => store.listMessages({ channel_id: "feed" }, page),
            1,
          );
          expect(scanned.map((p) => ids(p.items))).toEqual([["m5"], ["m3"], ["m2"]]);
          const backScanned = await store.listMessages(
            { channel_id: "feed" },
            { limit: 5, before: scanned[2]?.before ?? null },
          );
          expect(ids(backScanned.items)).toEqual(["m5", "m3"]);
          expect(backScanned.before).toBeNull();
          expect(backScanned.after).not.toBeNull();
        });

        it("shows messages created while paging on the previous pages only", async () => {
          const first = await store.listMessages({}, { limit: 2 });
          await store.createMessage(messageFixture({ id: "m6", inserted_at: at(6) }));
          const second = await store.listMessages({}, { limit: 2, after: first.after ?? null });
          expect(ids(second.items)).toEqual(["m3", "m2"]);
          const back = await store.listMessages(
            {},
            { limit: 2, before: first.before ?? second.before ?? null },
          );
          expect(ids(back.items)).toEqual(["m5", "m4"]);
          const newest = await store.listMessages({}, { limit: 2, before: back.before ?? null });
          expect(ids(newest.items)).toEqual(["m6"]);
        });

        it("rejects a limit outside 1 to 1000", async () => {
          await expect(attempt(() => store.listMessages({}, { limit: 0 }))).rejects.toMatchObject({
            code: "invalid_params",
          });
          await expect(
            attempt(() => store.listMessages({}, { limit: 1001 })),
          ).rejects.toMatchObject({
            code: "invalid_params",
          });
        });
      });
    });

    feedStoreTests(vitestApi("testStore"), () => store);

    // ── Once-only records ───────────────────────────────────────────────────────────────────

    describe("idempotency keys and once-only claims", () => {
      it("claims a key once and replays what the first claim stored", async () => {
        expect(
          await store.claimIdempotencyKey("k1", "fp-1", { run: "wr-1" }, at(100), at(0)),
        ).toEqual({
          claimed: true,
        });
        expect(
          await store.claimIdempotencyKey("k1", "fp-2", { run: "wr-2" }, at(200), at(1)),
        ).toEqual({
          claimed: false,
          fingerprint: "fp-1",
          result: { run: "wr-1" },
        });
        expect(
          await store.claimIdempotencyKey("k2", "fp-2", { run: "wr-2" }, at(100), at(1)),
        ).toEqual({
          claimed: true,
        });
      });

      it("lets a key be claimed again once its claim has expired, judged by `now`", async () => {
        // A longer claim made first, so that expiry is checked on the key itself.
        await store.claimIdempotencyKey("long", "fp", {}, at(1_000), at(0));
        await store.claimIdempotencyKey("k1", "fp-1", { n: 1 }, at(10), at(0));
        expect(
          await store.claimIdempotencyKey("k1", "fp-2", { n: 2 }, at(20), at(9)),
        ).toMatchObject({
          claimed: false,
          fingerprint: "fp-1",
        });
        expect(await store.claimIdempotencyKey("k1", "fp-2", { n: 2 }, at(30), at(11))).toEqual({
          claimed: true,
        });
        expect(await store.claimIdempotencyKey("k1", "fp-3", { n: 3 }, at(40), at(12))).toEqual({
          claimed: false,
          fingerprint: "fp-2",
          result: { n: 2 },
        });
        // Long past by the system clock, but not by the `now` given: still claimed.
        const past = (seconds: number) =>
          new Date(Date.UTC(1990, 0, 1) + seconds * 1000).toISOString();
        await store.claimIdempotencyKey("old", "fp-1", {}, past(10), past(0));
        expect(await store.claimIdempotencyKey("old", "fp-2", {}, past(20), past(5))).toMatchObject(
          {
            claimed: false,
          },
        );
      });

      it("forgets a released key", async () => {
        await store.claimIdempotencyKey("k1", "fp-1", {}, at(100), at(0));
        await store.releaseIdempotencyKey("k1");
        expect(await store.claimIdempotencyKey("k1", "fp-2", { b: 1 }, at(100), at(1))).toEqual({
          claimed: true,
        });
        expect(await store.claimIdempotencyKey("k1", "fp-3", {}, at(100), at(2))).toEqual({
          claimed: false,
          fingerprint: "fp-2",
          result: { b: 1 },
        });
        await store.releaseIdempotencyKey("never-claimed");
      });

      it("keeps no reference to the result it was given", async () => {
        const result = { run: { id: "wr-1" } };
        await store.claimIdempotencyKey("k1", "fp-1", result, at(100), at(0));
        result.run.id = "changed";
        expect(await store.claimIdempotencyKey("k1", "fp-1", {}, at(100), at(1))).toEqual({
          claimed: false,
          fingerprint: "fp-1",
          result: { run: { id: "wr-1" } },
        });
      });

      it("grants exactly one of 50 concurrent claims of a key", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.claimIdempotencyKey("k1", `fp-${i}`, { i }, at(100), at(0)),
          ),
        );
        const winner = results.findIndex((r) => r.claimed);
        expect(results.filter((r) => r.claimed)).toHaveLength(1);
        for (const result of results) {
          if (!result.claimed) {
            expect(result.fingerprint).toBe(`fp-${winner}`);
            expect(result.result).toEqual({ i: winner });
          }
        }
      });

      it("claims a once-only key for the first call only", async () => {
        expect(await store.claimOnce("once-1", at(0))).toBe(true);
        expect(await store.claimOnce("once-1", at(1))).toBe(false);
        expect(await store.claimOnce("once-1", at(1_000_000))).toBe(false);
        expect(await store.claimOnce("once-2", at(1))).toBe(true);
      });

      it("grants exactly one of 50 concurrent once-only claims", async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.claimOnce("once", at(0))),
        );
        expect(results.filter((r) => r === true)).toHaveLength(1);
      });
    });

    flowControlTests(vitestApi("testStore"), () => store);
    scheduleTests(vitestApi("testStore"), () => store);
  });
}
