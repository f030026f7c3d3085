/**
 * @internal What a run derives from its recipient, actor and tenant: their scopes (as templates and
 * conditions see them) and the recipient's merged preferences. Each is computed once per stored
 * record and kept, keyed by the record: a store hands out one object per version of a record (the
 * memory store's frozen records), so the thousand runs of a recipient's thousand triggers build its
 * view once, and a changed recipient is a new key. The records used lately are kept,
 * {@link VIEWS_KEPT} to twice that (a fan-out to 100,000 subscribers sees each once: keeping
 * all of their views would only hold memory). A record that is not frozen (a database store
 * reads a fresh one each time, which could change) gets a view each time. Views are frozen:
 * runs, templates and providers share them.
 */
import { GenerationalCache } from "../_internal/cache.js";
import type { PreferenceSource } from "../preferences/evaluate.js";
import { preferenceSources, resolvePreferences } from "../preferences/resolve.js";
import type { PreferenceSetInput } from "../preferences/types.js";
import { toScopeRecipient } from "../recipients/identify.js";
import type { StoredRecipient } from "../store/types.js";

/** @internal A recipient's scope with its preferences, and the preference sets they merge. */
export interface RecipientView {
  /** `recipient` as templates and conditions see it, `preferences` included. Frozen. */
  scope: Readonly<Record<string, unknown>>;
  /** The merged preferences. */
  preferences: PreferenceSetInput;
  /** The sets merged, lowest precedence first (for explanations). */
  sources: PreferenceSource[];
}

/** A view and what it was computed with besides its recipient. */
interface KeptView {
  tenant: StoredRecipient | null;
  tenantId: string | null;
  view: RecipientView;
}

/** How many records' views are kept (each kind, per generation: see GenerationalCache). */
const VIEWS_KEPT = 10_000;

/** @internal The views of one engine (its default preferences are part of every view). */
export class Views {
  readonly #defaults: PreferenceSetInput | undefined;
  readonly #recipients = new GenerationalCache<StoredRecipient, KeptView>(VIEWS_KEPT);
  readonly #scopes = new GenerationalCache<StoredRecipient, Readonly<Record<string, unknown>>>(
    VIEWS_KEPT,
  );
  /** What every recipient without a preference set of its own, outside a tenant, shares. */
  #noSets: Pick<RecipientView, "preferences" | "sources"> | undefined;

  constructor(defaults: PreferenceSetInput | undefined) {
    this.#defaults = defaults;
  }

  /**
   * The view of `recipient` (null: not found, then `id` is all its scope has) in a run for
   * `tenantId`, whose tenant record is `tenant`.
   */
  recipient(
    recipient: StoredRecipient | null,
    id: string,
    tenant: StoredRecipient | null,
    tenantId: string | null,
  ): RecipientView {
    // A record that is not frozen may change under the same object: computed each time.
    if (recipient === null || !Object.isFrozen(recipient))
      return this.#compute(recipient, id, tenant, tenantId);
    const kept = this.#recipients.get(recipient);
    if (kept && kept.tenant === tenant && kept.tenantId === tenantId) return kept.view;
    const view = this.#compute(recipient, id, tenant, tenantId);
    this.#recipients.set(recipient, { tenant, tenantId, view });
    return view;
  }

  /** The scope of an actor or tenant record (null: not found, then `{ id }`). */
  scope(stored: StoredRecipient | null, id: string): Readonly<Record<string, unknown>> {
    if (stored === null) return Object.freeze({ id });
    if (!Object.isFrozen(stored)) return Object.freeze(toScopeRecipient(stored));
    let scope = this.#scopes.get(stored);
    if (scope === undefined) {
      scope = Object.freeze(toScopeRecipient(stored));
      this.#scopes.set(stored, scope);
    }
    return scope;
  }

  #compute(
    recipient: StoredRecipient | null,
    id: string,
    tenant: StoredRecipient | null,
    tenantId: string | null,
  ): RecipientView {
    const { preferences, sources } =
      tenantId === null && recipient?.preferences.default === undefined
        ? this.#defaultsOnly()
        : this.#resolve(recipient, tenant, tenantId);
    const scope: Record<string, unknown> = recipient ? toScopeRecipient(recipient) : { id };
    scope.preferences = preferences;
    return { scope: Object.freeze(scope), preferences, sources };
  }

  /** The merge of a recipient with no preference set of its own, outside a tenant: the defaults. */
  #defaultsOnly(): Pick<RecipientView, "preferences" | "sources"> {
    this.#noSets ??= this.#resolve(null, null, null);
    return this.#noSets;
  }

  #resolve(
    recipient: StoredRecipient | null,
    tenant: StoredRecipient | null,
    tenantId: string | null,
  ): Pick<RecipientView, "preferences" | "sources"> {
    const sources = preferenceSources(this.#defaults, recipient, tenant, tenantId);
    return { preferences: resolvePreferences(sources, recipient), sources };
  }
}
