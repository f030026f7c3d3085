import pg from "pg";
import { afterAll, inject } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import { testQueue } from "../../src/testing/conformance/queue.js";
import { uniqueName } from "./helpers.js";

// BullMQ's PostgreSQL backend keeps all its queues in one schema; this file's own.
const schema = uniqueName("bullmq");
afterAll(async () => {
  const client = new pg.Client({ connectionString: inject("databaseUrl") });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

testQueue(
  () =>
    bullmqQueue({
      backend: "postgres",
      connection: { connectionString: inject("databaseUrl"), schema, max: 4 },
      name: uniqueName("q"),
      concurrency: 8,
      attempts: 3,
      backoff: () => 10,
    }),
  {
    name: "bullmqQueue on BullMQ's PostgreSQL backend: Queue conformance",
    concurrency: 8,
    retries: { attempts: 3 },
    // It promotes every due delayed job at once and starts them in the order they were added:
    // jobs that fall due within one late poll (here 20 ms apart) may swap.
    dueOrderSlackMs: 1_000,
  },
);
