/** @internal Optional peer dependencies: found at once, loaded later. */
import { createRequire } from "node:module";
import { CrierError } from "../errors.js";

/** Resolves a specifier to where it would load from, throwing when it cannot be found. */
type Resolve = (specifier: string) => string;

/** The codes Node's resolvers give a specifier that names nothing installed. */
const NOT_FOUND = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]);

/**
 * @internal This module's `import.meta.resolve`, or null where Node has none: it is unflagged
 * only from Node 20.6, and crier supports every Node 20.
 */
export function metaResolve(): Resolve | null {
  const meta = import.meta as { resolve?: Resolve };
  return typeof meta.resolve === "function" ? (specifier) => meta.resolve!(specifier) : null;
}

/**
 * @internal Whether the package `name` can be found from crier's own folder, without loading it.
 * Through `resolve` (`import.meta.resolve` by default, which honours ESM loader hooks); when it is
 * null (Node before 20.6 has no `import.meta.resolve`), through `require.resolve` from this file:
 * the same walk up the `node_modules` folders. Only a "not found" answer counts as missing: a package that is there
 * but resolves oddly (say, no `require` entry for the fallback) counts as installed, and loading
 * it later reports what is wrong with it.
 */
export function isPeerInstalled(name: string, resolve: Resolve | null = metaResolve()): boolean {
  try {
    if (resolve) resolve(name);
    else createRequire(import.meta.url).resolve(name);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && NOT_FOUND.has(code)) return false;
    return true;
  }
}

/**
 * @internal Throws a `CrierError` naming the package when an optional peer dependency cannot be
 * found (checked without loading it, so a missing one is reported when the adapter is made).
 */
export function requirePeer(name: string, adapter: string, usedBy: string): void {
  if (isPeerInstalled(name)) return;
  throw new CrierError(
    "adapter_error",
    `[crier] [${adapter}] Expected the package "${name}" to be installed for ${usedBy}, but it could not be found. ` +
      `Install it next to crier (npm install ${name}); it is an optional peer dependency, needed only by this adapter.`,
  );
}
