import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidParamsError, type Step, type WorkflowInput } from "../../src/index.js";
import { loadKnockWorkflows } from "../../src/knock/index.js";
import { createTestEngine } from "../../src/testing/index.js";

const fixtures = join(import.meta.dirname, "..", "fixtures", "knock", "workflows");
const fixture = (path: string) => readFile(join(fixtures, path), "utf8");

function allSteps(steps: Step[]): Step[] {
  return steps.flatMap((step) =>
    step.type === "branch"
      ? [step, ...step.branches.flatMap((branch) => allSteps(branch.steps))]
      : [step],
  );
}

function byKey(workflows: WorkflowInput[], key: string): WorkflowInput {
  const workflow = workflows.find((w) => w.key === key);
  if (!workflow) throw new Error(`no workflow ${key}`);
  return workflow;
}

function step(workflow: WorkflowInput, ref: string): Step {
  const found = allSteps(workflow.steps).find((s) => s.ref === ref);
  if (!found) throw new Error(`no step ${ref}`);
  return found;
}

/** The rejection of a load, as an InvalidParamsError. */
async function loadError(dir: string): Promise<InvalidParamsError> {
  const error = await loadKnockWorkflows(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidParamsError);
  return error as InvalidParamsError;
}

describe("loadKnockWorkflows on the fixture folder", () => {
  it("returns every workflow, keyed by its folder, sorted, without __readonly and $schema", async () => {
    const workflows = await loadKnockWorkflows(fixtures);
    expect(workflows.map((w) => w.key)).toEqual([
      "comment-digest",
      "onboarding",
      "security-alert",
      "welcome",
    ]);
    for (const workflow of workflows) {
      expect(workflow).not.toHaveProperty("__readonly");
      expect(workflow).not.toHaveProperty("$schema");
      expect(JSON.stringify(workflow)).not.toMatch(/@"/);
    }
    expect(Object.keys(byKey(workflows, "welcome"))[0]).toBe("key");
  });

  it("inlines each @ file's text, in steps, nested branch steps and nested template files", async () => {
    const workflows = await loadKnockWorkflows(fixtures);
    const welcome = byKey(workflows, "welcome");
    expect(step(welcome, "email_1")).toMatchObject({
      template: {
        html_body: await fixture("welcome/email_1/html_body.html"),
        text_body: await fixture("welcome/email_1/text_body.txt"),
        settings: { layout_key: "default" },
      },
    });
    // A branch step nested in a branch.
    expect(step(byKey(workflows, "onboarding"), "in_app_annual")).toMatchObject({
      template: { markdown_body: await fixture("onboarding/in_app_annual/markdown_body.md") },
    });
    // visual_blocks.json is decoded, and its own @ fields are relative to it.
    const digest = step(byKey(workflows, "comment-digest"), "email_1");
    expect(digest).toMatchObject({
      template: {
        visual_blocks: [
          {
            type: "markdown",
            content: await fixture("comment-digest/email_1/visual_blocks/1.content.md"),
          },
          { type: "button_set" },
          {
            type: "html",
            content: await fixture("comment-digest/email_1/visual_blocks/3.content.html"),
          },
        ],
      },
    });
    // Any other file is text, even JSON.
    expect(step(byKey(workflows, "security-alert"), "webhook_1")).toMatchObject({
      template: { body: await fixture("security-alert/webhook_1/body.json") },
    });
  });

  it("together uses every step type and channel type crier supports", async () => {
    const steps = (await loadKnockWorkflows(fixtures)).flatMap((w) => allSteps(w.steps));
    expect(new Set(steps.map((s) => s.type))).toEqual(
      new Set([
        "channel",
        "delay",
        "batch",
        "throttle",
        "branch",
        "http_fetch",
        "trigger_workflow",
        "update_data",
      ]),
    );
    expect(new Set(steps.flatMap((s) => (s.type === "channel" ? [s.channel_type] : [])))).toEqual(
      new Set(["email", "sms", "push", "chat", "in_app_feed", "http"]),
    );
    const nested = steps.filter(
      (s) =>
        s.type === "branch" &&
        s.branches.some((b) => b.steps.some((inner) => inner.type === "branch")),
    );
    expect(nested).toHaveLength(1);
  });

  it("accepts a single workflow's folder too", async () => {
    const [welcome, ...rest] = await loadKnockWorkflows(join(fixtures, "welcome"));
    expect(rest).toEqual([]);
    expect(welcome?.key).toBe("welcome");
    expect(welcome).toEqual(byKey(await loadKnockWorkflows(fixtures), "welcome"));
  });
});

describe("the fixture workflows run on the test engine", () => {
  it("welcome: the email and SMS carry the rendered .html and .txt files; trigger conditions hold", async () => {
    const t = createTestEngine({ workflows: await loadKnockWorkflows(fixtures) });
    await t.workflows.trigger("welcome", {
      recipients: [
        { id: "ada", name: "Ada", email: "ada@example.com", phone_number: "+15555550100" },
        { id: "gone", name: "Gone", email: "gone@example.com", deactivated: true },
      ],
      data: { product_name: "Acme", dashboard_url: "https://app.example.com/ada" },
    });
    await t.idle();
    expect(t.outbox.map((m) => [m.recipient_ref, m.channel_type])).toEqual([
      ["ada", "email"],
      ["ada", "sms"],
    ]);
    const [email, sms] = t.outbox;
    expect(email?.content.subject).toBe("Welcome to Acme, Ada!");
    expect(email?.content.html_body).toContain("<h1>Welcome aboard, Ada!</h1>");
    expect(email?.content.html_body).toContain('<a href="https://app.example.com/ada">');
    expect(email?.content.text_body).toContain("Your Acme account is ready");
    expect(sms?.content.text_body).toBe("Welcome to Acme, Ada! Reply STOP to opt out.\n");
  });

  it("welcome: trigger data is checked against its trigger_data_json_schema", async () => {
    const t = createTestEngine({ workflows: await loadKnockWorkflows(fixtures) });
    await expect(
      t.workflows.trigger("welcome", { recipients: ["ada"], data: { product_name: "Acme" } }),
    ).rejects.toThrow(/data\.dashboard_url/);
  });

  it("comment-digest: one batched feed item, then a digest email built from visual blocks", async () => {
    const t = createTestEngine({ workflows: await loadKnockWorkflows(fixtures) });
    await t.users.update("ada", { name: "Ada", email: "ada@example.com" });
    const comment = (actor: { id: string; name: string }, text: string) =>
      t.workflows.trigger("comment-digest", {
        recipients: ["ada"],
        actor,
        data: {
          document_id: "doc-1",
          document_title: "Roadmap",
          document_url: "https://docs.example.com/doc-1",
          comment: text,
        },
      });
    await comment({ id: "bo", name: "Bo" }, "Looks good");
    await comment({ id: "cy", name: "Cy" }, "Ship it");
    await t.clock.advance("10m");
    expect(t.outbox.map((m) => m.channel_type)).toEqual(["in_app_feed"]);
    expect(t.outbox[0]?.content.markdown_body).toMatch(
      /^\*\*(Bo, Cy|Cy, Bo)\*\* left 2 comments on \*\*Roadmap\*\*/,
    );
    expect(t.outbox[0]?.content.action_url).toBe("https://docs.example.com/doc-1");
    await t.clock.advance("1h");
    const email = t.outbox[1];
    expect(email?.channel_type).toBe("email");
    expect(email?.content.subject).toBe("2 new comments on Roadmap");
    const blocks = email?.content.visual_blocks as Array<Record<string, unknown>>;
    expect(blocks[0]?.content).toContain('- Bo: "Looks good"\n- Cy: "Ship it"');
    expect(blocks[1]).toMatchObject({ buttons: [{ label: "Open Roadmap" }] });
    expect(blocks[2]?.content).toContain("because you follow Roadmap");
  });

  it("security-alert: push, chat and webhook carry the rendered files; a second sign-in is throttled", async () => {
    const t = createTestEngine({ workflows: await loadKnockWorkflows(fixtures) });
    await t.users.update("ada", { name: "Ada", roles: ["member"] });
    await t.users.setChannelData("ada", "apns", { data: { tokens: ["device-token"] } });
    await t.users.setChannelData("ada", "slack", {
      data: { connections: [{ incoming_webhook: { url: "https://hooks.slack.com/x" } }] },
    });
    const signIn = () =>
      t.workflows.trigger("security-alert", {
        recipients: ["ada"],
        data: { device_id: "phone-1", location: "Lisbon", risk: "high" },
      });
    await signIn();
    await t.idle();
    const byType = Object.fromEntries(t.outbox.map((m) => [m.channel_type, m.content]));
    expect(Object.keys(byType).sort()).toEqual(["chat", "http", "push"]);
    expect(byType.push?.text_body).toBe(
      "Someone signed in from Lisbon. Not you? Reset your password now.\n",
    );
    expect(byType.chat?.markdown_body).toContain(
      "*New sign-in* for Ada from *Lisbon* (risk: high)",
    );
    expect(JSON.parse(String(byType.http?.body))).toEqual({
      event: "sign_in",
      user: "ada",
      device: "phone-1",
      location: "Lisbon",
    });
    expect(byType.http?.url).toBe("https://audit.example.com/events?user=ada");
    await signIn();
    await t.idle();
    expect(t.outbox).toHaveLength(3);
  });

  it("onboarding: fetched data picks the nested branch; a free account is handed to welcome", async () => {
    const calls: Array<{ url: string; authorization: string | null }> = [];
    const accounts: Record<string, Record<string, unknown>> = {
      "acct-1": { plan: "paid", billing: "annual", seats: 12 },
      "acct-2": { plan: "free" },
    };
    const fetchStub: typeof fetch = async (input, init) => {
      const url = new URL(String(input));
      calls.push({ url: url.href, authorization: new Headers(init?.headers).get("authorization") });
      const account = accounts[url.pathname.split("/").pop() ?? ""];
      return new Response(JSON.stringify(account), {
        headers: { "content-type": "application/json" },
      });
    };
    const t = createTestEngine({
      workflows: await loadKnockWorkflows(fixtures),
      fetch: fetchStub,
      vars: { accounts_api_token: "secret" },
    });
    await t.workflows.trigger("onboarding", {
      recipients: [
        { id: "ada", name: "Ada", email: "ada@example.com", account_id: "acct-1" },
        { id: "bo", name: "Bo", email: "bo@example.com", account_id: "acct-2" },
      ],
    });
    await t.idle();
    expect(calls).toContainEqual({
      url: "https://accounts.example.com/v1/accounts/acct-1?fields=plan%2Cbilling%2Cseats",
      authorization: "Bearer secret",
    });
    const sent = t.outbox.map((m) => [m.workflow, m.recipient_ref, m.step_ref]);
    expect(sent).toEqual(
      expect.arrayContaining([
        ["onboarding", "ada", "in_app_annual"],
        ["onboarding", "ada", "email_checklist"],
        ["welcome", "bo", "email_1"],
      ]),
    );
    expect(sent).toHaveLength(3);
    const annual = t.outbox.find((m) => m.step_ref === "in_app_annual");
    expect(annual?.content.markdown_body).toBe(
      "Thanks for choosing annual billing, Ada: your 12 seats are ready.\n",
    );
    const checklist = t.outbox.find((m) => m.step_ref === "email_checklist");
    expect(checklist?.content.subject).toBe("Your setup checklist for 12 seats");
    expect(checklist?.content.html_body).toContain("Invite your team (12 seats available)");
    const welcome = t.outbox.find((m) => m.workflow === "welcome");
    expect(welcome?.content.html_body).toContain('href="https://app.example.com/acct-2"');
  });
});

describe("loadKnockWorkflows on bad folders", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Writes files (path → content) under a fresh `workflows/` folder and returns its path. */
  async function folder(files: Record<string, string | object>): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), "crier-knock-"));
    const root = join(dir, "workflows");
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(
        join(root, path),
        typeof content === "string" ? content : JSON.stringify(content, null, 2),
      );
    }
    return root;
  }

  const digest = (settings: Record<string, unknown>, template: Record<string, unknown>) => ({
    name: "Digest",
    steps: [
      { ref: "in_app_feed_1", type: "channel", channel_key: "in-app", template },
      { ref: "batch_1", type: "batch", settings },
    ],
    __readonly: { key: "digest", active: true },
    $schema: "https://schemas.knock.app/cli/workflow.json",
  });
  const window = { batch_window: { unit: "minutes", value: 5 } };
  const markdown = { "markdown_body@": "in_app_feed_1/markdown_body.md" };

  it("drops __readonly at any depth, as knock-cli does", async () => {
    const root = await folder({
      "digest/workflow.json": {
        ...digest(window, { markdown_body: "Hi", __readonly: { sha: "abc" } }),
        steps: [
          {
            ref: "in_app_feed_1",
            type: "channel",
            channel_key: "in-app",
            template: { markdown_body: "Hi", __readonly: { sha: "abc" } },
            __readonly: { channel_type: "in_app_feed" },
          },
        ],
      },
    });
    const [workflow] = await loadKnockWorkflows(root);
    expect(JSON.stringify(workflow)).not.toContain("__readonly");
    expect(workflow?.steps[0]).toMatchObject({ template: { markdown_body: "Hi" } });
  });

  it("names the file and the line of malformed JSON", async () => {
    const root = await folder({
      "broken/workflow.json": '{\n  "name": "Broken"\n  "steps": []\n}\n',
    });
    const error = await loadError(root);
    expect(error.code).toBe("invalid_params");
    expect(error.errors).toEqual([
      expect.objectContaining({ file: "workflows/broken/workflow.json", field: "", type: "json" }),
    ]);
    expect(error.message).toContain("workflows/broken/workflow.json: expected valid JSON");
    expect(error.message).toContain("at line 3, column 3");
  });

  it("names the file that references a missing @ file, the field, and the path it looked for", async () => {
    const root = await folder({ "digest/workflow.json": digest(window, markdown) });
    const error = await loadError(root);
    expect(error.errors).toEqual([
      expect.objectContaining({
        file: "workflows/digest/workflow.json",
        field: "steps[0].template.markdown_body@",
        type: "file_missing",
      }),
    ]);
    expect(error.message).toContain(
      "workflows/digest/workflow.json: steps[0].template.markdown_body@: expected a file at workflows/digest/in_app_feed_1/markdown_body.md",
    );
  });

  it("names the file and the field of an invalid value", async () => {
    const root = await folder({
      "digest/workflow.json": digest({ batch_window: { unit: "fortnights", value: 1 } }, markdown),
      "digest/in_app_feed_1/markdown_body.md": "Hello",
    });
    const error = await loadError(root);
    expect(error.errors).toEqual([
      expect.objectContaining({
        file: "workflows/digest/workflow.json",
        field: "steps[1].settings.batch_window.unit",
        type: "enum",
      }),
    ]);
    expect(error.message).toMatch(
      /workflows\/digest\/workflow\.json: steps\[1\]\.settings\.batch_window\.unit: expected one of seconds, minutes/,
    );
  });

  it("attributes a Liquid syntax error to the template file it is in", async () => {
    const root = await folder({
      "digest/workflow.json": digest(window, markdown),
      "digest/in_app_feed_1/markdown_body.md": "Hello {{ recipient.name ",
    });
    const error = await loadError(root);
    expect(error.errors).toEqual([
      expect.objectContaining({
        file: "workflows/digest/in_app_feed_1/markdown_body.md",
        field: "steps[0].template.markdown_body",
        type: "template",
      }),
    ]);
  });

  it("resolves a nested file's references relative to it, and reports a missing one on it", async () => {
    const root = await folder({
      "digest/workflow.json": digest(window, { "visual_blocks@": "email_1/visual_blocks.json" }),
      "digest/email_1/visual_blocks.json": [
        { type: "markdown", "content@": "visual_blocks/1.content.md" },
        { type: "markdown", "content@": "visual_blocks/2.content.md" },
      ],
      "digest/email_1/visual_blocks/1.content.md": "First",
    });
    const error = await loadError(root);
    expect(error.errors).toEqual([
      expect.objectContaining({
        file: "workflows/digest/email_1/visual_blocks.json",
        field: "steps[0].template.visual_blocks[1].content@",
        type: "file_missing",
      }),
    ]);
    expect(error.message).toContain("workflows/digest/email_1/visual_blocks/2.content.md");
  });

  it("rejects references that leave the workflow's folder, or are not relative paths", async () => {
    const root = await folder({
      "digest/workflow.json": digest(window, {
        "markdown_body@": "../other/markdown_body.md",
        "action_url@": "/etc/hostname",
      }),
      "other/markdown_body.md": "Not mine",
    });
    const error = await loadError(root);
    expect(error.errors.map((e) => [e.field, e.type])).toEqual([
      ["steps[0].template.markdown_body@", "reference"],
      ["steps[0].template.action_url@", "reference"],
    ]);
    expect(error.errors[0]?.message).toContain("outside it");
  });

  it("keeps an inline value given beside its @ reference (knock-cli's rule)", async () => {
    const root = await folder({
      "digest/workflow.json": digest(window, { markdown_body: "Inline", ...markdown }),
    });
    const [workflow] = await loadKnockWorkflows(root);
    expect(workflow?.steps[0]).toMatchObject({ template: { markdown_body: "Inline" } });
  });

  it("reports every problem of every workflow at once", async () => {
    const root = await folder({
      "a-broken/workflow.json": "{",
      "b-digest/workflow.json": digest(
        { batch_window: { unit: "fortnights", value: 0 } },
        markdown,
      ),
      "c-Upper/workflow.json": { steps: [] },
      "d-fine/workflow.json": { steps: [] },
      "notes/readme.md": "not a workflow folder: ignored",
    });
    const error = await loadError(root);
    expect(error.errors.map((e) => [e.file, e.field])).toEqual([
      ["workflows/a-broken/workflow.json", ""],
      ["workflows/b-digest/workflow.json", "steps[0].template.markdown_body@"],
      ["workflows/c-Upper/workflow.json", "key"],
    ]);
    expect(error.errors[2]?.message).toContain("the key is the folder's name");
  });

  it("rejects a key in workflow.json that is not its folder's name", async () => {
    const root = await folder({ "digest/workflow.json": { key: "other", steps: [] } });
    const error = await loadError(root);
    expect(error.errors).toEqual([
      expect.objectContaining({
        file: "workflows/digest/workflow.json",
        field: "key",
        type: "key",
      }),
    ]);
  });

  it("says how to fix a folder that does not exist", async () => {
    const error = await loadError(join(tmpdir(), "crier-no-such-folder", "workflows"));
    expect(error.errors).toEqual([expect.objectContaining({ field: "dir", type: "not_found" })]);
    expect(error.message).toContain("knock workflow pull --all");
  });
});
