/**
 * Preference sets: what a recipient asked to receive, as Knock models it.
 *
 * @module
 */
import type { Condition, ConditionOperator } from "../conditions/types.js";
import type { ChannelType } from "../workflows/types.js";

/** A channel or channel-type setting: on/off, or on when every condition holds. */
export type ChannelSetting = boolean | { conditions: Condition[] };

/** A workflow or category setting: on/off, or an object with nested channel settings and conditions. */
export type WorkflowPreferenceSetting =
  | boolean
  | {
      channel_types?: Record<string, ChannelSetting>;
      channels?: Record<string, ChannelSetting>;
      conditions?: Condition[];
      /**
       * On an entry of a lower set (the environment default, a tenant's `preference_set`):
       * `"replace"` makes this entry override the recipient's entry for the same key, instead of
       * merging under it. `"merge"` (the default) merges.
       */
      __strategy__?: "replace" | "merge";
    };

/**
 * The body of a preference set, as set and as evaluated.
 *
 * In a lower set (the engine's `defaultPreferences`, a tenant's `settings.preference_set`), an
 * entry with `__strategy__: "replace"` overrides the sets above it for that key: on a workflow or
 * category entry (typed above), or on the top-level `channel_types` / `channels` map itself
 * (`{ channel_types: { __strategy__: "replace", email: false } }`; the map's type has no room for
 * the marker, so TypeScript callers cast that map). Evaluation and `getPreferences` never show
 * the markers.
 */
export interface PreferenceSetInput {
  /** By workflow key. */
  workflows?: Record<string, WorkflowPreferenceSetting> | null;
  /** By category name (case-sensitive). */
  categories?: Record<string, WorkflowPreferenceSetting> | null;
  /** By channel type: `email`, `sms`, `push`, `chat`, `in_app_feed`, `http`. */
  channel_types?: Record<string, ChannelSetting> | null;
  /** By channel key (Knock's channel id). */
  channels?: Record<string, ChannelSetting> | null;
  /** Whether the recipient receives commercial workflows (only in the `default` set). */
  commercial_subscribed?: ChannelSetting | null;
  /** Request-only: `replace` (default for the set calls) or `merge` into the stored set. */
  __persistence_strategy__?: "merge" | "replace";
}

/** A stored preference set, as the API returns it. */
export interface PreferenceSet {
  __typename: "PreferenceSet";
  /** `default`, or a tenant id. */
  id: string;
  workflows: Record<string, WorkflowPreferenceSetting> | null;
  categories: Record<string, WorkflowPreferenceSetting> | null;
  channel_types: Record<string, ChannelSetting> | null;
  channels: Record<string, ChannelSetting> | null;
  commercial_subscribed?: ChannelSetting | null;
}

/**
 * A preference condition as requests may write it: a {@link Condition}, or one typed by Knock's
 * client, whose operators include audience membership (`is_audience_member`,
 * `is_not_audience_member`): crier has no audiences and rejects those with InvalidParamsError.
 */
export interface ConditionRequest {
  variable: string;
  operator: ConditionOperator | "is_audience_member" | "is_not_audience_member";
  argument?: unknown;
}

/** A channel or channel-type setting as requests may write it. */
export type ChannelSettingRequest = boolean | { conditions: ConditionRequest[] };

/** Channel-type settings as requests may write them: by type name, as Knock's client types them. */
export type ChannelTypeSettingsRequest =
  | Record<string, ChannelSettingRequest>
  | Partial<Record<ChannelType, ChannelSettingRequest>>;

/** A workflow or category setting as requests may write it (`null` for an absent field). */
export type WorkflowPreferenceSettingRequest =
  | boolean
  | {
      channel_types?: ChannelTypeSettingsRequest | null;
      channels?: Record<string, ChannelSettingRequest> | null;
      conditions?: ConditionRequest[] | null;
    };

/**
 * A preference set as `setPreferences`, inline `preferences` and a tenant's
 * `settings.preference_set` accept it: a {@link PreferenceSetInput}, or Knock's client's
 * `PreferenceSetRequest` (which types absent nested fields as `null`).
 */
export interface PreferenceSetRequest {
  /** By workflow key. */
  workflows?: Record<string, WorkflowPreferenceSettingRequest> | null;
  /** By category name (case-sensitive). */
  categories?: Record<string, WorkflowPreferenceSettingRequest> | null;
  /** By channel type: `email`, `sms`, `push`, `chat`, `in_app_feed`, `http`. */
  channel_types?: ChannelTypeSettingsRequest | null;
  /** By channel key (Knock's channel id). */
  channels?: Record<string, ChannelSettingRequest> | null;
  /** Whether the recipient receives commercial workflows (only in the `default` set). */
  commercial_subscribed?: ChannelSettingRequest | null;
  /** `replace` (the default of the set calls) or `merge` into the stored set. */
  __persistence_strategy__?: "merge" | "replace";
}
