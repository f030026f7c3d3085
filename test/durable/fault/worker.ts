/**
 * A crier worker process for the fault tests: an engine on PostgreSQL + BullMQ whose email
 * provider appends `<message id> <pid>` to a log file (one line per provider call). The parent
 * drives it over IPC; every command carries an `id` its answer repeats, so several may be in
 * flight at once: `{ id, type: "trigger", workflow, params, options?, n? }` makes `n` concurrent
 * `workflows.trigger(workflow, params, options)` calls and answers `{ id, type: "triggered",
 * results }` (each call's result, in order); `{ id, type: "schedule", params }` creates schedules
 * and answers `{ id, type: "scheduled", ids }`; a failure answers `{ id, type: "error", message }`;
 * `{ type: "close" }` closes the engine and exits. It says `{ type: "ready" }` once started.
 *
 * Configuration comes as JSON in CRIER_WORKER (see {@link WorkerConfig}).
 */
import { appendFileSync } from "node:fs";
import { bullmqQueue } from "../../../src/bullmq/index.js";
import { createEngine, type TriggerOptions, type WorkflowInput } from "../../../src/index.js";
import { postgresStore } from "../../../src/postgres/index.js";

/** What the parent passes in CRIER_WORKER. */
export interface WorkerConfig {
  databaseUrl: string;
  schema: string;
  backend: "redis" | "postgres";
  /** Redis URL, or PostgreSQL URL for BullMQ's backend. */
  queueConnection: string;
  /** BullMQ's schema on PostgreSQL. */
  queueSchema?: string;
  queueName: string;
  prefix: string;
  sendLog: string;
  workflows: WorkflowInput[];
  /** The provider never returns (a process that hangs, then dies, in the middle of a send). */
  hangSends?: boolean;
}

const config = JSON.parse(process.env.CRIER_WORKER ?? "{}") as WorkerConfig;

const engine = createEngine({
  store: postgresStore({ connectionString: config.databaseUrl, schema: config.schema, max: 8 }),
  queue: bullmqQueue({
    ...(config.backend === "redis"
      ? { connection: config.queueConnection, prefix: config.prefix }
      : {
          backend: "postgres" as const,
          connection: {
            connectionString: config.queueConnection,
            schema: config.queueSchema,
            max: 8,
          },
        }),
    name: config.queueName,
    concurrency: 16,
    // Short locks, so that a killed worker's running jobs are handed on within seconds.
    lockDuration: 3_000,
    stalledInterval: 1_000,
    backoff: (attempt) => 250 * 2 ** (attempt - 1),
    attempts: 8,
  }),
  channels: [
    {
      key: "email",
      type: "email",
      provider: {
        async send(message) {
          if (config.hangSends) await new Promise(() => {});
          appendFileSync(config.sendLog, `${message.id} ${process.pid}\n`);
        },
      },
    },
  ],
  workflows: config.workflows,
  deliveryRetry: { attempts: 8, backoff: () => 500 },
});

engine.on("error", () => {
  // Job failures are visible in the store; the tests check outcomes there.
});

/** A command from the parent (see the file's comment). */
export interface WorkerCommand {
  id?: number;
  type: "trigger" | "schedule" | "close";
  workflow?: string;
  params?: unknown;
  options?: TriggerOptions;
  n?: number;
}

function answer(id: number | undefined, work: Promise<Record<string, unknown>>): void {
  void work.then(
    (reply) => process.send?.({ id, ...reply }),
    (error: unknown) => process.send?.({ id, type: "error", message: String(error) }),
  );
}

process.on("message", (raw) => {
  const command = raw as WorkerCommand;
  if (command.type === "trigger") {
    const times = command.n ?? 1;
    answer(
      command.id,
      Promise.all(
        Array.from({ length: times }, () =>
          engine.workflows.trigger(command.workflow!, command.params as never, command.options),
        ),
      ).then((results) => ({ type: "triggered", results })),
    );
  } else if (command.type === "schedule") {
    answer(
      command.id,
      engine.schedules
        .create(command.params as never)
        .then((schedules) => ({ type: "scheduled", ids: schedules.map((s) => s.id) })),
    );
  } else if (command.type === "close") {
    void engine.close().then(() => process.exit(0));
  }
});

await engine.workflows.list();
process.send?.({ type: "ready" });
