/**
 * @internal Recipients (users, objects, tenants) and subscriptions in PostgreSQL.
 *
 * Each method is one statement: identify's merges run inside `INSERT … ON CONFLICT DO UPDATE`
 * (the row lock makes concurrent upserts of one recipient apply one after the other), and deleting
 * a recipient removes its subscriptions in the same statement. Concurrent reads of recipients
 * (`getRecipient`, `getRecipients`) are grouped ({@link Group}) into one statement.
 */
import type {
  PageRequest,
  PageResult,
  RecipientKey,
  RecipientPatch,
  Store,
  StoredRecipient,
  StoredSubscription,
} from "../store/types.js";
import type { Db } from "./db.js";
import { Group } from "./group.js";
import { listPage } from "./paging.js";

type RecipientMethods = Pick<
  Store,
  | "getRecipient"
  | "getRecipients"
  | "upsertRecipient"
  | "updateRecipient"
  | "deleteRecipient"
  | "setPreferenceSet"
  | "upsertSubscriptions"
  | "deleteSubscriptions"
  | "listSubscribers"
  | "listSubscriptionsOf"
  | "listRecipients"
>;

interface RecipientRow {
  collection: string;
  id: string;
  properties: Record<string, unknown>;
  channel_data: StoredRecipient["channel_data"];
  preferences: StoredRecipient["preferences"];
  created_at: string | null;
  inserted_at: string;
  updated_at: string;
}

interface SubscriptionRow {
  seq: string;
  object_collection: string;
  object_id: string;
  recipient_collection: string;
  recipient_id: string;
  properties: Record<string, unknown> | null;
  inserted_at: string;
  updated_at: string;
}

const RECIPIENT_COLUMNS =
  "collection, id, properties, channel_data, preferences, created_at, inserted_at, updated_at";
const SUBSCRIPTION_COLUMNS =
  "seq, object_collection, object_id, recipient_collection, recipient_id, properties, inserted_at, updated_at";

function toRecipient(row: RecipientRow): StoredRecipient {
  return {
    collection: row.collection,
    id: row.id,
    properties: row.properties,
    channel_data: row.channel_data,
    preferences: row.preferences,
    created_at: row.created_at,
    inserted_at: row.inserted_at,
    updated_at: row.updated_at,
  };
}

function toSubscription(row: SubscriptionRow): StoredSubscription {
  return {
    object: { collection: row.object_collection, id: row.object_id },
    recipient: { collection: row.recipient_collection, id: row.recipient_id },
    properties: row.properties,
    inserted_at: row.inserted_at,
    updated_at: row.updated_at,
  };
}

/** A map key for a recipient (the length prefix keeps any collection and id apart). */
function keyString(key: RecipientKey): string {
  return `${key.collection.length}:${key.collection}:${key.id}`;
}

/** The distinct keys of `keys`, in first-seen order. */
function distinct(keys: readonly RecipientKey[]): RecipientKey[] {
  const seen = new Map<string, RecipientKey>();
  for (const key of keys) if (!seen.has(keyString(key))) seen.set(keyString(key), key);
  return [...seen.values()];
}

const json = (value: unknown): string | null =>
  value === undefined || value === null ? null : JSON.stringify(value);

/** @internal The recipient and subscription methods of the PostgreSQL store. */
/** The parameters ($1–$8) of a recipient patch, as upsertRecipient and updateRecipient take them. */
function patchParams(key: RecipientKey, patch: RecipientPatch, now: string): unknown[] {
  return [
    key.collection,
    key.id,
    json(patch.properties),
    json(patch.channel_data),
    json(patch.preferences),
    patch.created_at !== undefined,
    patch.created_at ?? null,
    now,
  ];
}

export function recipientMethods(db: Db): RecipientMethods {
  const R = `${db.s}.recipients`;
  const S = `${db.s}.subscriptions`;
  /** One page of the subscriptions whose `side` (the object, or the subscriber) is `key`. */
  const subscriptionsBy = async (
    side: "object" | "recipient",
    key: RecipientKey,
    page: PageRequest,
  ): Promise<PageResult<StoredSubscription>> => {
    const result = await listPage<SubscriptionRow>(
      db,
      {
        from: S,
        select: SUBSCRIPTION_COLUMNS,
        where: `${side}_collection = $1 AND ${side}_id = $2`,
        params: [key.collection, key.id],
        order: "asc",
      },
      page,
    );
    return { ...result, items: result.items.map(toSubscription) };
  };
  /** Reads by key: every concurrent call's keys in one statement. */
  const reads = new Group<readonly RecipientKey[], Array<StoredRecipient | null>>({
    async run(calls) {
      const keys = distinct(calls.flat());
      const rows = await db.query<RecipientRow>(
        `SELECT ${RECIPIENT_COLUMNS} FROM ${R}
         WHERE (collection, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [keys.map((k) => k.collection), keys.map((k) => k.id)],
      );
      // Calls that ask for one recipient share its object: what a store returns is read-only.
      const byKey = new Map(rows.map((row) => [keyString(row), toRecipient(row)]));
      return calls.map((call) => call.map((key) => byKey.get(keyString(key)) ?? null));
    },
  });
  return {
    async getRecipient(key) {
      return (await reads.call([key]))[0] ?? null;
    },

    async getRecipients(keys) {
      if (keys.length === 0) return [];
      return reads.call(keys);
    },

    async upsertRecipient(key, patch, now) {
      const rows = await db.query<RecipientRow>(
        `INSERT INTO ${R} AS r (${RECIPIENT_COLUMNS})
         VALUES ($1, $2, coalesce($3::jsonb, '{}'::jsonb), ${db.s}.merge_sets('{}'::jsonb, $4::jsonb, false),
                 ${db.s}.merge_sets('{}'::jsonb, $5::jsonb, true), CASE WHEN $6 THEN $7 ELSE NULL END, $8, $8)
         ON CONFLICT (collection, id) DO UPDATE SET
           properties = CASE WHEN $3::jsonb IS NULL THEN r.properties ELSE ${db.s}.deep_merge(r.properties, $3::jsonb) END,
           channel_data = ${db.s}.merge_sets(r.channel_data, $4::jsonb, false),
           preferences = ${db.s}.merge_sets(r.preferences, $5::jsonb, true),
           created_at = CASE WHEN $6 THEN $7 ELSE r.created_at END,
           updated_at = $8
         RETURNING ${RECIPIENT_COLUMNS}`,
        patchParams(key, patch, now),
      );
      return toRecipient(rows[0]!);
    },

    async updateRecipient(key, patch, now) {
      const rows = await db.query<RecipientRow>(
        `UPDATE ${R} AS r SET
           properties = CASE WHEN $3::jsonb IS NULL THEN r.properties ELSE ${db.s}.deep_merge(r.properties, $3::jsonb) END,
           channel_data = ${db.s}.merge_sets(r.channel_data, $4::jsonb, false),
           preferences = ${db.s}.merge_sets(r.preferences, $5::jsonb, true),
           created_at = CASE WHEN $6 THEN $7 ELSE r.created_at END,
           updated_at = $8
         WHERE collection = $1 AND id = $2
         RETURNING ${RECIPIENT_COLUMNS}`,
        patchParams(key, patch, now),
      );
      return rows[0] ? toRecipient(rows[0]) : null;
    },

    async deleteRecipient(key) {
      const rows = await db.query<{ existed: boolean }>(
        `WITH gone AS (DELETE FROM ${R} WHERE collection = $1 AND id = $2 RETURNING 1),
              subs AS (DELETE FROM ${S} WHERE (object_collection = $1 AND object_id = $2)
                                         OR (recipient_collection = $1 AND recipient_id = $2) RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM gone) AS existed, (SELECT count(*) FROM subs) AS subscriptions`,
        [key.collection, key.id],
      );
      return rows[0]?.existed === true;
    },

    async setPreferenceSet(key, setId, set, now) {
      const rows = await db.query<RecipientRow>(
        `UPDATE ${R} SET
           preferences = CASE WHEN $4::jsonb IS NULL THEN preferences - $3::text
                              ELSE preferences || jsonb_build_object($3::text, $4::jsonb) END,
           updated_at = $5
         WHERE collection = $1 AND id = $2
         RETURNING ${RECIPIENT_COLUMNS}`,
        [key.collection, key.id, setId, json(set), now],
      );
      return rows[0] ? toRecipient(rows[0]) : null;
    },

    async upsertSubscriptions(object, recipients, properties, now) {
      if (recipients.length === 0) return [];
      const unique = distinct(recipients);
      // New rows take their seq in the order given (ORDER BY ord); existing ones keep theirs.
      const rows = await db.query<SubscriptionRow>(
        `INSERT INTO ${S} AS s (object_collection, object_id, recipient_collection, recipient_id, properties, inserted_at, updated_at)
         SELECT $1, $2, c, i, $5::jsonb, $6, $6
         FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS given(c, i, ord) ORDER BY ord
         ON CONFLICT (object_collection, object_id, recipient_collection, recipient_id) DO UPDATE SET
           properties = EXCLUDED.properties, updated_at = EXCLUDED.updated_at
         RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [
          object.collection,
          object.id,
          unique.map((k) => k.collection),
          unique.map((k) => k.id),
          json(properties),
          now,
        ],
      );
      const byKey = new Map(
        rows.map((row) => [
          keyString({ collection: row.recipient_collection, id: row.recipient_id }),
          toSubscription(row),
        ]),
      );
      return recipients.map((key) => byKey.get(keyString(key))!);
    },

    async deleteSubscriptions(object, recipients) {
      if (recipients.length === 0) return [];
      const rows = await db.query<SubscriptionRow>(
        `DELETE FROM ${S}
         WHERE object_collection = $1 AND object_id = $2
           AND (recipient_collection, recipient_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))
         RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [
          object.collection,
          object.id,
          recipients.map((k) => k.collection),
          recipients.map((k) => k.id),
        ],
      );
      const byKey = new Map(
        rows.map((row) => [
          keyString({ collection: row.recipient_collection, id: row.recipient_id }),
          toSubscription(row),
        ]),
      );
      const removed: StoredSubscription[] = [];
      for (const key of distinct(recipients)) {
        const sub = byKey.get(keyString(key));
        if (sub) removed.push(sub);
      }
      return removed;
    },

    async listRecipients(collection, page) {
      const result = await listPage<RecipientRow & { seq: string }>(
        db,
        {
          from: R,
          select: `seq, ${RECIPIENT_COLUMNS}`,
          where: "collection = $1",
          params: [collection],
          order: "asc",
        },
        page,
      );
      return { ...result, items: result.items.map(toRecipient) };
    },

    listSubscribers(object, page) {
      return subscriptionsBy("object", object, page);
    },

    listSubscriptionsOf(recipient, page) {
      return subscriptionsBy("recipient", recipient, page);
    },
  };
}
