import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";

const exec = promisify(execFile);

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
    const url = new URL(inject("redisUrl"));
    const { stdout } = await exec("redis-cli", ["-h", url.hostname, "-p", url.port, "ping"]);
    expect(stdout.trim()).toBe("PONG");
  });
});
