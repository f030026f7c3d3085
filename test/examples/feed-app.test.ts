/**
 * End to end: the feed example app (`examples/feed-app`) in a real headless browser. Debian's
 * `chromium` driven by playwright-core; `.ci/run` installs it when it is missing.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FeedApp, startFeedApp } from "../../examples/feed-app/app.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const installed = existsSync(CHROMIUM);
// CI installs Chromium first, so there a missing browser is a failure, never a skip.
const required = process.env.CI === "true";

if (!installed && !required) {
  console.warn(
    `[feed-app e2e] skipped: no Chromium at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`,
  );
}

describe.skipIf(!installed && !required)("feed example app in headless Chromium", () => {
  let app: FeedApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!installed)
      throw new Error(`Expected Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    app = await startFeedApp({ port: 0, host: "127.0.0.1" });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright gives each launch a fresh temporary profile (its own --user-data-dir).
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Waits until the element's text is `expected` (the page updates itself from server events). */
  async function textOf(selector: string, expected: string): Promise<void> {
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel as string)?.textContent === want,
      [selector, expected],
      { timeout: 10_000 },
    );
    expect(await page.textContent(selector)).toBe(expected);
  }

  async function items(): Promise<Array<{ text: string; unread: boolean }>> {
    return page.$$eval("#feed li", (lis) =>
      lis.map((li) => ({
        text: li.querySelector(".body")?.firstChild?.textContent ?? "",
        unread: li.classList.contains("unread"),
      })),
    );
  }

  it("shows the feed and keeps its counts live as workflows run and items are read", async () => {
    await page.goto(`${app.url}/?user=ada`);
    await textOf("#status", "live");
    await textOf("#unseen", "0");
    expect(await page.isVisible("#empty")).toBe(true);

    // A workflow triggered on the server reaches the open page through feed.changed.
    await app.engine.workflows.trigger("comment-created", {
      recipients: [{ id: "ada" }],
      actor: { id: "cy", name: "Cy" },
      data: { comment: "<script>alert(1)</script> looks good", comment_id: "c0" },
    });
    await textOf("#unseen", "1");
    await textOf("#unread", "1");
    await page.waitForSelector("#feed li");
    expect(await items()).toEqual([
      { text: "Cy commented: <script>alert(1)</script> looks good", unread: true },
    ]);

    // Two comments posted from the page itself.
    for (const [i, comment] of ["first!", "ship it"].entries()) {
      await page.fill("#comment input", comment);
      await page.click("#comment button");
      await textOf("#total", String(i + 2));
    }
    await textOf("#unseen", "3");
    await textOf("#total", "3");
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 3);
    expect((await items()).map((i) => i.text)).toEqual([
      "Bob commented: ship it",
      "Bob commented: first!",
      "Cy commented: <script>alert(1)</script> looks good",
    ]);

    // Opening the feed marks everything seen; reading one item lowers the unread count.
    await page.click("#mark-seen");
    await textOf("#unseen", "0");
    await textOf("#unread", "3");
    await page.click('#feed li:nth-child(2) button[data-action="read"]');
    await textOf("#unread", "2");
    await page.waitForFunction(
      () => !document.querySelector("#feed li:nth-child(2)")?.classList.contains("unread"),
    );
    expect((await items()).map((i) => i.unread)).toEqual([true, false, true]);

    // Archiving takes an item out of the feed and its counts.
    await page.click('#feed li:nth-child(1) button[data-action="archive"]');
    await textOf("#total", "2");
    await textOf("#unread", "1");

    // The store agrees with what the page shows.
    const feed = await app.engine.users.feeds.listItems("ada", "in-app");
    expect(feed.meta).toMatchObject({ total_count: 2, unread_count: 1, unseen_count: 0 });
    const seenInPage = await page.screenshot({ type: "png" });
    expect(seenInPage.subarray(1, 4).toString()).toBe("PNG");
  });

  it("pushes one user's changes to that user's page only", async () => {
    const other = await browser.newPage();
    try {
      await other.goto(`${app.url}/?user=bea`);
      await other.waitForFunction(() => document.querySelector("#status")?.textContent === "live");
      await app.engine.workflows.trigger("comment-created", {
        recipients: [{ id: "bea" }],
        actor: { id: "cy", name: "Cy" },
        data: { comment: "for Bea", comment_id: "c9" },
      });
      await other.waitForFunction(() => document.querySelector("#unseen")?.textContent === "1");
      expect(await other.textContent("#feed li .body")).toContain("Cy commented: for Bea");
      // Ada's page, still open from the first test, did not change.
      expect(await page.textContent("#unseen")).toBe("0");
      expect(await page.textContent("#total")).toBe("2");
    } finally {
      await other.close();
    }
  });
});
