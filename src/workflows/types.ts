/**
 * The workflow definition format: Knock's management-API workflow shape.
 *
 * @module
 */
import type { ConditionGroup } from "../conditions/types.js";

/** A span of time, as Knock writes it. */
export interface Duration {
  unit: "seconds" | "minutes" | "hours" | "days" | "weeks" | "months";
  value: number;
}

/** The channel types a channel step may name. */
export type ChannelType = "email" | "sms" | "push" | "chat" | "in_app_feed" | "http";

/** @internal Every {@link ChannelType}, for validation. */
export const CHANNEL_TYPES: readonly ChannelType[] = Object.freeze([
  "email",
  "sms",
  "push",
  "chat",
  "in_app_feed",
  "http",
]);

/** What every step has. */
export interface StepBase {
  /** Unique within the workflow, nested branch steps included. */
  ref: string;
  name?: string;
  description?: string;
  /** When false the step is skipped (reason `conditions`) and the run goes on. */
  conditions?: ConditionGroup | null;
}

/** One day's rule of a channel step's send window (recipient time). */
export interface SendWindow {
  day: "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday";
  type: "send" | "do_not_send";
  /** `HH:MM` local time the window opens. */
  from?: string;
  /** `HH:MM` local time the window closes. */
  until?: string;
}

/** Sends one message through the channel named by `channel_key`. */
export interface ChannelStep extends StepBase {
  type: "channel";
  channel_key: string;
  /** The channel's type as Knock's definitions carry it; the configured channel's type wins. */
  channel_type?: ChannelType;
  /** Liquid templates, one per field: e.g. `{ subject, html_body }` for email. */
  template: Record<string, unknown>;
  send_windows?: SendWindow[];
  channel_overrides?: Record<string, unknown>;
}

/** Waits before going on. */
export interface DelayStep extends StepBase {
  type: "delay";
  settings: {
    delay_for?: Duration;
    delay_until_field_path?: string;
  };
}

/** Collects triggers for a window, then continues once with all of them. */
export interface BatchStep extends StepBase {
  type: "batch";
  settings: {
    batch_key?: string;
    batch_window?: Duration;
    batch_until_field_path?: string;
    batch_window_type?: "fixed" | "sliding";
    batch_window_extension_limit?: Duration;
    batch_items_max_limit?: number;
    batch_order?: "asc" | "desc";
    batch_items_render_limit?: number;
    batch_execution_mode?: "accumulate" | "flush_leading";
    workflow_version_mode?: "latest" | "pinned";
  };
}

/** Lets at most `throttle_limit` runs per window through; the others stop. */
export interface ThrottleStep extends StepBase {
  type: "throttle";
  settings: {
    throttle_window?: Duration;
    throttle_window_field_path?: string;
    throttle_limit?: number;
    throttle_key?: string;
  };
}

/** One arm of a branch step. The last arm, with `conditions: null` (or none), is the default. */
export interface Branch {
  name: string;
  conditions?: ConditionGroup | null;
  steps: Step[];
  /** When true the run ends after this branch's steps. */
  terminates?: boolean;
}

/** Runs the first branch whose conditions hold, else the default (last) branch. */
export interface BranchStep extends Omit<StepBase, "conditions"> {
  type: "branch";
  branches: Branch[];
}

/** Calls an HTTP endpoint and merges its JSON response into `data`. */
export interface HttpFetchStep extends StepBase {
  type: "http_fetch";
  settings: {
    url: string;
    method?:
      | "get"
      | "post"
      | "put"
      | "patch"
      | "delete"
      | "GET"
      | "POST"
      | "PUT"
      | "PATCH"
      | "DELETE";
    headers?: Array<{ key: string; value: string }>;
    query_params?: Array<{ key: string; value: string }>;
    body?: string;
  };
}

/** Triggers another workflow (every setting a Liquid template). */
export interface TriggerWorkflowStep extends StepBase {
  type: "trigger_workflow";
  settings: {
    workflow_key: string;
    recipients?: string;
    actor?: string;
    tenant?: string;
    data?: string;
    cancellation_key?: string;
  };
}

/** Merges values into the run's `data`. */
export interface UpdateDataStep extends StepBase {
  type: "update_data";
  settings: { data: Record<string, unknown> | string };
}

/** Any step of a workflow. */
export type Step =
  | ChannelStep
  | DelayStep
  | BatchStep
  | ThrottleStep
  | BranchStep
  | HttpFetchStep
  | TriggerWorkflowStep
  | UpdateDataStep;

/** The step type names. */
export type StepType = Step["type"];

/** A workflow definition as given to `workflows.upsert`. */
export interface WorkflowInput {
  /** 3–255 characters of `a-z`, `0-9`, `_` and `-` (as Knock's). */
  key: string;
  name?: string;
  description?: string;
  categories?: string[];
  tags?: string[];
  /** Defaults to true. */
  active?: boolean;
  /** Trigger conditions: evaluated per recipient; false ends that recipient's run. */
  conditions?: ConditionGroup | null;
  settings?: { is_commercial?: boolean; override_preferences?: boolean };
  /** A JSON Schema that trigger `data` must satisfy. */
  trigger_data_json_schema?: Record<string, unknown> | null;
  trigger_frequency?: "every_trigger" | "once_per_recipient" | "once_per_recipient_per_tenant";
  steps: Step[];
}

/** A stored workflow: the definition plus what crier adds. */
export interface Workflow extends WorkflowInput {
  active: boolean;
  /** Increases by one each time the definition changes. */
  version: number;
  /** A hash of the definition. */
  sha: string;
  /** Always true for a stored workflow: invalid ones are rejected. */
  valid: true;
  inserted_at: string;
  updated_at: string;
}
