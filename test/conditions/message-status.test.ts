import { describe, expect, it } from "vitest";
import type { ConditionOperator, ConditionScope } from "../../src/conditions/types.js";
import { cond, evaluate } from "./helpers.js";

/** Knock's combined hierarchy, lowest first (interacted and link_clicked share a rank). */
const ORDER = [
  "undelivered",
  "bounced",
  "delivery_attempted",
  "queued",
  "not_sent",
  "sent",
  "delivered",
  "seen",
  "read",
  "interacted",
  "archived",
];

const DELIVERY = new Set([
  "undelivered",
  "bounced",
  "delivery_attempted",
  "queued",
  "not_sent",
  "sent",
  "delivered",
]);

function withStatus(status: string): ConditionScope {
  return DELIVERY.has(status)
    ? { refs: { m: { delivery_status: status, engagement_status: [] } } }
    : { refs: { m: { delivery_status: "delivered", engagement_status: [status] } } };
}

const delivery = (operator: ConditionOperator, argument: string) =>
  cond("refs.m.delivery_status", operator, argument);
const engagement = (operator: ConditionOperator, argument: string) =>
  cond("refs.m.engagement_status", operator, argument);

const SKIPPED: ConditionScope = { refs: { m: { delivery_status: "", engagement_status: [] } } };
const NO_REF: ConditionScope = { refs: {} };

describe("message status ranks", () => {
  const pairs = ORDER.slice(0, -1).map((low, i) => [low, ORDER[i + 1]!] as const);

  it.each(pairs)("%s ranks below %s", (low, high) => {
    expect(evaluate(delivery("less_than", `$message.${high}`), withStatus(low))).toBe(true);
    expect(
      evaluate(delivery("greater_than_or_equal_to", `$message.${high}`), withStatus(low)),
    ).toBe(false);
    expect(evaluate(delivery("greater_than", `$message.${low}`), withStatus(high))).toBe(true);
    expect(evaluate(delivery("less_than_or_equal_to", `$message.${low}`), withStatus(high))).toBe(
      false,
    );
  });

  it.each(ORDER)("%s equals itself", (status) => {
    expect(evaluate(delivery("equal_to", `$message.${status}`), withStatus(status))).toBe(true);
    expect(
      evaluate(delivery("greater_than_or_equal_to", `$message.${status}`), withStatus(status)),
    ).toBe(true);
    expect(
      evaluate(delivery("less_than_or_equal_to", `$message.${status}`), withStatus(status)),
    ).toBe(true);
    expect(evaluate(delivery("not_equal_to", `$message.${status}`), withStatus(status))).toBe(
      false,
    );
  });

  it("interacted and link_clicked share a rank", () => {
    const clicked = withStatus("link_clicked");
    expect(evaluate(delivery("equal_to", "$message.interacted"), clicked)).toBe(true);
    expect(evaluate(delivery("greater_than", "$message.interacted"), clicked)).toBe(false);
    expect(evaluate(delivery("less_than", "$message.archived"), clicked)).toBe(true);
  });

  it.each([
    [
      "has been sent: delivered",
      delivery("greater_than_or_equal_to", "$message.sent"),
      withStatus("delivered"),
      true,
    ],
    [
      "has been sent: queued",
      delivery("greater_than_or_equal_to", "$message.sent"),
      withStatus("queued"),
      false,
    ],
    [
      "has been sent: skipped",
      delivery("greater_than_or_equal_to", "$message.sent"),
      SKIPPED,
      false,
    ],
    ["has not been sent: no message", delivery("less_than", "$message.sent"), NO_REF, true],
    [
      "has not been delivered: bounced",
      delivery("less_than", "$message.delivered"),
      withStatus("bounced"),
      true,
    ],
    ["has been skipped: empty status", delivery("equal_to", "$message.skipped"), SKIPPED, true],
    ["has been skipped: no ref", delivery("equal_to", "$message.skipped"), NO_REF, true],
    ["has been skipped: no refs at all", delivery("equal_to", "$message.skipped"), {}, true],
    ["has been skipped: sent", delivery("equal_to", "$message.skipped"), withStatus("sent"), false],
    [
      "has not been skipped: sent",
      delivery("not_equal_to", "$message.skipped"),
      withStatus("sent"),
      true,
    ],
    [
      "has failed delivery",
      delivery("equal_to", "$message.undelivered"),
      withStatus("undelivered"),
      true,
    ],
    [
      "has bounced: delivered",
      delivery("equal_to", "$message.bounced"),
      withStatus("delivered"),
      false,
    ],
    [
      "a skipped step ranks below undelivered",
      delivery("less_than", "$message.undelivered"),
      SKIPPED,
      true,
    ],
    [
      "an unknown status ranks as no message",
      delivery("less_than", "$message.undelivered"),
      { refs: { m: { delivery_status: "exploded" } } },
      true,
    ],
  ])("%s", (_name, condition, scope, expected) => {
    expect(evaluate(condition, scope)).toBe(expected);
  });

  it("the highest of the delivery and engagement statuses counts", () => {
    const seenAndRead: ConditionScope = {
      refs: { m: { delivery_status: "delivered", engagement_status: ["seen", "read"] } },
    };
    expect(evaluate(delivery("greater_than_or_equal_to", "$message.read"), seenAndRead)).toBe(true);
    expect(evaluate(delivery("greater_than", "$message.read"), seenAndRead)).toBe(false);
    expect(
      evaluate(engagement("greater_than_or_equal_to", "$message.delivered"), seenAndRead),
    ).toBe(true);
    const deliveredOnly: ConditionScope = {
      refs: { m: { delivery_status: "delivered", engagement_status: [] } },
    };
    expect(evaluate(delivery("greater_than_or_equal_to", "$message.seen"), deliveredOnly)).toBe(
      false,
    );
    expect(
      evaluate(engagement("greater_than_or_equal_to", "$message.delivered"), deliveredOnly),
    ).toBe(true);
  });

  it("ranks a plain status variable outside refs by its own value", () => {
    expect(
      evaluate(cond("data.status", "greater_than_or_equal_to", "$message.sent"), {
        data: { status: "delivered" },
      }),
    ).toBe(true);
    expect(
      evaluate(cond("data.status", "greater_than_or_equal_to", "$message.sent"), {
        data: { status: "queued" },
      }),
    ).toBe(false);
  });
});

describe("engagement conditions", () => {
  const engaged = (...statuses: string[]): ConditionScope => ({
    refs: { m: { delivery_status: "delivered", engagement_status: statuses } },
  });

  it.each([
    ["has been seen", engagement("contains", "$message.seen"), engaged("seen"), true],
    ["has been seen: nothing yet", engagement("contains", "$message.seen"), engaged(), false],
    ["has not been seen", engagement("not_contains", "$message.seen"), engaged(), true],
    [
      "has not been seen: seen",
      engagement("not_contains", "$message.seen"),
      engaged("seen", "read"),
      false,
    ],
    ["has not been seen: step skipped", engagement("not_contains", "$message.seen"), SKIPPED, true],
    ["has not been seen: no ref", engagement("not_contains", "$message.seen"), NO_REF, true],
    ["has been seen: no ref", engagement("contains", "$message.seen"), NO_REF, false],
    ["seen but not read", engagement("contains", "$message.seen_not_read"), engaged("seen"), true],
    [
      "seen but not read: read",
      engagement("contains", "$message.seen_not_read"),
      engaged("seen", "read"),
      false,
    ],
    [
      "seen but not read: not seen",
      engagement("contains", "$message.seen_not_read"),
      engaged(),
      false,
    ],
    [
      "not (seen but not read)",
      engagement("not_contains", "$message.seen_not_read"),
      engaged("seen", "read"),
      true,
    ],
    [
      "read but not clicked",
      engagement("contains", "$message.read_not_link_clicked"),
      engaged("read"),
      true,
    ],
    [
      "read but not clicked: clicked",
      engagement("contains", "$message.read_not_link_clicked"),
      engaged("read", "link_clicked"),
      false,
    ],
    ["has been read", engagement("contains", "$message.read"), engaged("seen", "read"), true],
    [
      "has been interacted with",
      engagement("contains", "$message.interacted"),
      engaged("link_clicked"),
      false,
    ],
    ["has been archived", engagement("contains", "$message.archived"), engaged("archived"), true],
    [
      "contains a status on a delivery status string",
      delivery("contains", "$message.sent"),
      withStatus("sent"),
      true,
    ],
    [
      "contains $message.skipped on a skipped step",
      engagement("contains", "$message.skipped"),
      SKIPPED,
      true,
    ],
    [
      "contains $message.skipped on a sent message",
      engagement("contains", "$message.skipped"),
      engaged(),
      false,
    ],
  ])("%s", (_name, condition, scope, expected) => {
    expect(evaluate(condition, scope)).toBe(expected);
  });
});
