/**
 * Runs the engine's own test files on durable adapters. A wrapper file mocks `crier/testing`'s
 * `createTestEngine` with {@link durableTestEngines}, then imports the engine test files: every
 * `createTestEngine()` they call gets a fresh PostgreSQL store (its own schema) and a fresh BullMQ
 * queue (its own queue name), while keeping the virtual test clock. The BullMQ adapter follows a
 * non-system clock by promoting delayed jobs when that clock reaches their due time, so the
 * time-based tests (`t.clock.advance("3d")`) drive real durable delays in virtual time.
 *
 * Tests that build their engine with `createEngine()` themselves, or pass their own store or queue,
 * run on what they chose (memory), as in the memory run.
 */
import pg from "pg";
import { afterAll, afterEach, beforeEach, inject } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import { postgresStore } from "../../src/postgres/index.js";
import type {
  createTestEngine as CreateTestEngine,
  TestEngine,
  TestEngineOptions,
} from "../../src/testing/index.js";
import { uniqueName } from "./helpers.js";

/** The queue backend of a durable combination (the store is always PostgreSQL). */
export type DurableBackend = "redis" | "postgres";

/** Engines made since the last clean-up, with the store schema each one took. */
let engines: Array<{ engine: TestEngine; schema: string }> = [];
/** Store schemas that were migrated and emptied, ready for the next engine. */
const freeSchemas: string[] = [];
const allSchemas: string[] = [];
/** Tests running now (more than one inside a `describe.concurrent`). */
let running = 0;
let bullSchema: string | undefined;
let pool: pg.Pool | undefined;

function sharedPool(): pg.Pool {
  if (!pool) throw new Error("Call closeDurableEngines() at the top of the wrapper test file.");
  return pool;
}

/** A store schema no running engine uses: an emptied one, or a new one (migrated on first use). */
function takeSchema(): string {
  const reused = freeSchemas.pop();
  if (reused) return reused;
  const schema = uniqueName("eng");
  allSchemas.push(schema);
  return schema;
}

/** Deletes every row of a store schema, so that the next engine gets an empty store. */
async function emptySchema(schema: string): Promise<void> {
  const { rows } = await sharedPool().query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'migrations'",
    [schema],
  );
  if (rows.length === 0) return;
  // DELETE, not TRUNCATE: on tables this small it is many times faster (no new files).
  await sharedPool().query(
    rows.map((row) => `DELETE FROM "${schema}"."${row.tablename}";`).join("\n"),
  );
}

/**
 * `createTestEngine` on durable adapters: wraps the real one, adding a fresh store and queue
 * unless the test passes its own.
 */
export function durableTestEngines(
  original: typeof CreateTestEngine,
  backend: DurableBackend,
): typeof CreateTestEngine {
  return (options: TestEngineOptions = {}) => {
    const schema = takeSchema();
    bullSchema ??= uniqueName("bullmq");
    const store = options.store ?? postgresStore({ pool: sharedPool(), schema });
    const queue =
      options.queue ??
      bullmqQueue(
        backend === "redis"
          ? { connection: inject("redisUrl"), prefix: "crier_engine", name: uniqueName("q") }
          : {
              backend: "postgres",
              connection: { connectionString: inject("databaseUrl"), schema: bullSchema, max: 4 },
              name: uniqueName("q"),
            },
      );
    const engine = original({ ...options, store, queue });
    engines.push({ engine, schema });
    return engine;
  };
}

/**
 * Registers the hooks of a wrapper file. Engines are closed, and their store schemas emptied for
 * reuse, when no test is running any more: after each test, or after the last of a group of
 * concurrent tests (an engine cannot be told apart by the test that made it). Schemas are dropped
 * when the file ends.
 */
export function closeDurableEngines(): void {
  pool = new pg.Pool({ connectionString: inject("databaseUrl"), max: 10 });
  pool.on("error", () => {});
  beforeEach(() => {
    running++;
  });
  afterEach(async () => {
    running--;
    if (running > 0) return;
    const done = engines;
    engines = [];
    await Promise.all(done.map(({ engine }) => engine.close()));
    for (const { schema } of done) {
      await emptySchema(schema);
      freeSchemas.push(schema);
    }
  });
  afterAll(async () => {
    for (const schema of allSchemas)
      await sharedPool().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    if (bullSchema) await sharedPool().query(`DROP SCHEMA IF EXISTS "${bullSchema}" CASCADE`);
    await sharedPool().end();
  });
}
