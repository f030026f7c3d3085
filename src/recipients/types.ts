/**
 * Recipients: users, objects and tenants, and the subscriptions between them.
 *
 * @module
 */
import type { PreferenceSetRequest } from "../preferences/types.js";

/** A user as crier returns it: its properties at the top level. */
export interface User {
  __typename: "User";
  id: string;
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
  avatar?: string | null;
  locale?: string | null;
  timezone?: string | null;
  created_at: string | null;
  updated_at: string;
  [property: string]: unknown;
}

/** An object (a project, a document, a channel…) as crier returns it. */
export interface RecipientObject {
  __typename: "Object";
  id: string;
  collection: string;
  properties: Record<string, unknown>;
  created_at: string | null;
  updated_at: string;
}

/** A tenant: an object in the `$tenants` collection with settings. */
export interface Tenant {
  __typename: "Tenant";
  id: string;
  name?: string | null;
  settings?: {
    branding?: Record<string, unknown> | null;
    preference_set?: Record<string, unknown> | null;
  } | null;
  created_at: string | null;
  updated_at: string;
  [property: string]: unknown;
}

/** A reference to an object recipient. */
export interface ObjectReference {
  id: string;
  collection: string;
}

/** A reference to a recipient: a user id or an object reference. */
export type RecipientReference = string | ObjectReference;

/**
 * A recipient reference as calls accept it. Knock's client types the object form's `id` and
 * `collection` as optional; crier needs both, and rejects a reference without them with
 * InvalidParamsError.
 */
export type RecipientReferenceInput = string | { id?: string; collection?: string };

/**
 * Channel data given inline, by channel key: each value is the channel's data (`{ tokens }`,
 * Slack `{ connections }`…), or `{ data: { … } }` as Knock's API also writes it.
 */
export type InlineChannelData = Record<string, object>;

/** Preference sets given inline, by set id (`default`, or a tenant id). */
export type InlinePreferences = Record<string, PreferenceSetRequest | Record<string, unknown>>;

/** A user identified inline: its id plus properties to merge. */
export interface InlineUserRequest {
  id: string;
  channel_data?: InlineChannelData | null;
  preferences?: InlinePreferences | null;
  /**
   * On a trigger: data merged over the trigger's `data` for this recipient's run only (top-level
   * keys replace; an object's subscribers get the trigger's `data`). Never stored.
   */
  $trigger_data?: Record<string, unknown> | null;
  [property: string]: unknown;
}

/** An object identified inline: its collection and id plus properties to merge. */
export interface InlineObjectRequest {
  id: string;
  collection: string;
  channel_data?: InlineChannelData | null;
  preferences?: InlinePreferences | null;
  /**
   * On a trigger: data merged over the trigger's `data` for this recipient's run only (top-level
   * keys replace; an object's subscribers get the trigger's `data`). Never stored.
   */
  $trigger_data?: Record<string, unknown> | null;
  [property: string]: unknown;
}

/** Anything a trigger accepts as a recipient or actor. */
export type RecipientRequest = string | ObjectReference | InlineUserRequest | InlineObjectRequest;

/** Properties given to `users.update`. */
export interface UserProperties {
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
  avatar?: string | null;
  locale?: string | null;
  timezone?: string | null;
  created_at?: string | null;
  channel_data?: InlineChannelData | null;
  preferences?: InlinePreferences | null;
  [property: string]: unknown;
}

/** A tenant as given to `tenants.set` or inline on a trigger. */
export interface TenantRequest {
  id: string;
  name?: string | null;
  settings?: {
    branding?: Record<string, unknown> | object | null;
    preference_set?: PreferenceSetRequest | Record<string, unknown> | null;
  } | null;
  [property: string]: unknown;
}

/** A recipient's subscription to an object. */
export interface Subscription {
  __typename: "Subscription";
  /** The object subscribed to. */
  object: ObjectReference;
  /** The subscriber: a user id or an object reference. */
  recipient: RecipientReference;
  /** The subscription's own properties, in scope as `recipient.subscription`. */
  properties: Record<string, unknown> | null;
  inserted_at: string;
  updated_at: string;
}

/** Channel data of a recipient for one channel. */
export interface ChannelData {
  __typename: "ChannelData";
  channel_id: string;
  data: Record<string, unknown>;
}
