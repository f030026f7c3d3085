/**
 * `defineWorkflow`: a typed identity function for workflow definitions, and the types that carry
 * what a definition says (its trigger data, its step refs) to the engine.
 *
 * @module
 */
import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import type { Step, WorkflowInput } from "./types.js";

/** The key of the type-only marker that carries a defined workflow's trigger data type. */
declare const triggerDataType: unique symbol;

/** `T` with every `readonly` removed, deeply (what `as const` added). */
export type Writable<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { -readonly [K in keyof T]: Writable<T[K]> }
    : T;

/** `T` with every property and array readonly, deeply (what `as const` produces). */
export type ReadonlyDeep<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { readonly [K in keyof T]: ReadonlyDeep<T[K]> }
    : T;

/**
 * A workflow definition as {@link defineWorkflow} takes it: a {@link WorkflowInput}, written
 * inline or `as const`.
 */
export type WorkflowDefinition = ReadonlyDeep<WorkflowInput>;

/**
 * A workflow definition carrying the type of the `data` its triggers take, in a type-only field
 * (a symbol key that no value ever has).
 */
export type DefinedWorkflow<TDefinition, TData> = TDefinition & {
  /** Type-only: the trigger data's type. Never present at run time. */
  readonly [triggerDataType]?: TData;
};

/** Any data a workflow without a (literal) trigger data schema takes. */
export type AnyTriggerData = Record<string, unknown>;

/**
 * The type of the data a trigger of this workflow takes: the type `defineWorkflow<TData>()` named,
 * else the type of its literal `trigger_data_json_schema` (json-schema-to-ts `FromSchema`), else
 * {@link AnyTriggerData}.
 *
 * @example
 * ```ts
 * type Data = TriggerData<typeof welcome>; // { plan: "free" | "pro"; [x: string]: unknown }
 * ```
 */
export type TriggerData<TWorkflow> = typeof triggerDataType extends keyof TWorkflow
  ? TWorkflow extends { readonly [triggerDataType]?: infer TData }
    ? Exclude<TData, undefined>
    : AnyTriggerData
  : TWorkflow extends { readonly trigger_data_json_schema?: infer TSchema }
    ? SchemaData<Exclude<TSchema, undefined | null>>
    : AnyTriggerData;

/** The data type a literal JSON Schema describes; {@link AnyTriggerData} for a wide or non-object one. */
type SchemaData<TSchema> = [TSchema] extends [never]
  ? AnyTriggerData
  : Record<string, unknown> extends TSchema
    ? AnyTriggerData
    : TSchema extends JSONSchema
      ? FromSchema<TSchema> extends infer TData
        ? TData extends Record<string, unknown>
          ? TData
          : AnyTriggerData
        : AnyTriggerData
      : AnyTriggerData;

/** The refs of a list of steps, nested branch steps included. */
type RefsOfSteps<TSteps> = TSteps extends readonly (infer TStep)[]
  ? TStep extends { readonly ref: infer TRef extends string }
    ?
        | TRef
        | (TStep extends { readonly branches: readonly (infer TBranch)[] }
            ? TBranch extends { readonly steps: infer TInner }
              ? RefsOfSteps<TInner>
              : never
            : never)
    : never
  : never;

/**
 * The refs of a workflow's steps, nested branch steps included: what `refs.<ref>` in a step
 * condition may name.
 *
 * @example
 * ```ts
 * type Refs = StepRefs<typeof digest>; // "batch_1" | "in_app_1" | "email_1"
 * ```
 */
export type StepRefs<TWorkflow> = TWorkflow extends { readonly steps: infer TSteps }
  ? RefsOfSteps<TSteps>
  : never;

/** The fields of a message that `refs.<ref>.<field>` reads. */
export type RefField = "delivery_status" | "engagement_status";

/** The condition variables that read a step's messages: `refs.<ref>.delivery_status` and `…engagement_status`. */
export type RefVariable<TRef extends string> = `refs.${TRef}.${RefField}`;

/**
 * What a wrong `refs` variable is intersected with: no string has this field, so the variable is
 * a compile error whose message shows the variables allowed there.
 */
export interface UnknownRefVariable<TAllowed extends string> {
  /** The `refs` variables this condition may read (none in trigger conditions). */
  readonly "expected one of": [TAllowed] extends [never] ? "no refs variable here" : TAllowed;
}

/** A condition variable as checked: a `refs.` variable must name one of `TRefs` and a {@link RefField}. */
type CheckedVariable<
  TVariable,
  TRefs extends string,
> = TVariable extends `refs.${infer TRef}.${infer TField}`
  ? TRef extends TRefs
    ? TField extends RefField
      ? TVariable
      : UnknownRefVariable<RefVariable<TRef>>
    : UnknownRefVariable<RefVariable<TRefs>>
  : TVariable extends `refs.${string}`
    ? UnknownRefVariable<RefVariable<TRefs>>
    : TVariable;

type CheckedCondition<TCondition, TRefs extends string> = {
  [K in keyof TCondition]: K extends "variable"
    ? CheckedVariable<TCondition[K], TRefs>
    : TCondition[K];
};

/** Only literal lists (tuples, as `const` inference makes them) are checked; a wide `T[]` is left as it is. */
type IsTuple<T> = T extends readonly unknown[]
  ? number extends T["length"]
    ? false
    : true
  : false;

type CheckedItems<TItems, TRefs extends string> =
  IsTuple<TItems> extends true
    ? {
        [I in keyof TItems]: TItems[I] extends { readonly all: unknown } | { readonly any: unknown }
          ? CheckedGroup<TItems[I], TRefs>
          : CheckedCondition<TItems[I], TRefs>;
      }
    : TItems;

type CheckedGroup<TGroup, TRefs extends string> = TGroup extends object
  ? { [K in keyof TGroup]: K extends "all" | "any" ? CheckedItems<TGroup[K], TRefs> : TGroup[K] }
  : TGroup;

type CheckedBranch<TBranch, TRefs extends string> = {
  [K in keyof TBranch]: K extends "conditions"
    ? CheckedGroup<TBranch[K], TRefs>
    : K extends "steps"
      ? CheckedSteps<TBranch[K], TRefs>
      : TBranch[K];
};

/**
 * What the value of a field that does not exist is intersected with: a compile error at that
 * field whose message lists the fields that do.
 */
export interface UnknownField<TKnown extends string> {
  /** The fields allowed here. */
  readonly "no such field; expected one of": TKnown;
}

/** The definition of the step type `TStep` names (`never` for an unknown type: the constraint reports it). */
type StepOfType<TStep> = TStep extends { readonly type: infer TType }
  ? Extract<Step, { type: TType }>
  : never;

/** `TObject` with each field outside `TKnown` meeting {@link UnknownField}. */
type KnownFields<TObject, TKnown extends string> = [TKnown] extends [never]
  ? TObject
  : { [K in keyof TObject]: K extends TKnown ? TObject[K] : TObject[K] & UnknownField<TKnown> };

type SettingsFields<TStep> =
  StepOfType<TStep> extends { settings: infer TSettings } ? keyof TSettings & string : never;

type CheckedStep<TStep, TRefs extends string> = {
  [K in keyof TStep]: K extends "conditions"
    ? CheckedGroup<TStep[K], TRefs>
    : K extends "branches"
      ? IsTuple<TStep[K]> extends true
        ? { [B in keyof TStep[K]]: CheckedBranch<TStep[K][B], TRefs> }
        : TStep[K]
      : K extends "settings"
        ? KnownFields<TStep[K], SettingsFields<TStep>>
        : K extends keyof StepOfType<TStep>
          ? TStep[K]
          : [StepOfType<TStep>] extends [never]
            ? TStep[K]
            : TStep[K] & UnknownField<keyof StepOfType<TStep> & string>;
};

type CheckedSteps<TSteps, TRefs extends string> =
  IsTuple<TSteps> extends true ? { [I in keyof TSteps]: CheckedStep<TSteps[I], TRefs> } : TSteps;

/**
 * `TDefinition` with each condition variable that reads `refs` checked: in a step or branch
 * condition it must be `refs.<ref>.delivery_status` or `refs.<ref>.engagement_status` for one of
 * the workflow's step refs; trigger conditions may read no `refs` (Knock evaluates those in step
 * conditions only). A definition that passes is its own type; in one that does not, the offending
 * variable meets {@link UnknownRefVariable}, so the compile error is at that variable and lists the
 * variables allowed.
 */
export type CheckedRefs<TDefinition> = {
  [K in keyof TDefinition]: K extends "steps"
    ? CheckedSteps<TDefinition[K], StepRefs<TDefinition>>
    : K extends "conditions"
      ? CheckedGroup<TDefinition[K], never>
      : K extends keyof WorkflowInput
        ? TDefinition[K]
        : TDefinition[K] & UnknownField<keyof WorkflowInput & string>;
};

/**
 * Returns `definition` unchanged, typed: literal keys and refs are kept (`const` inference, so
 * `as const` is optional), the trigger data's type is inferred from a literal
 * `trigger_data_json_schema` (or named: `defineWorkflow<TData>()(definition)`), and conditions
 * that read `refs.<ref>` must name a step of the workflow. An engine given the result knows the
 * data each key takes: `createEngine({ workflows: [welcome] }).workflows.trigger("welcome", …)`.
 *
 * @example
 * ```ts
 * const welcome = defineWorkflow({
 *   key: "welcome",
 *   trigger_data_json_schema: {
 *     type: "object",
 *     properties: { plan: { enum: ["free", "pro"] } },
 *     required: ["plan"],
 *   },
 *   steps: [{ ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } }],
 * });
 * const engine = createEngine({ workflows: [welcome] });
 * await engine.workflows.trigger("welcome", { recipients: ["u1"], data: { plan: "pro" } });
 * ```
 */
export function defineWorkflow<const TDefinition extends WorkflowDefinition>(
  definition: TDefinition & CheckedRefs<TDefinition>,
): DefinedWorkflow<Writable<TDefinition>, TriggerData<TDefinition>>;
/**
 * The curried form names the trigger data's type instead of inferring it:
 * `defineWorkflow<{ plan: string }>()(definition)`.
 */
export function defineWorkflow<TData>(): <const TDefinition extends WorkflowDefinition>(
  definition: TDefinition & CheckedRefs<TDefinition>,
) => DefinedWorkflow<Writable<TDefinition>, TData>;
export function defineWorkflow(definition?: WorkflowInput): unknown {
  if (definition === undefined) return (inner: WorkflowInput) => inner;
  return definition;
}
