/**
 * Starts the in-app feed example (see `app.ts`):
 *
 *   npm install && npm run example:feed    # then open http://127.0.0.1:3000/?user=ada
 *
 * `PORT` and `HOST` choose where it listens. Post a comment from the page (or with
 * `curl -X POST localhost:3000/api/comments -d '{"user":"ada","comment":"hi"}'`) and watch the
 * badge change in every open tab.
 */
import { startFeedApp } from "./app.js";

const app = await startFeedApp({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? "127.0.0.1",
});
console.log(`crier feed example: open ${app.url}/?user=ada (Ctrl-C to stop)`);
process.once("SIGINT", () => {
  void app.close().then(() => process.exit(0));
});
