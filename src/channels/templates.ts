/**
 * @internal Liquid templates: parsed once when a workflow is compiled, rendered per message.
 */
import { Liquid, type Template } from "liquidjs";
import { isPlainObject, setOwn } from "../_internal/merge.js";
import type { ValidationIssue } from "../errors.js";

/** @internal A template tree: strings parsed into Liquid templates, other values kept. */
export type CompiledTemplate =
  | { kind: "liquid"; source: string; templates: Template[] }
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
      return { kind: "liquid", source: value, templates: liquid.parse(value) };
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
      return liquid.renderSync(template.templates, scope);
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
