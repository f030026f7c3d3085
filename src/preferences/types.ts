/**
 * Preference sets: what a recipient asked to receive, as Knock models it.
 *
 * @module
 */
import type { Condition } from "../conditions/types.js";

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
