/**
 * Durable throughput: the in-memory throughput scenario's workload (a condition, preferences, an
 * in-app and an email step) on a PostgreSQL store + BullMQ on Redis, recipient runs per second
 * until every run completed. Baseline: BullMQ alone running as many no-op jobs at the same
 * concurrency on the same Redis. Also measured (figure only): the same on BullMQ's PostgreSQL
 * backend. Servers are started on loopback unless DATABASE_URL / REDIS_URL are given.
 */
import { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import type { Queue } from "../../src/index.js";
import { bullmq, crier as crierPackage, postgres } from "../crier.js";
import { durableServers, report, round, since, uniqueName } from "../lib.js";
import { benchChannels, benchWorkflow, seedRecipients } from "../workload.js";

const { bullmqQueue } = bullmq;
const { createEngine } = crierPackage;
const { postgresStore } = postgres;

const TRIGGERS = Number(process.env.BENCH_DURABLE_TRIGGERS ?? 10);
const RECIPIENTS = Number(process.env.BENCH_DURABLE_RECIPIENTS ?? 200);
const CONCURRENCY = 32;
const total = TRIGGERS * RECIPIENTS;

/** Runs the workload on a PostgreSQL store and `queue`: runs per second, and what was sent. */
async function crier(databaseUrl: string, queue: Queue): Promise<{ rate: number; sent: number }> {
  let sent = 0;
  let completed = 0;
  const engine = createEngine({
    store: postgresStore({ connectionString: databaseUrl, schema: uniqueName("bench"), max: 16 }),
    queue,
    workflows: [benchWorkflow],
    channels: benchChannels(() => {
      sent++;
    }),
  });
  engine.on("run.completed", () => {
    completed++;
  });
  try {
    const ids = await seedRecipients(engine, RECIPIENTS);
    const start = performance.now();
    for (let i = 0; i < TRIGGERS; i++) {
      await engine.workflows.trigger("bench", {
        recipients: ids,
        data: { message: `update ${i}` },
      });
    }
    while (completed < total) await new Promise((resolve) => setTimeout(resolve, 5));
    return { rate: total / (since(start) / 1000), sent };
  } finally {
    await engine.close();
  }
}

/** BullMQ alone: `total` no-op jobs through one worker at the same concurrency. */
async function bullmqNoop(redisUrl: string): Promise<number> {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const name = uniqueName("noop");
  const queue = new BullQueue(name, { connection });
  let done = 0;
  const worker = new BullWorker(name, async () => {}, {
    connection,
    concurrency: CONCURRENCY,
    removeOnComplete: { count: 0 },
  });
  worker.on("completed", () => {
    done++;
  });
  await worker.waitUntilReady();
  const start = performance.now();
  for (let i = 0; i < total; i += 1000) {
    const count = Math.min(1000, total - i);
    await queue.addBulk(
      Array.from({ length: count }, (_, j) => ({ name: "noop", data: { i: i + j } })),
    );
  }
  while (done < total) await new Promise((resolve) => setTimeout(resolve, 5));
  const rate = total / (since(start) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

const servers = await durableServers();
try {
  const redis = await crier(
    servers.databaseUrl,
    bullmqQueue({
      connection: servers.redisUrl,
      name: uniqueName("crier"),
      concurrency: CONCURRENCY,
    }),
  );
  const postgres = await crier(
    servers.databaseUrl,
    bullmqQueue({
      backend: "postgres",
      connection: { connectionString: servers.databaseUrl, schema: uniqueName("bullmq"), max: 16 },
      name: uniqueName("crier"),
      concurrency: CONCURRENCY,
    }),
  );
  const noop = await bullmqNoop(servers.redisUrl);
  const ratio = redis.rate / noop;
  report({
    scenario: "durable throughput",
    figures: {
      runs: total,
      pg_bullmq_redis_runs_per_s: round(redis.rate),
      pg_bullmq_postgres_runs_per_s: round(postgres.rate),
    },
    baseline: { bullmq_noop_jobs_per_s: round(noop) },
    ratio: round(ratio),
    targets: [{ target: ">= 0.3 x BullMQ's no-op rate", met: ratio >= 0.3 }],
    checks: [
      { check: `${total} emails sent on BullMQ/Redis`, ok: redis.sent === total },
      { check: `${total} emails sent on BullMQ/PostgreSQL`, ok: postgres.sent === total },
    ],
  });
} finally {
  await servers.stop();
}
