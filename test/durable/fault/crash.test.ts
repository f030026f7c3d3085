/**
 * Fault tests with real processes, on PostgreSQL + BullMQ (on Redis, and on BullMQ's PostgreSQL
 * backend): a worker killed with SIGKILL while 1,000 runs are parked on a delay, two workers
 * sharing one store and queue (runs, batches, once-per-recipient, throttles, idempotency keys and
 * schedules), and a worker killed while it runs jobs.
 */
import pg from "pg";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import type { WorkflowInput } from "../../../src/index.js";
import { uniqueName } from "../helpers.js";
import { runStatuses, sendLog, startWorker, type WorkerProcess, waitUntil } from "./harness.js";
import type { WorkerConfig } from "./worker.js";

const pool = new pg.Pool({ connectionString: inject("databaseUrl"), max: 4 });
pool.on("error", () => {});
const schemas: string[] = [];
const workers: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.kill()));
});
afterAll(async () => {
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

const email = (ref: string, subject: string) => ({
  ref,
  type: "channel" as const,
  channel_key: "email",
  channel_type: "email" as const,
  template: { subject },
});

/** Parks each run until `data.send_at`, then sends one email. */
const parked: WorkflowInput = {
  key: "parked",
  steps: [
    { ref: "wait", type: "delay", settings: { delay_until_field_path: "data.send_at" } },
    email("email_1", "hello {{ recipient.id }}"),
  ],
};

function config(
  backend: "redis" | "postgres",
  log: string,
  workflows: WorkflowInput[],
): WorkerConfig {
  const schema = uniqueName("fault");
  schemas.push(schema);
  const queueSchema = uniqueName("fault_bullmq");
  if (backend === "postgres") schemas.push(queueSchema);
  return {
    databaseUrl: inject("databaseUrl"),
    schema,
    backend,
    queueConnection: backend === "redis" ? inject("redisUrl") : inject("databaseUrl"),
    queueSchema,
    queueName: uniqueName("q"),
    prefix: "crier_fault",
    sendLog: log,
    workflows,
  };
}

async function start(cfg: WorkerConfig): Promise<WorkerProcess> {
  const worker = await startWorker(cfg);
  workers.push(worker);
  return worker;
}

const recipients = (n: number, prefix = "u") =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    email: `${prefix}${i}@example.com`,
  }));

describe.each(["redis", "postgres"] as const)(
  "durable adapters across processes (BullMQ on %s)",
  (backend) => {
    it("completes 1,000 parked runs exactly once after their worker is killed with SIGKILL", async () => {
      const log = sendLog();
      try {
        const cfg = config(backend, log.path, [parked]);
        const first = await start(cfg);
        // Far enough ahead that all 1,000 runs park first, even on a loaded 2-core machine.
        const sendAt = new Date(Date.now() + 15_000).toISOString();
        await first.trigger("parked", { recipients: recipients(1000), data: { send_at: sendAt } });
        await waitUntil(
          "1,000 runs parked on the delay",
          async () => (await runStatuses(pool, cfg.schema)).paused === 1000,
          14_000,
          () => runStatuses(pool, cfg.schema),
        );
        // Every run is parked and nothing has been sent: the delay has not passed.
        expect(Date.now()).toBeLessThan(Date.parse(sendAt));
        expect(log.lines()).toEqual([]);
        await first.kill();

        const second = await start(cfg);
        await waitUntil(
          "1,000 runs to complete on the new worker",
          async () => (await runStatuses(pool, cfg.schema)).completed === 1000,
          60_000,
          () => runStatuses(pool, cfg.schema),
        );
        const { rows } = await pool.query<{ n: number; runs: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT workflow_recipient_run_id)::int AS runs FROM "${cfg.schema}".messages`,
        );
        expect(rows[0]).toEqual({ n: 1000, runs: 1000 });
        const sends = log.lines();
        expect(sends).toHaveLength(1000);
        expect(new Set(sends.map(([id]) => id)).size).toBe(1000);
        expect(new Set(sends.map(([, pid]) => pid))).toEqual(new Set([second.pid]));
      } finally {
        log.remove();
      }
    }, 120_000);

    it("shares one store and queue between two workers: each run processed once; batches, once-per-recipient, throttles and idempotency keys atomic across processes", async () => {
      const log = sendLog();
      try {
        const digest: WorkflowInput = {
          key: "digest",
          steps: [
            {
              ref: "batch",
              type: "batch",
              settings: { batch_window: { unit: "seconds", value: 4 } },
            },
            email("email_1", "{{ total_activities }} activities"),
          ],
        };
        const once: WorkflowInput = {
          key: "once",
          trigger_frequency: "once_per_recipient",
          steps: [email("email_1", "once")],
        };
        const throttled: WorkflowInput = {
          key: "throttled",
          steps: [
            {
              ref: "throttle",
              type: "throttle",
              settings: { throttle_window: { unit: "hours", value: 1 }, throttle_limit: 3 },
            },
            email("email_1", "throttled"),
          ],
        };
        const keyed: WorkflowInput = { key: "keyed", steps: [email("email_1", "keyed")] };
        const plain: WorkflowInput = { key: "plain", steps: [email("email_1", "plain")] };
        const cfg = config(backend, log.path, [digest, once, throttled, keyed, plain]);
        const [a, b] = await Promise.all([start(cfg), start(cfg)]);
        const batcher = { id: "batcher", email: "batcher@example.com" };
        const keyedParams = { recipients: [batcher], data: { n: 1 } };
        const idempotencyKey = { idempotencyKey: "one-key" };
        // Both processes at once: 1,000 plain runs each made by one of them and run by either;
        // from each, 100 triggers of one batch, and 50 each of a once-per-recipient workflow, of
        // a workflow throttled to 3 per hour, and of a trigger with one idempotency key.
        const results = await Promise.all([
          a.trigger("plain", { recipients: recipients(500, "a") }),
          b.trigger("plain", { recipients: recipients(500, "b") }),
          a.trigger("digest", { recipients: [batcher] }, 100),
          b.trigger("digest", { recipients: [batcher] }, 100),
          a.trigger("once", { recipients: [batcher] }, 50),
          b.trigger("once", { recipients: [batcher] }, 50),
          a.trigger("throttled", { recipients: [batcher] }, 50),
          b.trigger("throttled", { recipients: [batcher] }, 50),
          a.trigger("keyed", keyedParams, 50, idempotencyKey),
          b.trigger("keyed", keyedParams, 50, idempotencyKey),
        ]);
        // Every call with the key returned the one run it made, from either process.
        const keyedRuns = [...results[8]!, ...results[9]!].map((r) => r.workflow_run_id);
        expect(keyedRuns).toHaveLength(100);
        expect(new Set(keyedRuns).size).toBe(1);
        const workflowRuns = await pool.query<{ workflow: string; n: number }>(
          `SELECT doc ->> 'workflow' AS workflow, count(*)::int AS n
           FROM "${cfg.schema}".workflow_runs WHERE doc ->> 'workflow' IN ('keyed', 'throttled')
           GROUP BY 1 ORDER BY 1`,
        );
        expect(workflowRuns.rows).toEqual([
          { workflow: "keyed", n: 1 },
          { workflow: "throttled", n: 100 },
        ]);
        await waitUntil(
          "every run to complete",
          async () =>
            (await runStatuses(pool, cfg.schema)).completed === 1000 + 200 + 100 + 100 + 1,
          60_000,
          () => runStatuses(pool, cfg.schema),
        );
        const { rows } = await pool.query<{ workflow: string; n: number; subjects: string[] }>(
          `SELECT doc ->> 'workflow' AS workflow, count(*)::int AS n,
                array_agg(DISTINCT doc -> 'content' ->> 'subject') AS subjects
         FROM "${cfg.schema}".messages GROUP BY 1 ORDER BY 1`,
        );
        // The 200 batched triggers: every one counted once, in batches that never overlapped
        // (one batch unless the machine was so slow that the 4-second window closed before the
        // last of them reached it).
        const digests = rows.filter((row) => row.workflow === "digest");
        const batches = await pool.query<{ opened_at: string; closed_at: string; items: number }>(
          `SELECT doc ->> 'opened_at' AS opened_at, doc ->> 'closed_at' AS closed_at,
                  jsonb_array_length(doc -> 'items') AS items
           FROM "${cfg.schema}".batches ORDER BY doc ->> 'opened_at'`,
        );
        expect(batches.rows.reduce((sum, b) => sum + b.items, 0)).toBe(200);
        for (const [i, batch] of batches.rows.entries()) {
          const next = batches.rows[i + 1];
          if (next)
            expect(Date.parse(batch.closed_at)).toBeLessThanOrEqual(Date.parse(next.opened_at));
        }
        expect(digests).toHaveLength(1);
        expect(digests[0]?.n).toBe(batches.rows.length);
        const counted = (
          await pool.query<{ subject: string }>(
            `SELECT doc -> 'content' ->> 'subject' AS subject FROM "${cfg.schema}".messages
             WHERE doc ->> 'workflow' = 'digest'`,
          )
        ).rows.reduce((sum, m) => sum + Number.parseInt(m.subject, 10), 0);
        expect(counted).toBe(200);
        expect(rows.filter((row) => row.workflow !== "digest")).toEqual([
          { workflow: "keyed", n: 1, subjects: ["keyed"] },
          { workflow: "once", n: 1, subjects: ["once"] },
          { workflow: "plain", n: 1000, subjects: ["plain"] },
          { workflow: "throttled", n: 3, subjects: ["throttled"] },
        ]);
        // Each run started once (a second processing would log a second run_started).
        const started = await pool.query<{ max: number; runs: number }>(
          `SELECT max(n)::int AS max, count(*)::int AS runs FROM (
           SELECT run_id, count(*) AS n FROM "${cfg.schema}".run_events
           WHERE event ->> 'event' = 'run_started' GROUP BY run_id) s`,
        );
        expect(started.rows[0]?.max).toBe(1);
        const sends = log.lines();
        expect(sends).toHaveLength(1006);
        expect(new Set(sends.map(([id]) => id)).size).toBe(1006);
        // Both workers took part.
        expect(new Set(sends.map(([, pid]) => pid))).toEqual(new Set([a.pid, b.pid]));
      } finally {
        log.remove();
      }
    }, 120_000);

    it("fires each schedule's occurrence once when two workers share the store and queue", async () => {
      const log = sendLog();
      try {
        const reminder: WorkflowInput = {
          key: "reminder",
          steps: [email("email_1", "reminder {{ recipient.schedule.id }}")],
        };
        const cfg = config(backend, log.path, [reminder]);
        const [a, b] = await Promise.all([start(cfg), start(cfg)]);
        // 100 one-off schedules due in 3 s, half created through each worker; both run jobs.
        const at = new Date(Date.now() + 3_000).toISOString();
        const [fromA, fromB] = await Promise.all([
          a.schedule({ workflow: "reminder", recipients: recipients(50, "a"), scheduled_at: at }),
          b.schedule({ workflow: "reminder", recipients: recipients(50, "b"), scheduled_at: at }),
        ]);
        expect(fromA.length + fromB.length).toBe(100);
        await waitUntil(
          "every schedule's run to complete",
          async () => (await runStatuses(pool, cfg.schema)).completed === 100,
          60_000,
          () => runStatuses(pool, cfg.schema),
        );
        // Give a duplicate firing time to show itself, then count.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect(await runStatuses(pool, cfg.schema)).toEqual({ completed: 100 });
        const sends = log.lines();
        expect(sends).toHaveLength(100);
        expect(new Set(sends.map(([id]) => id)).size).toBe(100);
        const { rows } = await pool.query<{ fired: number; done: number }>(
          `SELECT count(*) FILTER (WHERE doc ->> 'last_occurrence_at' = $1)::int AS fired,
                  count(*) FILTER (WHERE doc -> 'next_occurrence_at' = 'null'::jsonb)::int AS done
           FROM "${cfg.schema}".schedules`,
          [at],
        );
        expect(rows[0]).toEqual({ fired: 100, done: 100 });
      } finally {
        log.remove();
      }
    }, 120_000);

    it("hands the jobs a killed worker was running to another worker, which finishes them without a second message", async () => {
      const log = sendLog();
      try {
        const plain: WorkflowInput = { key: "plain", steps: [email("email_1", "plain")] };
        const cfg = config(backend, log.path, [plain]);
        // The first worker hangs in every provider call: it has made each message it runs, and
        // holds the job, when it is killed. Its 16 slots share the 50 runs as 13 pages of 4
        // (worker.ts): each page hangs in its first run's send.
        const hanging = await start({ ...cfg, hangSends: true });
        await hanging.trigger("plain", { recipients: recipients(50) });
        await waitUntil(
          "the first worker to hang in 13 sends, one per page",
          async () => {
            const { rows } = await pool
              .query<{ n: number }>(`SELECT count(*)::int AS n FROM "${cfg.schema}".messages`)
              .catch(() => ({ rows: [{ n: 0 }] }));
            return rows[0]?.n === 13;
          },
          30_000,
        );
        await hanging.kill();
        const rescuer = await start(cfg);
        await waitUntil(
          "all 50 runs to complete on the second worker (after the locks expire)",
          async () => (await runStatuses(pool, cfg.schema)).completed === 50,
          60_000,
          () => runStatuses(pool, cfg.schema),
        );
        const { rows } = await pool.query<{ n: number; runs: number; sent: number }>(
          `SELECT count(*)::int AS n, count(DISTINCT workflow_recipient_run_id)::int AS runs,
                count(*) FILTER (WHERE doc ->> 'status' = 'sent')::int AS sent
         FROM "${cfg.schema}".messages`,
        );
        expect(rows[0]).toEqual({ n: 50, runs: 50, sent: 50 });
        const sends = log.lines();
        expect(sends).toHaveLength(50);
        expect(new Set(sends.map(([id]) => id)).size).toBe(50);
        expect(new Set(sends.map(([, pid]) => pid))).toEqual(new Set([rescuer.pid]));
      } finally {
        log.remove();
      }
    }, 120_000);
  },
);
