/**
 * @internal Message events: every `message.*` payload carries the message and the run fields
 * (`workflow`, `workflow_run_id`, `workflow_recipient_run_id`, `recipient`, `tenant`).
 */
import type { EngineContext } from "../engine/context.js";
import type { MessageEventName } from "../engine/events.js";
import type { Message } from "./types.js";

/** @internal Emits a message event with the run fields every payload carries. */
export function emitMessage(
  ctx: EngineContext,
  event: MessageEventName,
  message: Message,
  error?: string,
): void {
  if (!ctx.emitter.has(event)) return;
  ctx.emitter.emit(event, {
    workflow: message.workflow,
    workflow_run_id: message.source.workflow_run_id,
    workflow_recipient_run_id: message.source.workflow_recipient_run_id,
    recipient: message.recipient,
    tenant: message.tenant,
    message,
    ...(error === undefined ? {} : { error }),
  });
}
