/**
 * Shared pieces of the durable tests: a pool on the test server, and fresh schemas (one per store)
 * that are dropped when the file ends.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeEach, inject } from "vitest";

/** A short unique suffix for schema, queue and prefix names. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

/**
 * A pool on the test PostgreSQL server for this file, ended (after dropping every schema made
 * with `schemaName`) when the file's tests are done.
 */
export function testPool(max = 10): { pool: pg.Pool; schemaName: (prefix?: string) => string } {
  const pool = new pg.Pool({ connectionString: inject("databaseUrl"), max });
  pool.on("error", () => {});
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });
  return {
    pool,
    schemaName(prefix = "t") {
      const schema = uniqueName(prefix);
      schemas.push(schema);
      return schema;
    },
  };
}

/**
 * Schemas for "a fresh store per test", migrated once per file instead of once per test (migrating
 * costs a few hundred milliseconds; emptying costs a few): before each test, every schema used so
 * far is emptied (DELETE FROM each table); within a test, the n-th store made gets the n-th
 * schema, so two stores of one test never share data. Dropped when the file ends.
 */
export function reusableSchemas(pool: pg.Pool, prefix: string): () => string {
  const schemas: string[] = [];
  let used = 0;
  beforeEach(async () => {
    used = 0;
    for (const schema of schemas) {
      const { rows } = await pool.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'migrations'",
        [schema],
      );
      if (rows.length === 0) continue; // never migrated (its store was never used)
      // DELETE, not TRUNCATE: on tables this small it is many times faster (no new files).
      await pool.query(rows.map((row) => `DELETE FROM "${schema}"."${row.tablename}";`).join("\n"));
    }
  });
  afterAll(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
  return () => {
    if (used === schemas.length) schemas.push(uniqueName(prefix));
    return schemas[used++]!;
  };
}
