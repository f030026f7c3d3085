import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileTemplate, createLiquid, renderTemplate } from "../../src/channels/templates.js";
import type { ValidationIssue } from "../../src/errors.js";

const liquid = createLiquid();

function compile(source: string) {
  const issues: ValidationIssue[] = [];
  const compiled = compileTemplate(liquid, source, "t", issues);
  expect(issues).toEqual([]);
  return compiled;
}

/** What Liquid itself renders, bypassing the plain-output fast path. */
function byLiquid(source: string, scope: object): unknown {
  return liquid.renderSync(liquid.parse(source), scope);
}

describe("plain outputs render without the interpreter, exactly as Liquid does", () => {
  it.each([
    ["Hi {{ recipient.name }}!", true],
    ["{{data.a}}{{ data.b }}", true],
    ["no outputs at all {{", false],
    ["{{ data.items | size }}", false],
    ["{{ data.items.size }}", false],
    ["{{ data.items[0] }}", false],
    ["{{- data.a -}}", false],
    ["{% if data.a %}x{% endif %}", false],
    ["{{ nil }}", false],
  ])("%j takes the fast path: %s", (source, fast) => {
    const issues: ValidationIssue[] = [];
    const compiled = compileTemplate(liquid, source, "t", issues);
    expect(compiled.kind === "liquid" && compiled.parts !== undefined).toBe(fast);
  });

  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    leaf: fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
    ),
    node: fc.oneof(
      { depthSize: "small" },
      tie("leaf"),
      fc.array(tie("node"), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom("a", "b", "name", "length", "constructor"), tie("node"), {
        maxKeys: 3,
        noNullPrototype: true,
      }),
    ),
  })).node;
  const name = fc.constantFrom("data", "recipient", "a", "b", "name", "length", "constructor", "x");
  const output = fc
    .array(name, { minLength: 1, maxLength: 4 })
    .chain((path) =>
      fc.constantFrom(
        `{{ ${path.join(".")} }}`,
        `{{${path.join(".")}}}`,
        `{{  ${path.join(".")}\n}}`,
      ),
    );
  const text = fc.string({ maxLength: 8 }).filter((s) => !s.includes("{") && !s.includes("}"));
  const template = fc
    .array(fc.oneof(text, output), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join(""));

  it("gives Liquid's output for any plain template and scope", () => {
    fc.assert(
      fc.property(
        template,
        fc.dictionary(fc.constantFrom("data", "recipient", "a", "b", "name"), value, {
          maxKeys: 4,
        }),
        (source, scope) => {
          const compiled = compile(source);
          expect(renderTemplate(liquid, compiled, scope)).toBe(byLiquid(source, scope));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("reads own properties only", () => {
    const compiled = compile("[{{ data.constructor }}][{{ data.toString }}][{{ constructor }}]");
    expect(renderTemplate(liquid, compiled, { data: {} })).toBe("[][][]");
  });
});

describe("the plain-output fast path's rendering", () => {
  it("leaves nothing of a render that threw to the next one", () => {
    const template = compile("Hi {{ recipient.name }}: {{ data.message }}");
    const throwing = {
      toString() {
        throw new Error("no text");
      },
    };
    expect(() =>
      renderTemplate(liquid, template, { recipient: { name: "Ann" }, data: { message: throwing } }),
    ).toThrow("no text");
    expect(
      renderTemplate(liquid, template, { recipient: { name: "Bo" }, data: { message: "hello" } }),
    ).toBe("Hi Bo: hello");
  });
});
