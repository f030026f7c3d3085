/**
 * Shared pieces of the durable tests: a pool on the test server, and fresh schemas (one per store)
 * that are dropped when the file ends.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, inject } from "vitest";

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
