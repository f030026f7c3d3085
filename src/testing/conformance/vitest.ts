/**
 * @internal The conformance suites run on vitest, an optional peer dependency: it is loaded when
 * `crier/testing` is imported if it is installed, so `createTestEngine` works under any test runner
 * and only `testStore` / `testQueue` need vitest.
 */
import { CrierError } from "../../errors.js";

type Vitest = typeof import("vitest");

let loaded: Vitest | undefined;
try {
  loaded = await import("vitest");
} catch {
  loaded = undefined;
}

/** @internal vitest's API, or a clear error when it is not installed. */
export function vitestApi(suite: string): Vitest {
  if (!loaded) {
    throw new CrierError(
      "adapter_error",
      `Expected vitest to be installed for ${suite}, which is a vitest suite, but it could not be imported. ` +
        "Install it as a dev dependency (npm install -D vitest) and call the suite from a vitest test file.",
    );
  }
  return loaded;
}
