/** @internal Optional peer dependencies: found at once, loaded later. */
import { CrierError } from "../errors.js";

/**
 * @internal Throws a `CrierError` naming the package when an optional peer dependency cannot be
 * resolved (checked without loading it, so a missing one is reported when the adapter is made).
 */
export function requirePeer(name: string, adapter: string, usedBy: string): void {
  try {
    import.meta.resolve(name);
  } catch {
    throw new CrierError(
      "adapter_error",
      `[crier] [${adapter}] Expected the package "${name}" to be installed for ${usedBy}, but it could not be found. ` +
        `Install it next to crier (npm install ${name}); it is an optional peer dependency, needed only by this adapter.`,
    );
  }
}
