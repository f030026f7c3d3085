import { describe, expect, it } from "vitest";
import {
  createEngine,
  InvalidParamsError,
  type PreferenceSetInput,
  type StepSkippedEvent,
  type WorkflowInput,
} from "../../src/index.js";
import { createTestEngine, type TestEngine } from "../../src/testing/index.js";

const digest: WorkflowInput = {
  key: "digest",
  categories: ["marketing"],
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "postmark",
      channel_type: "email",
      template: { subject: "news" },
    },
    {
      ref: "feed_1",
      type: "channel",
      channel_key: "feed",
      channel_type: "in_app_feed",
      template: { markdown_body: "news" },
    },
  ],
};

function engineWith(options: Parameters<typeof createTestEngine>[0] = {}) {
  const t = createTestEngine({ workflows: [digest], ...options });
  const skipped: StepSkippedEvent[] = [];
  t.on("step.skipped", (e) => skipped.push(e));
  const sentTo = (id: string) =>
    t.outbox.filter((m) => m.recipient_ref === id).map((m) => m.step_ref);
  return { t, skipped, sentTo };
}

describe("preferences in runs", () => {
  it("skips a blocked channel step with reason preferences and says which set blocked it", async () => {
    const { t, skipped, sentTo } = engineWith();
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.setPreferences("u1", "default", { channel_types: { email: false } });
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.idle();
    expect(sentTo("u1")).toEqual(["feed_1"]);
    expect(skipped).toMatchObject([
      {
        step_ref: "email_1",
        reason: "preferences",
        detail: "channel_types.email = false in set default",
      },
    ]);
  });

  it("merges inline preferences on identify, while setPreferences replaces", async () => {
    const { t } = engineWith();
    await t.workflows.trigger("digest", {
      recipients: [
        {
          id: "u1",
          email: "u1@example.com",
          preferences: { default: { categories: { marketing: false } } },
        },
      ],
    });
    await t.workflows.trigger("digest", {
      recipients: [{ id: "u1", preferences: { default: { channel_types: { sms: false } } } }],
    });
    await t.idle();
    expect(await t.users.getPreferences("u1")).toMatchObject({
      id: "default",
      categories: { marketing: false },
      channel_types: { sms: false },
    });
    await t.users.setPreferences("u1", "default", { workflows: { digest: true } });
    expect(await t.users.getPreferences("u1", "default")).toEqual({
      __typename: "PreferenceSet",
      id: "default",
      workflows: { digest: true },
      categories: null,
      channel_types: null,
      channels: null,
    });
    await t.users.setPreferences("u1", "default", {
      channels: { feed: false },
      __persistence_strategy__: "merge",
    });
    expect(await t.users.getPreferences("u1")).toMatchObject({
      workflows: { digest: true },
      channels: { feed: false },
    });
  });

  it("applies the environment default under the recipient's set", async () => {
    const { t, sentTo } = engineWith({ defaultPreferences: { categories: { marketing: false } } });
    await t.users.update("opted-in", {
      email: "a@example.com",
      preferences: { default: { categories: { marketing: true } } },
    });
    await t.users.update("silent", { email: "b@example.com" });
    await t.workflows.trigger("digest", { recipients: ["opted-in", "silent"] });
    await t.idle();
    expect(sentTo("opted-in")).toEqual(["email_1", "feed_1"]);
    expect(sentTo("silent")).toEqual([]);
    expect(await t.users.getPreferences("silent")).toMatchObject({
      categories: { marketing: false },
    });
  });

  it("uses the tenant chain: environment < tenant default < the recipient's tenant set", async () => {
    const { t, skipped, sentTo } = engineWith({
      defaultPreferences: { channel_types: { in_app_feed: false } },
    });
    await t.tenants.set("acme", {
      name: "Acme",
      settings: { preference_set: { channel_types: { email: false, in_app_feed: true } } },
    });
    await t.users.update("u1", {
      email: "u1@example.com",
      preferences: { default: { channel_types: { email: true } } },
    });
    await t.users.update("u2", {
      email: "u2@example.com",
      preferences: { acme: { channel_types: { email: true } } },
    });
    await t.workflows.trigger("digest", { recipients: ["u1", "u2"], tenant: "acme" });
    await t.idle();
    // u1's default set does not apply under a tenant with tenant preferences; the tenant's default does.
    expect(sentTo("u1")).toEqual(["feed_1"]);
    expect(sentTo("u2")).toEqual(["email_1", "feed_1"]);
    expect(skipped[0]?.detail).toBe(
      "channel_types.email = false in tenant acme's default preference_set",
    );
    expect(await t.users.getPreferences("u2", "default", { tenant: "acme" })).toMatchObject({
      id: "acme",
      channel_types: { email: true, in_app_feed: true },
    });
    // Without tenant preferences anywhere, a tenant trigger uses the standard chain.
    await t.workflows.trigger("digest", { recipients: ["u1"], tenant: "globex" });
    await t.idle();
    expect(sentTo("u1")).toEqual(["feed_1", "email_1"]);
  });

  it("merges a tenant's preference_set unless told to replace it", async () => {
    const { t } = engineWith();
    await t.tenants.set("acme", {
      settings: { preference_set: { categories: { marketing: false } } },
    });
    await t.tenants.set("acme", {
      settings: { preference_set: { channel_types: { sms: false } } },
    });
    expect((await t.tenants.get("acme")).settings?.preference_set).toEqual({
      categories: { marketing: false },
      channel_types: { sms: false },
    });
    await t.tenants.set("acme", {
      settings: {
        preference_set: { workflows: { digest: false }, __persistence_strategy__: "replace" },
      },
    });
    expect((await t.tenants.get("acme")).settings?.preference_set).toEqual({
      workflows: { digest: false },
    });
  });

  it("override_preferences sends regardless, is_commercial respects commercial_subscribed", async () => {
    const { t, sentTo } = engineWith();
    await t.workflows.upsert({
      ...digest,
      key: "password-reset",
      categories: [],
      settings: { override_preferences: true },
    });
    await t.workflows.upsert({
      ...digest,
      key: "promo",
      categories: [],
      settings: { is_commercial: true },
    });
    await t.users.update("u1", {
      email: "u1@example.com",
      preferences: {
        default: {
          channel_types: { email: false, in_app_feed: false },
          commercial_subscribed: false,
        },
      },
    });
    await t.workflows.trigger("password-reset", { recipients: ["u1"] });
    await t.workflows.trigger("promo", { recipients: ["u1"] });
    await t.idle();
    expect(t.outbox.map((m) => `${m.workflow}:${m.step_ref}`)).toEqual([
      "password-reset:email_1",
      "password-reset:feed_1",
    ]);
    expect(sentTo("u1")).toHaveLength(2);
  });

  it("evaluates preference conditions and exposes the merged set as recipient.preferences", async () => {
    const { t, sentTo } = engineWith();
    await t.workflows.upsert({
      key: "mentions",
      steps: [
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          channel_type: "email",
          template: {
            subject: "{{ recipient.preferences.workflows.mentions.conditions[0].argument }}",
          },
        },
      ],
    });
    const muted = {
      workflows: {
        mentions: {
          conditions: [
            { variable: "data.project", operator: "not_equal_to" as const, argument: "noisy" },
          ],
        },
      },
    };
    await t.users.update("u1", { email: "u1@example.com", preferences: { default: muted } });
    await t.workflows.trigger("mentions", { recipients: ["u1"], data: { project: "noisy" } });
    await t.workflows.trigger("mentions", { recipients: ["u1"], data: { project: "quiet" } });
    await t.idle();
    expect(sentTo("u1")).toEqual(["email_1"]);
    expect(t.outbox[0]?.content.subject).toBe("noisy");
  });

  it("after a batch, evaluates preference conditions against the first activity only", async () => {
    const { t, sentTo } = engineWith();
    await t.workflows.upsert({
      key: "batched",
      steps: [
        {
          ref: "batch",
          type: "batch",
          settings: { batch_window: { unit: "minutes", value: 5 } },
        },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          channel_type: "email",
          template: { subject: "{{ total_activities }} in {{ data.kind }}" },
        },
      ],
    });
    const onlyFirst = {
      workflows: {
        batched: {
          conditions: [{ variable: "data.kind", operator: "equal_to" as const, argument: "first" }],
        },
      },
    };
    await t.users.update("u1", { email: "u1@example.com", preferences: { default: onlyFirst } });
    for (const kind of ["first", "second"]) {
      await t.workflows.trigger("batched", { recipients: ["u1"], data: { kind } });
      await t.idle();
    }
    await t.clock.advance("5m");
    // The merged data says "second" (templates see it); the condition sees the first activity.
    expect(sentTo("u1")).toEqual(["email_1"]);
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["2 in second"]);

    // Showing only the last activity (batch_order desc) changes nothing: the batch's first counts.
    await t.workflows.upsert({
      key: "batched",
      steps: [
        {
          ref: "batch",
          type: "batch",
          settings: {
            batch_window: { unit: "minutes", value: 5 },
            batch_order: "desc",
            batch_items_render_limit: 2,
          },
        },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          channel_type: "email",
          template: { subject: "{{ total_activities }} in {{ data.kind }}" },
        },
      ],
    });
    for (const kind of ["first", "second", "third"]) {
      await t.workflows.trigger("batched", { recipients: ["u1"], data: { kind } });
      await t.idle();
    }
    await t.clock.advance("5m");
    expect(t.outbox.map((m) => m.content.subject)).toEqual(["2 in second", "3 in third"]);
  });

  it("objects have preference sets too", async () => {
    const { t, sentTo } = engineWith();
    await t.objects.set("teams", "core", { email: "core@example.com" });
    await t.objects.setPreferences("teams", "core", "default", {
      categories: { marketing: false },
    });
    expect(await t.objects.getPreferences("teams", "core")).toMatchObject({
      categories: { marketing: false },
    });
    await t.workflows.trigger("digest", { recipients: [{ id: "core", collection: "teams" }] });
    await t.idle();
    expect(sentTo("core")).toEqual([]);
  });

  it("reads preferences again when a run resumes: after a delay, the current ones apply", async () => {
    const { t, skipped } = engineWith();
    await t.workflows.upsert({
      key: "reminder",
      steps: [
        { ref: "wait", type: "delay", settings: { delay_for: { unit: "hours", value: 1 } } },
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          channel_type: "email",
          template: { subject: "reminder" },
        },
      ],
    });
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.update("u2", { email: "u2@example.com" });
    await t.users.setPreferences("u2", "default", { channel_types: { email: false } });
    await t.workflows.trigger("reminder", { recipients: ["u1", "u2"] });
    await t.idle();
    // During the delay, u1 opts out and u2 opts back in.
    await t.users.setPreferences("u1", "default", { workflows: { reminder: false } });
    await t.users.setPreferences("u2", "default", {});
    await t.clock.advance("1h");
    expect(t.outbox.map((m) => m.recipient_ref)).toEqual(["u2"]);
    expect(skipped).toMatchObject([
      {
        recipient: "u1",
        reason: "preferences",
        detail: "workflows.reminder = false in set default",
      },
    ]);
  });

  it("sees a recipient's and its tenant's changes between triggers, and each tenant's own chain", async () => {
    const { t, sentTo } = engineWith();
    await t.workflows.upsert({
      ...digest,
      key: "hello",
      steps: [
        {
          ref: "email_1",
          type: "channel",
          channel_key: "postmark",
          channel_type: "email",
          template: { subject: "Hi {{ recipient.name }} of {{ tenant.name }}" },
        },
      ],
    });
    await t.users.update("u1", { email: "u1@example.com", name: "Ann" });
    await t.tenants.set("acme", { name: "Acme" });
    await t.tenants.set("globex", {
      name: "Globex",
      settings: { preference_set: { categories: { marketing: false } } },
    });
    const subjects = () => t.outbox.map((m) => m.content.subject);
    await t.workflows.trigger("hello", { recipients: ["u1"], tenant: "acme" });
    await t.workflows.trigger("hello", { recipients: ["u1"], tenant: "globex" });
    await t.idle();
    // The same recipient under two tenants: globex's default blocks marketing. (Its runs went
    // last: what is kept for u1 now is its view under globex.)
    expect(subjects()).toEqual(["Hi Ann of Acme"]);

    // Only the tenants change: acme now blocks marketing, globex allows it.
    await t.tenants.set("acme", {
      name: "Acme Inc",
      settings: { preference_set: { categories: { marketing: false } } },
    });
    await t.tenants.set("globex", {
      settings: { preference_set: { categories: { marketing: true } } },
    });
    await t.workflows.trigger("hello", { recipients: ["u1"], tenant: "globex" });
    await t.idle();
    await t.workflows.trigger("hello", { recipients: ["u1"], tenant: "acme" });
    await t.idle();
    expect(subjects()).toEqual(["Hi Ann of Acme", "Hi Ann of Globex"]);
    // Only the recipient changes.
    await t.users.update("u1", { name: "Anna" });
    await t.workflows.trigger("hello", { recipients: ["u1"], tenant: "globex" });
    await t.idle();
    expect(subjects()).toEqual(["Hi Ann of Acme", "Hi Ann of Globex", "Hi Anna of Globex"]);
    expect(sentTo("u1")).toEqual(["email_1", "email_1", "email_1"]);
  });

  it("validates the defaultPreferences engine option at createEngine", () => {
    for (const [set, field] of [
      [{ channel_types: { email: "no" } }, "defaultPreferences.channel_types.email"],
      [{ colour: "blue" }, "defaultPreferences.colour"],
      [
        { workflows: { x: { conditions: [{ variable: "data.a", operator: "bogus" }] } } },
        "defaultPreferences.workflows.x.conditions[0].operator",
      ],
      [[], "defaultPreferences"],
    ] as const) {
      let caught: unknown;
      try {
        createEngine({ defaultPreferences: set as never });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidParamsError);
      expect(caught).toMatchObject({
        errors: [expect.objectContaining({ field })],
        message: expect.stringContaining("defaultPreferences"),
      });
    }
  });

  it("reads only a set's own keys: a channel keyed constructor does not bypass channel_types", async () => {
    const t = createTestEngine({
      channels: [{ key: "constructor", type: "email", provider: { send: async () => {} } }],
      workflows: [
        {
          key: "proto",
          steps: [
            {
              ref: "email_1",
              type: "channel",
              channel_key: "constructor",
              template: { subject: "x" },
            },
          ],
        },
      ],
    });
    const skipped: StepSkippedEvent[] = [];
    t.on("step.skipped", (e) => skipped.push(e));
    await t.users.update("u1", {
      email: "u1@example.com",
      preferences: { default: { channel_types: { email: false }, channels: { other: true } } },
    });
    await t.workflows.trigger("proto", { recipients: ["u1"] });
    await t.idle();
    expect(t.outbox).toHaveLength(0);
    expect(skipped).toMatchObject([
      { reason: "preferences", detail: "channel_types.email = false in set default" },
    ]);
  });

  it("rejects malformed preference sets with the field named, changing nothing", async () => {
    const { t } = engineWith();
    await t.users.setPreferences("u1", "default", { categories: { marketing: false } });
    await expect(
      t.users.setPreferences("u1", "default", { channel_types: { email: "no" } } as never),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "preferences.channel_types.email" })],
    });
    // A channel type that does not exist (a typo) would never apply: rejected, at any level.
    await expect(
      t.users.setPreferences("u1", "default", { channel_types: { emial: false } } as never),
    ).rejects.toMatchObject({
      errors: [
        expect.objectContaining({
          field: "preferences.channel_types.emial",
          type: "enum",
          message: expect.stringContaining("in_app_feed"),
        }),
      ],
    });
    await expect(
      t.users.update("u1", {
        preferences: { default: { workflows: { x: { channel_types: { fax: false } } } } },
      } as never),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: expect.stringContaining("channel_types.fax") })],
    });
    await expect(
      t.users.setPreferences("u1", "default", {
        workflows: { x: { conditions: [{ variable: "data.a", operator: "bogus" }] } },
      } as never),
    ).rejects.toMatchObject({
      errors: [
        expect.objectContaining({ field: "preferences.workflows.x.conditions[0].operator" }),
      ],
    });
    await expect(
      t.users.setPreferences("u1", "default", { colour: "blue" } as never),
    ).rejects.toMatchObject({ code: "invalid_params" });
    await expect(
      t.users.setPreferences("u1", "default", {
        categories: {
          beta: {
            conditions: [
              { variable: "recipient.id", operator: "is_audience_member", argument: "beta" },
            ],
          },
        },
      } as never),
    ).rejects.toMatchObject({
      errors: [
        expect.objectContaining({
          field: "preferences.categories.beta.conditions[0].operator",
          message: expect.stringContaining("crier has none"),
        }),
      ],
    });
    expect(await t.users.getPreferences("u1")).toMatchObject({ categories: { marketing: false } });
  });
});

/**
 * `__strategy__: "replace"` through the engine. Each key kind has a lower value (`email` off),
 * marked or not, and a recipient value that would otherwise win (`email` on). Marked, the lower
 * value overrides the recipient's; unmarked, the recipient's wins.
 */
describe('__strategy__: "replace" in a lower set', () => {
  type Kind = "workflow" | "category" | "channel_types" | "channels";
  const lowerOf = (kind: Kind, marked: boolean, emailOn = false): PreferenceSetInput => {
    const marker = marked ? { __strategy__: "replace" as const } : {};
    switch (kind) {
      case "workflow":
        return { workflows: { digest: { ...marker, channel_types: { email: emailOn } } } };
      case "category":
        return { categories: { marketing: { ...marker, channel_types: { email: emailOn } } } };
      case "channel_types":
        return {
          channel_types: { ...marker, email: emailOn } as unknown as Record<string, boolean>,
        };
      case "channels":
        return { channels: { ...marker, postmark: emailOn } as unknown as Record<string, boolean> };
    }
  };
  const higherOf = (kind: Kind, emailOn = true): PreferenceSetInput => {
    switch (kind) {
      case "workflow":
        return { workflows: { digest: { channel_types: { email: emailOn } } } };
      case "category":
        return { categories: { marketing: emailOn } };
      case "channel_types":
        return { channel_types: { email: emailOn } };
      case "channels":
        return { channels: { postmark: emailOn } };
    }
  };
  /** The merged view when the lower (marked) value won: what getPreferences shows. */
  const forced: Record<Kind, { path: string; merged: Partial<PreferenceSetInput> }> = {
    workflow: {
      path: "workflows.digest.channel_types.email",
      merged: { workflows: { digest: { channel_types: { email: false } } } },
    },
    category: {
      path: "categories.marketing.channel_types.email",
      merged: { categories: { marketing: { channel_types: { email: false } } } },
    },
    channel_types: { path: "channel_types.email", merged: { channel_types: { email: false } } },
    channels: { path: "channels.postmark", merged: { channels: { postmark: false } } },
  };

  /** Where the lower set sits and where the recipient's set is; `tenant` says the chain. */
  type Level = {
    name: string;
    tenant: string | undefined;
    setup: (t: TestEngine, lower: PreferenceSetInput, higher: PreferenceSetInput) => Promise<void>;
    environment: boolean;
    origin: string;
  };
  const levels: Level[] = [
    {
      name: "environment default over the recipient's default set",
      tenant: undefined,
      environment: true,
      origin: "the environment default",
      setup: async (t, _lower, higher) => {
        await t.users.setPreferences("u1", "default", higher);
      },
    },
    {
      name: "tenant preference_set over the recipient's tenant set",
      tenant: "acme",
      environment: false,
      origin: "tenant acme's default preference_set",
      setup: async (t, lower, higher) => {
        await t.tenants.set("acme", { settings: { preference_set: lower } });
        await t.users.setPreferences("u1", "acme", higher);
      },
    },
    {
      name: "environment default over the recipient's tenant set",
      tenant: "acme",
      environment: true,
      origin: "the environment default",
      setup: async (t, _lower, higher) => {
        await t.tenants.set("acme", { name: "Acme" });
        await t.users.setPreferences("u1", "acme", higher);
      },
    },
    {
      name: "environment default over a tenant preference_set",
      tenant: "acme",
      environment: true,
      origin: "the environment default",
      setup: async (t, _lower, higher) => {
        await t.tenants.set("acme", { settings: { preference_set: higher } });
      },
    },
  ];
  const kinds: Kind[] = ["workflow", "category", "channel_types", "channels"];
  const cases = levels.flatMap((level) =>
    kinds.flatMap((kind) => [true, false].map((marked) => ({ level, kind, marked }))),
  );

  for (const { level, kind, marked } of cases)
    it(`${level.name}, at ${kind}, ${marked ? "marked: the lower value wins" : "unmarked: the recipient's wins"}`, async () => {
      const lower = lowerOf(kind, marked);
      const { t, skipped } = engineWith(level.environment ? { defaultPreferences: lower } : {});
      await t.users.update("u1", { email: "u1@example.com" });
      await level.setup(t, lower, higherOf(kind));
      await t.workflows.trigger("digest", {
        recipients: ["u1"],
        ...(level.tenant ? { tenant: level.tenant } : {}),
      });
      await t.idle();
      const emails = t.outbox.filter((m) => m.step_ref === "email_1");
      const merged = await t.users.getPreferences(
        "u1",
        "default",
        level.tenant ? { tenant: level.tenant } : {},
      );
      expect(merged.id).toBe(level.tenant ?? "default");
      expect(JSON.stringify(merged)).not.toContain("__strategy__");
      if (marked) {
        expect(emails).toHaveLength(0);
        expect(skipped).toMatchObject([
          {
            step_ref: "email_1",
            reason: "preferences",
            detail: `${forced[kind].path} = false in ${level.origin}`,
          },
        ]);
        expect(merged).toMatchObject(forced[kind].merged);
      } else {
        expect(emails).toHaveLength(1);
        expect(skipped).toEqual([]);
      }
    });

  it("a replace entry that allows overrides a recipient's opt-out too", async () => {
    const { t, skipped } = engineWith({ defaultPreferences: lowerOf("channel_types", true, true) });
    await t.users.update("u1", { email: "u1@example.com" });
    await t.users.setPreferences("u1", "default", higherOf("channel_types", false));
    await t.workflows.trigger("digest", { recipients: ["u1"] });
    await t.idle();
    expect(t.outbox.map((m) => m.step_ref)).toEqual(["email_1", "feed_1"]);
    expect(skipped).toEqual([]);
    expect(await t.users.getPreferences("u1")).toMatchObject({ channel_types: { email: true } });
  });

  it("the lowest replace entry of a key wins: the environment's over the tenant's", async () => {
    const { t } = engineWith({ defaultPreferences: lowerOf("workflow", true, false) });
    await t.tenants.set("acme", { settings: { preference_set: lowerOf("workflow", true, true) } });
    await t.users.setPreferences("u1", "acme", higherOf("workflow", true));
    await t.users.update("u1", { email: "u1@example.com" });
    await t.workflows.trigger("digest", { recipients: ["u1"], tenant: "acme" });
    await t.idle();
    expect(t.outbox.map((m) => m.step_ref)).toEqual(["feed_1"]);
    expect(await t.users.getPreferences("u1", "default", { tenant: "acme" })).toEqual({
      __typename: "PreferenceSet",
      id: "acme",
      workflows: { digest: { channel_types: { email: false } } },
      categories: null,
      channel_types: null,
      channels: null,
    });
  });

  it("rejects a __strategy__ other than replace or merge, naming the field", async () => {
    const { t } = engineWith();
    await expect(
      t.tenants.set("acme", {
        settings: {
          preference_set: { channel_types: { __strategy__: "overwrite", email: false } } as never,
        },
      }),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: expect.stringContaining("__strategy__") })],
    });
    await expect(t.tenants.get("acme")).rejects.toMatchObject({ code: "not_found" });
  });
});
