/**
 * A run's times after an await that takes real time: a slow provider or a slow HTTP fetch. The
 * clock here is the system clock plus an offset that the provider or fetch moves forward, as the
 * real time an answer takes would.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Clock, createEngine, type Engine, systemClock } from "../../src/index.js";

const SLOW_MS = 5_000;
let offset = 0;
const clock: Clock = {
  now: () => new Date(systemClock.now().getTime() + offset),
  setTimeout: (callback, ms) => systemClock.setTimeout(callback, ms),
  clearTimeout: (handle) => systemClock.clearTimeout(handle),
};
let engine: Engine | undefined;

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  offset = 0;
});

describe("a run's times after a slow answer", () => {
  it("stamps what follows a provider's answer with the time it came", async () => {
    engine = createEngine({
      clock,
      workflows: [
        {
          key: "slow",
          steps: [
            { ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } },
            {
              ref: "in_app_1",
              type: "channel",
              channel_key: "in-app",
              template: { markdown_body: "Hi" },
            },
          ],
        },
      ],
      channels: [
        {
          key: "email",
          type: "email",
          provider: {
            send: async () => {
              offset += SLOW_MS;
            },
          },
        },
        { key: "in-app", type: "in_app_feed" },
      ],
    });
    const started = clock.now().getTime();
    await engine.workflows.trigger("slow", { recipients: [{ id: "u1", email: "u1@example.com" }] });
    await engine.idle();
    const [listed] = (await engine.workflowRecipientRuns.list()).entries;
    const run = await engine.workflowRecipientRuns.get(listed?.id ?? "");
    const at = (event: string) =>
      Date.parse(run.events?.find((e) => e.event === event)?.inserted_at ?? "");
    expect(at("run_started")).toBeLessThan(started + SLOW_MS);
    expect(at("message_sent")).toBeGreaterThanOrEqual(started + SLOW_MS);
    // The in-app step ran after the answer, and so did the run's end: neither goes back in time.
    const inApp = (await engine.users.listMessages("u1")).items.find(
      (m) => m.channel_id === "in-app",
    );
    expect(Date.parse(inApp?.inserted_at ?? "")).toBeGreaterThanOrEqual(at("message_sent"));
    expect(at("run_completed")).toBeGreaterThanOrEqual(at("message_sent"));
    expect(Date.parse(run.updated_at)).toBeGreaterThanOrEqual(at("message_sent"));
    // The log is in time order.
    const times = (run.events ?? []).map((e) => Date.parse(e.inserted_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("counts a fetch's retry delay from when the attempt failed, not from when the job started", async () => {
    const fetchStub: typeof fetch = async () => {
      offset += SLOW_MS;
      return new Response("unavailable", { status: 503, statusText: "Service Unavailable" });
    };
    engine = createEngine({
      clock,
      fetch: fetchStub,
      workflows: [
        {
          key: "fetching",
          steps: [{ ref: "fetch", type: "http_fetch", settings: { url: "https://x.example/" } }],
        },
      ],
    });
    const started = clock.now().getTime();
    await engine.workflows.trigger("fetching", { recipients: [{ id: "u1" }] });
    await engine.idle();
    const [listed] = (await engine.workflowRecipientRuns.list()).entries;
    const run = await engine.workflowRecipientRuns.get(listed?.id ?? "");
    const retrying = run.events?.find((e) => e.event === "fetch_retrying");
    expect(Date.parse(retrying?.inserted_at ?? "")).toBeGreaterThanOrEqual(started + SLOW_MS);
    // Knock's first retry comes 30 s after the failed attempt.
    expect(
      Date.parse(String(retrying?.data.retry_at)) - Date.parse(retrying?.inserted_at ?? ""),
    ).toBe(30_000);
  });
});
