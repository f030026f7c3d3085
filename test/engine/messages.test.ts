import { describe, expect, it } from "vitest";
import {
  InvalidParamsError,
  type Message,
  type MessageEvent,
  NotFoundError,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";
import { feedWorkflow } from "./helpers.js";

const EVENTS = [
  "message.seen",
  "message.unseen",
  "message.read",
  "message.unread",
  "message.interacted",
  "message.archived",
  "message.unarchived",
] as const;

/** An engine that records every engagement event as `event:message id`. */
async function withMessages(count: number): Promise<{
  t: TestEngine;
  ids: string[];
  events: string[];
  payloads: MessageEvent[];
}> {
  const t = createTestEngine({ workflows: [feedWorkflow()] });
  for (let i = 0; i < count; i++) {
    await t.workflows.trigger("comment-created", {
      recipients: [{ id: "u1" }],
      data: { comment: `c${i}` },
      tenant: "acme",
    });
    await t.idle();
    await t.clock.advance("1m");
  }
  const ids = (await t.messages.list()).items.map((m) => m.id).reverse();
  const events: string[] = [];
  const payloads: MessageEvent[] = [];
  for (const event of EVENTS) {
    t.on(event, (payload) => {
      events.push(`${event}:${ids.indexOf(payload.message.id)}`);
      payloads.push(payload);
    });
  }
  return { t, ids, events, payloads };
}

describe("message engagement", () => {
  it("sets each status with its timestamp, emits its event, and reverses it", async () => {
    const { t, ids, events, payloads } = await withMessages(1);
    const id = ids[0] as string;
    const now = () => t.clock.now().toISOString();

    const seen = await t.messages.markAsSeen(id);
    expect(seen).toMatchObject({
      id,
      engagement_statuses: ["seen"],
      seen_at: now(),
      updated_at: now(),
    });
    await t.clock.advance("1m");
    const read = await t.messages.markAsRead(id);
    expect(read).toMatchObject({ engagement_statuses: ["seen", "read"], read_at: now() });
    await t.clock.advance("1m");
    const interacted = await t.messages.markAsInteracted(id, { metadata: { button: "like" } });
    expect(interacted).toMatchObject({
      engagement_statuses: ["seen", "read", "interacted"],
      interacted_at: now(),
      metadata: { button: "like" },
    });
    const archived = await t.messages.archive(id);
    expect(archived).toMatchObject({
      engagement_statuses: ["seen", "read", "interacted", "archived"],
      archived_at: now(),
    });
    expect(await t.messages.get(id)).toEqual(archived);

    expect(await t.messages.unarchive(id)).toMatchObject({ archived_at: null });
    expect(await t.messages.markAsUnread(id)).toMatchObject({ read_at: null });
    expect(await t.messages.markAsUnseen(id)).toMatchObject({
      seen_at: null,
      engagement_statuses: ["interacted"],
    });
    expect(events).toEqual([
      "message.seen:0",
      "message.read:0",
      "message.interacted:0",
      "message.archived:0",
      "message.unarchived:0",
      "message.unread:0",
      "message.unseen:0",
    ]);
    expect(payloads[0]).toMatchObject({
      workflow: "comment-created",
      workflow_run_id: seen.source.workflow_run_id,
      workflow_recipient_run_id: seen.source.workflow_recipient_run_id,
      recipient: "u1",
      tenant: "acme",
      message: { id, engagement_statuses: ["seen"] },
    });
  });

  it("changes nothing and emits nothing when the message already has that state", async () => {
    const { t, ids, events } = await withMessages(1);
    const id = ids[0] as string;
    const first = await t.messages.markAsSeen(id);
    await t.clock.advance("1h");
    expect(await t.messages.markAsSeen(id)).toEqual(first);
    expect(await t.messages.markAsUnread(id)).toEqual(first);
    expect(await t.messages.unarchive(id)).toEqual(first);
    expect(events).toEqual(["message.seen:0"]);
  });

  it("returns copies: changing one changes nothing stored", async () => {
    const { t, ids } = await withMessages(1);
    const message = await t.messages.markAsRead(ids[0] as string);
    message.engagement_statuses.push("archived");
    expect((await t.messages.get(ids[0] as string)).engagement_statuses).toEqual(["read"]);
  });

  it("updates many messages at once, by ids or by Knock's { message_ids }", async () => {
    const { t, ids, events } = await withMessages(3);
    const [a, b, c] = ids as [string, string, string];
    await t.messages.markAsSeen(b);
    const seen = await t.messages.batch.markAsSeen([c, a, b]);
    expect(seen.map((m) => [m.id, m.engagement_statuses])).toEqual([
      [c, ["seen"]],
      [a, ["seen"]],
      [b, ["seen"]],
    ]);
    const interacted = await t.messages.batch.markAsInteracted(
      { message_ids: [a, b] },
      { metadata: { via: "digest" } },
    );
    expect(interacted.map((m) => m.metadata)).toEqual([{ via: "digest" }, { via: "digest" }]);
    await t.messages.batch.markAsInteracted({ message_ids: [c], metadata: { via: "body" } });
    expect((await t.messages.get(c)).metadata).toEqual({ via: "body" });
    await t.messages.batch.archive({ message_ids: [a, c] });
    await t.messages.batch.unarchive([a]);
    await t.messages.batch.markAsRead(ids);
    await t.messages.batch.markAsUnread([b]);
    await t.messages.batch.markAsUnseen([a, b]);
    expect(events).toEqual([
      "message.seen:1",
      "message.seen:2",
      "message.seen:0",
      "message.interacted:0",
      "message.interacted:1",
      "message.interacted:2",
      "message.archived:0",
      "message.archived:2",
      "message.unarchived:0",
      "message.read:0",
      "message.read:1",
      "message.read:2",
      "message.unread:1",
      "message.unseen:0",
      "message.unseen:1",
    ]);
    const states = (await t.messages.list({ message_ids: ids })).items
      .reverse()
      .map((m) => m.engagement_statuses);
    expect(states).toEqual([
      ["read", "interacted"],
      ["interacted"],
      ["seen", "read", "interacted", "archived"],
    ]);
  });

  it("rejects a missing message or bad input, changing nothing", async () => {
    const { t, ids, events } = await withMessages(2);
    const [a] = ids as [string];
    const missing = await t.messages.markAsRead("nope").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toContain('none has the id "nope"');
    const batch = await t.messages.batch.markAsRead([a, "gone", "lost"]).catch((e: unknown) => e);
    expect(batch).toBeInstanceOf(NotFoundError);
    expect((batch as Error).message).toContain('"gone"');
    expect((batch as Error).message).toContain(
      'Nor do 1 other ids given: "lost". Nothing was changed.',
    );
    expect((await t.messages.get(a)).engagement_statuses).toEqual([]);

    const invalid = async (call: () => Promise<unknown>) => {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidParamsError);
      return (error as InvalidParamsError).errors.map((e) => e.field);
    };
    expect(await invalid(() => t.messages.markAsSeen("" as string))).toEqual(["id"]);
    expect(await invalid(() => t.messages.markAsSeen(42 as never))).toEqual(["id"]);
    expect(
      await invalid(() => t.messages.markAsInteracted(a, { metadata: "liked" as never })),
    ).toEqual(["options.metadata"]);
    expect(await invalid(() => t.messages.batch.markAsRead([]))).toEqual(["ids"]);
    expect(await invalid(() => t.messages.batch.markAsRead([a, 7 as never]))).toEqual(["ids[1]"]);
    expect(await invalid(() => t.messages.batch.markAsRead("abc" as never))).toEqual(["ids"]);
    expect(
      await invalid(() => t.messages.batch.markAsRead(Array.from({ length: 1001 }, () => a))),
    ).toEqual(["ids"]);
    expect(
      await invalid(() => t.messages.batch.archive({ message_ids: [a] }, { metadata: {} })),
    ).toEqual(["metadata"]);
    expect(events).toEqual([]);
  });

  it("lets later steps see engagement through refs conditions", async () => {
    const nudge: WorkflowInput = {
      key: "nudge",
      steps: [
        {
          ref: "in_app_1",
          type: "channel",
          channel_key: "in-app",
          channel_type: "in_app_feed",
          template: { markdown_body: "You have a new comment" },
        },
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "email",
          channel_type: "email",
          template: { subject: "You missed a comment" },
          conditions: {
            all: [
              {
                variable: "refs.in_app_1.engagement_status",
                operator: "not_contains",
                argument: "read",
              },
            ],
          },
        },
      ],
    };
    const t = createTestEngine({ workflows: [nudge] });
    await t.workflows.trigger("nudge", {
      recipients: [
        { id: "reader", email: "reader@example.com" },
        { id: "busy", email: "busy@example.com" },
      ],
    });
    await t.idle();
    const [readerItem] = (await t.users.feeds.listItems("reader", "in-app")).entries;
    await t.messages.markAsRead(readerItem?.id as string);
    await t.clock.advance("1h");
    expect(t.outbox.filter((m) => m.channel_type === "email").map((m) => m.recipient.id)).toEqual([
      "busy",
    ]);
  });
});

describe("messages.list and users.listMessages", () => {
  async function setup(): Promise<{ t: TestEngine; all: Message[] }> {
    const t = createTestEngine({
      workflows: [
        feedWorkflow(),
        feedWorkflow({ key: "digest", categories: ["marketing"] }),
        {
          key: "mail",
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "email",
              channel_type: "email",
              template: { subject: "hi" },
            },
          ],
        },
      ],
    });
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.update("u2", { email: "u2@example.com" });
    const runs = [
      ["comment-created", "u1", "acme"],
      ["digest", "u1", null],
      ["mail", "u1", "acme"],
      ["comment-created", "u2", null],
      ["mail", "u2", "globex"],
    ] as const;
    for (const [workflow, user, tenant] of runs) {
      await t.workflows.trigger(workflow, { recipients: [user], ...(tenant ? { tenant } : {}) });
      await t.idle();
      await t.clock.advance("1m");
    }
    const all = (await t.messages.list()).items;
    return { t, all };
  }

  it("lists newest first and applies each of Knock's filters", async () => {
    const { t, all } = await setup();
    const [m4, m3, m2, m1, m0] = all as [Message, Message, Message, Message, Message];
    const ids = async (p: Promise<{ items: Message[] }>) => (await p).items.map((m) => m.id);
    expect(all.map((m) => m.workflow)).toEqual([
      "mail",
      "comment-created",
      "mail",
      "digest",
      "comment-created",
    ]);
    await t.messages.markAsRead(m0.id);
    await t.messages.archive(m1.id);

    expect(await ids(t.users.listMessages("u1"))).toEqual([m2.id, m1.id, m0.id]);
    expect(await ids(t.messages.list({ status: ["sent"] }))).toEqual([m4.id, m2.id]);
    expect(await ids(t.messages.list({ status: ["delivered", "bounced"] }))).toEqual([
      m3.id,
      m1.id,
      m0.id,
    ]);
    expect(await ids(t.messages.list({ engagement_status: ["read"] }))).toEqual([m0.id]);
    expect(await ids(t.messages.list({ engagement_status: ["unarchived", "read"] }))).toEqual([
      m4.id,
      m3.id,
      m2.id,
      m0.id,
    ]);
    expect(await ids(t.messages.list({ channel_id: "email" }))).toEqual([m4.id, m2.id]);
    expect(await ids(t.messages.list({ tenant: "acme" }))).toEqual([m2.id, m0.id]);
    expect(await ids(t.messages.list({ has_tenant: false }))).toEqual([m3.id, m1.id]);
    expect(await ids(t.messages.list({ source: "digest" }))).toEqual([m1.id]);
    expect(await ids(t.messages.list({ workflow: "mail" }))).toEqual([m4.id, m2.id]);
    expect(await ids(t.messages.list({ workflow_categories: ["marketing"] }))).toEqual([m1.id]);
    expect(await ids(t.messages.list({ workflow_run_id: m3.source.workflow_run_id }))).toEqual([
      m3.id,
    ]);
    expect(
      await ids(
        t.messages.list({ workflow_recipient_run_id: m2.source.workflow_recipient_run_id }),
      ),
    ).toEqual([m2.id]);
    expect(await ids(t.messages.list({ message_ids: [m0.id, m4.id, "missing"] }))).toEqual([
      m4.id,
      m0.id,
    ]);
    expect(
      await ids(t.messages.list({ inserted_at: { gte: m1.inserted_at, lt: m3.inserted_at } })),
    ).toEqual([m2.id, m1.id]);
    expect(await ids(t.users.listMessages("u2", { channel_id: "in-app" }))).toEqual([m3.id]);
    expect(await ids(t.objects.listMessages("teams", "core"))).toEqual([]);
  });

  it("pages newest first with cursors", async () => {
    const { t, all } = await setup();
    const first = await t.messages.list({ page_size: 2 });
    const second = await t.messages.list({ page_size: 2, after: first.page_info.after });
    const third = await t.messages.list({ page_size: 2, after: second.page_info.after });
    expect([...first.items, ...second.items, ...third.items].map((m) => m.id)).toEqual(
      all.map((m) => m.id),
    );
    expect(third.page_info.after).toBeNull();
    const back = await t.messages.list({ page_size: 2, before: third.page_info.before });
    expect(back.items.map((m) => m.id)).toEqual(second.items.map((m) => m.id));
  });

  it("rejects bad filters, naming every one", async () => {
    const { t } = await setup();
    const error = await t.messages
      .list({
        status: ["lost"] as never,
        engagement_status: "read" as never,
        has_tenant: 1 as never,
        message_ids: Array.from({ length: 51 }, (_, i) => `m${i}`),
        inserted_at: { gte: "yesterday", after: "x" } as never,
        source: "a",
        workflow: "b",
        trigger_data: '{"a":1}',
        page_size: 0,
      } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).errors.map((e) => e.field).sort()).toEqual([
      "engagement_status",
      "has_tenant",
      "inserted_at.after",
      "inserted_at.gte",
      "message_ids",
      "page_size",
      "status[0]",
      "trigger_data",
      "workflow",
    ]);
    expect((error as Error).message).toContain(
      'status[0]: expected one of queued, sent, delivered, delivery_attempted, undelivered, not_sent, bounced, received the string "lost"',
    );
    await expect(t.users.listMessages("u1", { page_size: 51 })).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
  });
});
