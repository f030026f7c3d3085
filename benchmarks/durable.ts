/**
 * Durable adapters' throughput: end-to-end recipient runs per second (trigger → fan-out → run →
 * message → provider) on memory, PostgreSQL + BullMQ/Redis and PostgreSQL + BullMQ/PostgreSQL,
 * each in a fresh schema / queue, on servers this script starts on loopback (or DATABASE_URL /
 * REDIS_URL) and stops. Run with `npm run bench:durable`; quote ratios, not absolute numbers
 * (the machine is shared and small).
 *
 * Each scenario checks its own outcome: every run completed, one message and one send each.
 */
import { randomUUID } from "node:crypto";
import { bullmqQueue } from "../src/bullmq/index.js";
import {
  createEngine,
  memoryQueue,
  memoryStore,
  type Queue,
  type Store,
  type WorkflowInput,
} from "../src/index.js";
import { postgresStore } from "../src/postgres/index.js";
import { startPostgres, startRedis, type TestServer } from "../test/durable/servers.js";

const RUNS = Number(process.env.RUNS ?? 2000);
const TRIGGERS = 4; // recipients per trigger: RUNS / TRIGGERS

const workflow: WorkflowInput = {
  key: "bench",
  steps: [
    {
      ref: "email_1",
      type: "channel",
      channel_key: "email",
      channel_type: "email",
      template: { subject: "hi {{ recipient.id }}" },
    },
  ],
};

async function scenario(name: string, store: Store, queue: Queue): Promise<number> {
  let sent = 0;
  const engine = createEngine({
    store,
    queue,
    workflows: [workflow],
    channels: [{ key: "email", type: "email", provider: { send: async () => void sent++ } }],
  });
  try {
    await engine.workflows.list();
    const per = RUNS / TRIGGERS;
    const started = performance.now();
    for (let t = 0; t < TRIGGERS; t++) {
      await engine.workflows.trigger("bench", {
        recipients: Array.from({ length: per }, (_, i) => ({
          id: `u${t}-${i}`,
          email: `u${t}-${i}@example.com`,
        })),
      });
    }
    while (sent < RUNS) {
      await engine.idle();
      if (sent < RUNS) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const seconds = (performance.now() - started) / 1000;
    let messages = 0;
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<Store["listMessages"]>> = await store.listMessages(
        {},
        { limit: 1000, after },
      );
      messages += page.items.length;
      after = page.after;
    } while (after !== null);
    if (sent !== RUNS || messages !== RUNS)
      throw new Error(`${name}: ${sent} sends and ${messages} messages for ${RUNS} runs`);
    const rate = RUNS / seconds;
    console.log(
      `${name.padEnd(34)} ${RUNS} runs in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} runs/s`,
    );
    return rate;
  } finally {
    await engine.close();
  }
}

const servers: TestServer[] = [];
try {
  const started = async (start: () => Promise<TestServer>): Promise<string> => {
    const server = await start();
    servers.push(server);
    return server.url;
  };
  const databaseUrl = process.env.DATABASE_URL ?? (await started(startPostgres));
  const redisUrl = process.env.REDIS_URL ?? (await started(() => startRedis()));
  const id = randomUUID().replace(/-/g, "").slice(0, 8);
  const memory = await scenario("memory", memoryStore(), memoryQueue({ concurrency: 32 }));
  const redis = await scenario(
    "postgres + bullmq/redis",
    postgresStore({ connectionString: databaseUrl, schema: `bench_${id}_a`, max: 16 }),
    bullmqQueue({ connection: redisUrl, name: `bench_${id}`, prefix: "crier_bench" }),
  );
  const pgq = await scenario(
    "postgres + bullmq/postgres",
    postgresStore({ connectionString: databaseUrl, schema: `bench_${id}_b`, max: 16 }),
    bullmqQueue({
      backend: "postgres",
      connection: { connectionString: databaseUrl, schema: `bench_${id}_q`, max: 16 },
      name: `bench_${id}`,
    }),
  );
  console.log(
    `durable / memory: redis queue ${(redis / memory).toFixed(3)}, postgres queue ${(pgq / memory).toFixed(3)}`,
  );
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
