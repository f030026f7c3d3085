/**
 * Fault tests with real processes: the datastores restart under a running worker. Each test has a
 * server of its own (the shared ones serve other test files meanwhile), so each needs the server's
 * binaries even when DATABASE_URL / REDIS_URL name shared servers: without them it is skipped,
 * saying why (CI installs them, so there these tests always run).
 */
import pg from "pg";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import type { WorkflowInput } from "../../../src/index.js";
import { uniqueName } from "../helpers.js";
import {
  postgresUnavailable,
  redisUnavailable,
  startPostgres,
  startRedis,
  type TestServer,
} from "../servers.js";
import { runStatuses, sendLog, startWorker, type WorkerProcess, waitUntil } from "./harness.js";

const servers: TestServer[] = [];
const workers: WorkerProcess[] = [];
const pools: pg.Pool[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill()));
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function newPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  pools.push(pool);
  return pool;
}

const workflow: WorkflowInput = {
  key: "parked",
  steps: [
    { ref: "wait", type: "delay", settings: { delay_until_field_path: "data.send_at" } },
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      channel_type: "email",
      template: { subject: "hello" },
    },
  ],
};

const recipients = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `u${i}`, email: `u${i}@example.com` }));

describe("durable adapters when a datastore restarts", () => {
  it("loses nothing when Redis (with its AOF) restarts while runs are parked and running", async (ctx) => {
    // Skipped, with the reason printed beside it, when redis-server is not installed: this test
    // must stop and start a server of its own, which REDIS_URL's server cannot stand in for.
    const missing = redisUnavailable();
    ctx.skip(
      missing !== null,
      `${missing}: this test restarts a Redis of its own (REDIS_URL's cannot stand in); install redis-server to run it`,
    );
    const redis = await startRedis({ persistent: true });
    servers.push(redis);
    const log = sendLog();
    const schema = uniqueName("restart");
    const pool = newPool(inject("databaseUrl"));
    try {
      const worker = await startWorker({
        databaseUrl: inject("databaseUrl"),
        schema,
        backend: "redis",
        queueConnection: redis.url,
        queueName: "crier",
        prefix: "crier",
        sendLog: log.path,
        workflows: [workflow],
      });
      workers.push(worker);
      const sendAt = new Date(Date.now() + 4_000).toISOString();
      await worker.trigger("parked", { recipients: recipients(300), data: { send_at: sendAt } });
      // Restart while runs are still being processed and parked; down for a second.
      await redis.restart({ downMs: 1_000 });
      await waitUntil(
        "300 runs to complete after Redis came back",
        async () => (await runStatuses(pool, schema)).completed === 300,
        60_000,
        () => runStatuses(pool, schema),
      );
      const { rows } = await pool.query<{ n: number; runs: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT workflow_recipient_run_id)::int AS runs FROM "${schema}".messages`,
      );
      expect(rows[0]).toEqual({ n: 300, runs: 300 });
      expect(new Set(log.lines().map(([id]) => id)).size).toBe(300);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      log.remove();
    }
  }, 120_000);

  it("loses nothing when PostgreSQL (the store) restarts while runs are being processed", async (ctx) => {
    // Skipped, with the reason printed beside it, when initdb is not installed: this test must
    // stop and start a server of its own, which DATABASE_URL's server cannot stand in for.
    const missing = postgresUnavailable();
    ctx.skip(
      missing !== null,
      `${missing}: this test restarts a PostgreSQL of its own (DATABASE_URL's cannot stand in); install postgresql to run it`,
    );
    const postgres = await startPostgres();
    servers.push(postgres);
    const log = sendLog();
    const pool = newPool(postgres.url);
    const schema = "crier";
    try {
      const worker = await startWorker({
        databaseUrl: postgres.url,
        schema,
        backend: "redis",
        queueConnection: inject("redisUrl"),
        queueName: uniqueName("q"),
        prefix: "crier_restart",
        sendLog: log.path,
        workflows: [workflow],
      });
      workers.push(worker);
      const sendAt = new Date(Date.now() + 1_500).toISOString();
      await worker.trigger("parked", { recipients: recipients(300), data: { send_at: sendAt } });
      await postgres.restart({ downMs: 1_000 });
      await waitUntil(
        "300 runs to complete after PostgreSQL came back",
        async () =>
          (await runStatuses(pool, schema).catch(() => ({}) as Record<string, number>))
            .completed === 300,
        60_000,
        () => runStatuses(pool, schema),
      );
      const { rows } = await pool.query<{ n: number; runs: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT workflow_recipient_run_id)::int AS runs FROM "${schema}".messages`,
      );
      expect(rows[0]).toEqual({ n: 300, runs: 300 });
      // A provider call whose outcome could not be written while the server was down is made
      // again (deliveries are at least once; providers can dedupe on the message id).
      expect(new Set(log.lines().map(([id]) => id)).size).toBe(300);
    } finally {
      log.remove();
    }
  }, 120_000);

  it("loses nothing when PostgreSQL restarts while it is both the store and BullMQ's backend", async (ctx) => {
    // Skipped, with the reason printed beside it, when initdb is not installed: this test must
    // stop and start a server of its own, which DATABASE_URL's server cannot stand in for.
    const missing = postgresUnavailable();
    ctx.skip(
      missing !== null,
      `${missing}: this test restarts a PostgreSQL of its own (DATABASE_URL's cannot stand in); install postgresql to run it`,
    );
    const postgres = await startPostgres();
    servers.push(postgres);
    const log = sendLog();
    const pool = newPool(postgres.url);
    const schema = "crier";
    try {
      // The one-database deployment: crier's tables and BullMQ's jobs on the same server.
      const worker = await startWorker({
        databaseUrl: postgres.url,
        schema,
        backend: "postgres",
        queueConnection: postgres.url,
        queueSchema: "bullmq",
        queueName: "crier",
        prefix: "crier",
        sendLog: log.path,
        workflows: [workflow],
      });
      workers.push(worker);
      const sendAt = new Date(Date.now() + 3_000).toISOString();
      await worker.trigger("parked", { recipients: recipients(300), data: { send_at: sendAt } });
      // Down once some runs are parked (their delayed jobs in BullMQ's tables), while the
      // others are still being fanned out and started.
      await waitUntil(
        "20 runs parked on the delay",
        async () =>
          ((await runStatuses(pool, schema).catch(() => ({}) as Record<string, number>)).paused ??
            0) >= 20,
        10_000,
        () => runStatuses(pool, schema).catch(String),
      );
      await postgres.restart({ downMs: 1_000 });
      await waitUntil(
        "300 runs to complete after PostgreSQL came back",
        async () =>
          (await runStatuses(pool, schema).catch(() => ({}) as Record<string, number>))
            .completed === 300,
        60_000,
        () => runStatuses(pool, schema).catch(String),
      );
      const { rows } = await pool.query<{ n: number; runs: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT workflow_recipient_run_id)::int AS runs FROM "${schema}".messages`,
      );
      expect(rows[0]).toEqual({ n: 300, runs: 300 });
      expect(new Set(log.lines().map(([id]) => id)).size).toBe(300);
    } finally {
      log.remove();
    }
  }, 120_000);
});
