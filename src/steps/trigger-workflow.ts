/**
 * @internal The trigger_workflow step: triggers another workflow once per parent recipient, every
 * setting a Liquid template (Knock's defaults: this recipient, actor, tenant, data and
 * cancellation key). The trigger's idempotency key derives from the run and the step, so a
 * retried job never triggers twice. An inactive or unknown target skips the step.
 */
import { renderTemplate } from "../channels/templates.js";
import type { TriggerParams } from "../engine/trigger.js";
import { CrierError } from "../errors.js";
import type { TriggerWorkflowInstruction } from "../workflows/compile.js";
import { log, type Outcome, type RunState, scopeOf, skip } from "./run.js";

/** Reads a rendered setting: JSON when it parses, else the text; empty is absent. */
function parseSetting(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim();
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** @internal Runs a trigger_workflow step. */
export async function executeTriggerWorkflow(
  state: RunState,
  instruction: TriggerWorkflowInstruction,
): Promise<Outcome> {
  const { ctx, run } = state;
  const next: Outcome = { kind: "next", next: instruction.next };
  const settings = renderTemplate(ctx.liquid, instruction.settings, scopeOf(state)) as Record<
    string,
    unknown
  >;
  const key = String(settings.workflow_key ?? "").trim();
  const recipients = parseSetting(settings.recipients);
  const list = Array.isArray(recipients)
    ? recipients
    : recipients === undefined
      ? []
      : [recipients];
  if (key.length === 0 || list.length === 0) {
    skip(
      state,
      instruction,
      "invalid_settings",
      `trigger_workflow needs a workflow_key and recipients; rendered workflow_key "${key}" and ${list.length} recipients`,
    );
    return next;
  }
  const actor = parseSetting(settings.actor);
  const tenant = parseSetting(settings.tenant);
  const data = parseSetting(settings.data);
  const cancellationKey = parseSetting(settings.cancellation_key);
  try {
    const result = await ctx.trigger(
      key,
      {
        recipients: list.map((r) =>
          typeof r === "number" ? String(r) : r,
        ) as TriggerParams["recipients"],
        actor: (actor === undefined
          ? null
          : typeof actor === "number"
            ? String(actor)
            : actor) as TriggerParams["actor"],
        tenant: (tenant === undefined
          ? null
          : typeof tenant === "number"
            ? String(tenant)
            : tenant) as TriggerParams["tenant"],
        data: (data && typeof data === "object" && !Array.isArray(data) ? data : {}) as Record<
          string,
          unknown
        >,
        cancellation_key: cancellationKey === undefined ? null : String(cancellationKey),
      },
      { idempotencyKey: `trigger_workflow:${run.id}:${instruction.ref}` },
      { type: "workflow_step", parent_workflow_recipient_run_id: run.id },
    );
    log(state, "workflow_triggered", instruction, {
      workflow: key,
      workflow_run_id: result.workflow_run_id,
    });
  } catch (error) {
    if (
      error instanceof CrierError &&
      (error.code === "workflow_inactive" || error.code === "workflow_missing")
    ) {
      skip(
        state,
        instruction,
        error.code === "workflow_inactive" ? "inactive_workflow" : "invalid_settings",
        error.message,
      );
      return next;
    }
    if (error instanceof CrierError && error.code === "invalid_params") {
      skip(state, instruction, "invalid_settings", error.message);
      return next;
    }
    throw error;
  }
  return next;
}
