import { describe, expect, it } from "vitest";
import {
  createEngine,
  type FeedChangedEvent,
  InvalidParamsError,
  type MessageEvent,
  memoryStore,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";
import { emailWorkflow, feedWorkflow } from "./helpers.js";

/** A workflow with an in-app step and an email step. */
const both: WorkflowInput = {
  key: "both",
  steps: [
    {
      ref: "in_app_1",
      type: "channel",
      channel_key: "in-app",
      channel_type: "in_app_feed",
      template: {
        markdown_body: "**{{ data.title }}**\n\n<b>not html</b> & more\nline two",
        action_url: "https://example.com/{{ data.id }}",
      },
    },
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      channel_type: "email",
      template: { subject: "{{ data.title }}" },
    },
  ],
};

/** Triggers a feed workflow once per comment for u1, one virtual minute apart; returns the new message ids, oldest first. */
async function comments(
  t: TestEngine,
  count: number,
  params: { tenant?: string; user?: string; workflow?: string } = {},
): Promise<string[]> {
  const user = params.user ?? "u1";
  const before = new Set(
    (await t.users.listMessages(user, { channel_id: "in-app" })).items.map((m) => m.id),
  );
  for (let i = 0; i < count; i++) {
    await t.workflows.trigger(params.workflow ?? "comment-created", {
      recipients: [{ id: params.user ?? "u1" }],
      actor: { id: "ada", name: "Ada" },
      data: { comment: `c${i}` },
      ...(params.tenant ? { tenant: params.tenant } : {}),
    });
    await t.idle();
    await t.clock.advance("1m");
  }
  const { items } = await t.users.listMessages(user, { channel_id: "in-app" });
  return items
    .map((m) => m.id)
    .filter((id) => !before.has(id))
    .reverse();
}

function engine(): TestEngine {
  return createTestEngine({
    workflows: [feedWorkflow(), feedWorkflow({ key: "mentions" }), both, emailWorkflow()],
  });
}

const bodies = (entries: Array<{ content: Record<string, unknown> }>) =>
  entries.map((e) => e.content.markdown_body);

describe("users.feeds.listItems", () => {
  it("lists the user's delivered in-app messages newest first, with counts", async () => {
    const t = engine();
    await t.users.update("u1", { email: "u1@example.com" });
    await comments(t, 3);
    await t.workflows.trigger("welcome", { recipients: ["u1"] });
    await comments(t, 1, { user: "u2" });
    await t.idle();

    const feed = await t.users.feeds.listItems("u1", "in-app");
    expect(bodies(feed.entries)).toEqual([
      "Ada commented: c2",
      "Ada commented: c1",
      "Ada commented: c0",
    ]);
    expect(feed.meta).toEqual({
      __typename: "FeedMetadata",
      total_count: 3,
      unread_count: 3,
      unseen_count: 3,
    });
    expect(feed.page_info).toEqual({
      __typename: "PageInfo",
      after: null,
      before: null,
      page_size: 50,
    });
    expect(feed.entries[0]).toMatchObject({
      __typename: "FeedItem",
      channel_id: "in-app",
      recipient: "u1",
      actors: ["ada"],
      data: { comment: "c2" },
      tenant: null,
      engagement_statuses: [],
      seen_at: null,
      read_at: null,
      archived_at: null,
      source: { key: "comment-created", step_ref: "in_app_1" },
    });
    expect(feed.vars).toEqual({});
    const empty = await t.users.feeds.listItems("nobody", "in-app");
    expect(empty.entries).toEqual([]);
    expect(empty.meta).toMatchObject({ total_count: 0, unread_count: 0, unseen_count: 0 });
  });

  it("gives each item its content as blocks, escaped for HTML", async () => {
    const t = engine();
    await t.workflows.trigger("both", {
      recipients: [{ id: "u1", email: "u1@example.com" }],
      data: { title: "Deploy <done>", id: "42" },
    });
    await t.idle();
    const [item] = (await t.users.feeds.listItems("u1", "in-app")).entries;
    expect(item?.blocks).toEqual([
      {
        type: "markdown",
        name: "body",
        content: "**Deploy <done>**\n\n<b>not html</b> & more\nline two",
        rendered:
          "<p>**Deploy &lt;done&gt;**</p><p>&lt;b&gt;not html&lt;/b&gt; &amp; more<br>line two</p>",
      },
      {
        type: "text",
        name: "action_url",
        content: "https://example.com/42",
        rendered: "https://example.com/42",
      },
    ]);
    // The email step's message is not in the in-app feed.
    expect((await t.messages.list()).items).toHaveLength(2);
    expect((await t.users.feeds.listItems("u1", "in-app")).meta.total_count).toBe(1);
  });

  it("filters by status and archived, counting total_count under the filters and badges over the feed", async () => {
    const t = engine();
    const [m0, m1, m2, m3] = (await comments(t, 4)) as [string, string, string, string];
    await t.messages.markAsSeen(m0);
    await t.messages.markAsSeen(m1);
    await t.messages.markAsRead(m1);
    await t.messages.archive(m2);

    const list = async (params: Parameters<TestEngine["users"]["feeds"]["listItems"]>[2]) => {
      const feed = await t.users.feeds.listItems("u1", "in-app", params);
      return {
        ids: feed.entries.map((e) => e.id),
        total: feed.meta.total_count,
        badges: [feed.meta.unread_count, feed.meta.unseen_count],
      };
    };
    // Badges count the unarchived feed: m0 (seen), m1 (seen, read), m3: 2 unread, 1 unseen.
    expect(await list({})).toEqual({ ids: [m3, m1, m0], total: 3, badges: [2, 1] });
    expect(await list({ status: "all" })).toEqual({ ids: [m3, m1, m0], total: 3, badges: [2, 1] });
    expect(await list({ status: "unread" })).toEqual({ ids: [m3, m0], total: 2, badges: [2, 1] });
    expect(await list({ status: "read" })).toEqual({ ids: [m1], total: 1, badges: [2, 1] });
    expect(await list({ status: "unseen" })).toEqual({ ids: [m3], total: 1, badges: [2, 1] });
    expect(await list({ status: "seen" })).toEqual({ ids: [m1, m0], total: 2, badges: [2, 1] });
    expect(await list({ archived: "include" })).toEqual({
      ids: [m3, m2, m1, m0],
      total: 4,
      badges: [2, 1],
    });
    expect(await list({ archived: "only" })).toEqual({ ids: [m2], total: 1, badges: [2, 1] });
    expect(await list({ archived: "include", status: "unseen" })).toEqual({
      ids: [m3, m2],
      total: 2,
      badges: [2, 1],
    });
    await t.messages.unarchive(m2);
    expect(await list({})).toEqual({ ids: [m3, m2, m1, m0], total: 4, badges: [3, 2] });
  });

  it("scopes items and counts to a tenant, to items with or without one, and to a workflow", async () => {
    const t = engine();
    const acme = await comments(t, 2, { tenant: "acme" });
    const globex = await comments(t, 1, { tenant: "globex" });
    const plain = await comments(t, 1);
    const mention = await comments(t, 1, { workflow: "mentions" });
    await t.messages.markAsSeen(acme[0] as string);

    const feed = (params: Parameters<TestEngine["users"]["feeds"]["listItems"]>[2]) =>
      t.users.feeds.listItems("u1", "in-app", params);
    const acmeFeed = await feed({ tenant: "acme" });
    expect(acmeFeed.entries.map((e) => e.id)).toEqual([...acme].reverse());
    expect(acmeFeed.entries.every((e) => e.tenant === "acme")).toBe(true);
    expect(acmeFeed.meta).toMatchObject({ total_count: 2, unread_count: 2, unseen_count: 1 });
    expect((await feed({ tenant: "globex" })).meta).toMatchObject({
      total_count: 1,
      unseen_count: 1,
    });
    expect((await feed({ has_tenant: true })).entries.map((e) => e.id)).toEqual(
      [...acme, ...globex].reverse(),
    );
    expect((await feed({ has_tenant: false })).entries.map((e) => e.id)).toEqual(
      [...plain, ...mention].reverse(),
    );
    const mentions = await feed({ source: "mentions" });
    expect(mentions.entries.map((e) => e.id)).toEqual(mention);
    expect(mentions.meta).toMatchObject({ total_count: 1, unread_count: 1, unseen_count: 1 });
    // Unscoped, the feed shows every tenant's items.
    expect((await feed({})).meta).toMatchObject({ total_count: 5, unseen_count: 4 });
  });

  it("pages with after and before cursors, page_size 1 to 50", async () => {
    const t = engine();
    const ids = (await comments(t, 5)).reverse();
    const first = await t.users.feeds.listItems("u1", "in-app", { page_size: 2 });
    expect(first.entries.map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect(first.page_info).toMatchObject({ before: null, page_size: 2 });
    expect(first.meta.total_count).toBe(5);
    const second = await t.users.feeds.listItems("u1", "in-app", {
      page_size: 2,
      after: first.page_info.after,
    });
    expect(second.entries.map((e) => e.id)).toEqual(ids.slice(2, 4));
    const third = await t.users.feeds.listItems("u1", "in-app", {
      page_size: 2,
      after: second.page_info.after,
    });
    expect(third.entries.map((e) => e.id)).toEqual(ids.slice(4));
    expect(third.page_info.after).toBeNull();
    const back = await t.users.feeds.listItems("u1", "in-app", {
      page_size: 2,
      before: third.page_info.before,
    });
    expect(back.entries.map((e) => e.id)).toEqual(ids.slice(2, 4));
  });

  it("takes Knock's inserted_at range and exclude list", async () => {
    const t = engine();
    // Five comments at 00:00, 00:01, … 00:04 (virtual time).
    const ids = (await comments(t, 5)).reverse();
    const ranged = await t.users.feeds.listItems("u1", "in-app", {
      inserted_at: { gte: "2026-01-01T00:01:00Z", lt: "2026-01-01T00:03:00Z" },
    });
    expect(ranged.entries.map((e) => e.id)).toEqual(ids.slice(2, 4));
    // total_count counts within the range; the badges count the whole feed.
    expect(ranged.meta).toMatchObject({ total_count: 2, unread_count: 5, unseen_count: 5 });
    const slim = await t.users.feeds.listItems("u1", "in-app", { exclude: "data, blocks" });
    expect(slim.entries).toHaveLength(5);
    for (const entry of slim.entries) {
      expect(entry).not.toHaveProperty("data");
      expect(entry).not.toHaveProperty("blocks");
      expect(entry).toHaveProperty("content");
    }
    const bad = await t.users.feeds
      .listItems("u1", "in-app", { exclude: "data,recipient" })
      .catch((e: unknown) => e);
    expect((bad as InvalidParamsError).errors).toEqual([
      expect.objectContaining({ field: "exclude", type: "enum" }),
    ]);
  });

  it("rejects bad parameters with every problem named, and a channel that is not a feed", async () => {
    const t = createTestEngine({
      channels: [{ key: "mail", type: "email", provider: { send: async () => {} } }],
    });
    const error = await t.users.feeds
      .listItems("u1", "in-app", {
        status: "new" as never,
        archived: "yes" as never,
        page_size: 51,
        has_tenant: "true" as never,
        trigger_data: "{}",
      } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    const issues = (error as InvalidParamsError).errors;
    expect(issues.map((i) => i.field).sort()).toEqual([
      "archived",
      "has_tenant",
      "page_size",
      "status",
      "trigger_data",
    ]);
    expect(issues.find((i) => i.field === "status")?.message).toBe(
      'expected one of unread, read, unseen, seen, all, received the string "new"',
    );
    expect(issues.find((i) => i.field === "trigger_data")?.message).toContain("not supported");
    const wrongChannel = await t.users.feeds.listItems("u1", "mail").catch((e: unknown) => e);
    expect(wrongChannel).toBeInstanceOf(InvalidParamsError);
    expect((wrongChannel as Error).message).toContain('"mail" is a email channel');
    await expect(t.users.feeds.listItems("a/b", "in-app")).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
  });

  it("shows an in-app message only once it is delivered", async () => {
    let failures = 1;
    const t = createTestEngine({
      workflows: [feedWorkflow()],
      channels: [
        {
          key: "in-app",
          type: "in_app_feed",
          provider: {
            send: async () => {
              if (failures-- > 0) throw new Error("feed service down");
            },
          },
        },
      ],
    });
    const changes: FeedChangedEvent[] = [];
    t.on("feed.changed", (e) => changes.push(e));
    await t.workflows.trigger("comment-created", {
      recipients: [{ id: "u1" }],
      data: { comment: "hi" },
    });
    await t.idle();
    expect((await t.users.feeds.listItems("u1", "in-app")).entries).toEqual([]);
    expect(changes).toEqual([]);
    await t.clock.advance("1s");
    const feed = await t.users.feeds.listItems("u1", "in-app");
    expect(bodies(feed.entries)).toEqual([" commented: hi"]);
    expect(changes.map((c) => [c.cause, c.meta.unseen_count])).toEqual([["message.delivered", 1]]);
  });
});

/** An in-app digest: an in-app step before the batch, a 10-minute batch, an in-app step after it. */
function digestWorkflow(settings: Record<string, unknown> = {}): WorkflowInput {
  return {
    key: "digest",
    steps: [
      {
        ref: "before",
        type: "channel",
        channel_key: "in-app",
        channel_type: "in_app_feed",
        template: { markdown_body: "one: {{ data.n }}" },
      },
      {
        ref: "collect",
        type: "batch",
        settings: { batch_window: { unit: "minutes", value: 10 }, ...settings },
      },
      {
        ref: "after",
        type: "channel",
        channel_key: "in-app",
        channel_type: "in_app_feed",
        template: { markdown_body: "{{ total_activities }} by {{ total_actors }}" },
      },
    ] as WorkflowInput["steps"],
  };
}

/** Three triggers for u1 a minute apart (actors ann, bob, ann; data n 0–2), then the window closes. */
async function digestOfThree(t: TestEngine): Promise<void> {
  for (const [n, actor] of ["ann", "bob", "ann"].entries()) {
    await t.workflows.trigger("digest", {
      recipients: [{ id: "u1" }],
      actor: { id: actor },
      data: { n },
    });
    await t.idle();
    await t.clock.advance("1m");
  }
  await t.clock.advance("10m");
}

describe("activities", () => {
  it("gives a feed item its trigger as its one activity", async () => {
    const t = engine();
    await comments(t, 1);
    const [item] = (await t.users.feeds.listItems("u1", "in-app")).entries;
    const run = await t.workflowRecipientRuns.get(item?.source.workflow_recipient_run_id ?? "");
    expect(item).toMatchObject({ actors: ["ada"], total_activities: 1, total_actors: 1 });
    expect(item?.activities).toEqual([
      {
        __typename: "Activity",
        id: run.id,
        actor: "ada",
        recipient: "u1",
        data: { comment: "c0" },
        inserted_at: run.inserted_at,
        updated_at: run.inserted_at,
      },
    ]);
    const listed = await t.messages.listActivities(item?.id ?? "");
    expect(listed.entries).toEqual(item?.activities);
    expect(listed.page_info).toEqual({
      __typename: "PageInfo",
      after: null,
      before: null,
      page_size: 50,
    });
  });

  it("gives a batched message the batch's activities, actors and totals", async () => {
    const t = createTestEngine({ workflows: [digestWorkflow()] });
    await digestOfThree(t);
    const feed = await t.users.feeds.listItems("u1", "in-app");
    const digest = feed.entries.find((e) => e.source.step_ref === "after");
    expect(digest?.content.markdown_body).toBe("3 by 2");
    // Knock's batched message: its actors are the batch's, most recent first.
    expect(digest).toMatchObject({ actors: ["ann", "bob"], total_activities: 3, total_actors: 2 });
    expect((await t.messages.get(digest?.id ?? "")).actors).toEqual(["ann", "bob"]);
    // Each trigger's run made a message before the batch step, with the trigger's data.
    const before = feed.entries.filter((e) => e.source.step_ref === "before");
    const runOf = (n: number) =>
      before.find((e) => e.data?.n === n)?.source.workflow_recipient_run_id;
    expect(
      digest?.activities.map((a) => ({ id: a.id, actor: a.actor, data: a.data, to: a.recipient })),
    ).toEqual([
      { id: runOf(0), actor: "ann", data: { n: 0 }, to: "u1" },
      { id: runOf(1), actor: "bob", data: { n: 1 }, to: "u1" },
      { id: runOf(2), actor: "ann", data: { n: 2 }, to: "u1" },
    ]);
    expect(digest?.activities.map((a) => a.inserted_at)).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T00:01:00.000Z",
      "2026-01-01T00:02:00.000Z",
    ]);
    // The opener's message made before its batch step is its own trigger's, not the batch's.
    expect(before).toHaveLength(3);
    for (const item of before) {
      expect(item).toMatchObject({ total_activities: 1, total_actors: 1 });
      expect(item.activities.map((a) => a.id)).toEqual([item.source.workflow_recipient_run_id]);
      expect(item.actors).toEqual([item.activities[0]?.actor]);
    }
  });

  it("shows a batched item's activities as its message was rendered, and lists them all, paged", async () => {
    const t = createTestEngine({
      workflows: [digestWorkflow({ batch_order: "desc", batch_items_render_limit: 2 })],
    });
    await digestOfThree(t);
    const digest = (await t.users.feeds.listItems("u1", "in-app")).entries.find(
      (e) => e.source.step_ref === "after",
    );
    // batch_order desc shows the last two, oldest first (as Knock lists them).
    expect(digest?.activities.map((a) => a.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(digest?.total_activities).toBe(3);
    const id = digest?.id ?? "";
    const all = await t.messages.listActivities(id);
    expect(all.entries.map((a) => a.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    const first = await t.messages.listActivities(id, { page_size: 2 });
    expect(first.entries.map((a) => a.data)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(first.page_info).toMatchObject({ before: null, page_size: 2 });
    const second = await t.messages.listActivities(id, {
      page_size: 2,
      after: first.page_info.after,
    });
    expect(second.entries.map((a) => a.data)).toEqual([{ n: 2 }]);
    expect(second.page_info.after).toBeNull();
    const back = await t.messages.listActivities(id, {
      page_size: 2,
      before: second.page_info.before,
    });
    expect(back.entries.map((a) => a.data)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(back.page_info.before).toBeNull();
  });

  it("gives a batched message its batch's activities as soon as it is in the feed", async () => {
    // Read from a feed.changed listener: the message is stored, its run's log is not yet.
    const t = createTestEngine({ workflows: [digestWorkflow()] });
    const reads: Array<Promise<unknown>> = [];
    const totals: number[] = [];
    t.on("feed.changed", (event) => {
      if (event.message_ids.length === 0) return;
      reads.push(
        t.users.feeds.listItems("u1", "in-app").then((feed) => {
          const digest = feed.entries.find((e) => e.source.step_ref === "after");
          if (digest) totals.push(digest.total_activities);
        }),
      );
    });
    await digestOfThree(t);
    await Promise.all(reads);
    expect(totals.length).toBeGreaterThan(0);
    expect(totals).toEqual(totals.map(() => 3));
  });

  it("tells which batch a message came from in a workflow with two batch steps", async () => {
    const inApp = (ref: string) => ({
      ref,
      type: "channel",
      channel_key: "in-app",
      channel_type: "in_app_feed",
      template: { markdown_body: `${ref}: {{ total_activities }}` },
    });
    const batch = (ref: string, minutes: number) => ({
      ref,
      type: "batch",
      settings: { batch_window: { unit: "minutes", value: minutes } },
    });
    const t = createTestEngine({
      workflows: [
        {
          key: "twice",
          steps: [
            batch("first", 10),
            inApp("between"),
            batch("second", 10),
            inApp("last"),
          ] as WorkflowInput["steps"],
        },
      ],
    });
    // Two triggers join the first batch; after it closes, the run opens the second, which a
    // third trigger cannot join (it waits in a first batch of its own).
    for (const n of [1, 2]) {
      await t.workflows.trigger("twice", { recipients: [{ id: "u1" }], data: { n } });
      await t.idle();
    }
    await t.clock.advance("10m");
    await t.clock.advance("10m");
    const feed = await t.users.feeds.listItems("u1", "in-app");
    const by = (ref: string) => feed.entries.find((e) => e.source.step_ref === ref);
    expect(by("between")?.content.markdown_body).toBe("between: 2");
    expect(by("between")?.total_activities).toBe(2);
    // The second batch collected the one run that went on from the first.
    expect(by("last")?.content.markdown_body).toBe("last: 1");
    expect(by("last")?.total_activities).toBe(1);
    expect(by("last")?.activities.map((a) => a.id)).toEqual([
      by("last")?.source.workflow_recipient_run_id,
    ]);
  });

  it("tells a batched message from one made before the batch when a branch reorders the steps", async () => {
    // A compiled branch's arm lands after the list it is in: step order is not run order.
    const inApp = (ref: string) => ({
      ref,
      type: "channel",
      channel_key: "in-app",
      channel_type: "in_app_feed",
      template: { markdown_body: ref },
    });
    const collect = {
      ref: "collect",
      type: "batch",
      settings: { batch_window: { unit: "minutes", value: 10 } },
    };
    const t = createTestEngine({
      workflows: [
        {
          key: "arm-first",
          // In-app before a top-level batch, from inside a branch arm (its index is after it).
          steps: [
            { ref: "fork", type: "branch", branches: [{ name: "only", steps: [inApp("pre")] }] },
            collect,
            inApp("post"),
          ] as WorkflowInput["steps"],
        },
        {
          key: "batch-in-arm",
          // The batch inside an arm, and an in-app step after the branch (its index is before).
          steps: [
            {
              ref: "fork",
              type: "branch",
              branches: [{ name: "only", steps: [collect, inApp("in_arm")] }],
            },
            inApp("after_branch"),
          ] as WorkflowInput["steps"],
        },
      ],
    });
    for (const key of ["arm-first", "batch-in-arm"]) {
      for (const n of [1, 2, 3]) {
        await t.workflows.trigger(key, { recipients: [{ id: "u1" }], data: { n } });
        await t.idle();
      }
    }
    await t.clock.advance("10m");
    const feed = await t.users.feeds.listItems("u1", "in-app");
    const totals = (ref: string) =>
      feed.entries.filter((e) => e.source.step_ref === ref).map((e) => e.total_activities);
    expect(totals("pre")).toEqual([1, 1, 1]);
    expect(totals("post")).toEqual([3]);
    expect(totals("in_arm")).toEqual([3]);
    expect(totals("after_branch")).toEqual([3]);
  });

  it("leaves activities out with exclude, and rejects bad listActivities calls", async () => {
    const t = engine();
    const [id] = await comments(t, 1);
    const [slim] = (await t.users.feeds.listItems("u1", "in-app", { exclude: "activities" }))
      .entries;
    expect(slim).not.toHaveProperty("activities");
    expect(slim).not.toHaveProperty("total_activities");
    expect(slim).not.toHaveProperty("total_actors");
    expect(slim).toHaveProperty("actors");
    await expect(t.messages.listActivities("missing")).rejects.toMatchObject({
      name: "NotFoundError",
    });
    const unsupported = await t.messages
      .listActivities(id ?? "", { trigger_data: "{}" } as never)
      .catch((e: unknown) => e);
    expect((unsupported as InvalidParamsError).errors).toEqual([
      expect.objectContaining({ field: "trigger_data", type: "unsupported" }),
    ]);
    await expect(
      t.messages.listActivities(id ?? "", { after: "not-a-cursor" }),
    ).rejects.toBeInstanceOf(InvalidParamsError);
    await expect(t.messages.listActivities(id ?? "", { page_size: 51 })).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
    await expect(t.messages.listActivities(7 as never)).rejects.toBeInstanceOf(InvalidParamsError);
  });
});

describe("feed.changed", () => {
  it("fires once per delivered in-app message, after the write, with the feed's new counts", async () => {
    const t = engine();
    const seen: Array<{ event: FeedChangedEvent; listed: number }> = [];
    // The emitter does not wait for a listener: the test waits for each one's read itself.
    const reads: Array<Promise<void>> = [];
    t.on("feed.changed", (event) => {
      // The write is done: the feed already shows what the event reports.
      const entry = { event, listed: -1 };
      seen.push(entry);
      reads.push(
        t.users.feeds.listItems(event.user_id, event.channel_id).then((feed) => {
          entry.listed = feed.meta.total_count;
        }),
      );
    });
    await t.users.update("u1", { email: "u1@example.com" });
    const ids = await comments(t, 2, { tenant: "acme" });
    await t.workflows.trigger("welcome", { recipients: ["u1"] });
    await t.idle();
    await Promise.all(reads);
    expect(seen.map((s) => s.event)).toEqual([
      {
        user_id: "u1",
        channel_id: "in-app",
        cause: "message.delivered",
        message_ids: [ids[0]],
        meta: { __typename: "FeedMetadata", total_count: 1, unread_count: 1, unseen_count: 1 },
        tenant_meta: {
          acme: { __typename: "FeedMetadata", total_count: 1, unread_count: 1, unseen_count: 1 },
        },
      },
      {
        user_id: "u1",
        channel_id: "in-app",
        cause: "message.delivered",
        message_ids: [ids[1]],
        meta: { __typename: "FeedMetadata", total_count: 2, unread_count: 2, unseen_count: 2 },
        tenant_meta: {
          acme: { __typename: "FeedMetadata", total_count: 2, unread_count: 2, unseen_count: 2 },
        },
      },
    ]);
    expect(seen.map((s) => s.listed)).toEqual([1, 2]);
  });

  it("fires for engagement changes: one event per feed per call, none when nothing changed", async () => {
    const t = engine();
    const mine = await comments(t, 3);
    const theirs = await comments(t, 1, { user: "u2" });
    const events: FeedChangedEvent[] = [];
    t.on("feed.changed", (e) => events.push(e));

    await t.messages.markAsSeen(mine[0] as string);
    await t.messages.markAsSeen(mine[0] as string);
    await t.messages.batch.markAsRead([...mine, ...theirs]);
    await t.messages.batch.markAsRead(mine);
    await t.messages.archive(mine[1] as string);
    await t.messages.unarchive(mine[1] as string);
    expect(
      events.map((e) => [
        e.user_id,
        e.cause,
        e.message_ids,
        e.meta.unread_count,
        e.meta.unseen_count,
        e.meta.total_count,
      ]),
    ).toEqual([
      ["u1", "message.seen", [mine[0]], 3, 2, 3],
      ["u1", "message.read", mine, 0, 2, 3],
      ["u2", "message.read", theirs, 0, 1, 1],
      ["u1", "message.archived", [mine[1]], 0, 1, 2],
      ["u1", "message.unarchived", [mine[1]], 0, 2, 3],
    ]);
  });

  it("does not fire for messages outside feeds, and a failing listener breaks nothing", async () => {
    const t = engine();
    const events: FeedChangedEvent[] = [];
    const errors: string[] = [];
    t.on("feed.changed", (e) => {
      events.push(e);
      throw new Error("push failed");
    });
    t.on("error", (e) => errors.push(e.source));
    await t.workflows.trigger("welcome", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await t.idle();
    const [email] = (await t.messages.list({ channel_id: "email" })).items;
    await t.messages.markAsRead(email?.id as string);
    expect(events).toEqual([]);
    const [item] = await comments(t, 1);
    expect(events).toHaveLength(1);
    expect(errors).toEqual(["listener:feed.changed"]);
    expect((await t.messages.markAsRead(item as string)).read_at).not.toBeNull();
    expect(errors).toEqual(["listener:feed.changed", "listener:feed.changed"]);
  });

  it("reads no counts when nobody listens", async () => {
    let counts = 0;
    const store = memoryStore();
    const t = createTestEngine({
      workflows: [feedWorkflow()],
      store: {
        ...store,
        countMessages(filter) {
          counts++;
          return store.countMessages(filter);
        },
      },
    });
    await comments(t, 2);
    const messageEvents: MessageEvent[] = [];
    t.on("message.read", (e) => messageEvents.push(e));
    const [first] = (await t.messages.list()).items;
    await t.messages.markAsRead(first?.id as string);
    expect(counts).toBe(0);
    expect(messageEvents).toHaveLength(1);
    t.on("feed.changed", () => {});
    await t.messages.markAsUnread(first?.id as string);
    expect(counts).toBe(1);
  });
});

describe("the built-in feed channel", () => {
  it("creates its message delivered in one write, then reports it delivered", async () => {
    const store = memoryStore();
    const writes: string[] = [];
    const engine = createEngine({
      workflows: [feedWorkflow()],
      channels: [{ key: "in-app", type: "in_app_feed" }],
      store: {
        ...store,
        createMessage(message) {
          writes.push(`create:${message.status}:${message.attempts}`);
          return store.createMessage(message);
        },
        updateMessage(id, patch) {
          writes.push(`update:${patch.status ?? ""}`);
          return store.updateMessage(id, patch);
        },
      },
    });
    const events: string[] = [];
    engine.on("message.created", (e) => events.push(`created:${e.message.status}`));
    engine.on("message.delivered", (e) => events.push(`delivered:${e.message.status}`));
    engine.on("feed.changed", (e) => events.push(`feed.changed:${e.meta.unseen_count}`));
    const { workflow_run_id } = await engine.workflows.trigger("comment-created", {
      recipients: [{ id: "u1" }],
      actor: { id: "ada", name: "Ada" },
      data: { comment: "hi" },
    });
    await engine.idle();
    expect(writes).toEqual(["create:delivered:1"]);
    expect(events).toEqual(["created:delivered", "delivered:delivered", "feed.changed:1"]);
    const [message] = (await engine.users.listMessages("u1")).items;
    expect(message).toMatchObject({ status: "delivered", attempts: 1, last_error: null });
    const [run] = (await engine.workflowRecipientRuns.list({ workflow_run_id })).entries;
    const { events: runLog = [] } = await engine.workflowRecipientRuns.get(run?.id as string);
    const log = runLog.map((e) => `${e.event}:${e.step_ref ?? ""}`);
    expect(log).toEqual([
      "run_started:",
      "message_created:in_app_1",
      "message_delivered:in_app_1",
      "run_completed:",
    ]);
    await engine.close();
  });

  it("in sandbox mode, creates the message not_sent and delivers nothing", async () => {
    const engine = createEngine({
      workflows: [feedWorkflow()],
      channels: [{ key: "in-app", type: "in_app_feed" }],
    });
    const delivered: string[] = [];
    engine.on("message.delivered", (e) => delivered.push(e.message.id));
    await engine.workflows.trigger("comment-created", {
      recipients: [{ id: "u1" }],
      data: { comment: "hi" },
      settings: { sandbox_mode: true },
    });
    await engine.idle();
    const [message] = (await engine.users.listMessages("u1")).items;
    expect(message?.status).toBe("not_sent");
    expect(delivered).toEqual([]);
    await engine.close();
  });
});
