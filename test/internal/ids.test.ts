import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { uuidV5 } from "../../src/_internal/ids.js";

/** UUID v5 computed the textbook way, as the oracle. */
function reference(name: string, namespace: string): string {
  const hash = createHash("sha1")
    .update(Buffer.from(namespace.replace(/-/g, ""), "hex"))
    .update(name, "utf8")
    .digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.toString("hex", 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const CRIER = "7b0c9f36-62a4-4f55-9e49-2f6ba3c1c0de";

describe("uuidV5", () => {
  it("matches the RFC 4122 example (DNS namespace, www.example.com)", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });

  it("derives the same ids as the textbook computation under crier's namespace", () => {
    const names = [
      "",
      "run|message|email_1",
      "wr-1|u:ada",
      "Zoë 👋 ünïcode",
      "x".repeat(400),
      "é".repeat(700), // longer than the reusable buffer once UTF-8 encoded
    ];
    for (const name of names) expect(uuidV5(name)).toBe(reference(name, CRIER));
    // The reusable buffer keeps no trace of a longer name that came before.
    expect(uuidV5("a")).toBe(reference("a", CRIER));
  });

  it("agrees with node:crypto on every name length around SHA-1's block edges", () => {
    // 16 namespace bytes + n: one block up to 55 bytes, two up to 119, three up to 183…
    for (let n = 0; n <= 320; n++) {
      const name = "r".repeat(n);
      expect(uuidV5(name), `length ${n}`).toBe(reference(name, CRIER));
    }
    // The longest names that still take the in-JavaScript path, and just past it.
    for (const n of [310, 311, 312]) {
      const name = "日".repeat(n);
      expect(uuidV5(name), `${n} three-byte characters`).toBe(reference(name, CRIER));
    }
  });

  it("agrees with node:crypto on random names", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = "abcXYZ019|:-_ é日👋";
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 90);
      let name = "";
      for (let j = 0; j < length; j++) name += alphabet[Math.floor(random() * alphabet.length)];
      expect(uuidV5(name)).toBe(reference(name, CRIER));
    }
  });
});
