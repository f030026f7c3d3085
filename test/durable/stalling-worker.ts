/**
 * A process whose queue takes jobs and never finishes them, for the stalled-job test: it starts a
 * `bullmqQueue` from the options in STALLING_QUEUE (JSON), adds the job in STALLING_JOB, tells
 * its parent `{ type: "running", id }` once its handler holds that job, and then waits to be
 * killed (SIGKILL: its lock is never renewed again, so the job stalls).
 */
import { bullmqQueue } from "../../src/bullmq/index.js";
import type { Job } from "../../src/queue/types.js";
import { systemClock } from "../../src/scheduling/clock.js";

const options = JSON.parse(process.env.STALLING_QUEUE ?? "{}") as Parameters<typeof bullmqQueue>[0];
const job = JSON.parse(process.env.STALLING_JOB ?? "{}") as { name: string; id: string };

const queue = bullmqQueue(options);
await queue.start({
  clock: systemClock,
  handler: (held: Job) => {
    process.send?.({ type: "running", id: held.id });
    return new Promise<void>(() => {});
  },
  onFailed: () => {},
});
await queue.add({ name: job.name, id: job.id, data: { from: "stalling worker" } });
