import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { CrierError, InvalidParamsError } from "../../src/errors.js";
import { postgresStore } from "../../src/postgres/index.js";
import { LATEST_VERSION } from "../../src/postgres/migrations.js";
import { USERS_COLLECTION } from "../../src/store/types.js";
import { at } from "../../src/testing/conformance/fixtures.js";
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
    const seen: Array<{ prepared: boolean; text: string }> = [];
    // A pool whose clients record how each statement arrives, then run it.
    const recording = {
      query: (text: string, values?: unknown[]) => pool.query(text, values),
      end: async () => {},
      async connect() {
        const client = await pool.connect();
        return {
          release: (destroy?: boolean | Error) => client.release(destroy),
          query(
            text: string | { name: string; text: string; values: unknown[] },
            values?: unknown[],
          ) {
            if (typeof text === "string") {
              seen.push({ prepared: false, text });
              return client.query(text, values);
            }
            seen.push({ prepared: true, text: text.text });
            return client.query(text);
          },
        };
      },
    };
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
    const pool = {
      query: (text: string, values?: unknown[]) => own.query(text, values),
      end: () => own.end(),
      async connect() {
        const client = await own.connect();
        return {
          on: (event: "error", listener: (error: Error) => void) => client.on(event, listener),
          removeListener: (event: "error", listener: (error: Error) => void) =>
            client.removeListener(event, listener),
          release: (destroy?: boolean | Error) => client.release(destroy),
          async query(text: string, values?: unknown[]) {
            const result = await client.query(text, values);
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
        };
      },
    };
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
