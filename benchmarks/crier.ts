/**
 * crier as the benchmarks run it: the compiled package in `dist/` (what users run; `run.ts`
 * builds it first), or, with `BENCH_SOURCE=src`, the TypeScript sources through tsx (quicker to
 * iterate on, but tsx's transform costs some 15-20% of the in-memory rates).
 *
 * Types always come from the sources; only the code loaded at run time differs.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where the code is loaded from: `dist` or `src`. */
export const source = process.env.BENCH_SOURCE === "src" ? "src" : "dist";

const root = new URL(`../${source}/`, import.meta.url);
if (source === "dist" && !existsSync(fileURLToPath(new URL("index.js", root)))) {
  throw new Error(
    "benchmarks: dist/ is not built. Run `npm run bench` (it builds first), or `npm run build`, or set BENCH_SOURCE=src.",
  );
}

/** Loads `path` (relative to `src/`, with a `.js` extension) from the chosen tree. */
function load<T>(path: string): Promise<T> {
  return import(new URL(path, root).href) as Promise<T>;
}

/** `crier` */
export const crier = await load<typeof import("../src/index.js")>("index.js");
/** `crier/testing` */
export const testing = await load<typeof import("../src/testing/index.js")>("testing/index.js");
/** `crier/postgres` */
export const postgres = await load<typeof import("../src/postgres/index.js")>("postgres/index.js");
/** `crier/bullmq` */
export const bullmq = await load<typeof import("../src/bullmq/index.js")>("bullmq/index.js");
/** Internals the hot-path scenario measures directly. */
export const internals = {
  ids: await load<typeof import("../src/_internal/ids.js")>("_internal/ids.js"),
  templates: await load<typeof import("../src/channels/templates.js")>("channels/templates.js"),
  conditions: await load<typeof import("../src/conditions/evaluate.js")>("conditions/evaluate.js"),
};
