/**
 * vitest globalSetup: the PostgreSQL and Redis servers every durable test file shares. When
 * `DATABASE_URL` / `REDIS_URL` are set they are used as they are; otherwise a server is started on
 * a free loopback port in a temporary folder and stopped when the run ends. Test files keep apart
 * by using their own schemas, queue names and key prefixes, so they can run in parallel.
 */
import type { TestProject } from "vitest/node";
import { startPostgres, startRedis, type TestServer } from "./servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A PostgreSQL server the tests may create schemas and databases on. */
    databaseUrl: string;
    /** A Redis server the tests may use with their own key prefixes. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: TestServer[] = [];
  try {
    const [postgres, redis] = await Promise.all([
      process.env.DATABASE_URL ? null : startPostgres(),
      process.env.REDIS_URL ? null : startRedis(),
    ]);
    if (postgres) started.push(postgres);
    if (redis) started.push(redis);
    project.provide("databaseUrl", process.env.DATABASE_URL ?? postgres!.url);
    project.provide("redisUrl", process.env.REDIS_URL ?? redis!.url);
  } catch (error) {
    await Promise.all(started.map((server) => server.stop()));
    throw error;
  }
  return async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
}
