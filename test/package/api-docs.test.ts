import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

/**
 * `npm run docs:api` generates the API reference (docs/api/, not committed) with typedoc, whose
 * config treats every warning as an error: an export without TSDoc, a broken {@link}, a public
 * signature naming a type that is not exported. This runs the same validation without writing.
 */
describe("the API reference", () => {
  it("generates without a warning: every export documented, every link resolved", async () => {
    const typedoc = join(root, "node_modules", "typedoc", "bin", "typedoc");
    const output = await run(process.execPath, [typedoc, "--emit", "none"], { cwd: root }).then(
      ({ stdout, stderr }) => `${stdout}${stderr}`,
      (error: { stdout?: string; stderr?: string }) =>
        `${error.stdout ?? ""}${error.stderr ?? ""}\nexited with an error`,
    );
    expect(output).not.toMatch(/warning|error/i);
  }, 120_000);
});
