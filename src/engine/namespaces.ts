/**
 * @internal The engine's resource namespaces (users, objects, tenants, messages, runs), each a
 * thin layer of validation and shaping over the store.
 */

import { describe } from "../_internal/describe.js";
import { cloneJson, isPlainObject } from "../_internal/merge.js";
import { type PageInfo, type PageParams, pageInfo } from "../_internal/paging.js";
import { ParamChecker } from "../_internal/params.js";
import { CrierError, InvalidParamsError, NotFoundError, type ValidationIssue } from "../errors.js";
import {
  type ActivityListParams,
  type ActivityPage,
  listMessageActivities,
} from "../messages/activities.js";
import { engagementApi } from "../messages/engagement.js";
import { type FeedListParams, type FeedPage, listFeedItems } from "../messages/feed.js";
import { toMessageFilter } from "../messages/filters.js";
import type { Message, MessageDeliveryStatus, MessageEngagementStatus } from "../messages/types.js";
import { mergeChain } from "../preferences/evaluate.js";
import { preferenceSources, resolvePreferences, toPreferenceSet } from "../preferences/resolve.js";
import type {
  PreferenceSet,
  PreferenceSetInput,
  PreferenceSetRequest,
} from "../preferences/types.js";
import { validatePreferenceSet } from "../preferences/validate.js";
import {
  checkId,
  keyToRef,
  type NormalizedRecipient,
  normalizeRecipient,
  propertiesToPatch,
  tenantToPatch,
  toObject,
  toTenant,
  toUser,
} from "../recipients/identify.js";
import type {
  ChannelData,
  RecipientObject,
  RecipientReferenceInput,
  RecipientRequest,
  Subscription,
  Tenant,
  TenantRequest,
  User,
  UserProperties,
} from "../recipients/types.js";
import type { Schedule } from "../scheduling/schedules.js";
import {
  type MessageFilter,
  type RecipientKey,
  type RunFilter,
  type ScheduleFilter,
  type StoredRecipient,
  type StoredSubscription,
  TENANTS_COLLECTION,
  type TimeRange,
  USERS_COLLECTION,
} from "../store/types.js";
import type { WorkflowRegistry } from "../workflows/registry.js";
import { toRunFilter } from "../workflows/run-filters.js";
import type { RunStatus, WorkflowRecipientRun } from "../workflows/run-types.js";
import { type BulkLedger, type BulkOperation, bulkList, idItems, recordItems } from "./bulk.js";
import { type EngineContext, nowIso, updateExistingRecipient } from "./context.js";
import { mergeUsers, type UserMergeParams } from "./merge.js";
import type { RequestOptions } from "./request-options.js";
import { listSchedules, type UserScheduleListParams } from "./schedules.js";
import {
  checkInclude,
  counterpartFilter,
  subscriptionPage,
  type UserSubscriptionListParams,
} from "./subscription-lists.js";

/** A page of a list call. */
export interface Page<T> {
  entries: T[];
  page_info: PageInfo;
}

/** Parameters of `users.list`, `objects.list` and `tenants.list`: cursor paging (1–50, default 50). */
export type RecipientListParams = PageParams;

/** Knock's list parameters crier does not take, with what to do instead. */
const UNSUPPORTED_LIST_PARAMS: Record<string, string> = {
  include: "is not supported by crier: read a recipient's preference sets with listPreferences(…)",
  name: "is not supported by crier (it does not index names); filter the entries yourself",
  tenant_id: "is not supported by crier: read one tenant with tenants.get(id)",
};

/** A collection's recipients, oldest first, through the store's optional `listRecipients`. */
async function listCollection<T>(
  ctx: EngineContext,
  collection: string,
  params: unknown,
  call: string,
  present: (stored: StoredRecipient) => T,
): Promise<Page<T>> {
  const list = ctx.store.listRecipients?.bind(ctx.store);
  if (!list) {
    throw new CrierError(
      "adapter_error",
      `Expected a store that lists recipients (Store.listRecipients) for ${call}, but the store "${ctx.store.name}" has none; implement it, or keep your own index of recipients.`,
    );
  }
  const p = new ParamChecker(params);
  p.known(["page_size", "after", "before"], UNSUPPORTED_LIST_PARAMS);
  const request = p.page();
  p.done(`${call} parameters`);
  const page = await list(collection, request);
  return {
    entries: page.items.map((stored) => cloneJson(present(stored))),
    page_info: pageInfo(page, request),
  };
}

/** A page of messages (`items`, as Knock's message lists name it). */
export interface MessagePage {
  items: Message[];
  page_info: PageInfo;
}

/**
 * Filters of `messages.list`, `users.listMessages` and `objects.listMessages`: every given one must
 * match. Bad values (an unknown status, a malformed timestamp, an unknown parameter) throw
 * `InvalidParamsError` naming each.
 */
export interface MessageListParams extends PageParams {
  /** Messages in any of these delivery statuses. */
  status?: MessageDeliveryStatus[];
  /** Messages with any of these engagement statuses (`unseen`, `unread`, `unarchived`: without `seen`, `read`, `archived`). */
  engagement_status?: Array<MessageEngagementStatus | "unseen" | "unread" | "unarchived">;
  /** A channel key. */
  channel_id?: string;
  /** Messages of this tenant. */
  tenant?: string;
  /** true: only messages with a tenant; false: only messages without. */
  has_tenant?: boolean;
  /** A workflow key (Knock's name for this filter). */
  source?: string;
  /** A workflow key: the same filter as `source`, named as `workflowRecipientRuns.list` names it. */
  workflow?: string;
  /** Messages of workflows in any of these categories. */
  workflow_categories?: string[];
  /** Messages of one trigger. */
  workflow_run_id?: string;
  /** Messages of one recipient's run. */
  workflow_recipient_run_id?: string;
  /** Only these messages (1 to 50 ids). */
  message_ids?: string[];
  /** Messages created in this range (ISO-8601 bounds `gt`, `gte`, `lt`, `lte`). */
  inserted_at?: TimeRange;
  /**
   * Knock's filter on trigger data (a JSON object as a string). Not supported: crier does not
   * index messages' `data`, and rejects this filter with InvalidParamsError; filter `items` on
   * their `data` instead.
   */
  trigger_data?: string;
}

/** Filters of `workflowRecipientRuns.list`. */
export interface RunListParams extends PageParams {
  workflow?: string;
  status?: RunStatus[];
  tenant?: string;
  has_errors?: boolean;
  recipient?: RecipientReferenceInput;
  workflow_run_id?: string;
  starting_at?: string;
  ending_at?: string;
}

/** Parameters of `objects.listSubscriptions`. */
export interface ListSubscriptionsParams extends PageParams {
  /** `object` (default): the object's subscribers; `recipient`: the subscriptions the object holds. */
  mode?: "object" | "recipient";
  /** In `object` mode, only these subscribers (1 to 100 recipient references). */
  recipients?: RecipientReferenceInput[];
  /** In `recipient` mode, only the subscriptions to these objects (1 to 100 object references). */
  objects?: RecipientReferenceInput[];
  /** Accepted and ignored (see {@link UserSubscriptionListParams.include}). */
  include?: Array<"preferences">;
}

function invalid(message: string, issues: ValidationIssue[]): never {
  throw new InvalidParamsError(message, issues);
}

function requireId(value: unknown, field: string, what: string): string {
  const issues: ValidationIssue[] = [];
  if (!checkId(value, field, issues, what)) invalid(`Invalid ${what}:`, issues);
  return value as string;
}

function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    invalid(`Invalid ${field}:`, [
      { field, type: "type", message: `expected an object, received ${describe(value)}` },
    ]);
  }
  return value;
}

function toSubscription(stored: StoredSubscription): Subscription {
  return {
    __typename: "Subscription",
    object: { id: stored.object.id, collection: stored.object.collection },
    recipient: keyToRef(stored.recipient),
    properties: stored.properties ? cloneJson(stored.properties) : null,
    inserted_at: stored.inserted_at,
    updated_at: stored.updated_at,
  };
}

function channelData(ctx: EngineContext) {
  return {
    async set(key: RecipientKey, channelKey: unknown, body: unknown): Promise<ChannelData> {
      const channel = requireId(channelKey, "channelKey", "a channel key");
      const input = requireObject(body, "body");
      if (!isPlainObject(input.data)) {
        invalid("Invalid channel data:", [
          {
            field: "data",
            type: "type",
            message: `expected { data: { ... } }, received ${describe(input.data)}`,
          },
        ]);
      }
      await ctx.store.upsertRecipient(
        key,
        { channel_data: { [channel]: input.data } },
        nowIso(ctx),
      );
      return { __typename: "ChannelData", channel_id: channel, data: cloneJson(input.data) };
    },
    /**
     * Removes the recipient's data for one channel; a no-op when there is none (the recipient
     * is not created).
     */
    async unset(key: RecipientKey, channelKey: unknown): Promise<void> {
      const channel = requireId(channelKey, "channelKey", "a channel key");
      const stored = await ctx.store.getRecipient(key);
      if (!stored || !Object.hasOwn(stored.channel_data, channel)) return;
      // A recipient deleted meanwhile stays deleted.
      await updateExistingRecipient(ctx, key, { channel_data: { [channel]: null } });
    },
    async get(key: RecipientKey, channelKey: unknown): Promise<ChannelData> {
      const channel = requireId(channelKey, "channelKey", "a channel key");
      const stored = await ctx.store.getRecipient(key);
      const data = stored?.channel_data[channel];
      if (!data)
        throw new NotFoundError(
          "channel data",
          `${key.id}/${channel}`,
          "Set it with setChannelData first.",
        );
      return { __typename: "ChannelData", channel_id: channel, data: cloneJson(data) };
    },
  };
}

/** Options of `getPreferences`. */
export interface GetPreferencesOptions {
  /** Evaluate as a trigger with this tenant would: the tenant's default set joins the merge. */
  tenant?: string;
}

function preferences(ctx: EngineContext) {
  return {
    /**
     * Replaces a preference set (or merges into it with `__persistence_strategy__: "merge"`),
     * creating the recipient when missing. Returns the stored set.
     */
    async set(key: RecipientKey, setId: unknown, body: unknown): Promise<PreferenceSet> {
      const id = requireId(setId, "setId", "a preference set id");
      const issues: ValidationIssue[] = [];
      const { set, strategy } = validatePreferenceSet(body, "preferences", issues);
      if (issues.length > 0) invalid(`Invalid preference set "${id}":`, issues);
      const now = nowIso(ctx);
      let stored = await ctx.store.upsertRecipient(
        key,
        strategy === "merge" ? { preferences: { [id]: set as Record<string, unknown> } } : {},
        now,
      );
      if (strategy !== "merge")
        stored =
          (await ctx.store.setPreferenceSet(key, id, set as Record<string, unknown>, now)) ??
          stored;
      return cloneJson(toPreferenceSet(id, (stored.preferences[id] ?? {}) as PreferenceSetInput));
    },
    /**
     * The recipient's own preference sets as stored (not merged with any default): `default`
     * first, then the others by id. Empty for a recipient never identified.
     */
    async list(key: RecipientKey): Promise<PreferenceSet[]> {
      const stored = await ctx.store.getRecipient(key);
      const ids = Object.keys(stored?.preferences ?? {}).sort((a, b) =>
        a === "default" ? -1 : b === "default" ? 1 : a < b ? -1 : a > b ? 1 : 0,
      );
      return ids.map((id) =>
        cloneJson(toPreferenceSet(id, (stored?.preferences[id] ?? {}) as PreferenceSetInput)),
      );
    },
    /**
     * The merged view evaluation uses: the environment default, then (with `tenant`) the tenant's
     * default set, then the recipient's set `setId`.
     */
    async get(
      key: RecipientKey,
      setId: unknown,
      options: GetPreferencesOptions | undefined,
    ): Promise<PreferenceSet> {
      const id = setId === undefined ? "default" : requireId(setId, "setId", "a preference set id");
      const tenantId =
        options?.tenant === undefined ? null : requireId(options.tenant, "tenant", "a tenant id");
      const [recipient, tenant] = await ctx.store.getRecipients([
        key,
        { collection: TENANTS_COLLECTION, id: tenantId ?? "" },
      ]);
      const sources = preferenceSources(
        ctx.defaultPreferences,
        recipient ?? null,
        tenantId ? (tenant ?? null) : null,
        tenantId,
        id,
      );
      return cloneJson(
        toPreferenceSet(
          tenantId && id === "default" ? tenantId : id,
          resolvePreferences(sources, recipient ?? null),
        ),
      );
    },
  };
}

async function listMessages(
  ctx: EngineContext,
  filter: MessageFilter,
  params: MessageListParams | null | undefined,
): Promise<MessagePage> {
  const { request } = toMessageFilter(params, filter);
  const page = await ctx.store.listMessages(filter, request);
  return { items: page.items.map((m) => cloneJson(m)), page_info: pageInfo(page, request) };
}

/** @internal `engine.users`. */
export function usersNamespace(ctx: EngineContext, registry: WorkflowRegistry, ledger: BulkLedger) {
  const data = channelData(ctx);
  const prefs = preferences(ctx);
  const userKey = (id: unknown): RecipientKey => ({
    collection: USERS_COLLECTION,
    id: requireId(id, "id", "a user id"),
  });
  const api = {
    /** Replaces the user's preference set `setId` (`default`, or a tenant id); `__persistence_strategy__: "merge"` merges instead. */
    async setPreferences(
      id: string,
      setId: string,
      set: PreferenceSetRequest,
      _options?: RequestOptions,
    ): Promise<PreferenceSet> {
      return prefs.set(userKey(id), setId, set);
    },
    /** The user's merged preferences as evaluation sees them (environment default, tenant default, then the set). */
    async getPreferences(
      id: string,
      setId?: string,
      options?: GetPreferencesOptions | null,
      _requestOptions?: RequestOptions,
    ): Promise<PreferenceSet> {
      return prefs.get(userKey(id), setId, options ?? undefined);
    },
    /** The user's own preference sets, `default` first (see {@link PreferenceSet}). */
    async listPreferences(id: string, _options?: RequestOptions): Promise<PreferenceSet[]> {
      return prefs.list(userKey(id));
    },
    /** Identifies a user: creates it, or deep-merges `props` into it (`null` clears a property). */
    async update(id: string, props: UserProperties = {}, _options?: RequestOptions): Promise<User> {
      const key = userKey(id);
      const issues: ValidationIssue[] = [];
      const patch = propertiesToPatch(requireObject(props, "props"), "props", issues);
      if (issues.length > 0) invalid(`Invalid properties for user "${key.id}":`, issues);
      return cloneJson(toUser(await ctx.store.upsertRecipient(key, patch, nowIso(ctx))));
    },
    /** Every user, oldest first (in the order they were identified), a page at a time. */
    async list(
      params?: RecipientListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<User>> {
      return listCollection(ctx, USERS_COLLECTION, params ?? {}, "users.list", toUser);
    },
    /** The user; throws NotFoundError when it was never identified. */
    async get(id: string, _options?: RequestOptions): Promise<User> {
      const stored = await ctx.store.getRecipient(userKey(id));
      if (!stored)
        throw new NotFoundError("user", id, "Identify it with engine.users.update(id, props).");
      return cloneJson(toUser(stored));
    },
    /** Deletes the user and its subscriptions. */
    async delete(id: string, _options?: RequestOptions): Promise<void> {
      await ctx.store.deleteRecipient(userKey(id));
    },
    /**
     * Merges the user `params.from_user_id` into the user `id` (Knock's merge, for a user who was
     * identified twice, e.g. invited, then signed up): the secondary's properties deep-merge under
     * the primary's (the primary wins every conflict), its preference sets and channel data are
     * added where the primary has none for that set or channel, its messages (and so its feeds)
     * become the primary's, and the secondary is deleted, with its subscriptions. Returns the
     * merged user. Throws `NotFoundError` (changing nothing) when either user does not exist.
     */
    async merge(id: string, params: UserMergeParams, _options?: RequestOptions): Promise<User> {
      const key = userKey(id);
      return cloneJson(toUser(await mergeUsers(ctx, key.id, params)));
    },
    /** Replaces the user's data for one channel (push tokens, chat ids…); creates the user when missing. */
    async setChannelData(
      id: string,
      channelKey: string,
      body: { data: Record<string, unknown> | object },
      _options?: RequestOptions,
    ): Promise<ChannelData> {
      return data.set(userKey(id), channelKey, body);
    },
    /** Removes the user's data for one channel (a revoked push token…); a no-op when there is none. */
    async unsetChannelData(
      id: string,
      channelKey: string,
      _options?: RequestOptions,
    ): Promise<void> {
      await data.unset(userKey(id), channelKey);
    },
    /** The user's data for one channel; throws NotFoundError when there is none. */
    async getChannelData(
      id: string,
      channelKey: string,
      _options?: RequestOptions,
    ): Promise<ChannelData> {
      return data.get(userKey(id), channelKey);
    },
    /** The user's messages, newest first. */
    async listMessages(
      id: string,
      params?: MessageListParams | null,
      _options?: RequestOptions,
    ): Promise<MessagePage> {
      return listMessages(ctx, { recipient: userKey(id) }, params);
    },
    /** The user's in-app feeds. */
    feeds: {
      /**
       * One page of the user's feed on an in-app channel, newest first, with its counts in `meta`
       * (see {@link FeedPage}). A user without messages has an empty feed.
       */
      listItems(
        userId: string,
        channelKey: string,
        params?: FeedListParams | null,
        _options?: RequestOptions,
      ): Promise<FeedPage> {
        return listFeedItems(ctx, registry, userId, channelKey, params);
      },
    },
    /** The user's subscriptions to objects (optionally only to some objects), oldest first. */
    async listSubscriptions(
      id: string,
      params?: UserSubscriptionListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<Subscription>> {
      const key = userKey(id);
      const issues: ValidationIssue[] = [];
      const objects = counterpartFilter(params?.objects, "objects", issues);
      checkInclude(params?.include, issues);
      if (issues.length > 0) invalid("Invalid subscription list parameters:", issues);
      return subscriptionPage(
        (request) => ctx.store.listSubscriptionsOf(key, request),
        params,
        objects,
        (s) => s.object,
        toSubscription,
      );
    },
    /** The user's schedules (optionally of one workflow, or one tenant), oldest first. */
    async listSchedules(
      id: string,
      params?: UserScheduleListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<Schedule>> {
      const filter: ScheduleFilter = { recipients: [userKey(id)] };
      if (params?.workflow !== undefined) filter.workflow = params.workflow;
      if (params?.tenant !== undefined) filter.tenant = params.tenant;
      return listSchedules(ctx, filter, params ?? undefined);
    },
  };
  return Object.assign(api, {
    /** Knock's bulk user operations: each runs to the end before it returns (see {@link BulkOperation}). */
    bulk: {
      /** Identifies up to 1,000 users (`{ users: [{ id, ...properties }] }`). */
      async identify(
        params: { users: Array<{ id: string } & UserProperties> },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const users = bulkList(params, "users", "users.bulk.identify", "users");
        return ledger.run(
          "users.identify",
          recordItems(users, "a user", (id, props) => api.update(id, props as UserProperties)),
        );
      },
      /** Deletes up to 1,000 users (`{ user_ids }`). */
      async delete(
        params: { user_ids: string[] },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const ids = bulkList(params, "user_ids", "users.bulk.delete", "user ids");
        return ledger.run(
          "users.delete",
          idItems(ids, (id) => api.delete(id)),
        );
      },
      /**
       * Replaces one preference set (`preferences.id`, default `default`) of up to 1,000 users
       * (`{ user_ids, preferences }`).
       */
      async setPreferences(
        params: { user_ids: string[]; preferences: PreferenceSetRequest & { id?: string } },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const ids = bulkList(params, "user_ids", "users.bulk.setPreferences", "user ids");
        const given = (params as { preferences?: unknown }).preferences;
        if (!isPlainObject(given)) {
          invalid("Invalid users.bulk.setPreferences parameters:", [
            {
              field: "preferences",
              type: "type",
              message: `expected a preference set, received ${describe(given)}`,
            },
          ]);
        }
        const { id: setId = "default", ...set } = given;
        // The set is the same for every user: a bad one is the call's error, not each item's.
        requireId(setId, "preferences.id", "a preference set id");
        const issues: ValidationIssue[] = [];
        validatePreferenceSet(set, "preferences", issues);
        if (issues.length > 0) invalid("Invalid users.bulk.setPreferences parameters:", issues);
        return ledger.run(
          "users.set_preferences",
          idItems(ids, (id) =>
            api.setPreferences(id, setId as string, set as PreferenceSetRequest),
          ),
        );
      },
    },
  });
}

/** @internal `engine.objects`. */
export function objectsNamespace(ctx: EngineContext, ledger: BulkLedger) {
  const data = channelData(ctx);
  const prefs = preferences(ctx);
  const objectKey = (
    collection: unknown,
    id: unknown,
    what = "Invalid object reference:",
  ): RecipientKey => {
    const issues: ValidationIssue[] = [];
    checkId(collection, "collection", issues, "a collection");
    if (id !== null) checkId(id, "id", issues, "an object id");
    if (issues.length > 0) invalid(what, issues);
    if (collection === USERS_COLLECTION || collection === TENANTS_COLLECTION) {
      invalid("Invalid object reference:", [
        {
          field: "collection",
          type: "reserved",
          message: `expected an object collection, received the reserved "${collection}"; use engine.users or engine.tenants`,
        },
      ]);
    }
    return { collection: collection as string, id: id as string };
  };
  const normalizeSubscribers = (list: unknown): NormalizedRecipient[] => {
    if (!Array.isArray(list) || list.length === 0 || list.length > 100) {
      invalid("Invalid subscription recipients:", [
        {
          field: "recipients",
          type: "length",
          message: `expected 1 to 100 recipients, received ${describe(list)}`,
        },
      ]);
    }
    const issues: ValidationIssue[] = [];
    const normalized = list.map((item, i) => normalizeRecipient(item, `recipients[${i}]`, issues));
    if (issues.length > 0) invalid("Invalid subscription recipients:", issues);
    return normalized as NormalizedRecipient[];
  };
  const api = {
    /** Every object of the collection, oldest first (in the order they were set), a page at a time. */
    async list(
      collection: string,
      params?: RecipientListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<RecipientObject>> {
      const { collection: checked } = objectKey(collection, null, "Invalid collection:");
      return listCollection(ctx, checked, params ?? {}, "objects.list", toObject);
    },
    /** Creates or deep-merges an object. */
    async set(
      collection: string,
      id: string,
      props: Record<string, unknown> = {},
      _options?: RequestOptions,
    ): Promise<RecipientObject> {
      const key = objectKey(collection, id);
      const issues: ValidationIssue[] = [];
      const patch = propertiesToPatch(requireObject(props, "props"), "props", issues);
      if (issues.length > 0)
        invalid(`Invalid properties for object "${collection}/${id}":`, issues);
      return cloneJson(toObject(await ctx.store.upsertRecipient(key, patch, nowIso(ctx))));
    },
    /** The object; throws NotFoundError when missing. */
    async get(collection: string, id: string, _options?: RequestOptions): Promise<RecipientObject> {
      const stored = await ctx.store.getRecipient(objectKey(collection, id));
      if (!stored)
        throw new NotFoundError(
          "object",
          `${collection}/${id}`,
          "Create it with engine.objects.set(collection, id, props).",
        );
      return cloneJson(toObject(stored));
    },
    /** Deletes the object and every subscription it is part of. */
    async delete(collection: string, id: string, _options?: RequestOptions): Promise<void> {
      await ctx.store.deleteRecipient(objectKey(collection, id));
    },
    /**
     * Subscribes up to 100 recipients (identified inline when given with properties) to the object,
     * which is created when missing. Existing subscriptions get the new `properties`.
     */
    async addSubscriptions(
      collection: string,
      id: string,
      body: { recipients: RecipientRequest[]; properties?: Record<string, unknown> | null },
      _options?: RequestOptions,
    ): Promise<Subscription[]> {
      const key = objectKey(collection, id);
      const input = requireObject(body, "body");
      const normalized = normalizeSubscribers(input.recipients);
      const keys = normalized.map((n) => n.key);
      const properties =
        input.properties === undefined || input.properties === null
          ? null
          : requireObject(input.properties, "properties");
      const now = nowIso(ctx);
      if (!(await ctx.store.getRecipient(key))) await ctx.store.upsertRecipient(key, {}, now);
      for (const n of normalized) if (n.patch) await ctx.store.upsertRecipient(n.key, n.patch, now);
      const stored = await ctx.store.upsertSubscriptions(key, keys, properties, now);
      return stored.map(toSubscription);
    },
    /** Unsubscribes recipients; returns the subscriptions that existed. */
    async deleteSubscriptions(
      collection: string,
      id: string,
      body: { recipients: RecipientReferenceInput[] },
      _options?: RequestOptions,
    ): Promise<Subscription[]> {
      const key = objectKey(collection, id);
      const keys = normalizeSubscribers(requireObject(body, "body").recipients).map((n) => n.key);
      return (await ctx.store.deleteSubscriptions(key, keys)).map(toSubscription);
    },
    /** The object's subscribers (or, with `mode: "recipient"`, the subscriptions it holds), oldest first. */
    async listSubscriptions(
      collection: string,
      id: string,
      params?: ListSubscriptionsParams | null,
      _options?: RequestOptions,
    ): Promise<Page<Subscription>> {
      const key = objectKey(collection, id);
      const asRecipient = params?.mode === "recipient";
      const issues: ValidationIssue[] = [];
      const only = asRecipient
        ? counterpartFilter(params?.objects, "objects", issues)
        : counterpartFilter(params?.recipients, "recipients", issues);
      const other = asRecipient ? params?.recipients : params?.objects;
      if (other !== undefined && other !== null) {
        issues.push({
          field: asRecipient ? "recipients" : "objects",
          type: "mode",
          message: `expected ${asRecipient ? "objects (the subscriptions the object holds are filtered by object)" : 'recipients (subscribers are filtered by recipient; objects filters mode "recipient")'}, received ${asRecipient ? "recipients" : "objects"}; use the filter of the mode`,
        });
      }
      checkInclude(params?.include, issues);
      if (issues.length > 0) invalid("Invalid subscription list parameters:", issues);
      return asRecipient
        ? subscriptionPage(
            (request) => ctx.store.listSubscriptionsOf(key, request),
            params,
            only,
            (s) => s.object,
            toSubscription,
          )
        : subscriptionPage(
            (request) => ctx.store.listSubscribers(key, request),
            params,
            only,
            (s) => s.recipient,
            toSubscription,
          );
    },
    /** Replaces the object's data for one channel. */
    async setChannelData(
      collection: string,
      id: string,
      channelKey: string,
      body: { data: Record<string, unknown> | object },
      _options?: RequestOptions,
    ): Promise<ChannelData> {
      return data.set(objectKey(collection, id), channelKey, body);
    },
    /** Removes the object's data for one channel; a no-op when there is none. */
    async unsetChannelData(
      collection: string,
      id: string,
      channelKey: string,
      _options?: RequestOptions,
    ): Promise<void> {
      await data.unset(objectKey(collection, id), channelKey);
    },
    /** The object's data for one channel. */
    async getChannelData(
      collection: string,
      id: string,
      channelKey: string,
      _options?: RequestOptions,
    ): Promise<ChannelData> {
      return data.get(objectKey(collection, id), channelKey);
    },
    /** Replaces the object's preference set `setId`; `__persistence_strategy__: "merge"` merges instead. */
    async setPreferences(
      collection: string,
      id: string,
      setId: string,
      set: PreferenceSetRequest,
      _options?: RequestOptions,
    ): Promise<PreferenceSet> {
      return prefs.set(objectKey(collection, id), setId, set);
    },
    /** The object's schedules (optionally of one workflow, or one tenant), oldest first. */
    async listSchedules(
      collection: string,
      id: string,
      params?: UserScheduleListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<Schedule>> {
      const filter: ScheduleFilter = { recipients: [objectKey(collection, id)] };
      if (params?.workflow !== undefined) filter.workflow = params.workflow;
      if (params?.tenant !== undefined) filter.tenant = params.tenant;
      return listSchedules(ctx, filter, params ?? undefined);
    },
    /** The object's own preference sets, `default` first. */
    async listPreferences(
      collection: string,
      id: string,
      _options?: RequestOptions,
    ): Promise<PreferenceSet[]> {
      return prefs.list(objectKey(collection, id));
    },
    /** The object's merged preferences as evaluation sees them. */
    async getPreferences(
      collection: string,
      id: string,
      setId?: string,
      options?: (GetPreferencesOptions & RequestOptions) | null,
    ): Promise<PreferenceSet> {
      return prefs.get(objectKey(collection, id), setId, options ?? undefined);
    },
    /** The object's messages, newest first. */
    async listMessages(
      collection: string,
      id: string,
      params?: MessageListParams | null,
      _options?: RequestOptions,
    ): Promise<MessagePage> {
      return listMessages(ctx, { recipient: objectKey(collection, id) }, params);
    },
  };
  return Object.assign(api, {
    /** Knock's bulk object operations: each runs to the end before it returns (see {@link BulkOperation}). */
    bulk: {
      /** Sets (creates or deep-merges) up to 1,000 objects of the collection (`{ objects: [{ id, ...properties }] }`). */
      async set(
        collection: string,
        params: { objects: Array<{ id: string } & Record<string, unknown>> },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const checked = objectKey(collection, null, "Invalid collection:").collection;
        const objects = bulkList(params, "objects", "objects.bulk.set", "objects");
        return ledger.run(
          "objects.set",
          recordItems(objects, "an object", (id, props) => api.set(checked, id, props), checked),
        );
      },
      /** Deletes up to 1,000 objects of the collection (`{ object_ids }`). */
      async delete(
        collection: string,
        params: { object_ids: string[] },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const checked = objectKey(collection, null, "Invalid collection:").collection;
        const ids = bulkList(params, "object_ids", "objects.bulk.delete", "object ids");
        return ledger.run(
          "objects.delete",
          idItems(ids, (id) => api.delete(checked, id), checked),
        );
      },
      /**
       * Subscribes recipients to up to 1,000 objects of the collection (`{ subscriptions: [{ id,
       * recipients, properties? }] }`, `id` the object's); an existing subscription is updated.
       */
      async addSubscriptions(
        collection: string,
        params: {
          subscriptions: Array<{
            id: string;
            recipients: RecipientRequest[];
            properties?: Record<string, unknown> | null;
          }>;
        },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const checked = objectKey(collection, null, "Invalid collection:").collection;
        const subscriptions = bulkList(
          params,
          "subscriptions",
          "objects.bulk.addSubscriptions",
          "subscriptions",
        );
        return ledger.run(
          "objects.add_subscriptions",
          recordItems(
            subscriptions,
            "a subscription",
            (id, body) =>
              api.addSubscriptions(checked, id, body as { recipients: RecipientRequest[] }),
            checked,
          ),
          // One at a time: two objects' items may identify the same inline subscriber.
          1,
        );
      },
    },
  });
}

/** Parameters of `tenants.get`, and of `tenants.set` beside the tenant's properties. */
export interface TenantGetParams {
  /**
   * Return `settings.preference_set` merged over the environment's default preferences
   * (`defaultPreferences`): the set a trigger with this tenant starts from.
   */
  resolve_full_preference_settings?: boolean;
}

function resolveFlag(value: unknown, issues: ValidationIssue[]): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "boolean") return value;
  issues.push({
    field: "resolve_full_preference_settings",
    type: "type",
    message: `expected true or false, received ${describe(value)}`,
  });
  return false;
}

/** @internal `engine.tenants`. */
export function tenantsNamespace(ctx: EngineContext, ledger: BulkLedger) {
  const tenantKey = (id: unknown): RecipientKey => ({
    collection: TENANTS_COLLECTION,
    id: requireId(id, "id", "a tenant id"),
  });
  const present = (tenant: Tenant, resolve: boolean): Tenant => {
    if (!resolve) return cloneJson(tenant);
    const preferenceSet = mergeChain([
      { label: "environment default", set: ctx.defaultPreferences as PreferenceSetInput },
      { label: `tenant ${tenant.id}`, set: tenant.settings?.preference_set as PreferenceSetInput },
    ]);
    const settings = {
      ...tenant.settings,
      preference_set: preferenceSet as Record<string, unknown>,
    };
    return cloneJson({ ...tenant, settings });
  };
  const api = {
    /** Every tenant, oldest first (in the order they were set), a page at a time. */
    async list(
      params?: RecipientListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<Tenant>> {
      return listCollection(ctx, TENANTS_COLLECTION, params ?? {}, "tenants.list", toTenant);
    },
    /**
     * Creates or deep-merges a tenant (`name`, `settings.branding`, any property). Its
     * `settings.preference_set` (the default preferences of its users) merges too, unless it says
     * `__persistence_strategy__: "replace"`.
     */
    async set(
      id: string,
      props: Omit<TenantRequest, "id"> & TenantGetParams = {},
      _options?: RequestOptions,
    ): Promise<Tenant> {
      const key = tenantKey(id);
      const issues: ValidationIssue[] = [];
      const { resolve_full_preference_settings: full, ...properties } = requireObject(
        props,
        "props",
      );
      const resolve = resolveFlag(full, issues);
      const { patch, replacePreferences } = tenantToPatch(properties, "props", issues);
      if (issues.length > 0) invalid(`Invalid properties for tenant "${id}":`, issues);
      const now = nowIso(ctx);
      let stored = await ctx.store.upsertRecipient(key, patch, now);
      if (replacePreferences)
        stored =
          (await ctx.store.setPreferenceSet(key, "default", replacePreferences, now)) ?? stored;
      return present(toTenant(stored), resolve);
    },
    /**
     * The tenant; throws NotFoundError when missing. With `resolve_full_preference_settings`, its
     * `settings.preference_set` is merged over the environment's default preferences.
     */
    async get(
      id: string,
      params?: TenantGetParams | null,
      _options?: RequestOptions,
    ): Promise<Tenant> {
      const issues: ValidationIssue[] = [];
      const resolve = resolveFlag(params?.resolve_full_preference_settings, issues);
      if (issues.length > 0) invalid(`Invalid parameters for tenant "${id}":`, issues);
      const stored = await ctx.store.getRecipient(tenantKey(id));
      if (!stored)
        throw new NotFoundError(
          "tenant",
          id,
          "Create it with engine.tenants.set(id, props) or by triggering with it.",
        );
      return present(toTenant(stored), resolve);
    },
    /** Deletes the tenant. */
    async delete(id: string, _options?: RequestOptions): Promise<void> {
      await ctx.store.deleteRecipient(tenantKey(id));
    },
  };
  return Object.assign(api, {
    /** Knock's bulk tenant operations: each runs to the end before it returns (see {@link BulkOperation}). */
    bulk: {
      /** Sets (creates or deep-merges) up to 1,000 tenants (`{ tenants: [{ id, ...properties }] }`). */
      async set(
        params: { tenants: Array<TenantRequest> },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const tenants = bulkList(params, "tenants", "tenants.bulk.set", "tenants");
        return ledger.run(
          "tenants.set",
          recordItems(tenants, "a tenant", (id, props) =>
            api.set(id, props as Omit<TenantRequest, "id">),
          ),
        );
      },
      /** Deletes up to 1,000 tenants (`{ tenant_ids }`). */
      async delete(
        params: { tenant_ids: string[] },
        _options?: RequestOptions,
      ): Promise<BulkOperation> {
        const ids = bulkList(params, "tenant_ids", "tenants.bulk.delete", "tenant ids");
        return ledger.run(
          "tenants.delete",
          idItems(ids, (id) => api.delete(id)),
        );
      },
    },
  });
}

/** @internal `engine.messages`: listing, reading, and engagement (`markAsSeen`…, `batch.*`). */
export function messagesNamespace(ctx: EngineContext, registry: WorkflowRegistry) {
  return {
    ...engagementApi(ctx),
    /**
     * The message's activities (the triggers that went into it), oldest first: one for most
     * messages, one per trigger its batch collected for a batched one. Throws NotFoundError when
     * the message is missing.
     */
    async listActivities(
      id: string,
      params?: ActivityListParams | null,
      _options?: RequestOptions,
    ): Promise<ActivityPage> {
      return listMessageActivities(ctx, registry, id, params ?? {});
    },
    /** Messages matching the filters, newest first. */
    async list(params?: MessageListParams | null, _options?: RequestOptions): Promise<MessagePage> {
      return listMessages(ctx, {}, params);
    },
    /** One message; throws NotFoundError when missing. */
    async get(id: string, _options?: RequestOptions): Promise<Message> {
      const message = await ctx.store.getMessage(requireId(id, "id", "a message id"));
      if (!message) throw new NotFoundError("message", id);
      return cloneJson(message);
    },
  };
}

/** @internal `engine.workflowRecipientRuns`. */
export function runsNamespace(ctx: EngineContext) {
  return {
    /** Recipient runs matching the filters, newest first (without `events`). */
    async list(
      params?: RunListParams | null,
      _options?: RequestOptions,
    ): Promise<Page<WorkflowRecipientRun>> {
      const filter: RunFilter = {};
      const { request } = toRunFilter(params, filter);
      const page = await ctx.store.listRecipientRuns(filter, request);
      return {
        entries: page.items.map((run) => cloneJson(run)),
        page_info: pageInfo(page, request),
      };
    },
    /** One recipient run with its whole log in `events`; throws NotFoundError when missing. */
    async get(id: string, _options?: RequestOptions): Promise<WorkflowRecipientRun> {
      const run = await ctx.store.getRecipientRun(
        requireId(id, "id", "a workflow recipient run id"),
      );
      if (!run) throw new NotFoundError("workflow recipient run", id);
      const events = await ctx.store.getRunEvents(id);
      return { ...cloneJson(run), events: cloneJson(events) };
    },
  };
}

/** @internal `engine.bulkOperations`: the bulk operations this engine ran lately. */
export function bulkOperationsNamespace(ledger: BulkLedger) {
  return {
    /**
     * A bulk operation this engine ran (one of its last 1,000, in this process); throws
     * NotFoundError otherwise.
     */
    async get(id: string, _options?: RequestOptions): Promise<BulkOperation> {
      return ledger.get(id);
    },
  };
}
