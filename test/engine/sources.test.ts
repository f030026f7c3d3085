import { describe, expect, it } from "vitest";
import {
  CrierError,
  IdempotencyConflictError,
  InvalidParamsError,
  memoryStore,
  NotFoundError,
  type SourceSkippedEvent,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const orderPlaced: WorkflowInput = {
  key: "order-placed",
  steps: [
    { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      template: { subject: "Order {{ data.order_id }} from {{ actor.id }} ({{ tenant.id }})" },
    },
  ],
};

/** A Segment-style `track` call. */
const track = (event: string, properties: Record<string, unknown>, extra = {}) => ({
  type: "track",
  event,
  userId: "u1",
  properties,
  context: { groupId: "acme" },
  ...extra,
});

async function engine() {
  const t = createTestEngine({ workflows: [orderPlaced] });
  const skipped: SourceSkippedEvent[] = [];
  t.on("source.skipped", (e) => skipped.push(e));
  await t.users.update("u1", { email: "u1@example.com" });
  await t.sources.set("segment", {
    events: {
      "Order Placed": {
        workflow: "order-placed",
        recipients: "userId",
        actor: "properties.seller_id",
        data: "properties",
        tenant: "context.groupId",
        cancellation_key: "properties.order_id",
      },
      "Order Shipped": {
        action: "cancel",
        workflow: "order-placed",
        cancellation_key: "properties.order_id",
      },
    },
  });
  return { t, skipped };
}

describe("sources.receive", () => {
  it("maps an event to a trigger, each field read at its dot path", async () => {
    const { t } = await engine();
    const result = await t.sources.receive(
      "segment",
      track("Order Placed", { order_id: "o-1", seller_id: "s-9", total: 30 }),
    );
    expect(result.skipped).toEqual([]);
    expect(result.triggered).toEqual([
      { event: "Order Placed", workflow: "order-placed", workflow_run_id: expect.any(String) },
    ]);
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["Order o-1 from s-9 (acme)"]);
    const [run] = (await t.workflowRecipientRuns.list()).entries;
    expect(run?.trigger_source).toEqual({
      type: "integration",
      source_key: "segment",
      source_event: "Order Placed",
      cancellation_key: "o-1",
    });
    expect(run?.tenant).toBe("acme");
  });

  it("cancels by a mapped cancellation key", async () => {
    const { t } = await engine();
    await t.sources.receive("segment", track("Order Placed", { order_id: "o-1" }));
    await t.sources.receive("segment", track("Order Placed", { order_id: "o-2" }));
    const result = await t.sources.receive("segment", track("Order Shipped", { order_id: "o-1" }));
    expect(result).toEqual({
      triggered: [],
      skipped: [],
      cancelled: [{ event: "Order Shipped", workflow: "order-placed", cancellation_key: "o-1" }],
    });
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["Order o-2 from  (acme)"]);
  });

  it("reads a list of recipients, and runs a list of actions in order", async () => {
    const { t } = await engine();
    await t.sources.set("app", {
      event_path: "name",
      events: {
        "team.mentioned": [
          { workflow: "order-placed", recipients: "payload.members" },
          { workflow: "order-placed", recipients: "payload.owner" },
        ],
      },
    });
    const result = await t.sources.receive("app", {
      name: "team.mentioned",
      payload: { members: ["u1", { id: "u2", email: "u2@example.com" }], owner: 42 },
    });
    expect(result.triggered).toHaveLength(2);
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.recipient_ref).sort()).toEqual(["u1", "u2"]);
    // 42 became the user id "42", who was never identified: its run says so.
    const runs = (await t.workflowRecipientRuns.list({ recipient: "42" })).entries;
    expect(runs).toHaveLength(1);
  });

  it("does nothing for an unmapped event, and throws nothing", async () => {
    const { t, skipped } = await engine();
    expect(await t.sources.receive("segment", track("Page Viewed", {}))).toEqual({
      triggered: [],
      skipped: [],
      cancelled: [],
    });
    expect(await t.sources.receive("segment", { no_event: true })).toEqual({
      triggered: [],
      skipped: [],
      cancelled: [],
    });
    // An event named like an Object.prototype key is just unmapped.
    expect((await t.sources.receive("segment", { event: "constructor" })).triggered).toEqual([]);
    expect(skipped).toEqual([]);
  });

  it("skips an action whose required field is missing, saying why, in the result and as an event", async () => {
    const { t, skipped } = await engine();
    const result = await t.sources.receive("segment", {
      event: "Order Placed",
      properties: { order_id: "o-1" },
    });
    const reason = 'missing required field "recipients": nothing at "userId" in the payload';
    expect(result).toEqual({
      triggered: [],
      cancelled: [],
      skipped: [{ event: "Order Placed", workflow: "order-placed", action: "trigger", reason }],
    });
    expect(skipped).toEqual([
      {
        source: "segment",
        event: "Order Placed",
        workflow: "order-placed",
        action: "trigger",
        reason,
      },
    ]);
    const cancel = await t.sources.receive("segment", track("Order Shipped", {}));
    expect(cancel.skipped[0]?.reason).toMatch(/cancellation_key.*properties\.order_id/);
    expect((await t.workflowRecipientRuns.list()).entries).toEqual([]);
  });

  it("skips, without throwing, a trigger the engine refuses", async () => {
    const { t } = await engine();
    await t.sources.set("app", {
      events: {
        ghost: { workflow: "does-not-exist", recipients: "user" },
        bad: { workflow: "order-placed", recipients: "user", data: "data" },
      },
    });
    const ghost = await t.sources.receive("app", { event: "ghost", user: "u1" });
    expect(ghost.skipped[0]?.reason).toMatch(/does-not-exist/);
    const bad = await t.sources.receive("app", { event: "bad", user: "u1", data: "text" });
    expect(bad.skipped[0]?.reason).toBe(
      'expected an object at "data" for data, found the string "text"',
    );
    await t.workflows.setActive("order-placed", false);
    const inactive = await t.sources.receive("segment", track("Order Placed", { order_id: "o" }));
    expect(inactive.skipped[0]?.reason).toMatch(/inactive/);
  });

  it("replays a call with the same idempotency key without running anything again", async () => {
    const { t } = await engine();
    const payload = track("Order Placed", { order_id: "o-1" });
    const first = await t.sources.receive("segment", payload, { idempotencyKey: "evt-1" });
    const again = await t.sources.receive("segment", payload, { idempotencyKey: "evt-1" });
    expect(again).toEqual(first);
    await t.idle();
    expect((await t.workflowRecipientRuns.list()).entries).toHaveLength(1);
    await expect(
      t.sources.receive("segment", track("Order Placed", { order_id: "o-2" }), {
        idempotencyKey: "evt-1",
      }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    // A replayed cancel cancels nothing new.
    const shipped = track("Order Shipped", { order_id: "o-1" });
    await t.sources.receive("segment", shipped, { idempotencyKey: "evt-2" });
    await t.sources.receive("segment", payload, { idempotencyKey: "evt-3" });
    await t.sources.receive("segment", shipped, { idempotencyKey: "evt-2" });
    await t.clock.advance("1h");
    expect(t.outbox).toHaveLength(1);
  });

  it("replays the first call's result as it was, even when the engine would now answer otherwise", async () => {
    const { t, skipped } = await engine();
    await t.workflows.setActive("order-placed", false);
    const payload = track("Order Placed", { order_id: "o-1" });
    const first = await t.sources.receive("segment", payload, { idempotencyKey: "evt-9" });
    expect(first.skipped).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    await t.workflows.setActive("order-placed", true);
    // Within 24 hours the same call answers what it answered, runs nothing, and emits nothing.
    expect(await t.sources.receive("segment", payload, { idempotencyKey: "evt-9" })).toEqual(first);
    expect(skipped).toHaveLength(1);
    await t.idle();
    expect((await t.workflowRecipientRuns.list()).entries).toEqual([]);
    // After 24 hours the key is free again.
    await t.clock.advance("25h");
    const later = await t.sources.receive("segment", payload, { idempotencyKey: "evt-9" });
    expect(later.triggered).toHaveLength(1);
  });

  it("forgets a call that failed in the store, so a retry runs it", async () => {
    const store = memoryStore();
    let failing = true;
    const flaky = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name === "createWorkflowRun" && typeof value === "function")
          return (...args: unknown[]) => {
            if (failing) throw new CrierError("adapter_error", "[crier] [store:test] down");
            return value.apply(target, args);
          };
        return value;
      },
    });
    const t = createTestEngine({ workflows: [orderPlaced], store: flaky });
    await t.users.update("u1", { email: "u1@example.com" });
    await t.sources.set("segment", {
      events: { "Order Placed": { workflow: "order-placed", recipients: "userId" } },
    });
    const payload = track("Order Placed", { order_id: "o-1" });
    await expect(
      t.sources.receive("segment", payload, { idempotencyKey: "evt-7" }),
    ).rejects.toMatchObject({ code: "adapter_error" });
    failing = false;
    const retried = await t.sources.receive("segment", payload, { idempotencyKey: "evt-7" });
    expect(retried.triggered).toHaveLength(1);
  });

  it("rejects an unknown source or a payload that is not an object", async () => {
    const { t } = await engine();
    await expect(t.sources.receive("nope", { event: "x" })).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.sources.receive("segment", "text" as never)).rejects.toBeInstanceOf(
      InvalidParamsError,
    );
  });
});

describe("sources.set", () => {
  it("returns the stored source and reads it back", async () => {
    const { t } = await engine();
    const source = await t.sources.get("segment");
    expect(source).toMatchObject({ __typename: "Source", key: "segment", event_path: "event" });
    expect(Object.keys(source.events)).toEqual(["Order Placed", "Order Shipped"]);
    await expect(t.sources.get("other")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("rejects a bad definition naming every problem, keeping the old one", async () => {
    const { t } = await engine();
    const error = await t.sources
      .set("segment", {
        events: {
          a: { workflow: "", recipients: "userId" },
          b: { workflow: "w", recipient: "userId" },
          c: { action: "cancel", workflow: "w" },
          d: { action: "notify", workflow: "w" },
          e: [],
        },
      } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).errors.map((i) => i.field)).toEqual([
      'events["a"].workflow',
      'events["b"].recipient',
      'events["b"].recipients',
      'events["c"].cancellation_key',
      'events["d"].action',
      'events["e"]',
    ]);
    expect(Object.keys((await t.sources.get("segment")).events)).toEqual([
      "Order Placed",
      "Order Shipped",
    ]);
  });
});
