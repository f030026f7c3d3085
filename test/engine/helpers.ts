import type { WorkflowInput } from "../../src/index.js";

/** A workflow with one email step whose subject greets the recipient. */
export function emailWorkflow(overrides: Partial<WorkflowInput> = {}): WorkflowInput {
  return {
    key: "welcome",
    name: "Welcome",
    steps: [
      {
        ref: "email_1",
        type: "channel",
        channel_key: "email",
        channel_type: "email",
        template: { subject: "Hello {{ recipient.name }}", html_body: "<p>{{ data.message }}</p>" },
      },
    ],
    ...overrides,
  };
}

/** A workflow with one in-app step. */
export function feedWorkflow(overrides: Partial<WorkflowInput> = {}): WorkflowInput {
  return {
    key: "comment-created",
    steps: [
      {
        ref: "in_app_1",
        type: "channel",
        channel_key: "in-app",
        channel_type: "in_app_feed",
        template: { markdown_body: "{{ actor.name }} commented: {{ data.comment }}" },
      },
    ],
    ...overrides,
  };
}
