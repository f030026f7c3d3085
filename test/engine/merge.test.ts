import { describe, expect, it } from "vitest";
import {
  CrierError,
  type FeedChangedEvent,
  InvalidParamsError,
  memoryStore,
  NotFoundError,
  type OutboundMessage,
  type Store,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";
import { emailWorkflow, feedWorkflow } from "./helpers.js";

/** Triggers the feed workflow for `user` (identified inline), a virtual minute on; returns the message's id. */
async function comment(t: TestEngine, user: string, text: string): Promise<string> {
  await t.clock.advance(60_000);
  await t.workflows.trigger("comment-created", {
    recipients: [{ id: user }],
    actor: { id: "carol", name: "Carol" },
    data: { comment: text },
  });
  await t.idle();
  const [latest] = (await t.users.listMessages(user, { page_size: 1 })).items;
  return latest?.id ?? "";
}

describe("users.merge", () => {
  it("fills what the primary lacks from the secondary, the primary winning, and deletes the secondary", async () => {
    const t = createTestEngine();
    await t.users.update("ada", {
      name: "Ada",
      email: null,
      created_at: null,
      address: { city: "London", geo: { lat: 51.5 } },
      preferences: { default: { categories: { news: false } } },
    });
    await t.users.setChannelData("ada", "push", { data: { tokens: ["ada-phone"] } });
    await t.users.update("invited-ada", {
      name: "Invited",
      email: "ada@example.com",
      phone_number: "+15550100",
      created_at: "2025-01-01T00:00:00.000Z",
      address: { city: "Paris", country: "UK", geo: { lat: 48.9, lng: -0.1 } },
      preferences: {
        default: { categories: { news: true, digest: false } },
        acme: { channel_types: { sms: false } },
      },
    });
    await t.users.setChannelData("invited-ada", "push", { data: { tokens: ["old-phone"] } });
    await t.users.setChannelData("invited-ada", "slack", { data: { connections: [] } });
    await t.objects.set("teams", "core", {});
    await t.objects.addSubscriptions("teams", "core", { recipients: ["invited-ada"] });

    const merged = await t.users.merge("ada", { from_user_id: "invited-ada" });

    expect(merged).toMatchObject({
      id: "ada",
      name: "Ada",
      // A key the primary holds, even as null, is a conflict: the primary's value stays.
      email: null,
      phone_number: "+15550100",
      address: { city: "London", country: "UK", geo: { lat: 51.5, lng: -0.1 } },
      created_at: "2025-01-01T00:00:00.000Z",
    });
    expect(await t.users.get("ada")).toEqual(merged);
    // Preference sets merge shallowly: the primary's own default is kept whole, acme is added.
    const sets = await t.users.listPreferences("ada");
    expect(sets.map((set) => set.id)).toEqual(["default", "acme"]);
    expect(sets[0]?.categories).toEqual({ news: false });
    expect(sets[1]?.channel_types).toEqual({ sms: false });
    // Channel data: added for the channels the primary has none for.
    expect((await t.users.getChannelData("ada", "push")).data).toEqual({ tokens: ["ada-phone"] });
    expect((await t.users.getChannelData("ada", "slack")).data).toEqual({ connections: [] });
    // The secondary is gone, and its subscriptions with it (Knock does not move them).
    await expect(t.users.get("invited-ada")).rejects.toBeInstanceOf(NotFoundError);
    expect((await t.objects.listSubscriptions("teams", "core")).entries).toEqual([]);
  });

  it("moves the secondary's messages, and with them its feed, to the primary", async () => {
    const t = createTestEngine({ workflows: [feedWorkflow()] });
    const older = await comment(t, "invited-ada", "first");
    const own = await comment(t, "ada", "second");
    const newer = await comment(t, "invited-ada", "third");
    await t.messages.markAsRead(older);
    const changes: FeedChangedEvent[] = [];
    t.on("feed.changed", (event) => changes.push(event));

    await t.users.merge("ada", { from_user_id: "invited-ada" });

    const feed = await t.users.feeds.listItems("ada", "in-app");
    // Newest first, in the order the messages were made, whoever they were made for.
    expect(feed.entries.map((item) => item.id)).toEqual([newer, own, older]);
    expect(feed.meta).toMatchObject({ total_count: 3, unread_count: 2, unseen_count: 3 });
    const moved = await t.messages.get(older);
    expect(moved).toMatchObject({ recipient: "ada", status: "delivered" });
    expect(moved.read_at).not.toBeNull();
    expect((await t.users.listMessages("ada")).items.map((m) => m.id)).toEqual([newer, own, older]);
    expect((await t.users.listMessages("invited-ada")).items).toEqual([]);
    expect((await t.users.feeds.listItems("invited-ada", "in-app")).meta.total_count).toBe(0);
    // One event for each user's feed: the primary's with its new counts, the secondary's empty.
    expect(
      changes.map((e) => [e.user_id, e.cause, [...e.message_ids].sort(), e.meta.total_count]),
    ).toEqual([
      ["invited-ada", "user.merged", [newer, older].sort(), 0],
      ["ada", "user.merged", [newer, older].sort(), 3],
    ]);
  });

  it("moves more messages than one page of the move holds", async () => {
    const many: WorkflowInput = {
      key: "many",
      steps: Array.from({ length: 60 }, (_, i) => ({
        ref: `in_app_${i}`,
        type: "channel" as const,
        channel_key: "in-app",
        channel_type: "in_app_feed" as const,
        template: { markdown_body: `note ${i}` },
      })),
    };
    const t = createTestEngine({ workflows: [many] });
    await t.users.update("ada", {});
    await t.workflows.trigger("many", { recipients: [{ id: "invited-ada" }] });
    await t.workflows.trigger("many", { recipients: [{ id: "invited-ada" }] });
    await t.idle();
    await t.users.merge("ada", { from_user_id: "invited-ada" });
    const feed = await t.users.feeds.listItems("ada", "in-app", { page_size: 1 });
    expect(feed.meta.total_count).toBe(120);
    expect((await t.users.listMessages("invited-ada")).items).toEqual([]);
    const recipients = new Set<unknown>();
    let after: string | null | undefined;
    do {
      const page = await t.messages.list({ page_size: 50, ...(after ? { after } : {}) });
      for (const message of page.items) recipients.add(message.recipient);
      after = page.page_info.after;
    } while (after);
    expect([...recipients]).toEqual(["ada"]);
  });

  it("rejects a merge it cannot make, changing nothing", async () => {
    const t = createTestEngine({ workflows: [feedWorkflow()] });
    await t.users.update("ada", { name: "Ada" });
    const message = await comment(t, "invited-ada", "hello");
    const before = await t.users.get("invited-ada");

    const missing = await t.users.merge("ada", { from_user_id: "nobody" }).catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ resource: "user", id: "nobody" });
    await expect(t.users.merge("nobody", { from_user_id: "invited-ada" })).rejects.toMatchObject({
      name: "NotFoundError",
      id: "nobody",
    });
    await expect(t.users.merge("ada", { from_user_id: "ada" })).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "from_user_id", type: "value" })],
    });
    await expect(t.users.merge("ada", {} as never)).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "from_user_id", type: "type" })],
    });
    await expect(t.users.merge("ada", "invited-ada" as never)).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
    await expect(
      t.users.merge("ada", { from_user_id: "invited-ada", form_user_id: "x" } as never),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ field: "form_user_id" })] });

    expect(await t.users.get("invited-ada")).toEqual(before);
    expect(await t.users.get("ada")).toMatchObject({ name: "Ada" });
    expect((await t.messages.get(message)).recipient).toBe("invited-ada");
  });

  it("sends the retry of a moved message to the primary", async () => {
    const sent: OutboundMessage[] = [];
    let failures = 1;
    const t = createTestEngine({
      workflows: [emailWorkflow()],
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async (message) => {
              if (failures-- > 0) throw new Error("mail server down");
              sent.push(message);
            },
          },
        },
      ],
    });
    await t.users.update("ada", { name: "Ada", email: "ada@example.com" });
    await t.workflows.trigger("welcome", {
      recipients: [{ id: "invited-ada", name: "Invited", email: "invited@example.com" }],
    });
    await t.idle();
    const [queued] = (await t.users.listMessages("invited-ada")).items;
    expect(queued).toMatchObject({ status: "queued", attempts: 1 });

    await t.users.merge("ada", { from_user_id: "invited-ada" });
    await t.clock.advance("1h");

    // Its content was rendered for the secondary; its address is now the primary's.
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      recipient_ref: "ada",
      recipient: { id: "ada", email: "ada@example.com" },
      content: { subject: "Hello Invited" },
    });
    expect(await t.messages.get(queued?.id ?? "")).toMatchObject({
      recipient: "ada",
      status: "sent",
      attempts: 2,
    });
  });

  it("finishes a merge that was cut short when it is called again", async () => {
    const base = memoryStore();
    let lostConnections = 1;
    const store: Store = {
      ...base,
      deleteRecipient(key) {
        if (lostConnections-- > 0) throw new Error("connection lost");
        return base.deleteRecipient(key);
      },
    };
    const t = createTestEngine({ workflows: [feedWorkflow()], store });
    await t.users.update("ada", { name: "Ada", created_at: "2024-05-01T00:00:00.000Z" });
    const message = await comment(t, "invited-ada", "hello");
    await t.users.update("invited-ada", { plan: "pro", created_at: "2025-01-01T00:00:00.000Z" });

    await expect(t.users.merge("ada", { from_user_id: "invited-ada" })).rejects.toThrow(
      "connection lost",
    );
    // Everything but the deletion was done: the secondary is still there.
    expect((await t.users.get("invited-ada")).id).toBe("invited-ada");
    expect((await t.messages.get(message)).recipient).toBe("ada");

    const merged = await t.users.merge("ada", { from_user_id: "invited-ada" });
    expect(merged).toMatchObject({
      id: "ada",
      name: "Ada",
      plan: "pro",
      created_at: "2024-05-01T00:00:00.000Z",
    });
    await expect(t.users.get("invited-ada")).rejects.toBeInstanceOf(NotFoundError);
    expect((await t.users.feeds.listItems("ada", "in-app")).entries.map((i) => i.id)).toEqual([
      message,
    ]);
  });

  it("stops with an adapter error when the store does not move messages, instead of looping", async () => {
    const base = memoryStore();
    const store: Store = {
      ...base,
      // A store that drops the recipient from the patch: the message never leaves the secondary.
      updateMessage(id, { recipient: _ignored, ...patch }) {
        return base.updateMessage(id, patch);
      },
    };
    const t = createTestEngine({ workflows: [feedWorkflow()], store });
    await t.users.update("ada", {});
    const message = await comment(t, "invited-ada", "hello");
    const error = await t.users.merge("ada", { from_user_id: "invited-ada" }).catch((e) => e);
    expect(error).toBeInstanceOf(CrierError);
    expect(error).toMatchObject({ code: "adapter_error" });
    expect(error.message).toContain(`still lists it as a message of user "invited-ada"`);
    // The secondary is deleted last: it is still there for a merge once the store is fixed.
    expect((await t.users.get("invited-ada")).id).toBe("invited-ada");
    expect((await t.messages.get(message)).recipient).toBe("invited-ada");
  });
});
