/**
 * The errors crier throws. Every one extends {@link CrierError} and carries a string `code`, and
 * its message says what was expected, what was received and how to fix it.
 *
 * @module
 */

/** The codes of crier's fixed error classes. */
export type CrierErrorCode =
  | "invalid_params"
  | "workflow_missing"
  | "workflow_inactive"
  | "not_found"
  | "idempotency_conflict"
  | "engine_closed"
  | "adapter_error";

/** One problem found while validating input: which field, what is wrong, and the kind of check. */
export interface ValidationIssue {
  /** A dot path to the field, e.g. `data.order.id` or `steps[2].channel_key`. */
  field: string;
  /** What is wrong with it, in words a user can act on. */
  message: string;
  /** The kind of check that failed (`required`, `type`, `format`, `enum`, …). */
  type: string;
  /**
   * The file the problem is in, when the input was read from files (`loadKnockWorkflows`): a path
   * such as `workflows/digest/workflow.json`. Messages then read `file: field: message`.
   */
  file?: string;
}

/** The base class of every error crier throws. */
export class CrierError extends Error {
  override name = "CrierError";
  /** A stable, machine-readable code. */
  readonly code: CrierErrorCode;

  constructor(code: CrierErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Input that does not have the expected shape. `errors` lists every problem found. */
export class InvalidParamsError extends CrierError {
  override name = "InvalidParamsError";
  /** Every problem found, each naming its field. */
  readonly errors: ValidationIssue[];

  constructor(message: string, errors: ValidationIssue[] = [], options?: ErrorOptions) {
    super("invalid_params", withIssues(message, errors), options);
    this.errors = errors;
  }
}

/** A trigger, cancel or schedule named a workflow key that is not registered. */
export class WorkflowNotFoundError extends CrierError {
  override name = "WorkflowNotFoundError";
  /** The key that was asked for. */
  readonly workflow: string;

  constructor(workflow: string) {
    super(
      "workflow_missing",
      `Expected a registered workflow, received the unknown key "${workflow}". ` +
        "Register it first with engine.workflows.upsert(definition) or the `workflows` engine option.",
    );
    this.workflow = workflow;
  }
}

/** A trigger named a workflow whose `active` flag is false: nothing was enqueued. */
export class WorkflowInactiveError extends CrierError {
  override name = "WorkflowInactiveError";
  /** The inactive workflow's key. */
  readonly workflow: string;

  constructor(workflow: string) {
    super(
      "workflow_inactive",
      `Expected an active workflow, but "${workflow}" is inactive, so nothing was triggered. ` +
        `Activate it with engine.workflows.setActive("${workflow}", true).`,
    );
    this.workflow = workflow;
  }
}

/** A lookup by id found nothing. */
export class NotFoundError extends CrierError {
  override name = "NotFoundError";
  /** What kind of thing was looked up (`user`, `object`, `tenant`, `message`, …). */
  readonly resource: string;
  /** The id that was looked up. */
  readonly id: string;

  constructor(resource: string, id: string, hint?: string) {
    super(
      "not_found",
      `Expected an existing ${resource}, but none has the id "${id}".${hint ? ` ${hint}` : ""}`,
    );
    this.resource = resource;
    this.id = id;
  }
}

/** The same idempotency key was used within 24 hours with different parameters. */
export class IdempotencyConflictError extends CrierError {
  override name = "IdempotencyConflictError";
  /** The reused key. */
  readonly idempotencyKey: string;

  constructor(idempotencyKey: string) {
    super(
      "idempotency_conflict",
      `Expected the same parameters for a reused idempotency key, but "${idempotencyKey}" was first ` +
        "used within the last 24 hours with different ones. Use a new key for a different request.",
    );
    this.idempotencyKey = idempotencyKey;
  }
}

/** A call that would change state reached an engine after `close()`: nothing was stored. */
export class EngineClosedError extends CrierError {
  override name = "EngineClosedError";
  /** What was called (`workflows.trigger`, `workflows.cancel`). */
  readonly operation: string;

  constructor(operation: string) {
    super(
      "engine_closed",
      `Expected an open engine for ${operation}, but close() was already called on it, so nothing ` +
        "was stored or enqueued. Create a new engine (on the same store and queue adapters to " +
        "pick up durable work) and call it there.",
    );
    this.operation = operation;
  }
}

function withIssues(message: string, errors: ValidationIssue[]): string {
  if (errors.length === 0) return message;
  const shown = errors
    .slice(0, 5)
    .map((e) => [e.file, e.field, e.message].filter((part) => part).join(": "));
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : "";
  return `${message} ${shown.join("; ")}${more}`;
}
