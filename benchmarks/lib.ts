/**
 * Shared helpers of the benchmark scenarios. Every scenario is a script run in its own process
 * (so that memory figures are its own) that prints one `RESULT <json>` line.
 */

/** A scenario's outcome, as `run.ts` collects it. */
export interface ScenarioResult {
  scenario: string;
  /** What crier measured, by name (units in the name: `runs_per_s`, `p99_ms`, …). */
  figures: Record<string, number>;
  /** The baseline measured in the same run, by name, when the scenario has one. */
  baseline?: Record<string, number>;
  /** crier's figure divided by the baseline's, when there is one. */
  ratio?: number;
  /** Each target, whether it was met, and the figure it was checked against. */
  targets: Array<{ target: string; met: boolean }>;
  /** Checks that the work was done right (all runs completed, every message correct). */
  checks: Array<{ check: string; ok: boolean }>;
  notes?: string[];
}

/** Prints the result for `run.ts` (and a readable summary for a person running one scenario). */
export function report(result: ScenarioResult): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Forces a full garbage collection when the process runs with --expose-gc (run.ts does). */
export function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/** Heap used after a full collection, in bytes. */
export function heapUsed(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

/** The process's peak resident set size so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Minor page faults of this process so far (each a first touch of a page of memory). */
export function minorFaults(): number {
  return process.resourceUsage().minorPageFault;
}

/**
 * What one first touch of a 4 KiB page costs on this machine, in microseconds, measured now:
 * touches every page of a fresh `mb` MB buffer and divides the time by the page faults it took.
 * On a virtual machine this can be tens of times a bare-metal figure, and a process that keeps
 * what it makes (a store of runs and messages) pays it for every page its heap grows by.
 */
export function pageFaultMicros(mb = 64): number {
  const faults = minorFaults();
  const start = performance.now();
  const buffer = Buffer.allocUnsafeSlow(mb * 1024 * 1024);
  for (let at = 0; at < buffer.length; at += 4096) buffer[at] = 1;
  const elapsed = since(start);
  const taken = minorFaults() - faults;
  return taken > 0 ? (elapsed * 1000) / taken : Number.NaN;
}

/** The `p`-th percentile (0–100) of `values` (sorted in place). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  values.sort((a, b) => a - b);
  const index = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[index] as number;
}

/** Rounds for display and JSON: 3 significant digits below 100, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  return Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));
}

/** Waits `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `file` (a benchmark script) in a fresh Node process with `nodeArgs` and `args`, and
 * returns the JSON of the last line it printed that starts with `tag` (e.g. `RESULT`).
 */
export async function runTagged<T>(
  file: string,
  nodeArgs: readonly string[],
  args: readonly string[],
  tag: string,
): Promise<T> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [...nodeArgs, file, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: process.env,
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    out += chunk;
  });
  const code: number = await new Promise((resolve) => child.on("close", resolve));
  const line = out
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(`${tag} `));
  if (code !== 0 || !line)
    throw new Error(`${file} ${args.join(" ")} failed (exit ${code}):\n${out}`);
  return JSON.parse(line.slice(tag.length + 1)) as T;
}

/**
 * Runs `file` in a fresh Node process (with this one's Node options) and returns its `PART`
 * figures. Used where a figure (peak RSS) must be a process's own.
 */
export function runPart<T>(file: string, args: string[]): Promise<T> {
  return runTagged<T>(file, process.execArgv, args, "PART");
}

/** Prints a part's figures for {@link runPart}. */
export function part(figures: Record<string, unknown>): void {
  process.stdout.write(`PART ${JSON.stringify(figures)}\n`);
}

/** PostgreSQL and Redis for the durable scenarios: DATABASE_URL / REDIS_URL, or servers started here. */
export async function durableServers(): Promise<{
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}> {
  const { startPostgres, startRedis } = await import("../test/durable/servers.js");
  const started: Array<{ stop(): Promise<void> }> = [];
  const start = async (server: Promise<{ url: string; stop(): Promise<void> }>) => {
    const running = await server;
    started.push(running);
    return running.url;
  };
  const databaseUrl = process.env.DATABASE_URL ?? (await start(startPostgres()));
  const redisUrl = process.env.REDIS_URL ?? (await start(startRedis()));
  return {
    databaseUrl,
    redisUrl,
    stop: async () => {
      await Promise.all(started.map((server) => server.stop()));
    },
  };
}

/** A short random name for schemas and queues, so runs never share state. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}
