import { describe, expect, it } from "vitest";
import type { Message, RunEvent, WorkflowRecipientRun } from "../../src/index.js";
import {
  freezeCopy,
  freezeMessage,
  freezeRecipientRun,
  freezeRunEvent,
  patchMessage,
  patchRecipientRun,
} from "../../src/store/frozen.js";

/** Every object and array reachable from `value` is frozen. */
function deeplyFrozen(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every(deeplyFrozen);
}

/** A message with exactly the fields the engine gives, in its order. */
function engineMessage(): Message {
  return {
    __typename: "Message",
    id: "m1",
    channel_id: "email",
    channel_type: "email",
    recipient: { id: "acme", collection: "accounts" },
    actors: ["ada"],
    workflow: "welcome",
    tenant: null,
    source: {
      __typename: "NotificationSource",
      key: "welcome",
      version_id: "1",
      categories: ["updates"],
      step_ref: "email_1",
      workflow_run_id: "wr-1",
      workflow_recipient_run_id: "rr-1",
    },
    status: "queued",
    engagement_statuses: [],
    seen_at: null,
    read_at: null,
    interacted_at: null,
    link_clicked_at: null,
    archived_at: null,
    data: { nested: { list: [1, { deep: true }] } },
    content: { subject: "Hi" },
    metadata: null,
    attempts: 0,
    provider_message_id: null,
    last_error: null,
    inserted_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

/** A recipient run with exactly the fields the engine's fan-out gives, in its order. */
function engineRun(): WorkflowRecipientRun {
  return {
    __typename: "WorkflowRecipientRun",
    id: "rr-1",
    workflow_run_id: "wr-1",
    workflow: "welcome",
    workflow_version: 1,
    status: "queued",
    recipient: "u1",
    actor: { id: "ada", collection: "users" },
    tenant: null,
    data: { extra: [1, 2] },
    subscription: { role: "owner", object: { id: "acme", collection: "accounts" } },
    trigger_source: { type: "api" },
    cursor: 0,
    version: 0,
    error_count: 0,
    inserted_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

function engineEvent(reason?: string): RunEvent {
  const event: RunEvent = {
    event: "step_skipped",
    status: "ok",
    step_ref: "email_1",
    step_type: "channel",
    attempt: 1,
    data: { failed: [{ variable: "x" }] },
    inserted_at: "2026-01-01T00:00:00.000Z",
  };
  if (reason !== undefined) event.reason = reason;
  return event;
}

/** Asserts `copy` is a deep, deeply frozen copy of `input` with its keys in the same order. */
function expectFrozenCopy(copy: unknown, input: unknown, shared: readonly unknown[] = []): void {
  expect(copy).toEqual(input);
  expect(deeplyFrozen(copy)).toBe(true);
  expect(JSON.stringify(copy)).toBe(JSON.stringify(input));
  // No object of the input is reachable from the copy, but for those handed over as shared.
  const inputObjects = new Set<unknown>();
  const collect = (value: unknown) => {
    if (typeof value !== "object" || value === null || shared.includes(value)) return;
    inputObjects.add(value);
    Object.values(value).forEach(collect);
  };
  collect(input);
  const check = (value: unknown) => {
    if (typeof value !== "object" || value === null) return;
    expect(inputObjects.has(value)).toBe(false);
    Object.values(value).forEach(check);
  };
  check(copy);
}

describe("the memory store's record copies", () => {
  it("copy an engine-shaped message deeply and freeze it, sharing only the data handed over", () => {
    const input = engineMessage();
    expectFrozenCopy(freezeMessage(input, new WeakSet()), input);
    // The store hands over only what it froze itself (its workflow run's data).
    input.data = freezeCopy(input.data);
    const shared = new WeakSet<object>([input.data as object]);
    const copy = freezeMessage(input, shared);
    expect(copy.data).toBe(input.data);
    expectFrozenCopy(copy, input, [input.data]);
  });

  it("copy an engine-shaped recipient run, sharing only its handed-over data and trigger source", () => {
    const input = engineRun();
    expectFrozenCopy(freezeRecipientRun(input, new WeakSet()), input);
    input.trigger_source = freezeCopy(input.trigger_source);
    const shared = new WeakSet<object>([input.trigger_source]);
    const copy = freezeRecipientRun(input, shared);
    expect(copy.trigger_source).toBe(input.trigger_source);
    expect(copy.data).not.toBe(input.data);
  });

  it("copy run-log entries with and without a reason", () => {
    for (const input of [engineEvent(), engineEvent("conditions")])
      expectFrozenCopy(freezeRunEvent(input), input);
  });

  it("give other shapes the generic copy: extra or missing keys, other orders, undefined values", () => {
    const { id, ...rest } = engineMessage();
    const reordered = { ...rest, id } as Message;
    const extra = { ...engineMessage(), custom: { a: 1 } } as Message;
    const withUndefined = { ...engineMessage(), metadata: undefined } as unknown as Message;
    for (const input of [reordered, extra, withUndefined]) {
      const copy = freezeMessage(input, new WeakSet());
      expect(Object.keys(copy)).toEqual(Object.keys(freezeCopy(input)));
      expect(copy).toEqual(freezeCopy(input));
      expect(deeplyFrozen(copy)).toBe(true);
    }
    expect("metadata" in freezeMessage(withUndefined, new WeakSet())).toBe(false);
    const runWithEvents = { ...engineRun(), events: [engineEvent()] };
    expect("events" in freezeRecipientRun(runWithEvents, new WeakSet())).toBe(false);
    const eventWithUndefinedReason = { ...engineEvent(), reason: undefined } as unknown as RunEvent;
    expect("reason" in freezeRunEvent(eventWithUndefinedReason)).toBe(false);
  });

  it("keep a record that is frozen all through as it is, and copy one with anything unfrozen in it", () => {
    const deepFreeze = <T>(value: T): T => {
      if (typeof value === "object" && value !== null) {
        Object.values(value).forEach(deepFreeze);
        Object.freeze(value);
      }
      return value;
    };
    const frozenMessage = deepFreeze(engineMessage());
    expect(freezeMessage(frozenMessage, new WeakSet())).toBe(frozenMessage);
    const frozenRun = deepFreeze(engineRun());
    expect(freezeRecipientRun(frozenRun, new WeakSet())).toBe(frozenRun);
    for (const event of [deepFreeze(engineEvent()), deepFreeze(engineEvent("conditions"))])
      expect(freezeRunEvent(event)).toBe(event);
    expect(freezeCopy(frozenMessage)).toBe(frozenMessage);

    // Frozen on the outside, but something inside can still change: copied, so nothing reaches it.
    const partly = (): { message: Message; content: Record<string, unknown> } => {
      const message = engineMessage();
      const content = { subject: "Hi", nested: { changeable: true } };
      message.content = content;
      Object.freeze(message.source);
      Object.freeze(message);
      return { message, content };
    };
    const { message, content } = partly();
    const kept = freezeMessage(message, new WeakSet());
    expect(kept).not.toBe(message);
    expectFrozenCopy(kept, message);
    (content.nested as { changeable: boolean }).changeable = false;
    expect(kept.content).toEqual({ subject: "Hi", nested: { changeable: true } });

    const run = engineRun();
    Object.freeze(run);
    expectFrozenCopy(freezeRecipientRun(run, new WeakSet()), run);
    const event = engineEvent();
    Object.freeze(event);
    expect(freezeRunEvent(event)).not.toBe(event);
    // A frozen object with an undefined value is copied, which drops the key as JSON would.
    const withUndefined = Object.freeze({ a: 1, b: undefined });
    expect(Object.keys(freezeCopy(withUndefined))).toEqual(["a"]);
  });

  it("patch a stored record as a spread of its defined values would, whatever the path", () => {
    const storedMessage = freezeMessage(engineMessage(), new WeakSet());
    const messagePatches: Array<Partial<Message>> = [
      { status: "sent", attempts: 1, updated_at: "2026-01-02T00:00:00.000Z" },
      { engagement_statuses: ["seen"], seen_at: "x", last_error: undefined },
      { id: "ignored", __typename: "ignored" as "Message", content: { body: [1] } },
      { custom: true } as Partial<Message>,
    ];
    for (const patch of messagePatches) {
      const next = patchMessage(storedMessage, patch);
      const defined = Object.fromEntries(
        Object.entries(patch).filter(
          ([k, v]) => v !== undefined && k !== "id" && k !== "__typename",
        ),
      );
      expect(next).toEqual({ ...storedMessage, ...defined });
      expect(deeplyFrozen(next)).toBe(true);
      if ("content" in patch) expect(next.content).not.toBe(patch.content);
    }
    const storedRun = freezeRecipientRun(engineRun(), new WeakSet());
    const runPatches: Array<Partial<WorkflowRecipientRun>> = [
      { status: "processing", updated_at: "2026-01-02T00:00:00.000Z" },
      { status: "completed", cursor: -1, data: { changed: [1] }, version: 99, id: "ignored" },
      { wake: { cursor: 1, at: "x", job_suffix: null }, batch_id: "b1" },
    ];
    for (const patch of runPatches) {
      const next = patchRecipientRun(storedRun, patch, 5);
      const defined = Object.fromEntries(
        Object.entries(patch).filter(([k, v]) => v !== undefined && k !== "id" && k !== "version"),
      );
      expect(next).toEqual({ ...storedRun, ...defined, version: 5 });
      expect(deeplyFrozen(next)).toBe(true);
    }
  });
});
