/**
 * Starts and drives fault-test worker processes (see worker.ts), and reads outcomes from the
 * store's tables and the provider's send log.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import type { TriggerOptions, TriggerResult } from "../../../src/index.js";
import type { WorkerCommand, WorkerConfig } from "./worker.js";

const script = join(import.meta.dirname, "worker.ts");

/** A running worker process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /**
   * Asks it to trigger a workflow `n` times at once (`workflows.trigger(workflow, params,
   * options)`), resolving with every call's result once all returned.
   */
  trigger(
    workflow: string,
    params: unknown,
    n?: number,
    options?: TriggerOptions,
  ): Promise<TriggerResult[]>;
  /** Asks it to create schedules (`schedules.create(params)`), resolving with their ids. */
  schedule(params: unknown): Promise<string[]>;
  /** SIGKILL: no clean-up of any kind. */
  kill(): Promise<void>;
  /** Closes its engine gracefully and waits for it to exit. */
  close(): Promise<void>;
}

/** A worker's answer to a command (see worker.ts). */
interface WorkerReply {
  id?: number;
  type: string;
  results?: TriggerResult[];
  ids?: string[];
  message?: string;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** Forks a worker with `config` and waits for it to be ready. */
export async function startWorker(config: WorkerConfig): Promise<WorkerProcess> {
  const child = fork(script, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, CRIER_WORKER: JSON.stringify(config) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("The worker did not start within 30 s.")),
      30_000,
    );
    child.once("message", (message: { type?: string }) => {
      clearTimeout(timer);
      if (message.type === "ready") resolve();
      else reject(new Error(`The worker said ${JSON.stringify(message)} instead of ready.`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`The worker exited (code ${code}) before it was ready.`));
    });
  });
  // Answers carry their command's id: several commands may be in flight at once.
  let nextId = 0;
  const pending = new Map<number, (reply: WorkerReply) => void>();
  child.on("message", (message: WorkerReply) => {
    if (typeof message.id !== "number") return;
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  child.once("exit", (code, signal) => {
    for (const settle of pending.values()) {
      settle({ type: "error", message: `the worker exited (${signal ?? code}) before answering` });
    }
    pending.clear();
  });
  const request = (command: WorkerCommand): Promise<WorkerReply> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...command, id });
    });
  return {
    child,
    pid: child.pid!,
    async trigger(workflow, params, n = 1, options) {
      const reply = await request({ type: "trigger", workflow, params, n, options });
      if (reply.type !== "triggered")
        throw new Error(`Trigger failed in the worker: ${reply.message}`);
      return reply.results ?? [];
    },
    async schedule(params) {
      const reply = await request({ type: "schedule", params });
      if (reply.type !== "scheduled")
        throw new Error(`Scheduling failed in the worker: ${reply.message}`);
      return reply.ids ?? [];
    },
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: "close" });
      await exited(child);
    },
  };
}

/** A temporary folder with the send log, removed by `remove()`. */
export function sendLog(): { path: string; lines(): Array<[string, number]>; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "crier-sends-"));
  const path = join(dir, "sends.log");
  return {
    path,
    lines() {
      let text = "";
      try {
        text = readFileSync(path, "utf8");
      } catch {
        return [];
      }
      return text
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const [id, pid] = line.split(" ");
          return [id!, Number(pid)];
        });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run counts by status in a store schema. */
export async function runStatuses(pool: pg.Pool, schema: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM "${schema}".recipient_runs GROUP BY status`,
  );
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/** Polls `check` every 100 ms until it returns true, or throws after `timeout` ms saying what. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeout: number,
  describe: () => Promise<unknown> | unknown = () => "",
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeout} ms waiting for ${what}: ${JSON.stringify(await describe())}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
