/**
 * A job that stalls more than `maxStalledCount` times (its worker dies holding it) is failed by
 * BullMQ without running again; the worker that takes it reports it through `onFailed`, so the
 * engine's `error` event tells of it. Real Redis and real PostgreSQL, a real killed process.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { bullmqQueue } from "../../src/bullmq/index.js";
import type { Job } from "../../src/queue/types.js";
import { systemClock } from "../../src/scheduling/clock.js";
import { uniqueName } from "./helpers.js";

const script = fileURLToPath(new URL("./stalling-worker.ts", import.meta.url));
const bullSchema = uniqueName("bullmq_stalled");

afterAll(async () => {
  const client = new pg.Client({ connectionString: inject("databaseUrl") });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${bullSchema}" CASCADE`);
  await client.end();
});

type Options = Parameters<typeof bullmqQueue>[0];

/** Starts the stalling process; resolves with it once its handler holds the job. */
async function stallingWorker(options: Options, job: { name: string; id: string }) {
  const child = fork(script, [], {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      STALLING_QUEUE: JSON.stringify(options),
      STALLING_JOB: JSON.stringify(job),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`the stalling worker exited (${code})`)));
  });
  return child;
}

const backends: Array<[string, () => Options]> = [
  ["Redis", () => ({ connection: inject("redisUrl"), prefix: uniqueName("crier_stalled") })],
  [
    "PostgreSQL",
    () => ({
      backend: "postgres",
      connection: { connectionString: inject("databaseUrl"), schema: bullSchema, max: 4 },
    }),
  ],
];

describe.each(backends)("bullmqQueue on %s: a job that stalled too often", (_name, backend) => {
  it("is reported through onFailed by the worker that takes it, and not run again", async () => {
    const options: Options = {
      ...backend(),
      name: uniqueName("stalled"),
      lockDuration: 1_000,
      stalledInterval: 250,
      maxStalledCount: 0,
    };
    const job = { name: "run", id: "run:stuck" };
    const child = await stallingWorker(options, job);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    const ran: Job[] = [];
    const failed: Array<{ job: Job; error: unknown }> = [];
    const queue = bullmqQueue(options);
    try {
      await queue.start({
        clock: systemClock,
        handler: async (held) => {
          ran.push(held);
        },
        onFailed: (held, error) => failed.push({ job: held, error }),
      });
      const deadline = Date.now() + 20_000;
      while (failed.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(failed).toHaveLength(1);
      expect(failed[0]?.job).toMatchObject({ id: "run:stuck", name: "run" });
      expect(failed[0]?.job.data).toEqual({ from: "stalling worker" });
      expect(String((failed[0]?.error as Error | undefined)?.message)).toMatch(/stalled more than/);
      expect(ran).toEqual([]);
    } finally {
      await queue.close();
    }
  }, 40_000);
});
