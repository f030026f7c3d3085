/**
 * @internal Which preference sets apply to a recipient, and their merge: the view both evaluation
 * and `getPreferences` use.
 */
import type { StoredRecipient } from "../store/types.js";
import { mergeChain, type PreferenceSource } from "./evaluate.js";
import type { PreferenceSet, PreferenceSetInput } from "./types.js";

/**
 * @internal The sets that apply, lowest precedence first (Knock's merge hierarchy):
 * - with a tenant that has a default `preference_set`, or a recipient with a set named after the
 *   tenant: the environment default < the tenant's default < the recipient's tenant set;
 * - otherwise: the environment default < the recipient's set `setId` (default `default`).
 */
export function preferenceSources(
  environment: PreferenceSetInput | undefined,
  recipient: StoredRecipient | null,
  tenant: StoredRecipient | null,
  tenantId: string | null,
  setId = "default",
): PreferenceSource[] {
  const sources: PreferenceSource[] = [{ label: "the environment default", set: environment }];
  if (tenantId) {
    const tenantDefault = tenant?.preferences.default;
    const recipientTenantSet = recipient?.preferences[tenantId];
    if (tenantDefault || recipientTenantSet) {
      sources.push({
        label: `tenant ${tenantId}'s default preference_set`,
        set: tenantDefault as PreferenceSetInput | undefined,
      });
      sources.push({
        label: `set ${tenantId} (tenant ${tenantId})`,
        set: recipientTenantSet as PreferenceSetInput | undefined,
      });
      return sources;
    }
  }
  sources.push({
    label: tenantId ? `set ${setId} (tenant ${tenantId})` : `set ${setId}`,
    set: recipient?.preferences[setId] as PreferenceSetInput | undefined,
  });
  return sources;
}

/**
 * @internal Merges the sources. `commercial_subscribed` lives in the recipient's `default` set and
 * beats the environment and tenant defaults whichever chain applies.
 */
export function resolvePreferences(
  sources: readonly PreferenceSource[],
  recipient: StoredRecipient | null,
): PreferenceSetInput {
  const merged = mergeChain(sources);
  const commercial = recipient?.preferences.default?.commercial_subscribed;
  if (commercial !== undefined && commercial !== null)
    merged.commercial_subscribed = commercial as PreferenceSetInput["commercial_subscribed"];
  return merged;
}

/** @internal A merged or stored set body as the API's `PreferenceSet`. */
export function toPreferenceSet(id: string, set: PreferenceSetInput): PreferenceSet {
  const result: PreferenceSet = {
    __typename: "PreferenceSet",
    id,
    workflows: set.workflows ?? null,
    categories: set.categories ?? null,
    channel_types: set.channel_types ?? null,
    channels: set.channels ?? null,
  };
  if (set.commercial_subscribed !== undefined)
    result.commercial_subscribed = set.commercial_subscribed;
  return result;
}
