/**
 * Real PostgreSQL and Redis servers for the durable adapters' tests: started on free loopback ports
 * in temporary folders, stopped (and their folders removed) at the end. Nothing here is mocked.
 *
 * Commands follow ENVIRONMENT.md: PostgreSQL's `initdb`/`pg_ctl` (as the `postgres` user when run as
 * root, since initdb refuses root), and `redis-server` daemonized without persistence unless asked.
 * Nothing else is needed: Redis is pinged and shut down over its own protocol, not `redis-cli`.
 *
 * With `DATABASE_URL` / `REDIS_URL` set, the shared servers are not started (global-setup.ts), so
 * these binaries may be absent; tests that need a server of their own to stop and restart ask
 * {@link postgresUnavailable} / {@link redisUnavailable} first and skip, saying why.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** A free TCP port on 127.0.0.1 (the OS picks one; it is released before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first folder on PATH holding `file`, or null. */
function onPath(file: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, file))) return dir;
  }
  return null;
}

/** PostgreSQL's bin folder: where `initdb` is on PATH, else the newest under /usr/lib/postgresql. */
function findPostgresBin(): string | null {
  const onPathDir = onPath("initdb");
  if (onPathDir) return onPathDir;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

function postgresBin(): string {
  const bin = findPostgresBin();
  if (bin) return bin;
  throw new Error(
    "Expected PostgreSQL's initdb on PATH or under /usr/lib/postgresql/*/bin, found neither. " +
      "Install it (apt-get install -y postgresql), or set DATABASE_URL to a server for the tests to use " +
      "(the tests that stop and restart a server of their own are then skipped).",
  );
}

/** `redis-server`'s path on PATH. */
function redisServerBin(): string {
  const dir = onPath("redis-server");
  if (dir) return join(dir, "redis-server");
  throw new Error(
    "Expected redis-server on PATH, found none. Install it (apt-get install -y redis-server), " +
      "or set REDIS_URL to a server for the tests to use " +
      "(the tests that stop and restart a server of their own are then skipped).",
  );
}

/**
 * Why {@link startPostgres} cannot run on this machine, or null when it can: for tests that need
 * a server of their own to stop, which skip with this reason.
 */
export function postgresUnavailable(): string | null {
  return findPostgresBin()
    ? null
    : "PostgreSQL's initdb is neither on PATH nor under /usr/lib/postgresql/*/bin";
}

/**
 * Why {@link startRedis} cannot run on this machine, or null when it can: for tests that need a
 * server of their own to stop, which skip with this reason.
 */
export function redisUnavailable(): string | null {
  return onPath("redis-server") ? null : "redis-server is not on PATH";
}

/** Runs a PostgreSQL tool, as the postgres user when this process is root. */
function runPg(tool: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const bin = join(postgresBin(), tool);
  return isRoot ? exec("runuser", ["-u", "postgres", "--", bin, ...args]) : exec(bin, args);
}

/** A server the tests started. */
export interface TestServer {
  /** How to connect. */
  readonly url: string;
  readonly port: number;
  /** Stops it (fast) and removes its folder. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port with the same data. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops it without removing its data (start it again with `start`). */
  halt(): Promise<void>;
  /** Starts it again after `halt`. */
  start(): Promise<void>;
}

/** A started server's handle: restart and stop in terms of its own start and halt. */
function serverHandle(
  url: string,
  port: number,
  dir: string,
  start: () => Promise<void>,
  halt: () => Promise<void>,
): TestServer {
  return {
    url,
    port,
    start,
    halt,
    async restart({ downMs = 0 } = {}) {
      await halt();
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a PostgreSQL server on a free port in a new temporary folder. */
export async function startPostgres(): Promise<TestServer> {
  postgresBin(); // before making a folder: says what to install, or to set DATABASE_URL
  const dir = await mkdtemp(join(tmpdir(), "crier-pg-"));
  if (isRoot) {
    await exec("chown", ["postgres:postgres", dir]);
  }
  await chmod(dir, 0o700);
  const data = join(dir, "data");
  await runPg("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
  ]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -c synchronous_commit=off -c full_page_writes=off`;
  const start = async () => {
    await runPg("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-o",
      options,
      "-w",
      "start",
    ]);
  };
  const halt = async () => {
    await runPg("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]).catch(() => {});
  };
  await start();
  return serverHandle(`postgres://postgres@127.0.0.1:${port}/postgres`, port, dir, start, halt);
}

/**
 * Sends one inline command to the Redis server on 127.0.0.1:`port` and resolves with its first
 * reply line ("+PONG"), or null when nothing answered within a second (refused, closed, silent).
 */
function redisCommand(port: number, command: string): Promise<string | null> {
  return new Promise((resolve) => {
    let reply = "";
    const socket = connect({ host: "127.0.0.1", port });
    const done = (value: string | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1_000, () => done(null));
    socket.on("error", () => done(null));
    socket.on("close", () => done(reply.includes("\r\n") ? reply.split("\r\n")[0]! : null));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) done(reply.split("\r\n")[0]!);
    });
    socket.on("connect", () => socket.write(`${command}\r\n`));
  });
}

async function redisPing(port: number): Promise<boolean> {
  return (await redisCommand(port, "PING")) === "+PONG";
}

/**
 * Starts a Redis server on a free port in a new temporary folder. Without persistence by default;
 * with `persistent`, every write is appended to an AOF synced at once, so a restart loses nothing
 * (what BullMQ asks of a production Redis).
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<TestServer> {
  const server = redisServerBin(); // before making a folder: says what to install, or to set REDIS_URL
  const dir = await mkdtemp(join(tmpdir(), "crier-redis-"));
  const port = await freePort();
  const persistence = options.persistent
    ? ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    : ["--save", "", "--appendonly", "no"];
  const start = async () => {
    await exec(server, [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--daemonize",
      "yes",
      "--pidfile",
      join(dir, "redis.pid"),
      "--dir",
      dir,
      "--logfile",
      join(dir, "redis.log"),
      "--maxmemory-policy",
      "noeviction",
      ...persistence,
    ]);
    const deadline = Date.now() + 10_000;
    while (!(await redisPing(port))) {
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${port} did not answer PING.`);
      await sleep(20);
    }
  };
  const halt = async () => {
    // SHUTDOWN without SAVE: persistence (when on) is the AOF, already synced.
    // The server closes the connection without a reply when it shuts down.
    await redisCommand(port, "SHUTDOWN NOSAVE");
    const deadline = Date.now() + 10_000;
    while (await redisPing(port)) {
      if (Date.now() > deadline) break;
      await sleep(20);
    }
  };
  await start();
  return serverHandle(`redis://127.0.0.1:${port}`, port, dir, start, halt);
}
