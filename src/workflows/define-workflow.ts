/**
 * `defineWorkflow`: a typed identity function for workflow definitions.
 *
 * @module
 */
import type { WorkflowInput } from "./types.js";

/**
 * A workflow definition carrying the type of the `data` its triggers take (a phantom field: it
 * exists only for the type checker).
 */
export type DefinedWorkflow<TDefinition extends WorkflowInput, TData> = TDefinition & {
  /** @internal Type-only marker of the trigger data's type. */
  readonly __data?: TData;
};

/**
 * Returns `definition` unchanged, typed: literal keys and refs are kept (`const` inference), and
 * the trigger data's type can be named, so typos in step fields are compile errors.
 *
 * @example
 * ```ts
 * const welcome = defineWorkflow<{ plan: string }>()({
 *   key: "welcome",
 *   steps: [{ ref: "email_1", type: "channel", channel_key: "email", template: { subject: "Hi" } }],
 * });
 * ```
 */
export function defineWorkflow<const TDefinition extends WorkflowInput>(
  definition: TDefinition,
): TDefinition;
export function defineWorkflow<TData>(): <const TDefinition extends WorkflowInput>(
  definition: TDefinition,
) => DefinedWorkflow<TDefinition, TData>;
export function defineWorkflow(definition?: WorkflowInput): unknown {
  if (definition === undefined) return (inner: WorkflowInput) => inner;
  return definition;
}
