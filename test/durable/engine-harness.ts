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
import { afterAll, afterEach, inject } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import { postgresStore } from "../../src/postgres/index.js";
import type {
  createTestEngine as CreateTestEngine,
  TestEngine,
  TestEngineOptions,
} from "../../src/testing/index.js";
import { reusableSchemas, uniqueName } from "./helpers.js";

/** The queue backend of a durable combination (the store is always PostgreSQL). */
export type DurableBackend = "redis" | "postgres";

const engines: TestEngine[] = [];
let bullSchema: string | undefined;
let pool: pg.Pool | undefined;
let nextSchema: (() => string) | undefined;

function sharedPool(): pg.Pool {
  if (!pool) throw new Error("Call closeDurableEngines() at the top of the wrapper test file.");
  return pool;
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
    const schema = nextSchema!();
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
    engines.push(engine);
    return engine;
  };
}

/**
 * Registers the hooks of a wrapper file: each test's engines are closed after it, store schemas
 * are emptied before each test (see `reusableSchemas`) and dropped when the file ends.
 */
export function closeDurableEngines(): void {
  pool = new pg.Pool({ connectionString: inject("databaseUrl"), max: 10 });
  pool.on("error", () => {});
  afterAll(async () => {
    if (bullSchema) await sharedPool().query(`DROP SCHEMA IF EXISTS "${bullSchema}" CASCADE`);
    await sharedPool().end();
  });
  nextSchema = reusableSchemas(pool, "eng");
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
  });
}
