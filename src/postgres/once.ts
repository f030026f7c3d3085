/**
 * @internal Idempotency keys and once-only claims in PostgreSQL: each claim is one
 * `INSERT … ON CONFLICT` statement, so exactly one of many concurrent claims wins.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "../store/types.js";
import type { Db } from "./db.js";
import { filterTime } from "./runs.js";

type OnceMethods = Pick<Store, "claimIdempotencyKey" | "releaseIdempotencyKey" | "claimOnce">;

/** One claim in this many also deletes up to 100 expired keys (amortized clean-up). */
const SWEEP_EVERY = 64;

/** @internal The once-only methods of the PostgreSQL store. */
export function onceMethods(db: Db): OnceMethods {
  const K = `${db.s}.idempotency_keys`;
  const O = `${db.s}.once_claims`;
  let claims = 0;
  return {
    async claimIdempotencyKey(key, fingerprint, result, expiresAt, now) {
      const nowMs = filterTime(now, "now");
      const expiresMs = filterTime(expiresAt, "expiresAt");
      if (++claims % SWEEP_EVERY === 0) {
        await db.query(
          `DELETE FROM ${K} WHERE key IN (SELECT key FROM ${K} WHERE expires_ms <= $1 LIMIT 100)`,
          [nowMs],
        );
      }
      // The row's `claim` token changes only when this call takes the key (new, or expired): the
      // returned token tells this caller whether it won, in the same statement.
      const token = randomUUID();
      const rows = await db.query<{
        claim: string;
        fingerprint: string;
        result: Record<string, unknown>;
      }>(
        `INSERT INTO ${K} AS k (key, fingerprint, result, expires_ms, claim)
         VALUES ($1, $2, $3::jsonb, $4, $5)
         ON CONFLICT (key) DO UPDATE SET
           fingerprint = CASE WHEN k.expires_ms <= $6 THEN EXCLUDED.fingerprint ELSE k.fingerprint END,
           result = CASE WHEN k.expires_ms <= $6 THEN EXCLUDED.result ELSE k.result END,
           claim = CASE WHEN k.expires_ms <= $6 THEN EXCLUDED.claim ELSE k.claim END,
           expires_ms = CASE WHEN k.expires_ms <= $6 THEN EXCLUDED.expires_ms ELSE k.expires_ms END
         RETURNING claim, fingerprint, result`,
        [key, fingerprint, JSON.stringify(result), expiresMs, token, nowMs],
      );
      const row = rows[0]!;
      return row.claim === token
        ? { claimed: true }
        : { claimed: false, fingerprint: row.fingerprint, result: row.result };
    },

    async releaseIdempotencyKey(key) {
      await db.query(`DELETE FROM ${K} WHERE key = $1`, [key]);
    },

    async claimOnce(key, now) {
      const rows = await db.query(
        `INSERT INTO ${O} (key, claimed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING 1`,
        [key, now],
      );
      return rows.length === 1;
    },
  };
}
