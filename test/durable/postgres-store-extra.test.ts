import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { CrierError, InvalidParamsError } from "../../src/errors.js";
import { type PgPoolLike, postgresStore } from "../../src/postgres/index.js";
import { LATEST_VERSION, MIGRATIONS } from "../../src/postgres/migrations.js";
import { USERS_COLLECTION } from "../../src/store/types.js";
import {
  at,
  messageFixture,
  recipientRunFixture,
  runEventFixture,
  workflowFixture,
} from "../../src/testing/conformance/fixtures.js";
import { testPool } from "./helpers.js";

const { pool, schemaName } = testPool(10);
const u1 = { collection: USERS_COLLECTION, id: "u1" };

describe("postgresStore", () => {
  it("is named postgres and migrates its schema on first use", async () => {
    const schema = schemaName("mig");
    const store = postgresStore({ pool, schema });
    expect(store.name).toBe("postgres");
    expect(await store.getRecipient(u1)).toBeNull();
    const { rows } = await pool.query(
      `SELECT version FROM "${schema}".migrations ORDER BY version`,
    );
    expect(rows.map((row) => row.version)).toEqual(
      Array.from({ length: LATEST_VERSION }, (_, i) => i + 1),
    );
  });

  it("numbers the recipients of a version-2 schema in the order they were created (migration 3)", async () => {
    const schema = schemaName("v2");
    const s = `"${schema}"`;
    // A schema as crier left it before migration 3, with recipients whose rows are not in
    // creation order on disk (u1 was updated after u2 was created).
    await pool.query(`CREATE SCHEMA ${s}`);
    await pool.query(
      `CREATE TABLE ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
      await pool.query(migration.sql(s));
      await pool.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    const insert = (id: string, insertedAt: string) =>
      pool.query(
        `INSERT INTO ${s}.recipients (collection, id, properties, channel_data, preferences, inserted_at, updated_at)
         VALUES ('$users', $1, '{}', '{}', '{}', $2, $2)`,
        [id, insertedAt],
      );
    await insert("u1", at(1));
    await insert("u2", at(2));
    await pool.query(`UPDATE ${s}.recipients SET updated_at = $1 WHERE id = 'u1'`, [at(3)]);
    const store = postgresStore({ pool, schema });
    const listed = await store.listRecipients?.(USERS_COLLECTION, { limit: 10 });
    expect(listed?.items.map((r) => r.id)).toEqual(["u1", "u2"]);
    // New recipients come after them.
    await store.upsertRecipient({ collection: USERS_COLLECTION, id: "u0" }, {}, at(4));
    const after = await store.listRecipients?.(USERS_COLLECTION, { limit: 10 });
    expect(after?.items.map((r) => r.id)).toEqual(["u1", "u2", "u0"]);
  });

  it("migrates once when eight processes' stores start on one new schema at once", async () => {
    const schema = schemaName("race");
    // Separate pools: separate server sessions, as separate processes would have.
    const pools = Array.from({ length: 8 }, () => {
      const p = new pg.Pool({ connectionString: inject("databaseUrl"), max: 2 });
      p.on("error", () => {});
      return p;
    });
    try {
      const stores = pools.map((p) => postgresStore({ pool: p, schema }));
      const results = await Promise.all(
        stores.map((store, i) =>
          store.upsertRecipient(u1, { properties: { [`k${i}`]: i } }, at(i)),
        ),
      );
      expect(results).toHaveLength(8);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`);
      expect(rows[0]?.n).toBe(LATEST_VERSION);
      const stored = await stores[0]!.getRecipient(u1);
      expect(Object.keys(stored?.properties ?? {}).sort()).toEqual(
        Array.from({ length: 8 }, (_, i) => `k${i}`).sort(),
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("sends its statements as named prepared statements, or as text with preparedStatements: false", async () => {
    const { pool: recording, statements: seen } = recordingPool();
    const schema = schemaName("prep");
    const prepared = postgresStore({ pool: recording, schema });
    // The first call migrates the schema (plain statements, once); those after it are the store's.
    await prepared.upsertRecipient(u1, { properties: { name: "Ada" } }, at(0));
    seen.length = 0;
    for (let i = 0; i < 3; i++)
      expect((await prepared.getRecipient(u1))?.properties).toEqual({ name: "Ada" });
    await prepared.upsertRecipient(u1, { properties: { plan: "pro" } }, at(1));
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.filter((s) => !s.prepared)).toEqual([]);
    seen.length = 0;
    const plain = postgresStore({ pool: recording, schema, preparedStatements: false });
    expect((await plain.getRecipient(u1))?.properties).toEqual({ name: "Ada", plan: "pro" });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => !s.prepared)).toBe(true);
  });

  it("refuses a schema that a newer crier migrated", async () => {
    const schema = schemaName("newer");
    const store = postgresStore({ pool, schema });
    await store.getRecipient(u1);
    await pool.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, 'future')`, [
      LATEST_VERSION + 1,
    ]);
    const later = postgresStore({ pool, schema });
    await expect(later.getRecipient(u1)).rejects.toThrow(/version \d+: a newer crier migrated it/);
  });

  it("makes its own pool from a connection string and ends it on close()", async () => {
    const schema = schemaName("own");
    const store = postgresStore({ connectionString: inject("databaseUrl"), schema, max: 2 });
    await store.upsertRecipient(u1, { properties: { a: 1 } }, at(1));
    expect((await store.getRecipient(u1))?.properties).toEqual({ a: 1 });
    await store.close?.();
    await expect(store.getRecipient(u1)).rejects.toBeInstanceOf(CrierError);
  });

  it("refuses a string holding NUL (JSONB cannot store it) with an adapter_error naming the method", async () => {
    const store = postgresStore({ pool, schema: schemaName("nul") });
    await expect(
      store.upsertRecipient(u1, { properties: { name: "a\u0000b" } }, at(1)),
    ).rejects.toMatchObject({
      code: "adapter_error",
      message: expect.stringMatching(/Expected upsertRecipient\(\) to succeed/),
    });
    expect(await store.getRecipient(u1)).toBeNull();
  });

  it("rejects bad options with errors that say what to pass", () => {
    expect(() => postgresStore({} as never)).toThrow(/Expected postgresStore\(\{ pool \}\)/);
    expect(() => postgresStore({ pool, schema: "Bad-Name" })).toThrow(InvalidParamsError);
  });

  it("reports a server it cannot reach as a CrierError that names the store", async () => {
    const store = postgresStore({
      connectionString: "postgres://postgres@127.0.0.1:1/none",
      connectAttempts: 1,
    });
    const error = await Promise.resolve(store.getRecipient(u1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrierError);
    expect((error as Error).message).toMatch(
      /^\[crier\] \[store:postgres\] Expected getRecipient\(\) to succeed, but PostgreSQL answered: .*ECONNREFUSED.*Check that the server is running/,
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
    await store.close?.();
  });
  it("survives the server ending a checked-out connection between two statements (a restart): that call fails, the next works", async () => {
    const schema = schemaName("lost");
    const own = new pg.Pool({ connectionString: inject("databaseUrl"), max: 2 });
    own.on("error", () => {});
    let terminated = false;
    let listeners = -1;
    // A pool whose first checked-out session the server ends right after its first statement,
    // while nothing runs on it: "terminating connection due to administrator command", as when
    // PostgreSQL restarts. pg emits that as the client's `error` event, which would crash the
    // process if nobody listened (pg's pool listens only to idle clients).
    const pool = interceptingPool(
      own,
      async (client, statement, values) => {
        const result = await run(client, statement, values);
        if (!terminated) {
          terminated = true;
          listeners = client.listenerCount("error");
          const ended = new Promise((resolve) => client.once("end", resolve));
          const pid = (client as unknown as { processID: number }).processID;
          await own.query("SELECT pg_terminate_backend($1)", [pid]);
          await ended;
        }
        return result;
      },
      true,
    );
    try {
      const store = postgresStore({ pool, schema });
      const error = await Promise.resolve(store.getRecipient(u1)).catch((e: unknown) => e);
      expect(terminated).toBe(true);
      expect(listeners).toBe(1); // the store's, for as long as the client is checked out
      expect(error).toBeInstanceOf(CrierError);
      expect(await store.getRecipient(u1)).toBeNull();
    } finally {
      await own.end();
    }
  });
});

/** A statement as the store sends it: text, or a named prepared statement. */
type Statement = string | { name: string; text: string; values: unknown[] };

/**
 * A pool over `source` whose checked-out clients hand every statement the store sends to
 * `query` (which runs it on the client, or does something first), and pass the store's error
 * listeners through. `end` ends `source` when `owned`.
 */
function interceptingPool(
  source: pg.Pool,
  query: (
    client: pg.PoolClient,
    statement: Statement,
    values?: unknown[],
  ) => Promise<pg.QueryResult>,
  owned = false,
): PgPoolLike {
  return {
    query: (text: string, values?: unknown[]) => source.query(text, values),
    end: async () => {
      if (owned) await source.end();
    },
    async connect() {
      const client = await source.connect();
      return {
        on: (event: "error", listener: (error: Error) => void) => client.on(event, listener),
        removeListener: (event: "error", listener: (error: Error) => void) =>
          client.removeListener(event, listener),
        release: (destroy?: boolean | Error) => client.release(destroy),
        query: (statement: Statement, values?: unknown[]) => query(client, statement, values),
      };
    },
  };
}

/** Runs a statement as the store sent it. */
function run(client: pg.PoolClient, statement: Statement, values?: unknown[]) {
  return typeof statement === "string" ? client.query(statement, values) : client.query(statement);
}

/**
 * A pool on the test server whose checked-out clients record every statement the store sends: its
 * text, and whether it came as a named prepared statement (so a test can count the statements a
 * burst of calls made, or see how they arrive).
 */
function recordingPool(): {
  pool: PgPoolLike;
  statements: Array<{ prepared: boolean; text: string }>;
} {
  const statements: Array<{ prepared: boolean; text: string }> = [];
  const recording = interceptingPool(pool, (client, statement, values) => {
    statements.push(
      typeof statement === "string"
        ? { prepared: false, text: statement }
        : { prepared: true, text: statement.text },
    );
    return run(client, statement, values);
  });
  return { statements, pool: recording };
}

/** How many of `statements` write `table` (an INSERT into it, or an UPDATE of it). */
function writesTo(statements: ReadonlyArray<{ text: string }>, table: string): number {
  const pattern = new RegExp(`(INSERT INTO|UPDATE) "[a-z0-9_]+"\\.${table}\\b`);
  return statements.filter(({ text }) => pattern.test(text)).length;
}

describe("postgresStore: group commit", () => {
  /** A store on a counting pool, migrated, with nothing counted yet. */
  async function countedStore() {
    const { pool: counting, statements } = recordingPool();
    const store = postgresStore({ pool: counting, schema: schemaName("group") });
    await store.getRecipient(u1);
    statements.length = 0;
    return { store, statements };
  }

  it("sends 32 concurrent createMessage, updateMessage and updateRecipientRun calls in far fewer statements, each call with its own result", async () => {
    const { store, statements } = await countedStore();
    const ids = Array.from({ length: 32 }, (_, i) => `m${i}`);
    const created = await Promise.all(
      ids.map((id, i) => store.createMessage(messageFixture({ id, content: { i } }))),
    );
    expect(created.map((r) => [r.created, r.message.id, r.message.content])).toEqual(
      ids.map((id, i) => [true, id, { i }]),
    );
    expect(writesTo(statements, "messages")).toBeLessThanOrEqual(4);

    statements.length = 0;
    const updated = await Promise.all(
      ids.map((id, i) => store.updateMessage(id, { status: i % 2 ? "sent" : "delivered" })),
    );
    expect(updated.map((m) => [m?.id, m?.status])).toEqual(
      ids.map((id, i) => [id, i % 2 ? "sent" : "delivered"]),
    );
    expect(await store.updateMessage("missing", { status: "sent" })).toBeNull();
    expect(writesTo(statements, "messages")).toBeLessThanOrEqual(5);

    const runIds = Array.from({ length: 32 }, (_, i) => `r${i}`);
    await store.createRecipientRuns(runIds.map((id) => recipientRunFixture({ id })));
    statements.length = 0;
    const runs = await Promise.all(
      runIds.map((id, i) =>
        store.updateRecipientRun(id, 0, { cursor: i + 1, status: "processing" }, [
          runEventFixture("run_started", { data: { i } }),
        ]),
      ),
    );
    expect(runs.map((run) => [run?.id, run?.version, run?.cursor])).toEqual(
      runIds.map((id, i) => [id, 1, i + 1]),
    );
    expect(writesTo(statements, "recipient_runs")).toBeLessThanOrEqual(4);
    for (const [i, id] of runIds.entries()) {
      expect((await store.getRunEvents(id)).map((e) => e.data)).toEqual([{ i }]);
    }
  });

  it("reads recipients, runs and workflows for 32 concurrent calls in a few statements, each call answered on its own", async () => {
    const { store, statements } = await countedStore();
    await store.putWorkflow({ definition: workflowFixture("w1"), sha: "a", now: at(1) });
    await store.putWorkflow({
      definition: workflowFixture("w1", { name: "second" }),
      sha: "b",
      now: at(2),
    });
    await store.createRecipientRuns(
      Array.from({ length: 8 }, (_, i) => recipientRunFixture({ id: `r${i}` })),
    );
    for (let i = 0; i < 8; i++) {
      await store.upsertRecipient(
        { collection: USERS_COLLECTION, id: `u${i}` },
        { properties: { i } },
        at(1),
      );
    }
    statements.length = 0;
    const [workflows, runs, recipients] = await Promise.all([
      Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          store.getWorkflow(i % 4 === 3 ? "missing" : "w1", i % 4 === 0 ? undefined : i % 4),
        ),
      ),
      Promise.all(
        Array.from({ length: 32 }, (_, i) => store.getRecipientRuns?.([`r${i % 8}`, `x${i}`])),
      ),
      Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          store.getRecipients([{ collection: USERS_COLLECTION, id: `u${i % 9}` }]),
        ),
      ),
    ]);
    expect(statements.length).toBeLessThanOrEqual(8);
    expect(workflows.map((w) => w?.version ?? null)).toEqual(
      Array.from({ length: 32 }, (_, i) => [2, 1, 2, null][i % 4]),
    );
    expect(runs.map((pair) => pair?.map((run) => run?.id ?? null))).toEqual(
      Array.from({ length: 32 }, (_, i) => [`r${i % 8}`, null]),
    );
    expect(recipients.map(([r]) => r?.properties ?? null)).toEqual(
      Array.from({ length: 32 }, (_, i) => (i % 9 === 8 ? null : { i: i % 9 })),
    );
  });

  it("lets exactly one of two compare-and-set writes of one run with the same version win when they arrive in one burst with others", async () => {
    const { store, statements } = await countedStore();
    const others = Array.from({ length: 10 }, (_, i) => `o${i}`);
    await store.createRecipientRuns(["r1", ...others].map((id) => recipientRunFixture({ id })));
    statements.length = 0;
    const [first, second, ...rest] = await Promise.all([
      store.updateRecipientRun("r1", 0, { cursor: 1 }, [runEventFixture("a")]),
      store.updateRecipientRun("r1", 0, { cursor: 2 }, [runEventFixture("b")]),
      ...others.map((id) => store.updateRecipientRun(id, 0, { cursor: 9 }, [runEventFixture("o")])),
    ]);
    // The burst was grouped: fewer statements than calls.
    expect(writesTo(statements, "recipient_runs")).toBeLessThan(12);
    expect(rest.map((run) => run?.version)).toEqual(others.map(() => 1));
    const winners = [first, second].filter((run) => run !== null);
    expect(winners).toHaveLength(1);
    const stored = await store.getRecipientRun("r1");
    expect(stored?.version).toBe(1);
    expect(stored?.cursor).toBe(winners[0]?.cursor);
    // Only the winner's log entries were written.
    expect((await store.getRunEvents("r1")).map((e) => e.event)).toEqual([first ? "a" : "b"]);
    // The next write names the version the winner made.
    expect(await store.updateRecipientRun("r1", 0, { cursor: 3 }, [])).toBeNull();
    expect((await store.updateRecipientRun("r1", 1, { cursor: 3 }, []))?.version).toBe(2);
  });

  it("creates a message once when two creates of its id arrive in one burst with others: the other gets the stored one", async () => {
    const { store, statements } = await countedStore();
    const [first, second, ...rest] = await Promise.all([
      store.createMessage(messageFixture({ id: "m1", content: { from: "first" } })),
      store.createMessage(messageFixture({ id: "m1", content: { from: "second" } })),
      ...Array.from({ length: 10 }, (_, i) => store.createMessage(messageFixture({ id: `o${i}` }))),
    ]);
    expect(writesTo(statements, "messages")).toBeLessThan(12);
    expect(rest.every((r) => r.created)).toBe(true);
    expect([first?.created, second?.created].filter(Boolean)).toHaveLength(1);
    const stored = await store.getMessage("m1");
    expect(first?.message).toEqual(stored);
    expect(second?.message).toEqual(stored);
    expect(stored?.content).toEqual({ from: first?.created ? "first" : "second" });
  });

  it("fails every call of a statement lost with its connection, without sending them again (it may have taken effect)", async () => {
    const own = new pg.Pool({ connectionString: inject("databaseUrl"), max: 4 });
    own.on("error", () => {});
    let armed = false;
    let sent = 0;
    const isCreate = (text: string) => /INSERT INTO "[a-z0-9_]+"\.messages\b/.test(text);
    // A pool whose session the server ends just before the first message insert once armed.
    const losing = interceptingPool(own, async (client, statement, values) => {
      if (isCreate(typeof statement === "string" ? statement : statement.text)) {
        sent++;
        if (armed) {
          armed = false;
          const ended = new Promise((resolve) => client.once("end", resolve));
          const pid = (client as unknown as { processID: number }).processID;
          await own.query("SELECT pg_terminate_backend($1)", [pid]);
          await ended;
        }
      }
      return run(client, statement, values);
    });
    try {
      const store = postgresStore({ pool: losing, schema: schemaName("lost_group") });
      await store.getRecipient(u1);
      armed = true;
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => store.createMessage(messageFixture({ id: `m${i}` }))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(5).fill("rejected"));
      for (const r of results) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(CrierError);
      }
      expect(sent).toBe(1);
      // The store goes on: the jobs that made those calls are retried, and then succeed.
      const again = await store.createMessage(messageFixture({ id: "m0" }));
      expect(again.created).toBe(true);
    } finally {
      await own.end();
    }
  });

  it("does not fail the calls sent with one that PostgreSQL refuses: each gets its own result or its own error", async () => {
    const { store, statements } = await countedStore();
    await store.createRecipientRuns(
      Array.from({ length: 6 }, (_, i) => recipientRunFixture({ id: `r${i}` })),
    );
    await store.createMessage(messageFixture({ id: "existing" }));
    statements.length = 0;
    // JSONB cannot hold a string with NUL: the statement carrying it is refused as a whole.
    const creates = await Promise.allSettled([
      ...Array.from({ length: 5 }, (_, i) => store.createMessage(messageFixture({ id: `m${i}` }))),
      store.createMessage(messageFixture({ id: "bad", content: { body: "a\u0000b" } })),
      store.createMessage(messageFixture({ id: "existing", content: { other: true } })),
    ]);
    // The burst went as one statement first (refused), then call by call.
    expect(writesTo(statements, "messages")).toBe(1 + 7);
    expect(creates.slice(0, 5).map((r) => r.status === "fulfilled" && r.value.created)).toEqual(
      Array(5).fill(true),
    );
    expect(creates[5]).toMatchObject({
      status: "rejected",
      reason: {
        code: "adapter_error",
        message: expect.stringMatching(/Expected createMessage\(\) to succeed/),
      },
    });
    expect(creates[6]).toMatchObject({
      status: "fulfilled",
      value: { created: false, message: { id: "existing", content: { subject: "Hi" } } },
    });
    expect(await store.getMessage("bad")).toBeNull();
    expect((await store.getMessage("m4"))?.id).toBe("m4");

    const updates = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        store.updateRecipientRun(`r${i}`, 0, i === 2 ? { tenant: "x\u0000" } : { cursor: i }, [
          runEventFixture("step", { data: { i } }),
        ]),
      ),
    );
    expect(updates.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect((updates[2] as PromiseRejectedResult).reason.message).toMatch(
      /Expected updateRecipientRun\(\) to succeed/,
    );
    expect((await store.getRecipientRun("r2"))?.version).toBe(0);
    expect(await store.getRunEvents("r2")).toEqual([]);
    expect((await store.getRecipientRun("r3"))?.cursor).toBe(3);
    expect((await store.getRunEvents("r3")).map((e) => e.data)).toEqual([{ i: 3 }]);

    const patches = await Promise.allSettled([
      store.updateMessage("m0", { status: "sent" }),
      store.updateMessage("m1", { last_error: "\u0000" }),
      store.updateMessage("missing", { status: "sent" }),
    ]);
    expect(patches.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((patches[0] as PromiseFulfilledResult<unknown>).value).toMatchObject({ status: "sent" });
    expect((patches[2] as PromiseFulfilledResult<unknown>).value).toBeNull();
    expect((await store.getMessage("m1"))?.last_error).toBeNull();
  });
});
