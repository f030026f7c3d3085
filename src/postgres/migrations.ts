/**
 * @internal The PostgreSQL store's schema, as a list of versioned migrations, and the runner that
 * applies the missing ones.
 *
 * The runner is safe to start from many processes at once: it takes a transaction-scoped advisory
 * lock (keyed by the schema name) before reading the ledger, so one process migrates while the
 * others wait and then find nothing to do. Each migration runs in that same transaction, so a
 * failure leaves the schema as it was. A schema migrated by a newer crier (a version this code does
 * not know) is refused rather than used.
 *
 * To change the schema, append a migration; never edit one that has shipped.
 */
import { CrierError } from "../errors.js";
import type { PgClientLike } from "./db.js";

/** @internal One step of the schema. `sql` gets the quoted schema name. */
export interface Migration {
  version: number;
  name: string;
  sql: (s: string) => string;
}

/** The first key of the advisory lock ("crie"); the second is the schema name's hash. */
const LOCK_CLASS = 0x63726965;

/** @internal Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "recipients, subscriptions, workflows, runs, messages, once-only records, flow control",
    sql: (s) => `
-- Timestamps are the ISO-8601 strings the engine's clock writes (always with an explicit zone), so
-- turning one into epoch milliseconds does not depend on session settings: IMMUTABLE holds for
-- them, which lets generated columns and indexes use it. Anything unparsable becomes NULL.
CREATE FUNCTION ${s}.epoch_ms(value text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  RETURN (extract(epoch FROM value::timestamptz) * 1000)::bigint;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $f$;

-- Identify's deep merge: objects merge key by key, anything else (null included) replaces.
CREATE FUNCTION ${s}.deep_merge(base jsonb, patch jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  k text;
  v jsonb;
  result jsonb;
BEGIN
  IF jsonb_typeof(base) IS DISTINCT FROM 'object' OR jsonb_typeof(patch) IS DISTINCT FROM 'object' THEN
    RETURN patch;
  END IF;
  result := base;
  FOR k, v IN SELECT key, value FROM jsonb_each(patch) LOOP
    result := result || jsonb_build_object(k, ${s}.deep_merge(result -> k, v));
  END LOOP;
  RETURN result;
END $f$;

-- Per-key sets (channel data, preference sets): null removes a key; else the value replaces it
-- (deep = false) or is deep-merged into it (deep = true).
CREATE FUNCTION ${s}.merge_sets(base jsonb, patch jsonb, deep boolean) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE
  k text;
  v jsonb;
  result jsonb := coalesce(base, '{}'::jsonb);
BEGIN
  IF jsonb_typeof(patch) IS DISTINCT FROM 'object' THEN
    RETURN result;
  END IF;
  FOR k, v IN SELECT key, value FROM jsonb_each(patch) LOOP
    IF v = 'null'::jsonb THEN
      result := result - k;
    ELSIF deep THEN
      result := result || jsonb_build_object(k, ${s}.deep_merge(result -> k, v));
    ELSE
      result := result || jsonb_build_object(k, v);
    END IF;
  END LOOP;
  RETURN result;
END $f$;

-- The collection and id of a reference as runs and messages hold it (a string is a user id).
CREATE FUNCTION ${s}.ref_collection(ref jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN jsonb_typeof(ref) = 'string' THEN '$users' ELSE ref ->> 'collection' END
$f$;
CREATE FUNCTION ${s}.ref_id(ref jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN jsonb_typeof(ref) = 'string' THEN ref #>> '{}' ELSE ref ->> 'id' END
$f$;

CREATE TABLE ${s}.recipients (
  collection text NOT NULL,
  id text NOT NULL,
  properties jsonb NOT NULL,
  channel_data jsonb NOT NULL,
  preferences jsonb NOT NULL,
  created_at text,
  inserted_at text NOT NULL,
  updated_at text NOT NULL,
  PRIMARY KEY (collection, id)
);

-- seq orders an object's subscribers (and a recipient's subscriptions): oldest first, stable.
CREATE TABLE ${s}.subscriptions (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  object_collection text NOT NULL,
  object_id text NOT NULL,
  recipient_collection text NOT NULL,
  recipient_id text NOT NULL,
  properties jsonb,
  inserted_at text NOT NULL,
  updated_at text NOT NULL,
  UNIQUE (object_collection, object_id, recipient_collection, recipient_id)
);
CREATE INDEX subscriptions_by_object ON ${s}.subscriptions (object_collection, object_id, seq);
CREATE INDEX subscriptions_by_recipient ON ${s}.subscriptions (recipient_collection, recipient_id, seq);

-- Every version of every workflow; the head names the current one.
CREATE TABLE ${s}.workflows (
  key text NOT NULL,
  version integer NOT NULL,
  doc jsonb NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE TABLE ${s}.workflow_heads (
  key text PRIMARY KEY,
  version integer NOT NULL
);

CREATE TABLE ${s}.workflow_runs (
  id text PRIMARY KEY,
  doc jsonb NOT NULL
);

-- A recipient run is one JSON document; what lists filter and page on is generated from it, so the
-- columns can never disagree with the document (a compare-and-set update rewrites only doc).
CREATE TABLE ${s}.recipient_runs (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  doc jsonb NOT NULL,
  version integer GENERATED ALWAYS AS ((doc ->> 'version')::integer) STORED,
  workflow text GENERATED ALWAYS AS (doc ->> 'workflow') STORED,
  status text GENERATED ALWAYS AS (doc ->> 'status') STORED,
  tenant text GENERATED ALWAYS AS (doc ->> 'tenant') STORED,
  error_count integer GENERATED ALWAYS AS ((doc ->> 'error_count')::integer) STORED,
  recipient_collection text GENERATED ALWAYS AS (${s}.ref_collection(doc -> 'recipient')) STORED,
  recipient_id text GENERATED ALWAYS AS (${s}.ref_id(doc -> 'recipient')) STORED,
  workflow_run_id text GENERATED ALWAYS AS (doc ->> 'workflow_run_id') STORED,
  cancellation_key text GENERATED ALWAYS AS (doc -> 'trigger_source' ->> 'cancellation_key') STORED,
  inserted_ms bigint GENERATED ALWAYS AS (${s}.epoch_ms(doc ->> 'inserted_at')) STORED
);
CREATE INDEX recipient_runs_by_recipient ON ${s}.recipient_runs (recipient_collection, recipient_id, seq);
CREATE INDEX recipient_runs_by_workflow_run ON ${s}.recipient_runs (workflow_run_id, seq);
CREATE INDEX recipient_runs_by_workflow ON ${s}.recipient_runs (workflow, seq);
CREATE INDEX recipient_runs_by_cancellation_key ON ${s}.recipient_runs (workflow, cancellation_key, seq)
  WHERE cancellation_key IS NOT NULL;

CREATE TABLE ${s}.run_events (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id text NOT NULL,
  event jsonb NOT NULL
);
CREATE INDEX run_events_by_run ON ${s}.run_events (run_id, seq);

CREATE TABLE ${s}.messages (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  doc jsonb NOT NULL,
  recipient_collection text GENERATED ALWAYS AS (${s}.ref_collection(doc -> 'recipient')) STORED,
  recipient_id text GENERATED ALWAYS AS (${s}.ref_id(doc -> 'recipient')) STORED,
  status text GENERATED ALWAYS AS (doc ->> 'status') STORED,
  channel_id text GENERATED ALWAYS AS (doc ->> 'channel_id') STORED,
  tenant text GENERATED ALWAYS AS (doc ->> 'tenant') STORED,
  workflow text GENERATED ALWAYS AS (doc ->> 'workflow') STORED,
  workflow_run_id text GENERATED ALWAYS AS (doc -> 'source' ->> 'workflow_run_id') STORED,
  workflow_recipient_run_id text GENERATED ALWAYS AS (doc -> 'source' ->> 'workflow_recipient_run_id') STORED,
  inserted_ms bigint GENERATED ALWAYS AS (${s}.epoch_ms(doc ->> 'inserted_at')) STORED
);
CREATE INDEX messages_by_recipient ON ${s}.messages (recipient_collection, recipient_id, seq);
CREATE INDEX messages_by_recipient_channel ON ${s}.messages (recipient_collection, recipient_id, channel_id, seq);
CREATE INDEX messages_by_recipient_run ON ${s}.messages (workflow_recipient_run_id, seq);
CREATE INDEX messages_by_workflow_run ON ${s}.messages (workflow_run_id, seq);

CREATE TABLE ${s}.idempotency_keys (
  key text PRIMARY KEY,
  fingerprint text NOT NULL,
  result jsonb NOT NULL,
  expires_ms bigint NOT NULL,
  claim text NOT NULL
);
CREATE INDEX idempotency_keys_by_expiry ON ${s}.idempotency_keys (expires_ms);

CREATE TABLE ${s}.once_claims (
  key text PRIMARY KEY,
  claimed_at text NOT NULL
);

-- At most one open batch per key: the safety net under appendToBatch's per-key lock.
CREATE TABLE ${s}.batches (
  id text PRIMARY KEY,
  key text NOT NULL,
  doc jsonb NOT NULL,
  status text GENERATED ALWAYS AS (doc ->> 'status') STORED
);
CREATE UNIQUE INDEX batches_open_key ON ${s}.batches (key) WHERE status = 'open';

CREATE TABLE ${s}.throttles (
  key text PRIMARY KEY,
  count integer NOT NULL,
  window_started_at text NOT NULL,
  window_ends_at text NOT NULL,
  window_ends_ms bigint NOT NULL
);

CREATE TABLE ${s}.cancellations (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow text NOT NULL,
  cancellation_key text NOT NULL,
  doc jsonb NOT NULL,
  expires_ms bigint NOT NULL
);
CREATE INDEX cancellations_by_key ON ${s}.cancellations (workflow, cancellation_key, seq);
`,
  },
  {
    version: 2,
    name: "schedules and sources",
    sql: (s) => `
CREATE TABLE ${s}.schedules (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  doc jsonb NOT NULL,
  version integer GENERATED ALWAYS AS ((doc ->> 'version')::integer) STORED,
  workflow text GENERATED ALWAYS AS (doc ->> 'workflow') STORED,
  tenant text GENERATED ALWAYS AS (doc ->> 'tenant') STORED,
  recipient_collection text GENERATED ALWAYS AS (${s}.ref_collection(doc -> 'recipient')) STORED,
  recipient_id text GENERATED ALWAYS AS (${s}.ref_id(doc -> 'recipient')) STORED
);
CREATE INDEX schedules_by_workflow ON ${s}.schedules (workflow, seq);
CREATE INDEX schedules_by_recipient ON ${s}.schedules (recipient_collection, recipient_id, seq);

CREATE TABLE ${s}.sources (
  key text PRIMARY KEY,
  definition jsonb NOT NULL,
  inserted_at text NOT NULL,
  updated_at text NOT NULL
);
`,
  },
  {
    version: 3,
    name: "recipients listed in creation order",
    // seq orders a collection's recipients for listRecipients: oldest first, stable (a recipient
    // deleted and created again gets a new one). Rows already there are numbered in the order
    // they were created (inserted_at), then the column becomes an identity that goes on from
    // there. The table is rewritten once, under its lock, while this runs.
    sql: (s) => `
ALTER TABLE ${s}.recipients ADD COLUMN seq bigint;
UPDATE ${s}.recipients AS r SET seq = numbered.n
  FROM (SELECT collection, id, row_number() OVER (ORDER BY inserted_at, collection, id) AS n
        FROM ${s}.recipients) AS numbered
  WHERE r.collection = numbered.collection AND r.id = numbered.id;
ALTER TABLE ${s}.recipients ALTER COLUMN seq SET NOT NULL;
ALTER TABLE ${s}.recipients ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('${s}.recipients', 'seq'),
              coalesce((SELECT max(seq) FROM ${s}.recipients), 0) + 1, false);
CREATE INDEX recipients_by_collection ON ${s}.recipients (collection, seq);
`,
  },
];

/** @internal The newest schema version this code knows. */
export const LATEST_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** @internal Applies the migrations `schema` lacks, holding the schema's advisory lock. */
export async function migrate(client: PgClientLike, schema: string): Promise<void> {
  const s = `"${schema}"`;
  // Fast path, without a lock: an up-to-date schema needs nothing.
  try {
    const { rows } = await client.query(`SELECT max(version) AS version FROM ${s}.migrations`);
    const current = Number(rows[0]?.version ?? 0);
    if (current === LATEST_VERSION) return;
  } catch {
    // No ledger yet (or no schema): the locked path creates them.
  }
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_CLASS, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query(`SELECT version FROM ${s}.migrations`);
    const applied = new Set(rows.map((row: { version: number }) => Number(row.version)));
    const newest = Math.max(0, ...applied);
    if (newest > LATEST_VERSION) {
      throw new CrierError(
        "adapter_error",
        `[crier] [store:postgres] Expected schema "${schema}" at version ${LATEST_VERSION} or older, but it is at version ${newest}: a newer crier migrated it. Upgrade crier in this process, or use another schema.`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql(s));
      await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
