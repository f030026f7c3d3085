/**
 * Scale-out: the durable workload (PostgreSQL + BullMQ/Redis) run by 1 and then by 2 worker
 * processes, each a full engine; this process only triggers (a producer-only queue) and counts
 * completed runs in the store. Runs per second with two workers over one.
 */
import { fork } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { bullmq, crier, postgres } from "../crier.js";
import { durableServers, report, round, since, uniqueName } from "../lib.js";
import { benchWorkflow, seedRecipients } from "../workload.js";

const { bullmqQueue } = bullmq;
const { createEngine } = crier;
const { postgresStore } = postgres;

const TRIGGERS = Number(process.env.BENCH_DURABLE_TRIGGERS ?? 10);
const RECIPIENTS = Number(process.env.BENCH_DURABLE_RECIPIENTS ?? 200);
const total = TRIGGERS * RECIPIENTS;
const workerScript = fileURLToPath(new URL("./scaleout-worker.ts", import.meta.url));

interface Measured {
  rate: number;
  /** The whole machine's busy share of its cores while the runs ran (0–1), from os.cpus(). */
  busy: number;
  completed: number;
  messages: number;
}

/** Milliseconds all cores of the machine have spent busy, and in all, since boot. */
function machineCpu(): { busy: number; all: number } {
  let busy = 0;
  let all = 0;
  for (const { times } of os.cpus()) {
    const total = times.user + times.nice + times.sys + times.idle + times.irq;
    all += total;
    busy += total - times.idle;
  }
  return { busy, all };
}

async function measure(databaseUrl: string, redisUrl: string, workers: number): Promise<Measured> {
  const schema = uniqueName("scale");
  const queueName = uniqueName("scale");
  const producer = createEngine({
    store: postgresStore({ connectionString: databaseUrl, schema, max: 8 }),
    queue: bullmqQueue({ connection: redisUrl, name: queueName, worker: false }),
    workflows: [benchWorkflow],
  });
  const ids = await seedRecipients(producer, RECIPIENTS);
  const children = await Promise.all(
    Array.from({ length: workers }, async () => {
      const child = fork(workerScript, [], {
        execArgv: ["--import", "tsx"],
        env: {
          ...process.env,
          BENCH_WORKER: JSON.stringify({ databaseUrl, schema, redisUrl, queueName }),
        },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("message", () => resolve());
        child.once("exit", (code) =>
          reject(new Error(`worker exited (${code}) before it was ready`)),
        );
      });
      return child;
    }),
  );
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const cpuBefore = machineCpu();
    const start = performance.now();
    for (let i = 0; i < TRIGGERS; i++) {
      await producer.workflows.trigger("bench", { recipients: ids, data: { message: `m${i}` } });
    }
    const count = async (sql: string) => (await pool.query<{ n: number }>(sql)).rows[0]?.n ?? 0;
    const completedRuns = `SELECT count(*)::int AS n FROM "${schema}".recipient_runs WHERE status = 'completed'`;
    // Until every run completed (or five minutes: a stuck run then fails the check below).
    while ((await count(completedRuns)) < total && since(start) < 300_000)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const rate = total / (since(start) / 1000);
    const cpuAfter = machineCpu();
    return {
      rate,
      busy: (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.all - cpuBefore.all),
      completed: await count(completedRuns),
      messages: await count(`SELECT count(*)::int AS n FROM "${schema}".messages`),
    };
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.send({ type: "close" });
          }),
      ),
    );
    await producer.close();
    await pool.end();
  }
}

const servers = await durableServers();
try {
  const one = await measure(servers.databaseUrl, servers.redisUrl, 1);
  const two = await measure(servers.databaseUrl, servers.redisUrl, 2);
  const ratio = two.rate / one.rate;
  report({
    scenario: "scale-out",
    figures: {
      runs: total,
      one_worker_runs_per_s: round(one.rate),
      two_workers_runs_per_s: round(two.rate),
      one_worker_machine_busy_pct: round(one.busy * 100),
      two_workers_machine_busy_pct: round(two.busy * 100),
    },
    ratio: round(ratio),
    targets: [{ target: "2 processes >= 1.5 x one", met: ratio >= 1.5 }],
    checks: [
      {
        check: "every run completed, with one and with two workers",
        ok: one.completed === total && two.completed === total,
      },
      {
        check: "two messages per run (in-app and email), no more",
        ok: one.messages === 2 * total && two.messages === 2 * total,
      },
    ],
    notes: [
      `PostgreSQL, Redis, the producer and the workers share the machine's ${os.cpus().length} cores: with one worker they were ${round(one.busy * 100)}% busy, so a second worker process can only take CPU from the servers it depends on.`,
    ],
  });
} finally {
  await servers.stop();
}
