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

/** A reusable input buffer for the default namespace: its 16 bytes, a name, then SHA-1 padding. */
const scratch = Buffer.allocUnsafe(1024);
uuidBytes(CRIER_NAMESPACE).copy(scratch, 0);
/** Longest name (in UTF-16 units, at most 3 bytes each) that fits the buffer with its padding. */
const MAX_FAST_NAME = Math.floor((scratch.length - 16 - 72) / 3);
/** SHA-1's message schedule, reused. */
const schedule = new Int32Array(80);
/** The ASCII codes of the hex digits. */
const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
/** Where the UUID is spelled out before it becomes one flat string. */
const spelled = Buffer.alloc(36, "-", "latin1");

/** Spells the 8 hex digits of `word` into `spelled` at `at`, skipping the dash positions. */
function spellWord(word: number, at: number): void {
  for (let shift = 28, i = at; shift >= 0; shift -= 4, i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    spelled[i] = HEX_DIGITS[(word >>> shift) & 0xf]!;
  }
}

/**
 * @internal RFC 4122 UUID v5 of `name` under `namespace` (default: crier's own). The same inputs
 * give the same id in every process, which is what makes ids derived from a run deterministic.
 *
 * Under crier's namespace (every id the engine derives, three or more per recipient run) the
 * SHA-1 is computed here, in JavaScript, over a reusable buffer: for names of a few dozen bytes
 * that is over twice as fast as a call into OpenSSL, whose fixed cost per digest dominates at
 * this size. The test suite checks it against `node:crypto` on many names.
 */
export function uuidV5(name: string, namespace: string = CRIER_NAMESPACE): string {
  if (namespace !== CRIER_NAMESPACE || name.length > MAX_FAST_NAME) {
    const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest();
    hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
    hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
    const hex = hash.toString("hex", 0, 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const length = 16 + scratch.write(name, 16, "utf8");
  // Padding: a 1 bit, zeros, then the length in bits in the last 8 bytes of the last block.
  const end = (((length + 8) >>> 6) + 1) * 64;
  scratch[length] = 0x80;
  scratch.fill(0, length + 1, end - 4);
  scratch.writeUInt32BE(length * 8, end - 4);
  const w = schedule;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let offset = 0; offset < end; offset += 64) {
    for (let i = 0, p = offset; i < 16; i++, p += 4)
      w[i] =
        (scratch[p]! << 24) | (scratch[p + 1]! << 16) | (scratch[p + 2]! << 8) | scratch[p + 3]!;
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // The four rounds of twenty, each with its own function and constant (int32 forms of
    // 0x8f1bbcdc and 0xca62c1d6 in the last two).
    for (let i = 0; i < 20; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      const t =
        (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e - 0x70e44324 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e - 0x359d3e2a + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  // Version 5 in the high nibble of byte 6, the RFC 4122 variant in the top bits of byte 8.
  // Spelled into a buffer and read as one flat string: built by concatenation, an id would be
  // a tree of a dozen small strings, kept that way by every record holding it.
  spellWord(h0, 0);
  spellWord((h1 & ~0xf000) | 0x5000, 9);
  spellWord((h2 & 0x3fffffff) | 0x80000000, 19);
  spellWord(h3, 28);
  return spelled.toString("latin1", 0, 36);
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
