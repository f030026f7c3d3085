/** @internal Identifiers: UUID v4 for workflow runs, name-based UUID v5 for what derives from them. */
import { createHash, randomUUID } from "node:crypto";

/** @internal A random UUID v4. */
export function uuidV4(): string {
  return randomUUID();
}

/** @internal The namespace under which crier derives its UUID v5s (a fixed random UUID). */
const CRIER_NAMESPACE = "7b0c9f36-62a4-4f55-9e49-2f6ba3c1c0de";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

/**
 * @internal RFC 4122 UUID v5 of `name` under `namespace` (default: crier's own). The same inputs
 * give the same id in every process, which is what makes ids derived from a run deterministic.
 */
export function uuidV5(name: string, namespace: string = CRIER_NAMESPACE): string {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** @internal A stable string for a recipient reference: `u:<id>` for users, `o:<collection>:<id>` else. */
export function recipientKeyString(ref: string | { id: string; collection: string }): string {
  return typeof ref === "string" ? `u:${ref}` : `o:${ref.collection}:${ref.id}`;
}

/** @internal A stable SHA-256 hex digest of a JSON value (keys sorted), for fingerprints and shas. */
export function hashJson(value: unknown): string {
  return createHash("sha256").update(stableStringify(value)).digest("hex");
}

/** @internal JSON.stringify with object keys sorted, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(record[key])}`).join(",")}}`;
}
