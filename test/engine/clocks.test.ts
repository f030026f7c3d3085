/**
 * The system clock and the test clock give the same results: each step type runs one scenario
 * twice, on a test engine whose virtual clock is advanced and on a real engine that waits the
 * same (short) real time, and both must send the same messages.
 */
import { describe, expect, it } from "vitest";
import {
  createEngine,
  type Engine,
  type EngineOptions,
  type Step,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

type Wait = (ms: number) => Promise<void>;
type Scenario = (engine: Engine, wait: Wait) => Promise<void>;

const email = (ref: string, subject: string, extra: Partial<Step> = {}): Step =>
  ({ ref, type: "channel", channel_key: "email", template: { subject }, ...extra }) as Step;
const seconds = (value: number) => ({ unit: "seconds" as const, value });
const user = (id: string) => ({ id, email: `${id}@example.com` });

function capturing(sent: string[]): EngineOptions["channels"] {
  return [
    {
      key: "email",
      type: "email",
      provider: { send: async (m) => void sent.push(`${m.recipient_ref}:${m.content.subject}`) },
    },
  ];
}

/** Runs `scenario` on virtual and on real time and returns what each sent, sorted. */
async function onBothClocks(
  workflows: WorkflowInput[] | (() => WorkflowInput[]),
  scenario: Scenario,
  settleMs: number,
  options: EngineOptions = {},
): Promise<{ virtual: string[]; real: string[] }> {
  // A function makes the workflows anew for each engine, when it starts (times relative to then).
  const make = typeof workflows === "function" ? workflows : () => workflows;
  const start = new Date();
  const virtualSent: string[] = [];
  const t = createTestEngine({
    ...options,
    workflows: make(),
    now: start,
    channels: capturing(virtualSent),
  });
  await scenario(t, (ms) => t.clock.advance(ms));
  await t.clock.advance(settleMs);
  await t.close();

  const realSent: string[] = [];
  const real = createEngine({ ...options, workflows: make(), channels: capturing(realSent) });
  const sleep: Wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  await scenario(real, async (ms) => {
    await sleep(ms);
    await real.idle();
  });
  // Real timers fire late on a loaded machine: wait until the virtual run's count is reached
  // (at most 10 s more), then a little longer to catch anything extra the real run would send.
  await sleep(settleMs);
  for (let waited = 0; realSent.length < virtualSent.length && waited < 10_000; waited += 50)
    await sleep(50);
  await sleep(150);
  await real.idle();
  await real.close();
  return { virtual: virtualSent.sort(), real: realSent.sort() };
}

describe.concurrent("the system clock and the test clock agree", () => {
  it("on delay", async () => {
    const workflow: WorkflowInput = {
      key: "delayed",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: seconds(1) } },
        email("email_1", "later"),
      ],
    };
    const result = await onBothClocks(
      [workflow],
      async (e) => {
        await e.workflows.trigger("delayed", { recipients: [user("a"), user("b")] });
      },
      1200,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:later", "b:later"]);
  });

  it("on batch", async () => {
    const workflow: WorkflowInput = {
      key: "digest",
      steps: [
        { ref: "batch", type: "batch", settings: { batch_window: seconds(1) } },
        email("email_1", "{{ total_activities }}"),
      ],
    };
    const result = await onBothClocks(
      [workflow],
      async (e) => {
        for (const id of ["a", "b", "a", "a"])
          await e.workflows.trigger("digest", { recipients: [user(id)] });
      },
      1200,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:3", "b:1"]);
  });

  it("on throttle", async () => {
    const workflow: WorkflowInput = {
      key: "throttled",
      steps: [
        {
          ref: "throttle",
          type: "throttle",
          settings: { throttle_window: seconds(1), throttle_limit: 1 },
        },
        email("email_1", "{{ data.n }}"),
      ],
    };
    const result = await onBothClocks(
      [workflow],
      async (e, wait) => {
        for (const n of [1, 2, 3]) {
          await e.workflows.trigger("throttled", { recipients: [user("a")], data: { n } });
          await wait(0);
        }
        // Well past the window (which opens when the first run executes, a little after its
        // trigger on a busy machine).
        await wait(2000);
        await e.workflows.trigger("throttled", { recipients: [user("a")], data: { n: 4 } });
      },
      100,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:1", "a:4"]);
  });

  it("on branch, update_data and trigger_workflow after a delay", async () => {
    const parent: WorkflowInput = {
      key: "parent",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: seconds(1) } },
        { ref: "mark", type: "update_data", settings: { data: { tier: "gold" } } },
        {
          ref: "route",
          type: "branch",
          branches: [
            {
              name: "gold",
              conditions: {
                all: [{ variable: "data.tier", operator: "equal_to", argument: "gold" }],
              },
              steps: [email("gold_email", "gold")],
            },
            { name: "default", conditions: null, steps: [email("plain_email", "plain")] },
          ],
        },
        { ref: "child", type: "trigger_workflow", settings: { workflow_key: "child" } },
      ],
    };
    const child: WorkflowInput = {
      key: "child",
      steps: [email("child_email", "child {{ data.tier }}")],
    };
    const result = await onBothClocks(
      [parent, child],
      async (e) => {
        await e.workflows.trigger("parent", { recipients: [user("a")] });
      },
      1200,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:child gold", "a:gold"]);
  });

  it("on an http_fetch step", async () => {
    const workflow: WorkflowInput = {
      key: "fetched",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: seconds(1) } },
        { ref: "fetch", type: "http_fetch", settings: { url: "https://api.example.com/p" } },
        email("email_1", "{{ data.plan }}"),
      ],
    };
    const fetchStub = (async () =>
      new Response(JSON.stringify({ plan: "pro" }), {
        headers: { "content-type": "application/json" },
      })) as typeof fetch;
    const result = await onBothClocks(
      [workflow],
      async (e) => {
        await e.workflows.trigger("fetched", { recipients: [user("a")] });
      },
      1200,
      { fetch: fetchStub },
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:pro"]);
  });

  it("on send windows", async () => {
    // A window that opens four to five seconds after each engine starts (UTC; from the next whole
    // second, as windows count in seconds), today and tomorrow (in case of midnight): each run
    // below triggers and looks again well within that margin, even on a busy machine.
    const windowed = (): WorkflowInput[] => {
      const opensAt = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);
      const from = opensAt.toISOString().slice(11, 19);
      const days = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
      ] as const;
      const today = days[opensAt.getUTCDay()]!;
      const tomorrow = days[(opensAt.getUTCDay() + 1) % 7]!;
      return [
        {
          key: "windowed",
          steps: [
            email("email_1", "in window", {
              send_windows: [
                { day: today, type: "send", from, until: "24:00" },
                ...(tomorrow === today ? [] : [{ day: tomorrow, type: "send" as const }]),
              ],
            } as Partial<Step>),
          ],
        },
      ];
    };
    const result = await onBothClocks(
      windowed,
      async (e, wait) => {
        await e.workflows.trigger("windowed", { recipients: [user("a")] });
        await wait(1000);
        // Not yet open a second later.
        expect((await e.messages.list()).items[0]?.status).toBe("queued");
      },
      4500,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["a:in window"]);
  });

  it("on cancellation of a parked run", async () => {
    const workflow: WorkflowInput = {
      key: "reminder",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: seconds(1) } },
        email("email_1", "reminder"),
      ],
    };
    const result = await onBothClocks(
      [workflow],
      async (e, wait) => {
        await e.workflows.trigger("reminder", {
          recipients: [user("a"), user("b")],
          cancellation_key: "order-1",
        });
        await wait(300);
        await e.workflows.cancel("reminder", { cancellation_key: "order-1", recipients: ["a"] });
      },
      1200,
    );
    expect(result.real).toEqual(result.virtual);
    expect(result.virtual).toEqual(["b:reminder"]);
  });
});
