/**
 * A worker process of the scale-out scenario: an engine on the scenario's PostgreSQL schema and
 * BullMQ queue that runs jobs until told to close. Configuration comes as JSON in BENCH_WORKER.
 */

import { bullmq, crier, postgres } from "../crier.js";
import { benchChannels, benchWorkflow } from "../workload.js";

const { bullmqQueue } = bullmq;
const { createEngine } = crier;
const { postgresStore } = postgres;

const config = JSON.parse(process.env.BENCH_WORKER ?? "{}") as {
  databaseUrl: string;
  schema: string;
  redisUrl: string;
  queueName: string;
};
const engine = createEngine({
  store: postgresStore({ connectionString: config.databaseUrl, schema: config.schema, max: 16 }),
  queue: bullmqQueue({ connection: config.redisUrl, name: config.queueName, concurrency: 32 }),
  workflows: [benchWorkflow],
  channels: benchChannels(),
});
process.on("message", (message) => {
  if ((message as { type?: string }).type === "close")
    void engine.close().then(() => process.exit(0));
});
await engine.workflows.list();
process.send?.({ type: "ready" });
