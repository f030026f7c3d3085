/**
 * An in-app feed in a web page, on a plain Node `http` server: no framework.
 *
 * - `GET /` serves the page (`page.html`): a user's feed with live unseen and unread counts.
 * - `GET /api/feed?user=ID` returns `engine.users.feeds.listItems(ID, "in-app")`.
 * - `GET /api/events?user=ID` is a server-sent event stream: the feed's counts on connect, then
 *   one `feed` event per `feed.changed` of that user's feed (a delivery, a read, an archive…).
 * - `POST /api/comments` `{ user, actor, comment }` triggers the `comment-created` workflow.
 * - `POST /api/messages/ID/{seen|read|unread|archive|unarchive}` and `POST /api/feed/seen?user=ID`
 *   (every unseen item at once) change engagement: their `feed.changed` reaches every open page.
 *
 * `npm run example:feed` starts it on http://127.0.0.1:3000 (see `server.ts`); the end-to-end test
 * in `test/examples/` drives it in headless Chromium.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createEngine,
  type Engine,
  type FeedChangedEvent,
  InvalidParamsError,
  NotFoundError,
} from "../../src/index.js";

/** The in-app channel's key. */
export const FEED = "in-app";

const page = readFileSync(new URL("./page.html", import.meta.url), "utf8");

/** The example's engine: one in-app channel, one workflow. */
export function createFeedEngine(): Engine {
  return createEngine({
    channels: [{ key: FEED, type: "in_app_feed" }],
    workflows: [
      {
        key: "comment-created",
        name: "Comment created",
        steps: [
          {
            ref: "in_app_1",
            type: "channel",
            channel_key: FEED,
            channel_type: "in_app_feed",
            template: {
              markdown_body: "{{ actor.name }} commented: {{ data.comment }}",
              action_url: "/comments/{{ data.comment_id }}",
            },
          },
        ],
      },
    ],
  });
}

/** A running example app. */
export interface FeedApp {
  readonly engine: Engine;
  /** Where it listens, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Ends the open event streams, stops the server and closes the engine. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 100_000) throw new HttpError(413, "body too large");
  }
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new HttpError(400, "expected a JSON object body");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function userOf(url: URL): string {
  const user = url.searchParams.get("user");
  if (!user) throw new HttpError(400, "expected ?user=ID");
  return user;
}

/** Starts the app on `port` (0: any free port) and `host`. */
export async function startFeedApp(
  options: { port?: number; host?: string; engine?: Engine } = {},
): Promise<FeedApp> {
  const engine = options.engine ?? createFeedEngine();
  const streams = new Set<ServerResponse>();
  let comments = 0;

  const engagement = {
    seen: (id: string) => engine.messages.markAsSeen(id),
    read: (id: string) => engine.messages.markAsRead(id),
    unread: (id: string) => engine.messages.markAsUnread(id),
    archive: (id: string) => engine.messages.archive(id),
    unarchive: (id: string) => engine.messages.unarchive(id),
  } as const;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(page);
      return;
    }
    if (req.method === "GET" && path === "/api/feed") {
      const feed = await engine.users.feeds.listItems(userOf(url), FEED, {
        archived: url.searchParams.get("archived") === "include" ? "include" : "exclude",
      });
      send(res, 200, feed);
      return;
    }
    if (req.method === "GET" && path === "/api/events") {
      const user = userOf(url);
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      const write = (event: string, data: unknown) =>
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      const listener = (change: FeedChangedEvent) => {
        if (change.user_id === user && change.channel_id === FEED) write("feed", change);
      };
      engine.on("feed.changed", listener);
      streams.add(res);
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
      keepAlive.unref();
      res.on("close", () => {
        clearInterval(keepAlive);
        engine.off("feed.changed", listener);
        streams.delete(res);
      });
      // The counts as they are now, so a page that just connected shows the right badge.
      const { meta } = await engine.users.feeds.listItems(user, FEED, { page_size: 1 });
      write("ready", { meta });
      return;
    }
    if (req.method === "POST" && path === "/api/comments") {
      const body = await readJson(req);
      const user = typeof body.user === "string" ? body.user : "";
      const actor = typeof body.actor === "string" ? body.actor : "bob";
      const comment = typeof body.comment === "string" ? body.comment : "";
      if (!user || !comment) throw new HttpError(400, "expected { user, comment, actor? }");
      const result = await engine.workflows.trigger("comment-created", {
        recipients: [{ id: user }],
        actor: { id: actor, name: actor.charAt(0).toUpperCase() + actor.slice(1) },
        data: { comment, comment_id: `c${++comments}` },
      });
      send(res, 202, result);
      return;
    }
    if (req.method === "POST" && path === "/api/feed/seen") {
      const user = userOf(url);
      const { entries } = await engine.users.feeds.listItems(user, FEED, { status: "unseen" });
      const ids = entries.map((item) => item.id);
      send(res, 200, ids.length > 0 ? await engine.messages.batch.markAsSeen(ids) : []);
      return;
    }
    const action = /^\/api\/messages\/([^/]+)\/([a-z]+)$/.exec(path);
    if (req.method === "POST" && action) {
      const change = engagement[action[2] as keyof typeof engagement];
      if (!change) throw new HttpError(404, `no action ${action[2]}`);
      send(res, 200, await change(decodeURIComponent(action[1] as string)));
      return;
    }
    throw new HttpError(404, `no route ${req.method} ${path}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof NotFoundError
            ? 404
            : error instanceof InvalidParamsError
              ? 422
              : 500;
      if (!res.headersSent) send(res, status, { error: (error as Error).message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    engine,
    url: `http://${address.address}:${address.port}`,
    async close() {
      for (const stream of streams) stream.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await engine.close();
    },
  };
}
