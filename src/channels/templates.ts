/**
 * @internal Liquid templates: parsed once when a workflow is compiled, rendered per message.
 */
import { Liquid, type Template } from "liquidjs";
import { isPlainObject, setOwn } from "../_internal/merge.js";
import { readOwn } from "../conditions/path.js";
import type { ValidationIssue } from "../errors.js";

/**
 * @internal A template tree: strings parsed into Liquid templates, other values kept. A Liquid
 * string made only of text and plain `{{ a.b.c }}` outputs also carries `parts` (text, and paths
 * as property names), which render without Liquid's interpreter and give exactly its output.
 */
export type CompiledTemplate =
  | { kind: "liquid"; source: string; templates: Template[]; parts?: Array<string | string[]> }
  | { kind: "static"; value: unknown }
  | { kind: "array"; items: CompiledTemplate[] }
  | { kind: "object"; entries: Array<[string, CompiledTemplate]> };

/** @internal One Liquid instance per engine: own-property lookups only, lenient about missing variables. */
export function createLiquid(): Liquid {
  return new Liquid({
    ownPropertyOnly: true,
    strictVariables: false,
    strictFilters: true,
    cache: false,
    jsTruthy: false,
  });
}

/** @internal Parses every string of a template tree; syntax errors become issues under `field`. */
export function compileTemplate(
  liquid: Liquid,
  value: unknown,
  field: string,
  issues: ValidationIssue[],
): CompiledTemplate {
  if (typeof value === "string") {
    if (!value.includes("{{") && !value.includes("{%")) return { kind: "static", value };
    try {
      const templates = liquid.parse(value);
      const parts = plainParts(value);
      return parts
        ? { kind: "liquid", source: value, templates, parts }
        : { kind: "liquid", source: value, templates };
    } catch (error) {
      issues.push({
        field,
        type: "template",
        message: `expected a valid Liquid template, received one that does not parse: ${(error as Error).message}`,
      });
      return { kind: "static", value };
    }
  }
  if (Array.isArray(value)) {
    return {
      kind: "array",
      items: value.map((item, i) => compileTemplate(liquid, item, `${field}[${i}]`, issues)),
    };
  }
  if (isPlainObject(value)) {
    return {
      kind: "object",
      entries: Object.keys(value).map((key) => [
        key,
        compileTemplate(liquid, value[key], `${field}.${key}`, issues),
      ]),
    };
  }
  return { kind: "static", value };
}

/** @internal Renders a compiled template tree against a scope (synchronously: no async filters). */
export function renderTemplate(liquid: Liquid, template: CompiledTemplate, scope: object): unknown {
  switch (template.kind) {
    case "static":
      return template.value;
    case "liquid":
      return template.parts
        ? renderParts(template.parts, scope)
        : liquid.renderSync(template.templates, scope);
    case "array":
      return template.items.map((item) => renderTemplate(liquid, item, scope));
    case "object": {
      const out: Record<string, unknown> = {};
      // setOwn: a template key such as `__proto__` becomes an own key, never the prototype.
      for (const [key, item] of template.entries)
        setOwn(out, key, renderTemplate(liquid, item, scope));
      return out;
    }
  }
}

/** `{{ name.name… }}` with nothing but property names: no filters, brackets or trimming. */
const PLAIN_OUTPUT = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}/g;
/** Names Liquid reads specially (sizes, ends of arrays) or as literals: left to Liquid itself. */
const SPECIAL_NAMES = new Set([
  "size",
  "first",
  "last",
  "nil",
  "null",
  "empty",
  "blank",
  "true",
  "false",
]);

/**
 * The text and property paths of a template made only of text and plain outputs, or null when it
 * uses anything else (tags, filters, brackets, whitespace control, special names).
 */
function plainParts(source: string): Array<string | string[]> | null {
  if (source.includes("{%")) return null;
  const parts: Array<string | string[]> = [];
  let last = 0;
  for (const match of source.matchAll(PLAIN_OUTPUT)) {
    const path = (match[1] as string).split(".");
    if (path.some((name) => SPECIAL_NAMES.has(name))) return null;
    if (match.index > last) parts.push(source.slice(last, match.index));
    parts.push(path);
    last = match.index + match[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  // Any `{{` left in the text is an output the pattern did not accept.
  if (parts.some((part) => typeof part === "string" && part.includes("{{"))) return null;
  return parts;
}

/** Liquid's output of a value: strings as they are, nothing for nil, arrays joined, else String(). */
function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(stringify).join("");
  return String(value);
}

/**
 * The pieces of the output being rendered, reused by every render (rendering never nests). Joined
 * once at the end, they make one flat string: built with `+=`, the output would be a tree of
 * joined strings (three objects and some 90 bytes more, for a short line), and messages keep
 * their rendered content.
 */
const pieces: string[] = [];

function renderParts(parts: ReadonlyArray<string | string[]>, scope: object): string {
  // Empty already, unless a value's String() threw in the last render.
  pieces.length = 0;
  for (const part of parts) {
    if (typeof part === "string") {
      pieces.push(part);
      continue;
    }
    let value: unknown = scope;
    for (const name of part) {
      if (value === null || value === undefined) break;
      value = readOwn(value, name);
    }
    pieces.push(stringify(value));
  }
  const out = pieces.join("");
  pieces.length = 0;
  return out;
}
