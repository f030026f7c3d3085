/**
 * @internal Checks a job given to a queue's `add`/`addBulk`: a non-empty `name`, JSON
 * object `data`, and, when given, a non-empty string `id` and a valid `runAt`. Every queue
 * adapter validates the same way; `prefix` names the adapter in the error (`[crier] [queue:bullmq]`).
 */
import { InvalidParamsError } from "../errors.js";
import type { JobInput } from "./types.js";

/** @internal Throws an InvalidParamsError naming `field` unless `job` is a valid {@link JobInput}. */
export function validateJob(job: JobInput | undefined, field: string, prefix = ""): void {
  const problem =
    typeof job !== "object" || job === null
      ? `an object { name, data, id?, runAt? }, received ${job === null ? "null" : typeof job}`
      : typeof job.name !== "string" || job.name === ""
        ? `name to be a non-empty string, received ${JSON.stringify(job.name) ?? "undefined"}`
        : typeof job.data !== "object" || job.data === null || Array.isArray(job.data)
          ? `data to be a JSON object, received ${job.data === null ? "null" : Array.isArray(job.data) ? "an array" : typeof job.data}`
          : job.id !== undefined && (typeof job.id !== "string" || job.id === "")
            ? `id to be a non-empty string when given, received ${JSON.stringify(job.id)}`
            : job.runAt !== undefined &&
                !(job.runAt instanceof Date && !Number.isNaN(job.runAt.getTime()))
              ? "runAt to be a valid Date when given"
              : undefined;
  if (problem) {
    throw new InvalidParamsError(
      `${prefix ? `${prefix} ` : ""}Expected ${field} to have ${problem}.`,
      [{ field, message: `expected ${problem}`, type: "type" }],
    );
  }
}
