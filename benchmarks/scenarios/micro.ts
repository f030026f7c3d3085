/**
 * The hot path's pieces, with tinybench (statistically sound per-operation timings, where a
 * whole-scenario timer would be too coarse), each against the baseline it replaces:
 * - a plain template (`Hi {{ recipient.name }}: {{ data.message }}`) rendered by crier's compiled
 *   form vs. liquidjs rendering the same parsed template;
 * - a trigger condition tested by its compiled closure vs. compiled afresh for each test (what
 *   "compile once, run many" saves);
 * - a derived id (UUID v5 of a run and a step) vs. a random UUID v4 from `crypto.randomUUID`.
 */
import { randomUUID } from "node:crypto";
import { Bench } from "tinybench";
import type { ConditionGroup } from "../../src/index.js";
import { internals } from "../crier.js";
import { report, round } from "../lib.js";

const { uuidV5 } = internals.ids;
const { compileTemplate, createLiquid, renderTemplate } = internals.templates;
const { compileConditions } = internals.conditions;

const liquid = createLiquid();
const source = "Hi {{ recipient.name }}: {{ data.message }}";
const compiled = compileTemplate(liquid, source, "template", []);
const parsed = liquid.parse(source);
const scope = { recipient: { id: "u1", name: "Ada", plan: "pro" }, data: { message: "hello" } };
const group: ConditionGroup = {
  all: [
    { variable: "recipient.plan", operator: "equal_to", argument: "pro" },
    { variable: "data.message", operator: "not_empty" },
  ],
};
const test = compileConditions(group);
const now = new Date();
let n = 0;

const bench = new Bench({ time: 500, warmup: true });
bench
  .add("template: crier", () => {
    renderTemplate(liquid, compiled, scope);
  })
  .add("template: liquidjs", () => {
    liquid.renderSync(parsed, scope);
  })
  .add("condition: compiled once", () => {
    test(scope, now);
  })
  .add("condition: compiled per test", () => {
    compileConditions(group)(scope, now);
  })
  .add("id: uuidV5(run, step)", () => {
    uuidV5(`run-${n++}|message|email_1`);
  })
  .add("id: randomUUID", () => {
    randomUUID();
  });
await bench.run();

const rate = (name: string): number => {
  const task = bench.tasks.find((t) => t.name === name);
  const result = task?.result as { throughput?: { mean?: number } } | undefined;
  return result?.throughput?.mean ?? Number.NaN;
};
const render = rate("template: crier");
const liquidRender = rate("template: liquidjs");
const once = rate("condition: compiled once");
const perTest = rate("condition: compiled per test");
const derived = rate("id: uuidV5(run, step)");
const random = rate("id: randomUUID");
const rendered = renderTemplate(liquid, compiled, scope);

report({
  scenario: "hot path (tinybench)",
  figures: {
    template_renders_per_s: round(render),
    condition_tests_per_s: round(once),
    derived_ids_per_s: round(derived),
  },
  baseline: {
    liquidjs_renders_per_s: round(liquidRender),
    condition_compiled_per_test_per_s: round(perTest),
    random_uuids_per_s: round(random),
  },
  // The template: how many times faster than liquidjs's interpreter.
  ratio: round(render / liquidRender),
  targets: [],
  checks: [
    {
      check: "the compiled template renders exactly what liquidjs renders",
      ok: rendered === liquid.renderSync(parsed, scope) && rendered === "Hi Ada: hello",
    },
    { check: "the condition holds", ok: test(scope, now) },
  ],
  notes: [
    `condition compiled once: ${round(once / perTest)} x compiled per test; derived id: ${round(derived / random)} x a random UUID`,
  ],
});
