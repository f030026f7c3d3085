/**
 * @internal The workflows namespace's logic: validation, versioned storage, and a cache of
 * compiled versions (a version never changes, so its compiled form is kept for the engine's life).
 */

import { hashJson } from "../_internal/ids.js";
import type { EngineContext } from "../engine/context.js";
import { nowIso } from "../engine/context.js";
import { NotFoundError } from "../errors.js";
import { type CompiledWorkflow, compileWorkflow } from "./compile.js";
import type { Workflow, WorkflowInput } from "./types.js";
import { validateWorkflow } from "./validate.js";

/** Fields a stored workflow carries that are not part of its definition. */
const NON_DEFINITION_KEYS = new Set([
  "__readonly",
  "$schema",
  "version",
  "sha",
  "valid",
  "inserted_at",
  "updated_at",
  "id",
]);

/** @internal */
export class WorkflowRegistry {
  readonly #ctx: EngineContext;
  /** Compiled versions, by workflow key, then version. */
  readonly #compiled = new Map<string, Map<number, CompiledWorkflow>>();

  constructor(ctx: EngineContext) {
    this.#ctx = ctx;
  }

  /** Validates, compiles (to surface template errors) and stores a definition. */
  async upsert(input: WorkflowInput): Promise<Workflow> {
    const valid = validateWorkflow(input);
    const definition: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(valid)) {
      if (!NON_DEFINITION_KEYS.has(key) && value !== undefined) definition[key] = value;
    }
    const { active: _active, ...hashed } = definition;
    const sha = hashJson(hashed);
    const now = nowIso(this.#ctx);
    // Compile before storing: a definition that cannot run is rejected and nothing is stored.
    compileWorkflow(
      {
        ...(definition as unknown as WorkflowInput),
        active: true,
        version: 0,
        sha,
        valid: true,
        inserted_at: now,
        updated_at: now,
      },
      this.#ctx.liquid,
    );
    return structuredClone(
      await this.#ctx.store.putWorkflow({
        definition: definition as unknown as WorkflowInput,
        sha,
        now,
      }),
    );
  }

  async get(key: string): Promise<Workflow> {
    const workflow = await this.#ctx.store.getWorkflow(key);
    if (!workflow)
      throw new NotFoundError(
        "workflow",
        key,
        "Register it with engine.workflows.upsert(definition).",
      );
    return structuredClone(workflow);
  }

  async list(): Promise<Workflow[]> {
    return structuredClone(await this.#ctx.store.listWorkflows());
  }

  async setActive(key: string, active: boolean): Promise<Workflow> {
    const workflow = await this.#ctx.store.setWorkflowActive(key, active, nowIso(this.#ctx));
    if (!workflow)
      throw new NotFoundError(
        "workflow",
        key,
        "Register it with engine.workflows.upsert(definition).",
      );
    return structuredClone(workflow);
  }

  /** The compiled form of one version if it was compiled already (no store read). */
  cached(key: string, version: number): CompiledWorkflow | undefined {
    return this.#compiled.get(key)?.get(version);
  }

  /** The compiled form of one version (read from the store once, then cached). */
  async compiled(key: string, version: number): Promise<CompiledWorkflow> {
    const cached = this.cached(key, version);
    if (cached) return cached;
    const workflow = await this.#ctx.store.getWorkflow(key, version);
    if (!workflow) throw new NotFoundError("workflow version", `${key}@${version}`);
    const compiled = compileWorkflow(workflow, this.#ctx.liquid);
    let versions = this.#compiled.get(key);
    if (!versions) {
      versions = new Map();
      this.#compiled.set(key, versions);
    }
    versions.set(version, compiled);
    return compiled;
  }
}
