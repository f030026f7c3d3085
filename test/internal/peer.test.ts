/**
 * Finding optional peer dependencies (pg, bullmq, ioredis) without loading them, on every Node 20:
 * through `import.meta.resolve` where Node has it (from 20.6), else through `require.resolve`.
 * The built package's test (test/package/built-package.test.ts) covers the whole path with the
 * peers blocked by a loader hook.
 */
import { describe, expect, it } from "vitest";
import { isPeerInstalled, requirePeer } from "../../src/_internal/peer.js";
import { CrierError } from "../../src/errors.js";

const missing = "crier-test-no-such-package";

describe("optional peer dependencies", () => {
  it("finds installed packages and misses absent ones without import.meta.resolve (Node before 20.6)", () => {
    expect(isPeerInstalled("pg", null)).toBe(true);
    expect(isPeerInstalled("bullmq", null)).toBe(true);
    expect(isPeerInstalled("ioredis", null)).toBe(true);
    expect(isPeerInstalled(missing, null)).toBe(false);
  });

  it("asks import.meta.resolve when there is one, counting only a not-found answer as missing", () => {
    const asked: string[] = [];
    const notFound = (specifier: string): string => {
      asked.push(specifier);
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    };
    expect(isPeerInstalled("pg", notFound)).toBe(false);
    expect(asked).toEqual(["pg"]);
    expect(isPeerInstalled("pg", () => "file:///somewhere/pg/index.js")).toBe(true);
    // A package that is there but resolves oddly is installed: loading it reports the problem.
    const odd = () => {
      throw Object.assign(new Error("No exports main defined"), {
        code: "ERR_PACKAGE_PATH_NOT_EXPORTED",
      });
    };
    expect(isPeerInstalled("pg", odd)).toBe(true);
  });

  it("throws a CrierError naming the package to install when one is missing", () => {
    expect(() => requirePeer("pg", "store:postgres", "postgresStore()")).not.toThrow();
    let error: unknown;
    try {
      requirePeer(missing, "queue:test", "testQueue()");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CrierError);
    expect((error as CrierError).code).toBe("adapter_error");
    expect((error as CrierError).message).toContain(`Expected the package "${missing}"`);
    expect((error as CrierError).message).toContain(`npm install ${missing}`);
  });
});
