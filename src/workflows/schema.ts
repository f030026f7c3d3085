/**
 * The JSON Schema (draft-07) of the workflow definition format: Knock's management-API workflow,
 * which is also a knock-cli `workflow.json` once its file references are resolved.
 *
 * Steps are discriminated by `type` with `if`/`then`, never `oneOf`, so a validator reports the
 * errors of the one step type that was meant instead of every alternative's.
 *
 * @module
 */
import { deepFreeze } from "../_internal/merge.js";
import type { ConditionOperator } from "../conditions/types.js";
import type { ChannelType, Duration, SendWindow, StepType } from "./types.js";

/**
 * Lists a union's members, in order, with the compiler checking that none is missing or extra:
 * `members<"a" | "b">({ a: true, b: true })`.
 */
function members<TUnion extends string>(set: Record<TUnion, true>): TUnion[] {
  return Object.keys(set) as TUnion[];
}

/** Every step type a workflow may use, in the order error messages list them. */
export const STEP_TYPES: readonly StepType[] = Object.freeze(
  members<StepType>({
    channel: true,
    delay: true,
    batch: true,
    throttle: true,
    branch: true,
    http_fetch: true,
    trigger_workflow: true,
    update_data: true,
  }),
);

const CONDITION_OPERATORS_IN_SCHEMA = members<ConditionOperator>({
  equal_to: true,
  not_equal_to: true,
  greater_than: true,
  greater_than_or_equal_to: true,
  less_than: true,
  less_than_or_equal_to: true,
  contains: true,
  not_contains: true,
  contains_all: true,
  not_contains_all: true,
  empty: true,
  not_empty: true,
  exists: true,
  not_exists: true,
  is_timestamp: true,
  is_not_timestamp: true,
  is_timestamp_before: true,
  is_timestamp_on_or_after: true,
  is_timestamp_between: true,
  is_timestamp_before_now: true,
  is_timestamp_on_or_after_now: true,
  is_timestamp_before_date: true,
  is_timestamp_on_or_after_date: true,
  is_between: true,
  is_in_random_cohort: true,
});

const DURATION_UNITS = members<Duration["unit"]>({
  seconds: true,
  minutes: true,
  hours: true,
  days: true,
  weeks: true,
  months: true,
});

const CHANNEL_TYPES = members<ChannelType>({
  email: true,
  sms: true,
  push: true,
  chat: true,
  in_app_feed: true,
  http: true,
});

const DAYS = members<SendWindow["day"]>({
  monday: true,
  tuesday: true,
  wednesday: true,
  thursday: true,
  friday: true,
  saturday: true,
  sunday: true,
});

const HTTP_METHODS = ["get", "post", "put", "patch", "delete"] as const;

/** `a-z`, `0-9`, `_` and `-`: a workflow key. */
export const WORKFLOW_KEY_PATTERN = "^[a-z0-9_-]+$";
/** Letters, digits, `_` and `-`: a step ref. */
export const STEP_REF_PATTERN = "^[a-zA-Z0-9_-]+$";
/** `HH:MM` or `HH:MM:SS[.ffffff]`, 24-hour clock (`24:00` is the end of the day): a send window bound. */
export const TIME_OF_DAY_PATTERN =
  "^(([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?|24:00(:00(\\.0{1,6})?)?)$";

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/definitions/${name}` });
const string = (extra: Schema = {}): Schema => ({ type: "string", ...extra });
const stringList: Schema = { type: "array", items: { type: "string" } };

/** The fields every step may carry; `type` and `ref` are checked by the `step` definition. */
const STEP_BASE_PROPERTIES: Schema = {
  type: true,
  ref: true,
  name: string({ maxLength: 255 }),
  description: string(),
  conditions: ref("nullable_condition_group"),
};

function stepSchema(
  type: StepType,
  description: string,
  properties: Schema,
  required: string[],
  options: { conditions?: boolean } = {},
): Schema {
  const base = { ...STEP_BASE_PROPERTIES };
  if (options.conditions === false) delete base.conditions;
  return {
    description,
    type: "object",
    required,
    properties: { ...base, ...properties, type: { const: type } },
    additionalProperties: false,
  };
}

/** Settings objects: closed, so a misspelt setting is reported instead of ignored. */
function settingsSchema(properties: Schema, extra: Schema = {}): Schema {
  return { type: "object", properties, additionalProperties: false, ...extra };
}

/** At least one of `names` must be present (errors are collapsed into one by the validator). */
function atLeastOne(...names: string[]): Schema {
  return { anyOf: names.map((name) => ({ required: [name] })) };
}

const conditionGroupBody: Schema = {
  properties: {
    all: { type: "array", items: ref("condition_item") },
    any: { type: "array", items: ref("condition_item") },
  },
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
};

const keyValueList: Schema = {
  type: "array",
  items: {
    type: "object",
    required: ["key", "value"],
    properties: { key: string(), value: string() },
    additionalProperties: false,
  },
};

const definitions: Schema = {
  duration: {
    description: "A span of time.",
    type: "object",
    required: ["unit", "value"],
    properties: {
      unit: { enum: [...DURATION_UNITS] },
      value: { type: "integer", minimum: 1 },
    },
    additionalProperties: false,
  },
  condition: {
    description: "One condition: `variable` compared with `argument` by `operator`.",
    type: "object",
    required: ["variable", "operator"],
    properties: {
      variable: string({ minLength: 1 }),
      operator: { enum: [...CONDITION_OPERATORS_IN_SCHEMA] },
      argument: true,
    },
    additionalProperties: false,
  },
  condition_item: {
    description: "A condition, or a nested `{ all }` / `{ any }` group.",
    if: { type: "object", anyOf: [{ required: ["all"] }, { required: ["any"] }] },
    // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword.
    then: ref("condition_group"),
    else: ref("condition"),
  },
  condition_group: {
    description: "`{ all: [...] }` (every item holds) or `{ any: [...] }` (one item holds).",
    type: "object",
    ...conditionGroupBody,
  },
  nullable_condition_group: {
    description: "A condition group, or null for none.",
    type: ["object", "null"],
    ...conditionGroupBody,
  },
  send_window: {
    description: "One day's sending rule, in the recipient's time zone.",
    type: "object",
    required: ["day", "type"],
    properties: {
      day: { enum: [...DAYS] },
      type: { enum: ["send", "do_not_send"] },
      from: string({ pattern: TIME_OF_DAY_PATTERN }),
      until: string({ pattern: TIME_OF_DAY_PATTERN }),
    },
    additionalProperties: false,
  },
  branch: {
    description: "One arm of a branch step. The last arm, with `conditions: null`, is the default.",
    type: "object",
    required: ["name", "steps"],
    properties: {
      name: string({ maxLength: 255 }),
      conditions: ref("nullable_condition_group"),
      steps: { type: "array", items: ref("step") },
      terminates: { type: "boolean" },
    },
    additionalProperties: false,
  },
  step: {
    description: "A workflow step; `type` selects the fields it takes.",
    type: "object",
    required: ["type", "ref"],
    properties: {
      type: { enum: [...STEP_TYPES] },
      ref: string({ minLength: 1, maxLength: 255, pattern: STEP_REF_PATTERN }),
    },
    allOf: STEP_TYPES.map((type) => ({
      if: { properties: { type: { const: type } }, required: ["type"] },
      // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword.
      then: ref(`${type}_step`),
    })),
  },
  channel_step: stepSchema(
    "channel",
    "Sends one message through the channel named by `channel_key`.",
    {
      channel_key: string({ minLength: 1 }),
      channel_type: { enum: [...CHANNEL_TYPES] },
      template: { type: "object" },
      send_windows: { type: "array", items: ref("send_window") },
      channel_overrides: { type: "object" },
    },
    ["channel_key", "template"],
  ),
  delay_step: stepSchema(
    "delay",
    "Waits for `delay_for`, or until the time at `delay_until_field_path`.",
    {
      settings: settingsSchema(
        { delay_for: ref("duration"), delay_until_field_path: string({ minLength: 1 }) },
        atLeastOne("delay_for", "delay_until_field_path"),
      ),
    },
    ["settings"],
  ),
  batch_step: stepSchema(
    "batch",
    "Collects triggers for a window, then continues once with all of them.",
    {
      settings: settingsSchema(
        {
          batch_key: string(),
          batch_window: ref("duration"),
          batch_until_field_path: string({ minLength: 1 }),
          batch_window_type: { enum: ["fixed", "sliding"] },
          batch_window_extension_limit: ref("duration"),
          batch_items_max_limit: { type: "integer", minimum: 2, maximum: 1000 },
          batch_order: { enum: ["asc", "desc"] },
          batch_items_render_limit: { type: "integer", minimum: 1, maximum: 100 },
          batch_execution_mode: { enum: ["accumulate", "flush_leading"] },
          workflow_version_mode: { enum: ["latest", "pinned"] },
        },
        atLeastOne("batch_window", "batch_until_field_path"),
      ),
    },
    ["settings"],
  ),
  throttle_step: stepSchema(
    "throttle",
    "Lets at most `throttle_limit` runs through per window; the others stop.",
    {
      settings: settingsSchema(
        {
          throttle_window: ref("duration"),
          throttle_window_field_path: string({ minLength: 1 }),
          throttle_limit: { type: "integer", minimum: 1 },
          throttle_key: string(),
        },
        atLeastOne("throttle_window", "throttle_window_field_path"),
      ),
    },
    ["settings"],
  ),
  branch_step: stepSchema(
    "branch",
    "Runs the first branch whose conditions hold, else the last (default) branch.",
    { branches: { type: "array", minItems: 1, maxItems: 10, items: ref("branch") } },
    ["branches"],
    { conditions: false },
  ),
  http_fetch_step: stepSchema(
    "http_fetch",
    "Calls an HTTP endpoint and merges its JSON response into `data`.",
    {
      settings: settingsSchema(
        {
          url: string({ minLength: 1 }),
          method: { enum: [...HTTP_METHODS, ...HTTP_METHODS.map((m) => m.toUpperCase())] },
          headers: keyValueList,
          query_params: keyValueList,
          body: string(),
        },
        { required: ["url"] },
      ),
    },
    ["settings"],
  ),
  trigger_workflow_step: stepSchema(
    "trigger_workflow",
    "Triggers another workflow; every setting is a Liquid template.",
    {
      settings: settingsSchema(
        {
          workflow_key: string({ minLength: 1 }),
          recipients: string(),
          actor: string(),
          tenant: string(),
          data: string(),
          cancellation_key: string(),
        },
        { required: ["workflow_key"] },
      ),
    },
    ["settings"],
  ),
  update_data_step: stepSchema(
    "update_data",
    "Merges values (an object, or a Liquid template rendering a JSON object) into `data`.",
    {
      settings: settingsSchema({ data: { type: ["object", "string"] } }, { required: ["data"] }),
    },
    ["settings"],
  ),
};

/**
 * The JSON Schema (draft-07) of a workflow definition as `workflows.upsert` takes it (frozen).
 *
 * Besides the definition's own fields it admits what a stored workflow or a knock-cli
 * `workflow.json` carries (`__readonly`, `$schema`, `id`, `sha`, `version`, `valid`,
 * `inserted_at`, `updated_at`), so a workflow read back can be upserted again. Steps and their
 * settings are closed: an unknown (e.g. misspelt) field is an error. What a schema cannot say
 * (unique refs, the default branch, nesting depth, a compilable trigger data schema) is checked
 * by `validateWorkflow`.
 */
export const workflowJsonSchema: Readonly<Record<string, unknown>> = deepFreeze({
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "crier workflow definition",
  type: "object",
  required: ["key", "steps"],
  properties: {
    key: string({ minLength: 3, maxLength: 255, pattern: WORKFLOW_KEY_PATTERN }),
    name: string({ maxLength: 255 }),
    description: string({ maxLength: 280 }),
    categories: stringList,
    tags: stringList,
    active: { type: "boolean" },
    conditions: ref("nullable_condition_group"),
    settings: settingsSchema({
      is_commercial: { type: "boolean" },
      override_preferences: { type: "boolean" },
    }),
    trigger_data_json_schema: { type: ["object", "null"] },
    trigger_frequency: {
      enum: ["every_trigger", "once_per_recipient", "once_per_recipient_per_tenant"],
    },
    steps: { type: "array", items: ref("step") },
    // Carried by stored workflows and knock-cli files; accepted and ignored.
    __readonly: { type: "object" },
    $schema: string(),
    id: true,
    sha: string(),
    version: { type: "integer" },
    valid: { type: "boolean" },
    inserted_at: string(),
    updated_at: string(),
  },
  additionalProperties: false,
  definitions,
});
