/**
 * @internal Listing subscriptions with Knock's filters: `users.listSubscriptions(id, { objects })`
 * and `objects.listSubscriptions(collection, id, { recipients, objects })`.
 */
import { describe } from "../_internal/describe.js";
import { type PageParams, pageInfo, toPageRequest } from "../_internal/paging.js";
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import { normalizeRecipient, sameKey } from "../recipients/identify.js";
import type { RecipientReferenceInput, Subscription } from "../recipients/types.js";
import type {
  MaybePromise,
  PageRequest,
  PageResult,
  RecipientKey,
  StoredSubscription,
} from "../store/types.js";
import { USERS_COLLECTION } from "../store/types.js";

/** Parameters of `users.listSubscriptions` (Knock's `UserListSubscriptionsParams`). */
export interface UserSubscriptionListParams extends PageParams {
  /** Only the subscriptions to these objects (1 to 100 object references). */
  objects?: RecipientReferenceInput[];
  /**
   * Knock's request for the subscribed recipients' preferences in each entry. Accepted and
   * ignored: crier's subscriptions carry recipient references, not recipients.
   */
  include?: Array<"preferences">;
}

/** The most counterparts a subscription list may be filtered to. */
const MAX_FILTER = 100;

/**
 * @internal Validates a list of counterparts to filter subscriptions to: object references only
 * when `objectsOnly`. Undefined when the filter is absent.
 */
export function counterpartFilter(
  value: unknown,
  field: "objects" | "recipients",
  issues: ValidationIssue[],
): RecipientKey[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FILTER) {
    issues.push({
      field,
      type: "length",
      message: `expected an array of 1 to ${MAX_FILTER} ${field === "objects" ? "object references { id, collection }" : "recipient references"}, received ${describe(value)}`,
    });
    return undefined;
  }
  const keys: RecipientKey[] = [];
  value.forEach((item, i) => {
    const normalized = normalizeRecipient(item, `${field}[${i}]`, issues);
    if (!normalized) return;
    if (field === "objects" && normalized.key.collection === USERS_COLLECTION) {
      issues.push({
        field: `${field}[${i}]`,
        type: "type",
        message: `expected an object reference { id, collection }, received the user id ${JSON.stringify(item)}; users cannot be subscribed to`,
      });
      return;
    }
    keys.push(normalized.key);
  });
  return keys;
}

/** @internal Checks Knock's `include` parameter: `["preferences"]` or nothing. */
export function checkInclude(value: unknown, issues: ValidationIssue[]): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value) || value.some((item) => item !== "preferences")) {
    issues.push({
      field: "include",
      type: "enum",
      message: `expected ["preferences"] or nothing, received ${describe(value)}`,
    });
  }
}

/**
 * @internal One page of subscriptions, optionally only those whose counterpart (the side
 * `counterpart` picks) is one of `only`. Filtered pages are read forward from the store a page at
 * a time until full, so `after` cursors stay exact; a filtered page has no `before` cursor, and
 * `before` cannot be combined with a filter.
 */
export async function subscriptionPage(
  list: (request: PageRequest) => MaybePromise<PageResult<StoredSubscription>>,
  params: PageParams | null | undefined,
  only: RecipientKey[] | undefined,
  counterpart: (subscription: StoredSubscription) => RecipientKey,
  toSubscription: (stored: StoredSubscription) => Subscription,
): Promise<{ entries: Subscription[]; page_info: ReturnType<typeof pageInfo> }> {
  const request = toPageRequest(params ?? undefined);
  if (!only) {
    const page = await list(request);
    return { entries: page.items.map(toSubscription), page_info: pageInfo(page, request) };
  }
  if (request.before) {
    throw new InvalidParamsError("Invalid subscription list parameters:", [
      {
        field: "before",
        type: "unsupported",
        message:
          "expected no before cursor with an objects or recipients filter (filtered lists page forward only), received one; page with after, or drop the filter",
      },
    ]);
  }
  const kept: StoredSubscription[] = [];
  let after = request.after ?? null;
  let next: string | null = null;
  for (;;) {
    const page = await list({ limit: request.limit - kept.length, ...(after ? { after } : {}) });
    for (const item of page.items)
      if (only.some((key) => sameKey(key, counterpart(item)))) kept.push(item);
    next = page.after;
    if (!next || kept.length >= request.limit) break;
    after = next;
  }
  return {
    entries: kept.map(toSubscription),
    page_info: pageInfo({ items: kept, after: next, before: null }, request),
  };
}
