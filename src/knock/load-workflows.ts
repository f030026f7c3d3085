/**
 * `loadKnockWorkflows`: a knock-cli `workflows/` folder as workflow definitions.
 *
 * @module
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { isPlainObject } from "../_internal/merge.js";
import { createLiquid } from "../channels/templates.js";
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import { compileWorkflow } from "../workflows/compile.js";
import type { WorkflowInput } from "../workflows/types.js";
import { validateWorkflow } from "../workflows/validate.js";

/** The file knock-cli writes in each workflow's folder. */
const WORKFLOW_JSON = "workflow.json";
/** Referenced files whose content is JSON to decode (knock-cli's rule); every other file is text. */
const DECODED_FILES = new Set(["visual_blocks.json"]);
/** knock-cli resolves two levels of references: workflow.json, then e.g. visual_blocks.json. */
const MAX_REFERENCE_LEVELS = 2;
/** A field whose value is the path of a file holding its content ends with this marker. */
const FILE_MARKER = "@";

/** Where a value being resolved was read from. */
interface Origin {
  /** The workflow's folder: every referenced file must be inside it. */
  folder: string;
  /** The folder that relative paths in this file are resolved against (the file's own). */
  base: string;
  /** The file being read, as issues name it. */
  file: string;
  /** 1 in workflow.json, 2 in a file it references. */
  level: number;
}

/** What one workflow's reading collects: issues, and which file each inlined field came from. */
interface Reading {
  issues: ValidationIssue[];
  /** Field path in the resolved definition → the file (as issues name it) its value was read from. */
  sources: Map<string, string>;
  display: (path: string) => string;
}

/**
 * Reads a knock-cli `workflows/` folder (what `knock workflow pull --all` writes) and returns its
 * workflows as definitions ready for `createEngine({ workflows })` or `engine.workflows.upsert`.
 *
 * - Each sub-folder holding a `workflow.json` is one workflow; its key is the folder's name. The
 *   definitions come back sorted by key. `dir` may also be a single workflow's folder.
 * - A field whose name ends in `@` holds the path of a file with its content, relative to the file
 *   it is written in (for `workflow.json`, the workflow's folder): `"markdown_body@":
 *   "in_app_feed_1/markdown_body.md"` becomes `markdown_body` with that file's text. References
 *   are resolved at any depth of the JSON (steps, nested branch steps, templates, their
 *   settings). A `visual_blocks.json` file is decoded as JSON, and its own `@` fields are resolved
 *   relative to it; every other file is read as text. When a field is given both inline and as a
 *   file, the inline value wins (as in knock-cli).
 * - `__readonly` and `$schema` are dropped.
 * - Each definition is validated as `workflows.upsert` validates it (the same JSON Schema and
 *   checks, and its Liquid templates parsed).
 *
 * It reads with Node's `fs/promises` (and `path`), and writes nothing.
 *
 * @param dir - The `workflows/` folder (or one workflow's folder), absolute or relative to the
 * current working directory.
 * @returns The definitions, sorted by key.
 * @throws InvalidParamsError listing every problem of every file in `errors`, each naming its
 * `file` (e.g. `workflows/digest/workflow.json`, relative to the folder above `dir`) and `field`
 * (e.g. `steps[1].settings.batch_window.unit`); its message reads `file: field: problem`. A
 * missing referenced file is reported on the file that references it, with the path looked for.
 *
 * @example
 * ```ts
 * import { createEngine } from "crier";
 * import { loadKnockWorkflows } from "crier/knock";
 *
 * const engine = createEngine({ workflows: await loadKnockWorkflows("knock/workflows") });
 * ```
 */
export async function loadKnockWorkflows(dir: string): Promise<WorkflowInput[]> {
  const root = resolve(dir);
  const top = dirname(root);
  const display = (path: string) => relative(top, path).split(sep).join("/");
  const single = await isFile(join(root, WORKFLOW_JSON));
  const folders = single ? [root] : await workflowFolders(dir, root);
  const issues: ValidationIssue[] = [];
  const workflows: WorkflowInput[] = [];
  for (const folder of folders) {
    const workflow = await loadWorkflow(folder, basename(folder), issues, display);
    if (workflow) workflows.push(workflow);
  }
  if (issues.length > 0)
    throw new InvalidParamsError(`Invalid knock-cli workflows in ${display(root)}:`, issues);
  return workflows;
}

/** The sub-folders of `root` that hold a workflow.json, sorted by name. */
async function workflowFolders(dir: string, root: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    const reason =
      errorCode(error) === "ENOENT"
        ? "which does not exist"
        : errorCode(error) === "ENOTDIR"
          ? "which is a file"
          : `which cannot be read (${errorText(error)})`;
    throw new InvalidParamsError("Invalid knock-cli workflows folder:", [
      {
        field: "dir",
        type: "not_found",
        message: `expected a knock-cli workflows/ folder (one <key>/workflow.json per workflow), received ${JSON.stringify(dir)}, ${reason}; pass the folder that \`knock workflow pull --all\` writes`,
      },
    ]);
  }
  const names = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const folders: string[] = [];
  for (const name of names)
    if (await isFile(join(root, name, WORKFLOW_JSON))) folders.push(join(root, name));
  return folders;
}

async function loadWorkflow(
  folder: string,
  key: string,
  issues: ValidationIssue[],
  display: (path: string) => string,
): Promise<WorkflowInput | undefined> {
  const path = join(folder, WORKFLOW_JSON);
  const file = display(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    issues.push({
      file,
      field: "",
      type: "file",
      message: `expected a readable file, but reading it failed (${errorText(error)}); check its permissions`,
    });
    return undefined;
  }
  const json = parseJson(text, file, issues);
  if (json === undefined) return undefined;
  if (!isPlainObject(json)) {
    issues.push({
      file,
      field: "",
      type: "type",
      message: `expected a JSON object (a workflow), received ${describeJson(json)}; a knock-cli workflow.json holds one object`,
    });
    return undefined;
  }
  const { __readonly: _readonly, $schema: _schema, key: written, ...rest } = json;
  if (written !== undefined && written !== key) {
    issues.push({
      file,
      field: "key",
      type: "key",
      message: `expected the workflow's folder name "${key}" (knock-cli takes the key from the folder), received ${JSON.stringify(written)}; remove "key" or rename the folder`,
    });
  }
  const reading: Reading = { issues: [], sources: new Map(), display };
  const origin: Origin = { folder, base: folder, file, level: 1 };
  const resolved = await resolveFiles(rest, "", origin, reading);
  const definition = { key, ...(resolved as Record<string, unknown>) };
  if (reading.issues.length === 0) check(definition, reading);
  for (const issue of reading.issues) {
    const attributed = issue.file
      ? issue
      : { ...issue, file: sourceOf(issue.field, reading, file) };
    issues.push(
      attributed.field === "key" && attributed.type === "pattern"
        ? { ...attributed, message: `${attributed.message} (the key is the folder's name)` }
        : attributed,
    );
  }
  return reading.issues.length === 0 ? (definition as unknown as WorkflowInput) : undefined;
}

/** Validates like `workflows.upsert`: the schema and checks, then compiling (Liquid parsing). */
function check(definition: Record<string, unknown>, reading: Reading): void {
  try {
    const valid = validateWorkflow(definition);
    const now = new Date(0).toISOString();
    compileWorkflow(
      {
        ...valid,
        active: true,
        version: 0,
        sha: "",
        valid: true,
        inserted_at: now,
        updated_at: now,
      },
      createLiquid(),
    );
  } catch (error) {
    if (!(error instanceof InvalidParamsError)) throw error;
    reading.issues.push(...error.errors);
  }
}

/** The file a field's value was read from: the longest inlined path that contains the field. */
function sourceOf(field: string, reading: Reading, fallback: string): string {
  let best: string | undefined;
  for (const path of reading.sources.keys()) {
    const contains = field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`);
    if (contains && (best === undefined || path.length > best.length)) best = path;
  }
  return best === undefined ? fallback : (reading.sources.get(best) ?? fallback);
}

/** A copy of `value` with every `name@` field replaced by `name` and its file's content. */
/** The key knock-cli keeps read-only fields under. */
const READONLY = "__readonly";

async function resolveFiles(
  value: unknown,
  path: string,
  origin: Origin,
  reading: Reading,
): Promise<unknown> {
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const [i, item] of value.entries())
      items.push(await resolveFiles(item, `${path}[${i}]`, origin, reading));
    return items;
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(value)) {
    // knock-cli's read-only fields, at any depth (a step's, a template's): not part of a definition.
    if (name === READONLY) continue;
    if (!name.endsWith(FILE_MARKER) || name.length === 1) {
      out[name] = await resolveFiles(inner, joinPath(path, name), origin, reading);
      continue;
    }
    const target = name.slice(0, -1);
    // Inline content beside its file reference wins, as in knock-cli.
    if (Object.hasOwn(value, target)) continue;
    const content = await readReference(inner, joinPath(path, target), origin, reading);
    if (content !== undefined) out[target] = content;
  }
  return out;
}

/** Reads the file a `name@` field points to; undefined (with an issue) when it cannot. */
async function readReference(
  reference: unknown,
  targetPath: string,
  origin: Origin,
  reading: Reading,
): Promise<unknown> {
  const field = `${targetPath}${FILE_MARKER}`;
  const fail = (type: string, message: string, file = origin.file) => {
    reading.issues.push({ file, field, type, message });
    return undefined;
  };
  const against =
    origin.level === 1 ? "the workflow's folder" : `the folder of ${origin.file}, which holds it`;
  if (origin.level > MAX_REFERENCE_LEVELS) {
    return fail(
      "reference",
      `expected file references at most ${MAX_REFERENCE_LEVELS} levels deep (workflow.json, then a file such as visual_blocks.json), received one in ${origin.file}, which is itself referenced; inline this field's content`,
    );
  }
  if (typeof reference !== "string" || reference.length === 0 || isAbsolute(reference)) {
    return fail(
      "reference",
      `expected a path relative to ${against}, such as "email_1/html_body.html", received ${describeJson(reference)}; a field ending in @ names the file holding its content`,
    );
  }
  const path = resolve(origin.base, reference);
  const inside = relative(origin.folder, path);
  if (inside.startsWith("..") || isAbsolute(inside)) {
    return fail(
      "reference",
      `expected a file inside the workflow's folder ${reading.display(origin.folder)}, received ${JSON.stringify(reference)}, which resolves to ${reading.display(path)} outside it; move the file into the workflow's folder`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = errorCode(error);
    const found =
      code === "ENOENT" || code === "ENOTDIR"
        ? "found none"
        : code === "EISDIR"
          ? "found a folder"
          : `could not read it (${errorText(error)})`;
    return fail(
      "file_missing",
      `expected a file at ${reading.display(path)} (${JSON.stringify(reference)}, relative to ${against}), ${found}; create the file or correct the path`,
    );
  }
  const file = reading.display(path);
  reading.sources.set(targetPath, file);
  if (!DECODED_FILES.has(basename(path).toLowerCase())) return text;
  const json = parseJson(text, file, reading.issues);
  if (json === undefined) return undefined;
  const nested: Origin = {
    folder: origin.folder,
    base: dirname(path),
    file,
    level: origin.level + 1,
  };
  return resolveFiles(json, targetPath, nested, reading);
}

/** Parses JSON; undefined (with an issue naming the line and column) when it is malformed. */
function parseJson(text: string, file: string, issues: ValidationIssue[]): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = errorText(error);
    const position = /at position (\d+)/.exec(reason)?.[1];
    let where = "";
    if (position !== undefined) {
      const before = text.slice(0, Number(position));
      const line = before.split("\n").length;
      const column = Number(position) - before.lastIndexOf("\n");
      where = ` at line ${line}, column ${column}`;
    }
    issues.push({
      file,
      field: "",
      type: "json",
      message: `expected valid JSON, received a syntax error${where} (${reason}); fix the JSON, e.g. a missing comma or a trailing one`,
    });
    return undefined;
  }
}

/** `path.name`, or `path["odd name"]`, as validation names fields. */
function joinPath(path: string, name: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(name)) return path ? `${path}.${name}` : name;
  return `${path}[${JSON.stringify(name)}]`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function describeJson(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
