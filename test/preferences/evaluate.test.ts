import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  evaluatePreferences,
  explainBlock,
  mergePreferenceSets,
  type PreferenceSubject,
} from "../../src/preferences/evaluate.js";
import type { PreferenceSetInput } from "../../src/preferences/types.js";

const NOW = new Date("2026-01-01T00:00:00Z");
const subject: PreferenceSubject = {
  workflowKey: "new-comment",
  categories: ["collaboration", "marketing"],
  channelKey: "postmark",
  channelType: "email",
  isCommercial: false,
  overridePreferences: false,
};

function decide(
  set: PreferenceSetInput,
  overrides: Partial<PreferenceSubject> = {},
  scope: Record<string, unknown> = {},
) {
  const blocked = evaluatePreferences(set, { ...subject, ...overrides }, scope, NOW);
  return blocked ? blocked.path : "send";
}

describe("evaluatePreferences", () => {
  const table: Array<[string, PreferenceSetInput, Partial<PreferenceSubject>, string]> = [
    ["nothing set: opted in", {}, {}, "send"],
    ["workflow false", { workflows: { "new-comment": false } }, {}, "workflows.new-comment"],
    ["another workflow false", { workflows: { other: false } }, {}, "send"],
    ["workflow true", { workflows: { "new-comment": true } }, {}, "send"],
    [
      "one category false blocks",
      { categories: { marketing: false, collaboration: true } },
      {},
      "categories.marketing",
    ],
    [
      "category false beats channel true",
      { categories: { marketing: false }, channels: { postmark: true } },
      {},
      "categories.marketing",
    ],
    ["categories are case-sensitive", { categories: { Marketing: false } }, {}, "send"],
    [
      "a workflow without categories skips category checks",
      { categories: { marketing: false } },
      { categories: [] },
      "send",
    ],
    ["channel type false", { channel_types: { email: false } }, {}, "channel_types.email"],
    ["another channel type false", { channel_types: { sms: false } }, {}, "send"],
    [
      "channel true beats channel type false",
      { channel_types: { email: false }, channels: { postmark: true } },
      {},
      "send",
    ],
    [
      "channel false beats channel type true",
      { channel_types: { email: true }, channels: { postmark: false } },
      {},
      "channels.postmark",
    ],
    [
      "nested channel type in a workflow entry",
      { workflows: { "new-comment": { channel_types: { email: false } } } },
      {},
      "workflows.new-comment.channel_types.email",
    ],
    [
      "nested channel beats nested channel type",
      {
        workflows: {
          "new-comment": { channel_types: { email: false }, channels: { postmark: true } },
        },
      },
      {},
      "send",
    ],
    [
      "nested channel type in a category entry",
      { categories: { collaboration: { channel_types: { email: false } } } },
      {},
      "categories.collaboration.channel_types.email",
    ],
    [
      "nested true does not rescue a top-level false",
      {
        workflows: { "new-comment": { channel_types: { email: true } } },
        channel_types: { email: false },
      },
      {},
      "channel_types.email",
    ],
    [
      "override_preferences sends regardless",
      { workflows: { "new-comment": false }, channel_types: { email: false } },
      { overridePreferences: true },
      "send",
    ],
    [
      "commercial and unsubscribed",
      { commercial_subscribed: false },
      { isCommercial: true },
      "commercial_subscribed",
    ],
    ["transactional ignores commercial_subscribed", { commercial_subscribed: false }, {}, "send"],
    [
      "override never overrides a commercial unsubscribe",
      { commercial_subscribed: false },
      { isCommercial: true, overridePreferences: true },
      "commercial_subscribed",
    ],
    ["commercial and subscribed", { commercial_subscribed: true }, { isCommercial: true }, "send"],
  ];
  it.each(table)("%s", (_name, set, overrides, expected) => {
    expect(decide(set, overrides)).toBe(expected);
  });

  it("evaluates preference conditions (ANDed) against the scope", () => {
    const set: PreferenceSetInput = {
      workflows: {
        "new-comment": {
          conditions: [
            { variable: "recipient.muted_docs", operator: "not_contains", argument: "data.doc_id" },
            { variable: "data.priority", operator: "greater_than", argument: 1 },
          ],
        },
      },
    };
    const scope = (doc: string, priority: number) => ({
      recipient: { muted_docs: ["d1"] },
      data: { doc_id: doc, priority },
    });
    expect(decide(set, {}, scope("d2", 5))).toBe("send");
    expect(decide(set, {}, scope("d1", 5))).toBe("workflows.new-comment.conditions");
    expect(decide(set, {}, scope("d2", 0))).toBe("workflows.new-comment.conditions");
    expect(
      decide(
        {
          channel_types: {
            email: {
              conditions: [{ variable: "data.priority", operator: "equal_to", argument: 9 }],
            },
          },
        },
        {},
        scope("d2", 9),
      ),
    ).toBe("send");
    expect(
      decide(
        {
          channel_types: {
            email: {
              conditions: [{ variable: "data.priority", operator: "equal_to", argument: 9 }],
            },
          },
        },
        {},
        scope("d2", 1),
      ),
    ).toBe("channel_types.email");
  });

  it("property: an explicit false anywhere on a message's path always blocks it, unless the workflow overrides preferences", () => {
    const pathArb = fc.constantFrom(
      (s: PreferenceSetInput) => ({
        ...s,
        workflows: { ...(s.workflows ?? {}), "new-comment": false },
      }),
      (s: PreferenceSetInput) => ({
        ...s,
        categories: { ...(s.categories ?? {}), marketing: false },
      }),
      (s: PreferenceSetInput) => ({
        ...s,
        categories: { ...(s.categories ?? {}), collaboration: false },
      }),
      (s: PreferenceSetInput) => ({ ...s, channels: { ...(s.channels ?? {}), postmark: false } }),
      (s: PreferenceSetInput) => ({
        ...s,
        workflows: { ...(s.workflows ?? {}), "new-comment": { channels: { postmark: false } } },
      }),
      (s: PreferenceSetInput) => ({
        ...s,
        categories: { ...(s.categories ?? {}), collaboration: { channels: { postmark: false } } },
      }),
    );
    const setting = fc.oneof(fc.boolean(), fc.constant(undefined));
    const noiseArb = fc.record({
      channel_types: fc.record({ email: setting, sms: setting }, { requiredKeys: [] }),
      categories: fc.record({ other: setting }, { requiredKeys: [] }),
      workflows: fc.record({ unrelated: setting }, { requiredKeys: [] }),
    });
    fc.assert(
      fc.property(noiseArb, pathArb, fc.boolean(), (noise, addFalse, override) => {
        const set = addFalse(JSON.parse(JSON.stringify(noise)) as PreferenceSetInput);
        const blocked = evaluatePreferences(
          set,
          { ...subject, overridePreferences: override },
          {},
          NOW,
        );
        return override ? blocked === undefined : blocked !== undefined;
      }),
    );
  });
});

describe("mergePreferenceSets", () => {
  it("merges key by key with the higher set winning", () => {
    const environment: PreferenceSetInput = {
      categories: { collaboration: true, marketing: false },
      channel_types: { sms: false, email: true },
    };
    const recipient: PreferenceSetInput = {
      categories: { marketing: true },
      channel_types: { sms: true },
    };
    expect(mergePreferenceSets(environment, recipient)).toEqual({
      categories: { collaboration: true, marketing: true },
      channel_types: { sms: true, email: true },
    });
  });

  it("merges nested workflow entries and keeps the higher set's conditions", () => {
    const lower: PreferenceSetInput = {
      workflows: { wf: { channel_types: { email: false, sms: true } } },
    };
    const higher: PreferenceSetInput = { workflows: { wf: { channel_types: { email: true } } } };
    expect(mergePreferenceSets(lower, higher)).toEqual({
      workflows: { wf: { channel_types: { email: true, sms: true } } },
    });
  });

  it('honours __strategy__: "replace" on a lower entry', () => {
    const tenant = {
      workflows: { wf: { __strategy__: "replace", channel_types: { email: false } } },
      channels: { __strategy__: "replace", postmark: false },
    } as unknown as PreferenceSetInput;
    const recipient: PreferenceSetInput = {
      workflows: { wf: { channel_types: { email: true } } },
      channels: { postmark: true, other: true },
    };
    expect(mergePreferenceSets(tenant, recipient)).toEqual({
      workflows: { wf: { channel_types: { email: false } } },
      channels: { postmark: false },
    });
  });

  it("explains which set a blocking value came from", () => {
    const sources = [
      { label: "the environment default", set: { categories: { marketing: false } } },
      { label: "set default", set: { channel_types: { email: true } } },
    ];
    expect(explainBlock({ path: "categories.marketing", why: "false" }, sources)).toEqual({
      path: "categories.marketing",
      detail: "categories.marketing = false in the environment default",
    });
  });
});
