/**
 * @internal `users.merge`: Knock's merge of a secondary user into a primary one. The secondary's
 * properties, preference sets and channel data fill what the primary lacks (the primary wins every
 * conflict), its messages become the primary's, and the secondary is deleted.
 *
 * Built from the store's ordinary calls (read, update, list and update messages, delete), so every
 * store supports it. It is not one transaction: each step is safe to repeat, and the secondary is
 * deleted last, so a merge cut short is finished by calling it again.
 */

import { isPlainObject, setOwn } from "../_internal/merge.js";
import { ParamChecker } from "../_internal/params.js";
import { CrierError, NotFoundError } from "../errors.js";
import { type FeedMessage, feedChanged, inFeed } from "../messages/feed.js";
import type { Message } from "../messages/types.js";
import { checkId } from "../recipients/identify.js";
import {
  type RecipientKey,
  type RecipientPatch,
  type StoredRecipient,
  USERS_COLLECTION,
} from "../store/types.js";
import { type EngineContext, updateExistingRecipient } from "./context.js";

/** Parameters of `users.merge`. */
export interface UserMergeParams {
  /** The secondary user: merged into the user the call names, then deleted. */
  from_user_id: string;
}

/** How many messages one round of the move lists and moves. */
const MOVE_PAGE = 100;

/**
 * What of `source` the deep merge of `source` under `target` adds to `target`: the keys `target`
 * lacks, and within objects both have, the same again. A key both have (even as `null`) keeps
 * `target`'s value.
 */
function missingFrom(
  source: Record<string, unknown>,
  target: Record<string, unknown>,
): Record<string, unknown> {
  const added: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (!Object.hasOwn(target, key)) {
      setOwn(added, key, value);
      continue;
    }
    const present = target[key];
    if (isPlainObject(value) && isPlainObject(present)) {
      const nested = missingFrom(value, present);
      if (Object.keys(nested).length > 0) setOwn(added, key, nested);
    }
  }
  return added;
}

/** The entries of `source` whose keys `target` lacks (whole entries: a shallow merge). */
function entriesMissingFrom<T>(
  source: Record<string, T>,
  target: Record<string, unknown>,
): Record<string, T> {
  const added: Record<string, T> = {};
  for (const key of Object.keys(source))
    if (!Object.hasOwn(target, key)) setOwn(added, key, source[key]);
  return added;
}

/** @internal The identify patch that merges `secondary` into `primary`, the primary winning. */
export function mergePatch(primary: StoredRecipient, secondary: StoredRecipient): RecipientPatch {
  const patch: RecipientPatch = {
    properties: missingFrom(secondary.properties, primary.properties),
    preferences: entriesMissingFrom(secondary.preferences, primary.preferences),
    channel_data: entriesMissingFrom(secondary.channel_data, primary.channel_data),
  };
  if (primary.created_at === null && secondary.created_at !== null)
    patch.created_at = secondary.created_at;
  return patch;
}

function checkParams(primaryId: string, params: unknown): string {
  const p = new ParamChecker(params);
  p.known(["from_user_id"]);
  const issues = p.issues;
  const from = p.raw("from_user_id");
  if (
    issues.every((issue) => issue.field !== "params") &&
    checkId(from, "from_user_id", issues, "a user id") &&
    from === primaryId
  ) {
    issues.push({
      field: "from_user_id",
      type: "value",
      message: `expected another user than the one merged into, received "${from}" for both`,
    });
  }
  p.done("users.merge parameters");
  return from as string;
}

/**
 * @internal Merges user `params.from_user_id` into user `primaryId` and returns the primary as
 * stored after it. Both must exist (else `NotFoundError`, with nothing changed).
 */
export async function mergeUsers(
  ctx: EngineContext,
  primaryId: string,
  params: unknown,
): Promise<StoredRecipient> {
  const fromId = checkParams(primaryId, params);
  const primaryKey: RecipientKey = { collection: USERS_COLLECTION, id: primaryId };
  const fromKey: RecipientKey = { collection: USERS_COLLECTION, id: fromId };
  const [primary, secondary] = await ctx.store.getRecipients([primaryKey, fromKey]);
  if (!primary)
    throw new NotFoundError("user", primaryId, "Identify it with engine.users.update(id, props).");
  if (!secondary)
    throw new NotFoundError(
      "user",
      fromId,
      "The user to merge in (from_user_id) must exist; a merge that finished deleted it.",
    );

  const merged = await updateExistingRecipient(ctx, primaryKey, mergePatch(primary, secondary));
  if (!merged)
    throw new NotFoundError("user", primaryId, "It was deleted while the merge was under way.");

  const moved = await moveMessages(ctx, fromKey, primaryId);
  await ctx.store.deleteRecipient(fromKey);
  // Both users' feeds changed: the primary's gained the messages, the secondary's lost them.
  if (moved.length > 0) await feedChanged(ctx, moved, "user.merged");
  return merged;
}

/**
 * Makes every message of `from` a message of user `to`, a page at a time (moved messages leave
 * the listing, so each round reads the first page again). Returns what `feed.changed` needs of
 * each moved feed message, before and after, when someone listens (else nothing is kept).
 */
async function moveMessages(
  ctx: EngineContext,
  from: RecipientKey,
  to: string,
): Promise<FeedMessage[]> {
  const keep = ctx.emitter.has("feed.changed");
  const changed: FeedMessage[] = [];
  let previous = new Set<string>();
  for (;;) {
    const page = await ctx.store.listMessages({ recipient: from }, { limit: MOVE_PAGE });
    if (page.items.length === 0) return changed;
    const stuck = page.items.find((message) => previous.has(message.id));
    if (stuck) {
      throw new CrierError(
        "adapter_error",
        `Expected store "${ctx.store.name}" to move message "${stuck.id}" to user "${to}" (updateMessage with a new recipient), but it still lists it as a message of user "${from.id}". Call users.merge again once the store is fixed: it picks up where it stopped.`,
      );
    }
    previous = new Set(page.items.map((message) => message.id));
    const updated = await Promise.all(
      page.items.map((message) => ctx.store.updateMessage(message.id, { recipient: to })),
    );
    if (!keep) continue;
    for (let i = 0; i < page.items.length; i++) {
      const before = page.items[i] as Message;
      const after = updated[i];
      if (after && inFeed(before)) changed.push(feedMessage(before), feedMessage(after));
    }
  }
}

/** What `feed.changed` reads of a message: kept instead of whole messages while a merge moves them. */
function feedMessage(message: Message): FeedMessage {
  return {
    id: message.id,
    recipient: message.recipient,
    channel_id: message.channel_id,
    channel_type: message.channel_type,
    status: message.status,
    tenant: message.tenant,
  };
}
