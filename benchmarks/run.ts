/**
 * `npm run bench`: runs every benchmark scenario, each in its own Node process, prints each
 * scenario's figures and then one summary table, and writes `benchmarks/results/latest.json`
 * (figures, machine, versions). `npm run bench -- fanout latency` runs only the scenarios named
 * and replaces only their entries in `latest.json`; each entry records the `BENCH_*` size
 * overrides it ran with, so a reduced run is never mistaken for a full one. The scenarios run
 * the compiled package, built here first (`BENCH_SOURCE=src`: the sources through tsx instead).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTagged, type ScenarioResult } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const SCENARIOS = [
  "throughput",
  "fanout",
  "parked",
  "batching",
  "latency",
  "durable",
  "scaleout",
  "micro",
];

/** A result as `latest.json` keeps it: with when it ran and the size overrides it ran with. */
type Entry = ScenarioResult & { name: string; ran_at: string; overrides: Record<string, string> };

function runScenario(name: string): Promise<ScenarioResult> {
  const file = join(here, "scenarios", `${name}.ts`);
  return runTagged<ScenarioResult>(file, ["--expose-gc", "--import", "tsx"], [], "RESULT");
}

function format(figures: Record<string, number> | undefined): string {
  if (!figures) return "";
  return Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
}

async function version(name: string): Promise<string | null> {
  try {
    const file = join(root, "node_modules", name, "package.json");
    return (JSON.parse(await readFile(file, "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !SCENARIOS.includes(name));
if (unknown.length > 0) {
  console.error(
    `Unknown scenario ${unknown.join(", ")}: expected some of ${SCENARIOS.join(", ")}.`,
  );
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : SCENARIOS;

// The scenarios run the compiled package (see crier.ts): build it first, so the figures are of
// the code as it stands.
const source = process.env.BENCH_SOURCE === "src" ? "src" : "dist";
if (source === "dist") {
  process.stderr.write("building dist/…\n");
  const { execFileSync } = await import("node:child_process");
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      join(root, "tsconfig.build.json"),
    ],
    { stdio: "inherit" },
  );
}
const overrides = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[0].startsWith("BENCH_") && entry[1] !== undefined,
  ),
);

const ran: Entry[] = [];
for (const name of names) {
  process.stderr.write(`running ${name}…\n`);
  const result = await runScenario(name);
  ran.push({ name, ...result, ran_at: new Date().toISOString(), overrides });
  const met = result.targets.every((t) => t.met) ? "met" : "NOT MET";
  const ok = result.checks.every((c) => c.ok) ? "ok" : "CHECK FAILED";
  console.log(
    `\n## ${result.scenario}  [targets ${result.targets.length ? met : "—"}; checks ${ok}]`,
  );
  console.log(`  crier:    ${format(result.figures)}`);
  if (result.baseline) console.log(`  baseline: ${format(result.baseline)}`);
  if (result.ratio !== undefined) console.log(`  ratio:    ${result.ratio}`);
  for (const t of result.targets) console.log(`  ${t.met ? "✓" : "✗"} ${t.target}`);
  for (const c of result.checks) if (!c.ok) console.log(`  ✗ check: ${c.check}`);
  for (const note of result.notes ?? []) console.log(`  note: ${note}`);
}

// One table of what ran.
const rows = ran.map((entry) => [
  entry.scenario,
  entry.ratio === undefined ? "—" : String(entry.ratio),
  entry.targets.length === 0
    ? "—"
    : `${entry.targets.filter((t) => t.met).length}/${entry.targets.length}`,
  entry.checks.every((c) => c.ok) ? "ok" : "FAILED",
]);
const header = ["scenario", "ratio to baseline", "targets met", "checks"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
console.log(`\n${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}`);
for (const row of rows) console.log(line(row));
if (Object.keys(overrides).length > 0)
  console.log(`(reduced sizes: ${format(overrides as unknown as Record<string, number>)})`);

// latest.json: this run's entries replace earlier ones of the same scenarios.
const resultsFile = join(here, "results", "latest.json");
let earlier: Entry[] = [];
try {
  earlier =
    (JSON.parse(await readFile(resultsFile, "utf8")) as { results?: Entry[] }).results ?? [];
} catch {
  earlier = [];
}
const merged = SCENARIOS.flatMap((name) => {
  const entry = ran.find((e) => e.name === name) ?? earlier.find((e) => e.name === name);
  return entry ? [entry] : [];
});
const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
const cpus = os.cpus();
const output = {
  written_at: new Date().toISOString(),
  machine: {
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? "unknown",
    memory_gb: Math.round(os.totalmem() / 1024 ** 3),
  },
  /** What the scenarios ran: the compiled package (dist) or the sources through tsx (src). */
  source,
  versions: {
    node: process.version,
    crier: pkg.version,
    "p-queue": await version("p-queue"),
    liquidjs: await version("liquidjs"),
    eventemitter3: await version("eventemitter3"),
    bullmq: await version("bullmq"),
    pg: await version("pg"),
    ioredis: await version("ioredis"),
    tinybench: await version("tinybench"),
  },
  results: merged,
};
await mkdir(dirname(resultsFile), { recursive: true });
await writeFile(resultsFile, `${JSON.stringify(output, null, 2)}\n`);
console.log("\nwrote benchmarks/results/latest.json");
const failedChecks = ran.filter((r) => !r.checks.every((c) => c.ok));
if (failedChecks.length > 0) {
  console.error(`checks failed in: ${failedChecks.map((r) => r.scenario).join(", ")}`);
  process.exit(1);
}
