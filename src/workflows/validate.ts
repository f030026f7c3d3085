/**
 * Validation of workflow definitions (against {@link workflowJsonSchema} plus the checks a schema
 * cannot express) and of trigger data (against a workflow's `trigger_data_json_schema`), with ajv.
 *
 * Every problem is reported, each as a {@link ValidationIssue} whose `field` is a precise path
 * (`steps[2].channel_key`, `data.order.id`) and whose message says what was expected, what was
 * received and how to fix it.
 *
 * @module
 */

import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { validateConditionGroup } from "../conditions/evaluate.js";
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import { isDuration, nominalDurationMs } from "../scheduling/duration.js";
import { validateSendWindows } from "../scheduling/windows.js";
import {
  describeSpan,
  MAX_DELAY_DAYS,
  MAX_DELAY_MS,
  MAX_THROTTLE_WINDOW_DAYS,
  MAX_THROTTLE_WINDOW_MS,
} from "./limits.js";
import {
  STEP_REF_PATTERN,
  STEP_TYPES,
  TIME_OF_DAY_PATTERN,
  WORKFLOW_KEY_PATTERN,
  workflowJsonSchema,
} from "./schema.js";
import type { WorkflowInput } from "./types.js";

// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose `default`
// is the plugin (ajv-formats sets `exports.default = formatsPlugin` on the plugin itself).
const addFormats = addFormatsModule.default;

/** Branch steps may nest at most this deep (a top-level branch step is at depth 1). */
const MAX_BRANCH_DEPTH = 5;
/** At most this many distinct trigger data schemas are kept compiled. */
const MAX_CACHED_DATA_SCHEMAS = 500;

// ---------------------------------------------------------------------------------------------
// Ajv instances: created lazily, one per JSON Schema draft a trigger data schema may declare.

type Draft = "draft-07" | "2019-09" | "2020-12";
type AjvInstance =
  | InstanceType<typeof Ajv>
  | InstanceType<typeof Ajv2019>
  | InstanceType<typeof Ajv2020>;

/** Warnings ajv logs while compiling (with `strict: false`, unknown formats are only warned about). */
let compileWarnings: string[] | undefined;

const AJV_OPTIONS: Options = {
  allErrors: true,
  // User schemas may carry keywords ajv does not know (`description`, `examples`, vendor ones).
  strict: false,
  // Errors carry the failing value and schema: messages name what was received and what is allowed.
  verbose: true,
  logger: {
    log: () => {},
    warn: (...args: unknown[]) => compileWarnings?.push(args.map(String).join(" ")),
    error: () => {},
  },
  // Do not register compiled schemas by `$id`: two workflows may use schemas with the same `$id`.
  addUsedSchema: false,
};

const instances = new Map<Draft, AjvInstance>();

function ajvFor(draft: Draft): AjvInstance {
  let ajv = instances.get(draft);
  if (!ajv) {
    ajv =
      draft === "2020-12"
        ? new Ajv2020(AJV_OPTIONS)
        : draft === "2019-09"
          ? new Ajv2019(AJV_OPTIONS)
          : new Ajv(AJV_OPTIONS);
    addFormats(ajv);
    instances.set(draft, ajv);
  }
  return ajv;
}

let workflowValidator: ValidateFunction | undefined;

function validateAgainstWorkflowSchema(input: unknown): ErrorObject[] {
  workflowValidator ??= ajvFor("draft-07").compile(workflowJsonSchema);
  return workflowValidator(input) ? [] : [...(workflowValidator.errors ?? [])];
}

// ---------------------------------------------------------------------------------------------
// Workflows

/**
 * Validates a workflow definition and returns it, typed and unchanged (the same object; it is
 * never mutated).
 *
 * Beyond {@link workflowJsonSchema} it checks that step refs are unique across the whole tree
 * (nested branch steps included), that each branch step's last branch, and only that one, is the
 * default (`conditions: null` or no conditions), that branch steps nest at most 5 deep, that a
 * channel step's send windows name each day once and that the trigger data schema compiles.
 *
 * @throws InvalidParamsError whose `errors` lists every problem found, each with a precise field
 * path such as `steps[2].channel_key` or `steps[0].branches[1].steps[0].settings.delay_for.unit`.
 *
 * @example
 * ```ts
 * const workflow = validateWorkflow(JSON.parse(await readFile("workflow.json", "utf8")));
 * ```
 */
export function validateWorkflow(input: unknown): WorkflowInput {
  const beyond = checkBeyondSchema(input);
  // A condition's operator is explained better by the condition checks (an unknown operator, an
  // audience operator) than by the schema's enum: keep theirs alone.
  const explained = new Set(
    beyond
      .filter((issue) => issue.field.endsWith(".operator"))
      .map((issue) => `${issue.field}\u0000${issue.type}`),
  );
  const issues = inDocumentOrder(
    dedupe([
      ...mapAjvErrors(validateAgainstWorkflowSchema(input), input, {
        root: "",
        label: "workflow",
      }).filter((issue) => !explained.has(`${issue.field}\u0000${issue.type}`)),
      ...beyond,
    ]),
  );
  if (issues.length > 0) {
    const key = isRecord(input) && typeof input.key === "string" ? input.key : undefined;
    const what = key === undefined ? "Invalid workflow definition:" : `Invalid workflow "${key}":`;
    throw new InvalidParamsError(what, issues);
  }
  return input as WorkflowInput;
}

const TOP_LEVEL_ORDER = Object.keys(workflowJsonSchema.properties as Record<string, unknown>);

/**
 * Sorts issues as the fields appear in a definition: top-level fields in the schema's order, then
 * by array indexes (`steps[1]…` before `steps[2]…`). The sort is stable, so issues about the same
 * step keep their order (schema issues first).
 */
function inDocumentOrder(issues: ValidationIssue[]): ValidationIssue[] {
  const rankOf = (field: string): number[] => {
    const top = /^[^.[]*/.exec(field)?.[0] ?? "";
    const rank = TOP_LEVEL_ORDER.indexOf(top);
    const indexes = [...field.matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1]));
    return [rank === -1 ? TOP_LEVEL_ORDER.length : rank, ...indexes];
  };
  const compare = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const difference = (a[i] ?? 0) - (b[i] ?? 0);
      if (difference !== 0) return difference;
    }
    return a.length - b.length;
  };
  return issues
    .map((issue) => ({ issue, rank: rankOf(issue.field) }))
    .sort((a, b) => compare(a.rank, b.rank))
    .map(({ issue }) => issue);
}

/** The checks a JSON Schema cannot express; tolerant of any input shape (the schema reports those). */
function checkBeyondSchema(input: unknown): ValidationIssue[] {
  if (!isRecord(input)) return [];
  const issues: ValidationIssue[] = [];
  const firstRefAt = new Map<string, string>();

  const walkSteps = (steps: unknown, path: string, depth: number): void => {
    if (!Array.isArray(steps)) return;
    steps.forEach((step: unknown, i) => {
      const field = `${path}[${i}]`;
      if (!isRecord(step)) return;
      if (typeof step.ref === "string") {
        const first = firstRefAt.get(step.ref);
        if (first === undefined) firstRefAt.set(step.ref, `${field}.ref`);
        else {
          issues.push({
            field: `${field}.ref`,
            type: "unique",
            message: `expected a ref unique within the workflow (nested branch steps included), received "${step.ref}", which ${first} already uses; rename one of the two steps`,
          });
        }
      }
      if (step.type === "channel") issues.push(...checkSendWindows(step.send_windows, field));
      if (step.type === "delay" || step.type === "throttle")
        issues.push(...checkTimingLimits(step, field));
      if (isRecord(step.conditions))
        issues.push(...validateConditionGroup(step.conditions, `${field}.conditions`));
      if (step.type !== "branch") return;
      const level = depth + 1;
      if (level === MAX_BRANCH_DEPTH + 1) {
        issues.push({
          field,
          type: "max_depth",
          message: `expected branch steps nested at most ${MAX_BRANCH_DEPTH} deep, received a branch step at depth ${level}; flatten the workflow, e.g. by combining conditions of nested branches into one branch step`,
        });
      }
      if (!Array.isArray(step.branches)) return;
      issues.push(...checkDefaultBranch(step.branches, field));
      step.branches.forEach((branch: unknown, b) => {
        if (!isRecord(branch)) return;
        if (isRecord(branch.conditions)) {
          issues.push(
            ...validateConditionGroup(branch.conditions, `${field}.branches[${b}].conditions`),
          );
        }
        walkSteps(branch.steps, `${field}.branches[${b}].steps`, level);
      });
    });
  };
  walkSteps(input.steps, "steps", 0);
  // Beyond the schema's structure: arguments that fit their operators, well-formed timestamps…
  if (isRecord(input.conditions))
    issues.push(...validateConditionGroup(input.conditions, "conditions"));

  const dataSchema = input.trigger_data_json_schema;
  if (isRecord(dataSchema)) issues.push(...compileTriggerDataSchema(dataSchema).issues);
  return issues;
}

/** Knock's limits on static timings: `delay_for` at most 365 days, `throttle_window` at most 31. */
function checkTimingLimits(step: Record<string, unknown>, stepField: string): ValidationIssue[] {
  const settings = step.settings;
  if (!isRecord(settings)) return [];
  const [name, value, maxMs, maxDays, fix] =
    step.type === "delay"
      ? ([
          "delay_for",
          settings.delay_for,
          MAX_DELAY_MS,
          MAX_DELAY_DAYS,
          "shorten it, or wait for a date read from the data with delay_until_field_path",
        ] as const)
      : ([
          "throttle_window",
          settings.throttle_window,
          MAX_THROTTLE_WINDOW_MS,
          MAX_THROTTLE_WINDOW_DAYS,
          "shorten it",
        ] as const);
  // The schema reports a malformed Duration; only a well-formed one is measured here.
  if (!isDuration(value) || !Number.isInteger(value.value) || value.value < 1) return [];
  if (nominalDurationMs(value) <= maxMs) return [];
  return [
    {
      field: `${stepField}.settings.${name}`,
      type: "maximum",
      message: `expected a ${name} of at most ${maxDays} days (Knock's limit; a month counts as 30 days), received ${describeSpan(value)}; ${fix}`,
    },
  ];
}

/** The last branch must be the default (null or absent conditions), and only the last. */
function checkDefaultBranch(branches: unknown[], stepField: string): ValidationIssue[] {
  if (branches.length === 0) return []; // `minItems` reports it
  const issues: ValidationIssue[] = [];
  const isDefault = (branch: unknown) =>
    isRecord(branch) && (branch.conditions === null || branch.conditions === undefined);
  const last = branches.length - 1;
  const lastIsDefault = isDefault(branches[last]);
  let defaults = 0;
  branches.forEach((branch, i) => {
    if (i === last || !isDefault(branch)) return;
    defaults++;
    issues.push({
      field: `${stepField}.branches[${i}].conditions`,
      type: "default_branch",
      message: lastIsDefault
        ? `expected conditions on every branch but the last (the default), received ${describe(isRecord(branch) ? branch.conditions : undefined)}, so branches after it could never run; give this branch conditions or remove it`
        : `expected the default branch (conditions: null) to be the last one, received it at branches[${i}] of ${branches.length}; move it to the end of branches`,
    });
  });
  if (!lastIsDefault && defaults === 0 && isRecord(branches[last])) {
    issues.push({
      field: `${stepField}.branches[${last}].conditions`,
      type: "default_branch",
      message:
        "expected the last branch to be the default, with conditions: null, received a condition group; append a branch with conditions: null (it runs when no other branch matches, and its steps may be empty)",
    });
  }
  return issues;
}

/**
 * Send windows, beyond what the schema checks of each entry: one entry per day and `from` before
 * `until` (the rules of `validateSendWindows`, which the run-time compiler applies too), no
 * `from` / `until` on `do_not_send` windows, and at least one day open.
 */
function checkSendWindows(windows: unknown, stepField: string): ValidationIssue[] {
  if (!Array.isArray(windows)) return [];
  const field = `${stepField}.send_windows`;
  const issues = validateSendWindows(windows, field).filter(
    (issue) => issue.type === "unique" || issue.type === "range",
  );
  const closedDays = new Set<unknown>();
  windows.forEach((window: unknown, i) => {
    if (!isRecord(window) || window.type !== "do_not_send") return;
    closedDays.add(window.day);
    for (const bound of ["from", "until"] as const) {
      if (window[bound] === undefined) continue;
      issues.push({
        field: `${field}[${i}].${bound}`,
        type: "send_window",
        message: `expected no "${bound}" on a do_not_send window (the whole day is closed), received ${describe(window[bound])}; remove it, or set type to "send" to open the window for part of the day`,
      });
    }
  });
  if (closedDays.size === 7) {
    issues.push({
      field,
      type: "send_window",
      message:
        "expected at least one day open for sending, received do_not_send on all seven days, so the step could never send; open a day, or remove the step",
    });
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Trigger data

interface CompiledDataSchema {
  validate: ValidateFunction | undefined;
  issues: ValidationIssue[];
  /** Drops ajv's own reference to the compiled schema (when it leaves our cache). */
  release?: () => void;
}

/** Compiled trigger data schemas by their JSON text: a schema is compiled once per process. */
const dataSchemaCache = new Map<string, CompiledDataSchema>();

/**
 * Compiles a workflow's `trigger_data_json_schema` once (a schema with the same JSON is compiled
 * only once per process) and returns a validator of trigger `data`.
 *
 * The schema may declare `$schema` draft-07 (the default), 2019-09 or 2020-12; unknown keywords
 * are allowed and `format`s are checked (ajv-formats).
 *
 * @returns A function that returns `[]` for valid data, else one issue per problem whose field
 * names the data field: `data.order.id` (for a missing required property, the missing property,
 * with type `required`), `data.items[0].sku`.
 * @throws InvalidParamsError with field `trigger_data_json_schema` when the schema itself is
 * invalid.
 */
export function compileDataSchema(
  schema: Record<string, unknown>,
): (data: unknown) => Array<{ field: string; message: string; type: string }> {
  const { validate, issues } = compileTriggerDataSchema(schema);
  if (!validate) throw new InvalidParamsError("Invalid trigger_data_json_schema:", issues);
  return (data) => {
    if (validate(data)) return [];
    return dedupe(mapAjvErrors(validate.errors ?? [], data, { root: "data", label: "data" }));
  };
}

function compileTriggerDataSchema(schema: Record<string, unknown>): CompiledDataSchema {
  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch (error) {
    return schemaFailure(
      `expected a JSON Schema of plain JSON values, received one that is not JSON (${errorMessage(error)}); use plain JSON values only`,
    );
  }
  const cached = dataSchemaCache.get(text);
  if (cached) return cached;
  const compiled = compileFresh(JSON.parse(text) as Record<string, unknown>);
  if (dataSchemaCache.size >= MAX_CACHED_DATA_SCHEMAS) {
    const [oldestText, oldest] = dataSchemaCache.entries().next().value ?? [];
    if (oldestText !== undefined) dataSchemaCache.delete(oldestText);
    oldest?.release?.();
  }
  dataSchemaCache.set(text, compiled);
  return compiled;
}

function compileFresh(schema: Record<string, unknown>): CompiledDataSchema {
  const draft = draftOf(schema.$schema);
  if (!draft) {
    return schemaFailure(
      `expected $schema draft-07 ("http://json-schema.org/draft-07/schema#"), 2019-09 ("https://json-schema.org/draft/2019-09/schema") or 2020-12 ("https://json-schema.org/draft/2020-12/schema"), received ${describe(schema.$schema)}; change $schema or remove it (draft-07 is the default)`,
    );
  }
  if (schema.$async === true) {
    return schemaFailure(
      "expected a synchronous schema, received $async: true; remove $async (trigger data is validated synchronously)",
    );
  }
  const ajv = ajvFor(draft);
  if (!ajv.validateSchema(schema)) {
    return { validate: undefined, issues: metaSchemaIssues(ajv.errors ?? [], schema) };
  }
  const warnings: string[] = [];
  compileWarnings = warnings;
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    ajv.removeSchema(schema);
    return schemaFailure(
      `expected a JSON Schema that compiles, received one that fails with "${errorMessage(error)}"; fix the schema`,
    );
  } finally {
    compileWarnings = undefined;
  }
  // An unknown format would be ignored silently: a misspelt "emial" would check nothing.
  const known = Object.keys(ajv.formats).sort().join(", ");
  const issues = warnings.flatMap((warning) => {
    const match = /unknown format "(.*)" ignored in schema at path "(.*)"/.exec(warning);
    if (!match) return [];
    const at = pathOf(match[2]?.replace(/^#/, "") ?? "", schema, "") || "its root";
    return schemaFailure(
      `expected a known format at ${at} (one of ${known}), received "${match[1]}"; correct the format name or remove it`,
    ).issues;
  });
  const release = () => ajv.removeSchema(schema);
  if (issues.length > 0) {
    release();
    return { validate: undefined, issues: dedupe(issues) };
  }
  return { validate, issues: [], release };
}

function schemaFailure(message: string): CompiledDataSchema {
  return {
    validate: undefined,
    issues: [{ field: "trigger_data_json_schema", type: "schema", message }],
  };
}

function draftOf($schema: unknown): Draft | undefined {
  if ($schema === undefined) return "draft-07";
  if (typeof $schema !== "string") return undefined;
  const uri = $schema.replace(/^https?:\/\//, "").replace(/#$/, "");
  if (uri === "json-schema.org/draft-07/schema") return "draft-07";
  if (uri === "json-schema.org/draft/2019-09/schema") return "2019-09";
  if (uri === "json-schema.org/draft/2020-12/schema") return "2020-12";
  return undefined;
}

/** The meta-schema's complaints, one issue per location in the schema (the most specific one). */
function metaSchemaIssues(errors: ErrorObject[], schema: unknown): ValidationIssue[] {
  const byLocation = new Map<string, ErrorObject>();
  for (const error of errors) {
    if (COMBINATOR_KEYWORDS.has(error.keyword)) continue;
    if (!byLocation.has(error.instancePath)) byLocation.set(error.instancePath, error);
  }
  if (byLocation.size === 0) {
    const first = errors[0];
    if (first) byLocation.set(first.instancePath, first);
  }
  return [...byLocation.values()].map((error) => {
    const at = pathOf(error.instancePath, schema, "") || "its root";
    const allowed = param(error, "allowedValues");
    const rule = Array.isArray(allowed)
      ? `must be one of ${formatValues(allowed)}`
      : (error.message ?? "is invalid");
    return {
      field: "trigger_data_json_schema",
      type: "schema",
      message: `expected a valid JSON Schema, but ${at} ${rule}, received ${describe(error.data)}; fix that part of trigger_data_json_schema`,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Mapping ajv errors to issues

interface MapContext {
  /** The field path prefix: `""` for a workflow, `data` for trigger data. */
  root: string;
  /** Names the root itself when an error is about the whole value. */
  label: string;
}

const COMBINATOR_KEYWORDS = new Set(["anyOf", "oneOf", "if", "allOf", "not"]);

function mapAjvErrors(
  errors: ErrorObject[],
  rootValue: unknown,
  ctx: MapContext,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  // `if` failures only say "must match then": the `then` schema's own errors say what is wrong.
  const relevant = errors.filter((error) => error.keyword !== "if");
  // `anyOf: [{required: [a]}, {required: [b]}]` means "at least one of a, b": one issue, not three.
  // Likewise an `anyOf` / `oneOf` and its alternatives' errors about the same value: one issue.
  const combinators = relevant.filter(
    (error) => error.keyword === "anyOf" || error.keyword === "oneOf",
  );
  const alternativesOf = (combinator: ErrorObject) =>
    relevant.filter(
      (error) =>
        error !== combinator &&
        error.instancePath === combinator.instancePath &&
        error.schemaPath.startsWith(`${combinator.schemaPath}/`),
    );
  const swallowed = new Set(combinators.flatMap(alternativesOf));
  for (const error of relevant) {
    if (swallowed.has(error)) continue;
    issues.push(issueFor(error, rootValue, ctx, alternativesOf(error)));
  }
  return issues;
}

function requiredAlternatives(error: ErrorObject): string[] | undefined {
  if (error.keyword !== "anyOf" || !Array.isArray(error.schema)) return undefined;
  const names: string[] = [];
  for (const alternative of error.schema as unknown[]) {
    if (!isRecord(alternative) || Object.keys(alternative).length !== 1) return undefined;
    const required = alternative.required;
    if (!Array.isArray(required) || required.length !== 1 || typeof required[0] !== "string") {
      return undefined;
    }
    names.push(required[0]);
  }
  return names;
}

function issueFor(
  error: ErrorObject,
  rootValue: unknown,
  ctx: MapContext,
  alternatives: ErrorObject[],
): ValidationIssue {
  const at = pathOf(error.instancePath, rootValue, ctx.root);
  const field = at || ctx.label;
  const isData = ctx.root === "data";
  const received = describe(error.data);
  const { keyword } = error;

  switch (keyword) {
    case "required": {
      const property = String(param(error, "missingProperty"));
      const missing = joinPath(at, property);
      const hint = isData ? "required by the trigger data schema" : requiredHint(missing);
      let message = `expected "${property}"${hint ? ` (${hint})` : ""}, received nothing; add it`;
      if (isData) message += " to the trigger data";
      if (!isData && missing === "key") message += cliKeyHint(rootValue);
      return { field: missing, type: "required", message };
    }
    case "anyOf": {
      const names = requiredAlternatives(error);
      if (names) {
        const list = names.map((name) => `"${name}"`).join(names.length === 2 ? " or " : ", ");
        return {
          field,
          type: "required",
          message: `expected at least one of ${list}, received ${names.length === 2 ? "neither" : "none of them"}; add one`,
        };
      }
      return {
        field,
        type: keyword,
        message: `expected ${alternativesText(alternatives) ?? "a value matching one of the schema's alternatives"}, received ${received}; change it`,
      };
    }
    case "type": {
      const expected = String(param(error, "type"))
        .split(",")
        .map((type) => TYPE_NAMES[type] ?? type)
        .join(" or ");
      return {
        field,
        type: keyword,
        message: `expected ${expected}, received ${received}; change it to ${expected}`,
      };
    }
    case "enum": {
      const allowed = param(error, "allowedValues");
      const values = Array.isArray(allowed) ? allowed : [];
      const suggestion =
        typeof error.data === "string"
          ? closest(
              error.data,
              values.filter((value): value is string => typeof value === "string"),
            )
          : undefined;
      return {
        field,
        type: keyword,
        message: `expected one of ${formatValues(values)}; received ${received}; ${suggestion ? `did you mean "${suggestion}"?` : "use one of those values"}`,
      };
    }
    case "const":
      return {
        field,
        type: keyword,
        message: `expected ${JSON.stringify(param(error, "allowedValue"))}, received ${received}; use that value`,
      };
    case "pattern": {
      const pattern = String(param(error, "pattern"));
      const known = PATTERN_HINTS[pattern];
      const fix =
        pattern === WORKFLOW_KEY_PATTERN && typeof error.data === "string"
          ? `; e.g. "${slug(error.data)}"`
          : pattern === STEP_REF_PATTERN && typeof error.data === "string"
            ? `; e.g. "${slug(error.data, true)}"`
            : "; change it to match";
      return {
        field,
        type: keyword,
        message: `expected ${known ?? `a string matching ${pattern}`}, received ${received}${fix}`,
      };
    }
    case "minLength":
    case "maxLength": {
      const limit = Number(param(error, "limit"));
      const length = typeof error.data === "string" ? error.data.length : 0;
      return {
        field,
        type: keyword,
        message:
          keyword === "minLength"
            ? limit === 1
              ? "expected a non-empty string, received an empty one; fill it in"
              : `expected at least ${limit} characters, received ${length} (${received}); lengthen it`
            : `expected at most ${limit} characters, received ${length}; shorten it`,
      };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return {
        field,
        type: keyword,
        message: `expected a number ${String(param(error, "comparison"))} ${String(param(error, "limit"))}, received ${received}; change it`,
      };
    case "multipleOf":
      return {
        field,
        type: keyword,
        message: `expected a multiple of ${String(param(error, "multipleOf"))}, received ${received}; change it`,
      };
    case "minItems":
    case "maxItems":
      return { field, type: keyword, message: itemsMessage(keyword, error, field) };
    case "minProperties":
    case "maxProperties":
      return { field, type: keyword, message: propertiesMessage(keyword, error) };
    case "additionalProperties":
      return additionalPropertyIssue(error, at, isData);
    case "format":
      return {
        field,
        type: keyword,
        message: `expected a string in "${String(param(error, "format"))}" format, received ${received}; correct the value`,
      };
    case "uniqueItems":
      return {
        field,
        type: keyword,
        message: `expected unique items, received duplicates at positions ${String(param(error, "j"))} and ${String(param(error, "i"))}; remove one`,
      };
    case "oneOf": {
      const passing = param(error, "passingSchemas");
      return {
        field,
        type: keyword,
        message: Array.isArray(passing)
          ? `expected a value matching exactly one of the schema's alternatives, received ${received}, which matches ${passing.length} of them; make it match only one`
          : `expected ${alternativesText(alternatives) ?? "a value matching one of the schema's alternatives"}, received ${received}; change it`,
      };
    }
    default:
      return {
        field,
        type: keyword,
        message: `expected a value that satisfies "${keyword}" (${error.message ?? "invalid"}), received ${received}; correct the value`,
      };
  }
}

/** "a string or a number" from the alternatives' own errors, when there are any. */
function alternativesText(alternatives: ErrorObject[]): string | undefined {
  const parts = alternatives.map((alternative) => {
    if (alternative.keyword === "type") {
      return String(param(alternative, "type"))
        .split(",")
        .map((type) => TYPE_NAMES[type] ?? type)
        .join(" or ");
    }
    if (alternative.keyword === "enum" || alternative.keyword === "const") {
      const allowed = param(alternative, "allowedValues") ?? [param(alternative, "allowedValue")];
      return `one of ${formatValues(Array.isArray(allowed) ? allowed : [])}`;
    }
    return `a value that ${alternative.message ?? "matches"}`;
  });
  const unique = [...new Set(parts)];
  return unique.length > 0 ? unique.join(" or ") : undefined;
}

function itemsMessage(keyword: "minItems" | "maxItems", error: ErrorObject, field: string): string {
  const limit = Number(param(error, "limit"));
  const count = Array.isArray(error.data) ? error.data.length : 0;
  if (field.endsWith(".branches")) {
    return keyword === "minItems"
      ? "expected at least one branch (the last, with conditions: null, is the default), received none; add a default branch"
      : `expected at most ${limit} branches, received ${count}; merge branches, or move some into a branch step nested in the default branch`;
  }
  return keyword === "minItems"
    ? `expected at least ${limit} item${limit === 1 ? "" : "s"}, received ${count}; add more`
    : `expected at most ${limit} item${limit === 1 ? "" : "s"}, received ${count}; remove some`;
}

function propertiesMessage(keyword: "minProperties" | "maxProperties", error: ErrorObject): string {
  const properties = isRecord(error.parentSchema) ? error.parentSchema.properties : undefined;
  const isConditionGroup =
    isRecord(properties) && Object.keys(properties).join(",") === ["all", "any"].join(",");
  if (isConditionGroup) {
    return keyword === "minProperties"
      ? 'expected a condition group, { "all": [...] } or { "any": [...] }, received an empty object; add "all" or "any", or use null for no conditions'
      : 'expected exactly one of "all" or "any" in a condition group, received both; nest one inside the other, e.g. { "all": [..., { "any": [...] }] }';
  }
  const limit = Number(param(error, "limit"));
  const count = isRecord(error.data) ? Object.keys(error.data).length : 0;
  return keyword === "minProperties"
    ? `expected at least ${limit} properties, received ${count}; add more`
    : `expected at most ${limit} properties, received ${count}; remove some`;
}

function additionalPropertyIssue(error: ErrorObject, at: string, isData: boolean): ValidationIssue {
  const property = String(param(error, "additionalProperty"));
  const field = joinPath(at, property);
  const parent = isRecord(error.data) ? error.data : {};
  if (!isData && property === "conditions" && parent.type === "branch") {
    return {
      field,
      type: "additionalProperties",
      message:
        "expected no conditions on a branch step itself, received a conditions field; put conditions on its branches instead (the last branch, with conditions: null, is the default)",
    };
  }
  const declared = isRecord(error.parentSchema) ? error.parentSchema.properties : undefined;
  const known = isRecord(declared)
    ? Object.keys(declared).filter((name) => !HIDDEN_FIELDS.has(name))
    : [];
  const suggestion = closest(property, known);
  const where = isData ? "the trigger data schema allows only" : "expected only";
  return {
    field,
    type: "additionalProperties",
    message: `${where} ${known.length > 0 ? formatValues(known) : "declared properties"}, received the unknown field "${property}"; ${suggestion ? `did you mean "${suggestion}"?` : "remove it"}`,
  };
}

/** Accepted at the top level (stored workflows, knock-cli files) but not worth suggesting. */
const HIDDEN_FIELDS = new Set([
  "__readonly",
  "$schema",
  "id",
  "sha",
  "version",
  "valid",
  "inserted_at",
  "updated_at",
]);

/** What a missing field should hold, by the missing field's path (first match wins). */
const REQUIRED_HINTS: Array<[RegExp, string]> = [
  [/^key$/, "the workflow key: 3 to 255 characters of a-z, 0-9, _ and -"],
  [/^steps$/, "the list of steps, possibly empty"],
  [/\.(headers|query_params)\[\d+\]\.key$/, "the name"],
  [/\.(headers|query_params)\[\d+\]\.value$/, "the value, a Liquid template"],
  [/\.send_windows\[\d+\]\.type$/, "send or do_not_send"],
  [/\.send_windows\[\d+\]\.day$/, "a day of the week, monday to sunday"],
  [/\]\.type$/, `the step type, one of ${STEP_TYPES.join(", ")}`],
  [/\]\.ref$/, "an identifier of the step, unique within the workflow"],
  [/\.channel_key$/, "the key of the channel to send through"],
  [/\.template$/, "the channel's templates, e.g. { subject, html_body } for email"],
  [/\]\.settings$/, "the step's settings object"],
  [/\.branches$/, "the list of branches; the last, with conditions: null, is the default"],
  [/\.branches\[\d+\]\.name$/, "the branch's display name"],
  [/\.branches\[\d+\]\.steps$/, "the branch's steps, possibly empty"],
  [/\.settings\.url$/, "the URL to call, a Liquid template"],
  [/\.settings\.workflow_key$/, "the key of the workflow to trigger"],
  [/\.settings\.data$/, "an object to merge into data, or a Liquid template rendering one"],
  [/\.unit$/, "one of seconds, minutes, hours, days, weeks, months"],
  [/\.value$/, "a positive integer"],
  [/\.variable$/, "the path the condition reads, e.g. data.plan"],
  [/\.operator$/, "the comparison, e.g. equal_to"],
];

function requiredHint(field: string): string | undefined {
  return REQUIRED_HINTS.find(([pattern]) => pattern.test(field))?.[1];
}

const PATTERN_HINTS: Record<string, string> = {
  [WORKFLOW_KEY_PATTERN]: "only lowercase letters a-z, digits, _ and - (pattern ^[a-z0-9_-]+$)",
  [STEP_REF_PATTERN]: "only letters, digits, _ and - (pattern ^[a-zA-Z0-9_-]+$)",
  [TIME_OF_DAY_PATTERN]: 'a 24-hour time of day, "HH:MM" or "HH:MM:SS"',
};

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
  null: "null",
};

function cliKeyHint(rootValue: unknown): string {
  if (!isRecord(rootValue) || !isRecord(rootValue.__readonly)) return "";
  const key = rootValue.__readonly.key;
  if (typeof key !== "string") return "";
  return ` (a knock-cli file carries it in __readonly.key: add "key": ${JSON.stringify(key)})`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Turns an ajv instance path (`/steps/2/channel_key`) into `steps[2].channel_key`. */
function pathOf(instancePath: string, rootValue: unknown, root: string): string {
  let path = root;
  let value: unknown = rootValue;
  if (instancePath === "") return path;
  for (const raw of instancePath.slice(1).split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value) && /^\d+$/.test(segment)) {
      path += `[${segment}]`;
      value = value[Number(segment)];
    } else {
      path = joinPath(path, segment);
      value = isRecord(value) ? value[segment] : undefined;
    }
  }
  return path;
}

function joinPath(path: string, property: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(property)) return path ? `${path}.${property}` : property;
  return `${path}[${JSON.stringify(property)}]`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function param(error: ErrorObject, name: string): unknown {
  return (error.params as Record<string, unknown>)[name];
}

/** A short description of a received value, for messages. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value))
    return `an array of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return String(value);
}

function formatValues(values: unknown[]): string {
  return values
    .map((value) => (typeof value === "string" ? value : JSON.stringify(value)))
    .join(", ");
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A value turned into something that matches the key (or ref) pattern. */
function slug(value: string, allowUppercase = false): string {
  const cased = allowUppercase ? value : value.toLowerCase();
  const cleaned = cased
    .replace(/[^a-zA-Z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .replace(/-{2,}/g, "-");
  return cleaned || "my-workflow";
}

/** The candidate nearest to `value` (edit distance with transpositions), if it is near enough. */
function closest(value: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(value.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const threshold = Math.max(1, Math.min(3, Math.floor(value.length / 3)));
  return bestDistance > 0 && bestDistance <= threshold ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [];
    for (let j = 0; j <= b.length; j++) {
      if (i === 0 || j === 0) {
        row.push(i + j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(
        (rows[i - 1]?.[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (rows[i - 1]?.[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(distance);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const id = `${issue.field}\u0000${issue.type}\u0000${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
