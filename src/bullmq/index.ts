/**
 * `crier/bullmq`: the `Queue` (from `crier`) on BullMQ, with Redis or BullMQ's PostgreSQL backend. `bullmq`
 * (and `ioredis` or `pg`) are optional peer dependencies, loaded only when a queue starts.
 *
 * @module
 */
export {
  type BullmqBackend,
  type BullmqConnection,
  type BullmqQueueOptions,
  bullmqQueue,
} from "./queue.js";
