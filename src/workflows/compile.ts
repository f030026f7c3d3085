/**
 * @internal Compiling a validated workflow once into a ready-to-run program: the step tree
 * flattened into instructions with `next` indexes (a run's cursor is an index), conditions turned
 * into functions, Liquid templates parsed, the trigger data schema compiled.
 */
import type { Liquid } from "liquidjs";
import { type CompiledTemplate, compileTemplate } from "../channels/templates.js";
import type { ConditionScope } from "../conditions/evaluate.js";
import { compileConditions } from "../conditions/evaluate.js";
import type { ConditionGroup } from "../conditions/types.js";
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import { compileSendWindows, type SendWindowSchedule } from "../scheduling/windows.js";
import type { BatchStep, Duration, Step, ThrottleStep, Workflow } from "./types.js";
import { compileDataSchema } from "./validate.js";

/** @internal The cursor value of a finished run. */
export const END = -1;

/** @internal A compiled condition group (null: always true). */
export interface CompiledConditions {
  group: ConditionGroup;
  test: (scope: ConditionScope, now: Date) => boolean;
  /** Step refs that `refs.<ref>.*` variables or arguments name: their messages are loaded first. */
  refs: string[];
}

interface InstructionBase {
  index: number;
  ref: string;
  /** The instruction after this one (END when the run ends). */
  next: number;
  conditions: CompiledConditions | null;
}

/** @internal A channel step. */
export interface ChannelInstruction extends InstructionBase {
  type: "channel";
  channelKey: string;
  channelType: string | undefined;
  template: CompiledTemplate;
  /** The step's send windows, compiled; null when it sends at any time. */
  sendWindows: SendWindowSchedule | null;
}

/** @internal A delay step. */
export interface DelayInstruction extends InstructionBase {
  type: "delay";
  delayFor: Duration | undefined;
  delayUntilFieldPath: string | undefined;
}

/** @internal An update_data step. */
export interface UpdateDataInstruction extends InstructionBase {
  type: "update_data";
  data: CompiledTemplate;
}

/** @internal A batch step. */
export interface BatchInstruction extends InstructionBase {
  type: "batch";
  settings: BatchStep["settings"];
  /** The rendered-per-run batch key (a Liquid template or a path), or null for one batch per recipient. */
  key: CompiledTemplate | null;
  keyPath: string | null;
}

/** @internal A throttle step. */
export interface ThrottleInstruction extends InstructionBase {
  type: "throttle";
  settings: ThrottleStep["settings"];
  key: CompiledTemplate | null;
  keyPath: string | null;
}

/** @internal An http_fetch step: every setting a template. */
export interface HttpFetchInstruction extends InstructionBase {
  type: "http_fetch";
  request: CompiledTemplate;
}

/** @internal A trigger_workflow step: every setting a template, with Knock's defaults. */
export interface TriggerWorkflowInstruction extends InstructionBase {
  type: "trigger_workflow";
  settings: CompiledTemplate;
}

/** @internal A branch step: the first arm whose conditions hold runs; the last arm is the default. */
export interface BranchInstruction extends InstructionBase {
  type: "branch";
  arms: Array<{
    name: string;
    conditions: CompiledConditions | null;
    target: number;
    terminates: boolean;
  }>;
}

/** @internal One instruction of a compiled workflow. */
export type Instruction =
  | ChannelInstruction
  | DelayInstruction
  | UpdateDataInstruction
  | BranchInstruction
  | BatchInstruction
  | ThrottleInstruction
  | HttpFetchInstruction
  | TriggerWorkflowInstruction;

/** @internal A workflow version ready to run. */
export interface CompiledWorkflow {
  workflow: Workflow;
  program: Instruction[];
  /** Instructions by step ref. */
  byRef: Map<string, Instruction>;
  conditions: CompiledConditions | null;
  validateData: ((data: unknown) => ValidationIssue[]) | null;
}

/** Knock's defaults for trigger_workflow settings. */
const TRIGGER_WORKFLOW_DEFAULTS = {
  recipients: "{{ recipient.id }}",
  actor: "{{ actor.id }}",
  tenant: "{{ tenant.id }}",
  data: "{{ data | json }}",
  cancellation_key: "{{ workflow.cancellation_key }}",
};

/** A key setting: Liquid when it has `{{`, else a path into the scope (`data.x`). */
function compileKey(
  liquid: Liquid,
  value: string | undefined,
  field: string,
  issues: ValidationIssue[],
): { key: CompiledTemplate | null; keyPath: string | null } {
  if (value === undefined || value.length === 0) return { key: null, keyPath: null };
  if (value.includes("{{") || value.includes("{%"))
    return { key: compileTemplate(liquid, value, field, issues), keyPath: null };
  return { key: null, keyPath: value };
}

function compileGroup(group: ConditionGroup | null | undefined): CompiledConditions | null {
  if (!group) return null;
  const refs = new Set<string>();
  for (const match of JSON.stringify(group).matchAll(/refs\.([A-Za-z0-9_-]+)\./g))
    if (match[1]) refs.add(match[1]);
  return { group, test: compileConditions(group), refs: [...refs] };
}

/**
 * @internal Compiles a stored (already validated) workflow. Throws InvalidParamsError for what
 * validation cannot see: templates that do not parse.
 */
export function compileWorkflow(workflow: Workflow, liquid: Liquid): CompiledWorkflow {
  const issues: ValidationIssue[] = [];
  const program: Instruction[] = [];
  const byRef = new Map<string, Instruction>();

  const emitList = (steps: Step[], continuation: number, path: string): number => {
    if (steps.length === 0) return continuation;
    const start = program.length;
    // Reserve the list's slots first, so arms of branches land after it and `next` is known.
    const pending: Array<() => void> = [];
    steps.forEach((step, i) => {
      const index = start + i;
      const next = i < steps.length - 1 ? index + 1 : continuation;
      const field = `${path}[${i}]`;
      const instruction = compileStep(step, index, next, field, liquid, issues);
      program.push(instruction);
      byRef.set(step.ref, instruction);
      if (step.type === "branch" && instruction.type === "branch") {
        pending.push(() => {
          step.branches.forEach((branch, b) => {
            const arm = instruction.arms[b];
            if (!arm) return;
            arm.target = emitList(
              branch.steps,
              branch.terminates ? END : next,
              `${field}.branches[${b}].steps`,
            );
          });
        });
      }
    });
    for (const emitArms of pending) emitArms();
    return start;
  };
  emitList(workflow.steps, END, "steps");

  let validateData: CompiledWorkflow["validateData"] = null;
  if (workflow.trigger_data_json_schema)
    validateData = compileDataSchema(workflow.trigger_data_json_schema);

  if (issues.length > 0)
    throw new InvalidParamsError(`Invalid workflow "${workflow.key}":`, issues);
  return { workflow, program, byRef, conditions: compileGroup(workflow.conditions), validateData };
}

function compileStep(
  step: Step,
  index: number,
  next: number,
  field: string,
  liquid: Liquid,
  issues: ValidationIssue[],
): Instruction {
  switch (step.type) {
    case "channel":
      return {
        type: "channel",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        channelKey: step.channel_key,
        channelType: step.channel_type,
        template: compileTemplate(liquid, step.template, `${field}.template`, issues),
        sendWindows:
          step.send_windows && step.send_windows.length > 0
            ? compileSendWindows(step.send_windows)
            : null,
      };
    case "delay":
      return {
        type: "delay",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        delayFor: step.settings.delay_for,
        delayUntilFieldPath: step.settings.delay_until_field_path,
      };
    case "update_data":
      return {
        type: "update_data",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        data: compileTemplate(liquid, step.settings.data, `${field}.settings.data`, issues),
      };
    case "branch":
      return {
        type: "branch",
        index,
        ref: step.ref,
        next,
        conditions: null,
        arms: step.branches.map((branch) => ({
          name: branch.name,
          conditions: compileGroup(branch.conditions),
          target: END,
          terminates: branch.terminates === true,
        })),
      };
    case "batch":
      return {
        type: "batch",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        settings: step.settings,
        ...compileKey(liquid, step.settings.batch_key, `${field}.settings.batch_key`, issues),
      };
    case "throttle":
      return {
        type: "throttle",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        settings: step.settings,
        ...compileKey(liquid, step.settings.throttle_key, `${field}.settings.throttle_key`, issues),
      };
    case "http_fetch":
      return {
        type: "http_fetch",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        request: compileTemplate(liquid, step.settings, `${field}.settings`, issues),
      };
    case "trigger_workflow":
      return {
        type: "trigger_workflow",
        index,
        ref: step.ref,
        next,
        conditions: compileGroup(step.conditions),
        settings: compileTemplate(
          liquid,
          { ...TRIGGER_WORKFLOW_DEFAULTS, ...step.settings },
          `${field}.settings`,
          issues,
        ),
      };
  }
}
