import { describe, expect, it } from "vitest";
import type { StepSkippedEvent, WorkflowInput } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

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

  it("rejects malformed preference sets with the field named, changing nothing", async () => {
    const { t } = engineWith();
    await t.users.setPreferences("u1", "default", { categories: { marketing: false } });
    await expect(
      t.users.setPreferences("u1", "default", { channel_types: { email: "no" } } as never),
    ).rejects.toMatchObject({
      code: "invalid_params",
      errors: [expect.objectContaining({ field: "preferences.channel_types.email" })],
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
    expect(await t.users.getPreferences("u1")).toMatchObject({ categories: { marketing: false } });
  });
});
