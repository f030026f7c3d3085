/**
 * `crier/postgres`: the `Store` (from `crier`) on PostgreSQL. `pg` is an optional peer dependency, loaded
 * only when a store is made from a connection string.
 *
 * @module
 */
export type { PgClientLike, PgPoolLike, PreparedQuery, QueryResultLike } from "./db.js";
export {
  type PostgresStoreCommonOptions,
  type PostgresStoreConnectionOptions,
  type PostgresStoreOptions,
  type PostgresStorePoolOptions,
  postgresStore,
} from "./store.js";
