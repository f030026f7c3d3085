/**
 * The servers every durable test uses (started by global-setup.ts, or given as DATABASE_URL /
 * REDIS_URL) answer through the same client libraries the adapters use: no command-line tools.
 */
import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";

describe("the test servers", () => {
  it("has a PostgreSQL 13+ server to connect to", async () => {
    const client = new pg.Client({ connectionString: inject("databaseUrl") });
    await client.connect();
    try {
      const { rows } = await client.query<{ server_version_num: string }>(
        "SHOW server_version_num",
      );
      expect(Number(rows[0]?.server_version_num)).toBeGreaterThanOrEqual(130000);
    } finally {
      await client.end();
    }
  });

  it("has a Redis server to connect to", async () => {
    // No retries: a server that is not there fails the test at once instead of after a timeout.
    const redis = new Redis(inject("redisUrl"), {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on("error", () => {});
    try {
      await redis.connect();
      expect(await redis.ping()).toBe("PONG");
    } finally {
      redis.disconnect();
    }
  });
});
