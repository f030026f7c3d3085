/** @internal Identifiers: UUID v4 for workflow runs, name-based UUID v5 for what derives from them. */
import crypto, { createHash, randomUUID } from "node:crypto";

/** @internal A random UUID v4. */
export function uuidV4(): string {
  return randomUUID();
}

/** @internal The namespace under which crier derives its UUID v5s (a fixed random UUID). */
const CRIER_NAMESPACE = "7b0c9f36-62a4-4f55-9e49-2f6ba3c1c0de";

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

/** A reusable input buffer for the default namespace: its 16 bytes, then room for a name. */
const scratch = Buffer.allocUnsafe(1024);
uuidBytes(CRIER_NAMESPACE).copy(scratch, 0);
/** `crypto.hash` (Node 20.12+): a one-shot digest, cheaper than a Hash object per id. */
const oneShot = (
  crypto as { hash?: (algorithm: string, data: Buffer, encoding: "buffer") => Buffer }
).hash;

/**
 * @internal RFC 4122 UUID v5 of `name` under `namespace` (default: crier's own). The same inputs
 * give the same id in every process, which is what makes ids derived from a run deterministic.
 */
export function uuidV5(name: string, namespace: string = CRIER_NAMESPACE): string {
  let hash: Buffer;
  if (oneShot && namespace === CRIER_NAMESPACE && name.length * 3 <= scratch.length - 16) {
    const length = scratch.write(name, 16, "utf8");
    hash = oneShot("sha1", scratch.subarray(0, 16 + length), "buffer");
  } else {
    hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
  }
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.toString("hex", 0, 16);
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
