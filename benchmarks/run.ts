/**
 * `npm run bench`: runs every benchmark scenario, each in its own Node process, prints a table and
 * writes `benchmarks/results/latest.json` (figures, machine, versions). `npm run bench -- fanout
 * latency` runs only the scenarios named.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTagged, type ScenarioResult } from "./lib.js";

const here = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = ["throughput", "fanout", "parked", "batching", "latency", "durable", "scaleout"];

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

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !SCENARIOS.includes(name));
if (unknown.length > 0) {
  console.error(
    `Unknown scenario ${unknown.join(", ")}: expected some of ${SCENARIOS.join(", ")}.`,
  );
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : SCENARIOS;
const results: ScenarioResult[] = [];
for (const name of names) {
  process.stderr.write(`running ${name}…\n`);
  const result = await runScenario(name);
  results.push(result);
  const met = result.targets.every((t) => t.met) ? "met" : "NOT MET";
  const ok = result.checks.every((c) => c.ok) ? "ok" : "CHECK FAILED";
  console.log(`\n## ${result.scenario}  [targets ${met}; checks ${ok}]`);
  console.log(`  crier:    ${format(result.figures)}`);
  if (result.baseline) console.log(`  baseline: ${format(result.baseline)}`);
  if (result.ratio !== undefined) console.log(`  ratio:    ${result.ratio}`);
  for (const t of result.targets) console.log(`  ${t.met ? "✓" : "✗"} ${t.target}`);
  for (const c of result.checks) if (!c.ok) console.log(`  ✗ check: ${c.check}`);
}

const pkg = JSON.parse(await readFile(join(here, "..", "package.json"), "utf8")) as {
  version: string;
};
const version = async (name: string) => {
  try {
    const file = join(here, "..", "node_modules", name, "package.json");
    return (JSON.parse(await readFile(file, "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
};
const cpus = os.cpus();
const output = {
  date: new Date().toISOString(),
  machine: {
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? "unknown",
    memory_gb: Math.round(os.totalmem() / 1024 ** 3),
  },
  versions: {
    node: process.version,
    crier: pkg.version,
    "p-queue": await version("p-queue"),
    liquidjs: await version("liquidjs"),
    eventemitter3: await version("eventemitter3"),
  },
  results,
};
await mkdir(join(here, "results"), { recursive: true });
await writeFile(join(here, "results", "latest.json"), `${JSON.stringify(output, null, 2)}\n`);
console.log(`\nwrote benchmarks/results/latest.json`);
const failedChecks = results.filter((r) => !r.checks.every((c) => c.ok));
if (failedChecks.length > 0) {
  console.error(`checks failed in: ${failedChecks.map((r) => r.scenario).join(", ")}`);
  process.exit(1);
}
