/**
 * @internal The part of `testStore` that checks what feeds rest on: counting messages
 * (`countMessages`), the `with_engagement` / `without_engagement` filters, and atomic engagement
 * updates (`updateEngagement`).
 */
import type { Message } from "../../messages/types.js";
import type {
  MessageCounts,
  MessageFilter,
  PageResult,
  RecipientKey,
  Store,
} from "../../store/types.js";
import { USERS_COLLECTION } from "../../store/types.js";
import { at, messageFixture } from "./fixtures.js";
import type { vitestApi } from "./vitest.js";

const user = (id: string): RecipientKey => ({ collection: USERS_COLLECTION, id });

/** Every matching message, following `after` from the first page. */
async function listAll(store: Store, filter: MessageFilter): Promise<Message[]> {
  const items: Message[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page: PageResult<Message> = await store.listMessages(filter, { limit: 7, after });
    items.push(...page.items);
    after = page.after;
    if (after === null) return items;
  }
  throw new Error("Paging did not end after 1,000 pages.");
}

/** The counts a list implies. */
function countsOf(messages: readonly Message[]): MessageCounts {
  return {
    total: messages.length,
    unread: messages.filter((m) => !m.engagement_statuses.includes("read")).length,
    unseen: messages.filter((m) => !m.engagement_statuses.includes("seen")).length,
  };
}

/**
 * A feed-like spread of messages: user u1 on channels `feed` and `email`, tenants t1, t2 and
 * none, several delivery statuses and engagement sets; a few for u2 and an object.
 */
function feedMessages(): Message[] {
  const spec: Array<
    [
      id: string,
      recipient: Message["recipient"],
      channel: string,
      tenant: string | null,
      status: Message["status"],
      engagement: Message["engagement_statuses"],
    ]
  > = [
    ["m01", "u1", "feed", null, "delivered", []],
    ["m02", "u1", "feed", null, "delivered", ["seen"]],
    ["m03", "u1", "feed", "t1", "delivered", ["seen", "read"]],
    ["m04", "u1", "feed", "t1", "delivered", []],
    ["m05", "u1", "feed", "t2", "delivered", ["archived"]],
    ["m06", "u1", "feed", "t1", "delivered", ["seen", "read", "archived"]],
    ["m07", "u1", "feed", null, "queued", []],
    ["m08", "u1", "feed", null, "undelivered", ["seen"]],
    ["m09", "u1", "email", null, "sent", []],
    ["m10", "u1", "email", "t1", "delivered", ["read"]],
    ["m11", "u2", "feed", "t1", "delivered", []],
    ["m12", { collection: "teams", id: "u1" }, "feed", null, "delivered", []],
    ["m13", "u1", "feed", "t2", "delivered", ["seen", "interacted"]],
    ["m14", "u1", "feed", null, "delivered", ["read"]],
  ];
  return spec.map(([id, recipient, channel, tenant, status, engagement], i) =>
    messageFixture({
      id,
      recipient,
      channel_id: channel,
      channel_type: channel === "feed" ? "in_app_feed" : "email",
      tenant,
      status,
      engagement_statuses: engagement,
      workflow: i % 2 === 0 ? "welcome" : "digest",
      inserted_at: at(i + 1),
      updated_at: at(i + 1),
      source: {
        categories: i % 3 === 0 ? ["updates"] : [],
        workflow_run_id: `wr-${i % 4}`,
        workflow_recipient_run_id: `rr-${id}`,
      },
    }),
  );
}

/** Filters whose counts are checked against the list, from the usual feed queries to rarer ones. */
const FILTERS: ReadonlyArray<[name: string, filter: MessageFilter]> = [
  ["a user's feed", { recipient: user("u1"), channel_id: "feed", status: ["delivered"] }],
  [
    "a user's feed without archived items",
    {
      recipient: user("u1"),
      channel_id: "feed",
      status: ["delivered"],
      without_engagement: ["archived"],
    },
  ],
  [
    "a tenant's feed",
    {
      recipient: user("u1"),
      channel_id: "feed",
      status: ["delivered"],
      tenant: "t1",
      without_engagement: ["archived"],
    },
  ],
  ["messages without a tenant", { recipient: user("u1"), channel_id: "feed", has_tenant: false }],
  ["messages with a tenant", { recipient: user("u1"), has_tenant: true }],
  [
    "unread and unarchived",
    { recipient: user("u1"), channel_id: "feed", without_engagement: ["read", "archived"] },
  ],
  ["archived only", { recipient: user("u1"), with_engagement: ["archived"] }],
  ["seen and read", { recipient: user("u1"), with_engagement: ["seen", "read"] }],
  ["engagement_status unseen", { recipient: user("u1"), engagement_status: ["unseen"] }],
  [
    "engagement_status read or archived",
    { recipient: user("u1"), engagement_status: ["read", "archived"] },
  ],
  ["every channel of a user", { recipient: user("u1") }],
  ["an object's messages", { recipient: { collection: "teams", id: "u1" } }],
  ["a user with none", { recipient: user("nobody"), channel_id: "feed" }],
  ["a channel nobody uses", { recipient: user("u1"), channel_id: "sms" }],
  ["a workflow (not a counter field)", { recipient: user("u1"), workflow: "digest" }],
  [
    "categories and a time range",
    { recipient: user("u1"), workflow_categories: ["updates"], inserted_at: { gte: at(3) } },
  ],
  ["message ids", { message_ids: ["m01", "m03", "m11", "m11", "missing"] }],
  ["a workflow run", { workflow_run_id: "wr-1", without_engagement: ["seen"] }],
  ["everything", {}],
];

/** @internal Registers the feed-related tests of `testStore`. */
export function feedStoreTests(api: ReturnType<typeof vitestApi>, getStore: () => Store): void {
  const { beforeEach, describe, expect, it } = api;

  describe("countMessages", () => {
    let store: Store;
    beforeEach(async () => {
      store = getStore();
      for (const message of feedMessages()) await store.createMessage(message);
    });

    it("counts a user's feed, its unread and unseen items", async () => {
      expect(
        await store.countMessages({
          recipient: user("u1"),
          channel_id: "feed",
          status: ["delivered"],
          without_engagement: ["archived"],
        }),
      ).toEqual({ total: 6, unread: 4, unseen: 3 });
      expect(
        await store.countMessages({
          recipient: user("u1"),
          channel_id: "feed",
          status: ["delivered"],
          tenant: "t1",
          without_engagement: ["archived"],
        }),
      ).toEqual({ total: 2, unread: 1, unseen: 1 });
      expect(await store.countMessages({ recipient: user("nobody") })).toEqual({
        total: 0,
        unread: 0,
        unseen: 0,
      });
    });

    for (const [name, filter] of FILTERS) {
      it(`agrees with listMessages: ${name}`, async () => {
        expect(await store.countMessages(filter)).toEqual(countsOf(await listAll(store, filter)));
      });
    }

    it("follows updates: delivery status, engagement, tenant and recipient changes", async () => {
      const feed: MessageFilter = {
        recipient: user("u1"),
        channel_id: "feed",
        status: ["delivered"],
        without_engagement: ["archived"],
      };
      await store.updateMessage("m07", { status: "delivered" });
      expect(await store.countMessages(feed)).toEqual({ total: 7, unread: 5, unseen: 4 });
      await store.updateEngagement(["m01", "m04"], { status: "seen", set: true }, at(100));
      expect(await store.countMessages(feed)).toEqual({ total: 7, unread: 5, unseen: 2 });
      await store.updateEngagement(["m04"], { status: "archived", set: true }, at(101));
      expect(await store.countMessages(feed)).toEqual({ total: 6, unread: 4, unseen: 2 });
      await store.updateEngagement(["m06"], { status: "archived", set: false }, at(102));
      expect(await store.countMessages(feed)).toEqual({ total: 7, unread: 4, unseen: 2 });
      await store.updateMessage("m01", { tenant: "t2" });
      expect(await store.countMessages({ ...feed, tenant: "t2" })).toEqual({
        total: 2,
        unread: 2,
        unseen: 0,
      });
      await store.updateMessage("m02", { recipient: "u2" });
      expect(await store.countMessages(feed)).toEqual({ total: 6, unread: 3, unseen: 2 });
      expect(await store.countMessages({ ...feed, recipient: user("u2") })).toEqual({
        total: 2,
        unread: 2,
        unseen: 1,
      });
      for (const [, filter] of FILTERS) {
        expect(await store.countMessages(filter)).toEqual(countsOf(await listAll(store, filter)));
      }
    });
  });

  describe("engagement filters of listMessages", () => {
    let store: Store;
    beforeEach(async () => {
      store = getStore();
      for (const message of feedMessages()) await store.createMessage(message);
    });

    const ids = async (filter: MessageFilter) =>
      (await store.listMessages(filter, { limit: 100 })).items.map((m) => m.id);

    it("requires every status of with_engagement and none of without_engagement", async () => {
      const u1 = user("u1");
      expect(await ids({ recipient: u1, with_engagement: ["seen", "read"] })).toEqual([
        "m06",
        "m03",
      ]);
      expect(await ids({ recipient: u1, with_engagement: ["archived"] })).toEqual(["m06", "m05"]);
      expect(await ids({ recipient: u1, with_engagement: [] })).toHaveLength(12);
      expect(
        await ids({ recipient: u1, channel_id: "feed", without_engagement: ["seen", "archived"] }),
      ).toEqual(["m14", "m07", "m04", "m01"]);
      expect(
        await ids({
          recipient: u1,
          with_engagement: ["seen"],
          without_engagement: ["read"],
        }),
      ).toEqual(["m13", "m08", "m02"]);
      expect(await ids({ with_engagement: ["link_clicked"] })).toEqual([]);
    });
  });

  describe("updateEngagement", () => {
    let store: Store;
    beforeEach(async () => {
      store = getStore();
      await store.createMessage(messageFixture({ id: "m1", status: "delivered" }));
      await store.createMessage(
        messageFixture({ id: "m2", status: "delivered", engagement_statuses: ["archived"] }),
      );
    });

    it("adds a status with its timestamp, in canonical order, and reports the change", async () => {
      const [read] = await store.updateEngagement(["m1"], { status: "read", set: true }, at(10));
      expect(read).toEqual({
        changed: true,
        message: {
          ...messageFixture({ id: "m1", status: "delivered" }),
          engagement_statuses: ["read"],
          read_at: at(10),
          updated_at: at(10),
        },
      });
      const [seen] = await store.updateEngagement(["m1"], { status: "seen", set: true }, at(11));
      expect(seen?.message).toMatchObject({
        engagement_statuses: ["seen", "read"],
        seen_at: at(11),
        read_at: at(10),
        updated_at: at(11),
      });
      await store.updateEngagement(["m2"], { status: "seen", set: true }, at(12));
      expect((await store.getMessage("m2"))?.engagement_statuses).toEqual(["seen", "archived"]);
      for (const status of ["interacted", "link_clicked", "archived"] as const) {
        await store.updateEngagement(["m1"], { status, set: true }, at(13));
      }
      expect(await store.getMessage("m1")).toMatchObject({
        engagement_statuses: ["seen", "read", "interacted", "link_clicked", "archived"],
        interacted_at: at(13),
        link_clicked_at: at(13),
        archived_at: at(13),
      });
    });

    it("keeps the first time and changes nothing when the status is already there", async () => {
      await store.updateEngagement(["m1"], { status: "seen", set: true }, at(10));
      const before = await store.getMessage("m1");
      const [again] = await store.updateEngagement(["m1"], { status: "seen", set: true }, at(20));
      expect(again).toEqual({ changed: false, message: before });
      expect(await store.getMessage("m1")).toEqual(before);
    });

    it("removes a status and clears its timestamp; removing an absent one changes nothing", async () => {
      const [removed] = await store.updateEngagement(
        ["m2"],
        { status: "archived", set: false },
        at(10),
      );
      expect(removed?.changed).toBe(true);
      expect(removed?.message).toMatchObject({
        engagement_statuses: [],
        archived_at: null,
        updated_at: at(10),
      });
      const [absent] = await store.updateEngagement(["m1"], { status: "read", set: false }, at(11));
      expect(absent).toEqual({
        changed: false,
        message: messageFixture({ id: "m1", status: "delivered" }),
      });
    });

    it("replaces metadata when given, even when the status was already there", async () => {
      const first = await store.updateEngagement(
        ["m1"],
        { status: "interacted", set: true, metadata: { button: "accept" } },
        at(10),
      );
      expect(first[0]?.message).toMatchObject({
        engagement_statuses: ["interacted"],
        interacted_at: at(10),
        metadata: { button: "accept" },
      });
      const metadata = { button: "decline", tags: ["x"] };
      const second = await store.updateEngagement(
        ["m1"],
        { status: "interacted", set: true, metadata },
        at(20),
      );
      metadata.tags.push("changed later");
      expect(second[0]?.changed).toBe(true);
      expect(await store.getMessage("m1")).toMatchObject({
        interacted_at: at(10),
        metadata: { button: "decline", tags: ["x"] },
        updated_at: at(20),
      });
      const [kept] = await store.updateEngagement(
        ["m1"],
        { status: "interacted", set: true },
        at(30),
      );
      expect(kept?.changed).toBe(false);
      expect(kept?.message.metadata).toEqual({ button: "decline", tags: ["x"] });
    });

    it("answers in the order asked, with null for missing ids, creating nothing", async () => {
      const results = await store.updateEngagement(
        ["m2", "missing", "m1"],
        { status: "seen", set: true },
        at(10),
      );
      expect(results.map((r) => (r === null ? null : [r.message.id, r.changed]))).toEqual([
        ["m2", true],
        null,
        ["m1", true],
      ]);
      expect(await store.getMessage("missing")).toBeNull();
      expect((await store.listMessages({}, { limit: 10 })).items).toHaveLength(2);
    });

    it("applies concurrent updates of different statuses to one message without losing any", async () => {
      const statuses = ["seen", "read", "interacted", "link_clicked", "archived"] as const;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.updateEngagement(
            ["m1"],
            { status: statuses[i % statuses.length]!, set: true },
            at(10 + i),
          ),
        ),
      );
      const message = await store.getMessage("m1");
      expect(message?.engagement_statuses).toEqual([...statuses]);
      // Each status keeps the time of the first update that added it, whichever ran first.
      expect([at(10), at(15), at(20), at(25)]).toContain(message?.seen_at);
      expect([at(14), at(19), at(24), at(29)]).toContain(message?.archived_at);
      expect(
        await store.countMessages({ recipient: user("u1"), with_engagement: [...statuses] }),
      ).toEqual({ total: 1, unread: 0, unseen: 0 });
    });
  });
}
