import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const scratch = join(root, ".tmp", "package-test");

/**
 * These run the built package (`npm test` builds before vitest) through Node's own resolution of
 * the package's name and `exports`, as a user's code would.
 */
describe("the built package", () => {
  it("resolves every subpath export by name and exposes the API's names", async () => {
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, "exports.mjs");
    await writeFile(
      file,
      `import * as crier from "crier";
import * as testing from "crier/testing";
import * as knock from "crier/knock";
import * as postgres from "crier/postgres";
import * as bullmq from "crier/bullmq";
const pkg = (await import("crier/package.json", { with: { type: "json" } })).default;
console.log(JSON.stringify({ crier: Object.keys(crier).sort(), testing: Object.keys(testing).sort(), knock: Object.keys(knock).sort(), postgres: Object.keys(postgres).sort(), bullmq: Object.keys(bullmq).sort(), name: pkg.name }));
`,
    );
    const { stdout } = await run(process.execPath, [file], { cwd: root });
    const names = JSON.parse(stdout) as {
      crier: string[];
      testing: string[];
      knock: string[];
      postgres: string[];
      bullmq: string[];
      name: string;
    };
    expect(names.name).toBe("crier");
    expect(names.crier).toEqual(
      expect.arrayContaining([
        "createEngine",
        "memoryStore",
        "memoryQueue",
        "systemClock",
        "defineWorkflow",
        "CrierError",
        "InvalidParamsError",
        "WorkflowNotFoundError",
        "WorkflowInactiveError",
        "NotFoundError",
        "IdempotencyConflictError",
      ]),
    );
    expect(names.testing).toEqual(
      expect.arrayContaining(["createTestEngine", "createTestClock", "testStore", "testQueue"]),
    );
    expect(names.knock).toEqual(["loadKnockWorkflows"]);
    expect(names.postgres).toEqual(["postgresStore"]);
    expect(names.bullmq).toEqual(["bullmqQueue"]);
  });

  it("loads a knock-cli workflows/ folder through crier/knock and runs it", async () => {
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, "knock.mjs");
    const fixtures = join(root, "test", "fixtures", "knock", "workflows");
    await writeFile(
      file,
      `import { loadKnockWorkflows } from "crier/knock";
import { createTestEngine } from "crier/testing";
const workflows = await loadKnockWorkflows(${JSON.stringify(fixtures)});
const t = createTestEngine({ workflows });
await t.workflows.trigger("welcome", {
  recipients: [{ id: "ada", name: "Ada", email: "ada@example.com" }],
  data: { product_name: "Acme", dashboard_url: "https://app.example.com" },
});
await t.idle();
console.log(JSON.stringify({ keys: workflows.map((w) => w.key), html: t.outbox[0]?.content.html_body }));
`,
    );
    const { stdout } = await run(process.execPath, [file], { cwd: root });
    const result = JSON.parse(stdout) as { keys: string[]; html: string };
    expect(result.keys).toEqual(["comment-digest", "onboarding", "security-alert", "welcome"]);
    expect(result.html).toContain("<h1>Welcome aboard, Ada!</h1>");
    await rm(file);
  });

  /**
   * Writes a module that registers a loader hook refusing to resolve `blocked` (as Node does for
   * a package that is not installed), for `node --import`.
   */
  async function blockPackages(name: string, blocked: string[]): Promise<string> {
    await mkdir(scratch, { recursive: true });
    const hooks = join(scratch, `${name}-hooks.mjs`);
    await writeFile(
      hooks,
      `const blocked = new Set(${JSON.stringify(blocked)});
export async function resolve(specifier, context, next) {
  if (blocked.has(specifier)) throw Object.assign(new Error(\`Cannot find package '\${specifier}'\`), { code: "ERR_MODULE_NOT_FOUND" });
  return next(specifier, context);
}
`,
    );
    const register = join(scratch, `${name}.mjs`);
    await writeFile(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
    );
    return register;
  }

  it("never loads the durable adapters' client libraries (optional peers) until an adapter is made, then names the missing one", async () => {
    const register = await blockPackages("no-peers", ["pg", "bullmq", "ioredis"]);
    const file = join(scratch, "uses-adapters.mjs");
    await writeFile(
      file,
      `import { createEngine } from "crier";
import { postgresStore } from "crier/postgres";
import { bullmqQueue } from "crier/bullmq";
const engine = createEngine({ workflows: [] });
await engine.idle();
await engine.close();
const errors = {};
try { postgresStore({ connectionString: "postgres://localhost/x" }); } catch (e) { errors.postgres = [e.name, e.code, e.message]; }
try { bullmqQueue({ connection: "redis://localhost:6379" }); } catch (e) { errors.bullmq = [e.name, e.code, e.message]; }
console.log(JSON.stringify(errors));
`,
    );
    const { stdout } = await run(process.execPath, ["--import", register, file], { cwd: root });
    const errors = JSON.parse(stdout) as Record<string, [string, string, string]>;
    expect(errors.postgres?.[0]).toBe("CrierError");
    expect(errors.postgres?.[1]).toBe("adapter_error");
    expect(errors.postgres?.[2]).toContain("npm install pg");
    expect(errors.bullmq?.[0]).toBe("CrierError");
    expect(errors.bullmq?.[2]).toContain("npm install bullmq");
  });

  it("names ioredis when only it is missing: BullMQ on Redis needs it, BullMQ on PostgreSQL does not", async () => {
    const register = await blockPackages("no-ioredis", ["ioredis"]);
    const file = join(scratch, "uses-bullmq.mjs");
    await writeFile(
      file,
      `import { postgresStore } from "crier/postgres";
import { bullmqQueue } from "crier/bullmq";
const made = (create) => { try { create(); return "made"; } catch (e) { return [e.name, e.code, e.message]; } };
console.log(JSON.stringify({
  redis: made(() => bullmqQueue({ connection: "redis://localhost:6379" })),
  postgres: made(() => bullmqQueue({ backend: "postgres", connection: "postgres://localhost/x" })),
  store: made(() => postgresStore({ connectionString: "postgres://localhost/x" })),
}));
`,
    );
    const { stdout } = await run(process.execPath, ["--import", register, file], { cwd: root });
    const result = JSON.parse(stdout) as Record<string, string | [string, string, string]>;
    expect(result.redis).toEqual([
      "CrierError",
      "adapter_error",
      expect.stringContaining(
        'Expected the package "ioredis" to be installed for bullmqQueue() on Redis',
      ),
    ]);
    expect(result.redis?.[2]).toContain("npm install ioredis");
    expect(result.postgres).toBe("made");
    expect(result.store).toBe("made");
  });

  it("loads crier/testing without vitest (an optional peer): only the conformance suites need it", async () => {
    await mkdir(scratch, { recursive: true });
    const hooks = join(scratch, "no-vitest-hooks.mjs");
    await writeFile(
      hooks,
      `export async function resolve(specifier, context, next) {
  if (specifier === "vitest") throw Object.assign(new Error("Cannot find package 'vitest'"), { code: "ERR_MODULE_NOT_FOUND" });
  return next(specifier, context);
}
`,
    );
    const register = join(scratch, "no-vitest.mjs");
    await writeFile(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
    );
    const file = join(scratch, "no-vitest.mjs".replace("no-vitest", "uses-testing"));
    await writeFile(
      file,
      `import { createTestEngine, testStore } from "crier/testing";
const t = createTestEngine({ workflows: [{ key: "hello", steps: [{ ref: "e", type: "channel", channel_key: "email", template: { subject: "hi" } }] }] });
await t.workflows.trigger("hello", { recipients: [{ id: "u1", email: "u1@example.com" }] });
await t.clock.advance("1s");
let error = "";
try { testStore(() => { throw new Error("unused"); }); } catch (e) { error = e.message; }
console.log(JSON.stringify({ sent: t.outbox.length, error }));
`,
    );
    const { stdout } = await run(process.execPath, ["--import", register, file], { cwd: root });
    const result = JSON.parse(stdout) as { sent: number; error: string };
    expect(result.sent).toBe(1);
    expect(result.error).toContain("npm install -D vitest");
  });

  it("ships declarations for every export in the exports map", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
      exports: Record<string, string | { types: string; default: string }>;
    };
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") continue;
      await expect(
        readFile(join(root, target.types), "utf8"),
        `${subpath} types`,
      ).resolves.toContain("export");
      await expect(
        readFile(join(root, target.default), "utf8"),
        `${subpath} code`,
      ).resolves.toContain("export");
    }
  });

  it("ships declarations that a strict consumer compiles (skipLibCheck off), typing triggers by schema", async () => {
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, "consumer.ts");
    await writeFile(
      file,
      `import { createEngine, defineWorkflow, type Engine } from "crier";
import { loadKnockWorkflows } from "crier/knock";
import { createTestEngine } from "crier/testing";

const welcome = defineWorkflow({
  key: "welcome",
  trigger_data_json_schema: {
    type: "object",
    properties: { plan: { enum: ["free", "pro"] } },
    required: ["plan"],
  },
  steps: [{ ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } }],
});
const engine: Engine = createEngine({ workflows: [welcome] });
const typed = createEngine({ workflows: [welcome] });
void typed.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "pro" } });
// @ts-expect-error: "gold" is not a plan
void typed.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "gold" } });
const named = defineWorkflow<{ order_id: string }>()({ key: "order", steps: [] });
const t = createTestEngine({ workflows: [named] });
// @ts-expect-error: order_id is a string
void t.workflows.trigger("order", { recipients: ["u1"], data: { order_id: 1 } });
const user: Promise<{ id: string }> = engine.users.get("u1", { timeout: 1 });
void user;
void loadKnockWorkflows("workflows");
`,
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const args = [
      ...["--noEmit", "--strict", "--skipLibCheck", "false", "--noUncheckedIndexedAccess"],
      ...["--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"],
      ...["--types", "node", file],
    ];
    const result = await run(process.execPath, [tsc, ...args], { cwd: root }).then(
      () => "",
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe("");
    await rm(file);
  }, 60_000);

  it("runs the README's quick start as written", async () => {
    const readme = await readFile(join(root, "README.md"), "utf8");
    const start = readme.indexOf("## Quick start");
    const code = /```js\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
    const expected = /It prints:\n\n```\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
    expect(code).toBeDefined();
    expect(expected).toBeDefined();
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, "quickstart.mjs");
    await writeFile(file, code ?? "");
    const { stdout } = await run(process.execPath, [file], { cwd: root });
    expect(stdout).toBe(expected);
    await rm(file);
  });
});
