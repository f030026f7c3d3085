import { describe, expect, it } from "vitest";
import { InvalidParamsError, NotFoundError } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

describe("bulk operations", () => {
  it("identifies users in bulk, listing the items that failed and applying the others", async () => {
    const t = createTestEngine();
    const operation = await t.users.bulk.identify({
      users: [
        { id: "ada", name: "Ada", email: "ada@example.com" },
        { id: "bad/id", name: "Nope" },
        { id: "bob", name: "Bob" },
        "not a user" as never,
      ],
    });
    expect(operation).toMatchObject({
      __typename: "BulkOperation",
      name: "users.identify",
      status: "completed",
      estimated_total_rows: 4,
      processed_rows: 4,
      success_count: 2,
      error_count: 2,
      inserted_at: "2026-01-01T00:00:00.000Z",
      completed_at: "2026-01-01T00:00:00.000Z",
      failed_at: null,
    });
    expect(operation.error_items).toEqual([
      { id: "bad/id", message: expect.stringContaining('without "/" or "#"') },
      { id: "not a user", message: expect.stringContaining("a user with an id") },
    ]);
    expect((await t.users.get("ada")).email).toBe("ada@example.com");
    expect((await t.users.get("bob")).name).toBe("Bob");
    expect(await t.bulkOperations.get(operation.id)).toEqual(operation);
  });

  it("deletes users and replaces a preference set in bulk", async () => {
    const t = createTestEngine();
    for (const id of ["a", "b", "c"]) await t.users.update(id, {});
    await t.users.setPreferences("a", "default", { workflows: { digest: true } });
    const prefs = await t.users.bulk.setPreferences({
      user_ids: ["a", "b"],
      preferences: { channel_types: { email: false } },
    });
    expect(prefs).toMatchObject({ name: "users.set_preferences", success_count: 2 });
    // Replaced, not merged: a's workflows setting is gone.
    expect((await t.users.listPreferences("a"))[0]).toMatchObject({
      id: "default",
      workflows: null,
      channel_types: { email: false },
    });
    await t.users.bulk.setPreferences({
      user_ids: ["c"],
      preferences: { id: "acme", categories: { news: false } },
    });
    expect((await t.users.listPreferences("c")).map((set) => set.id)).toEqual(["acme"]);
    const deleted = await t.users.bulk.delete({ user_ids: ["a", "b"] });
    expect(deleted).toMatchObject({ name: "users.delete", success_count: 2, error_count: 0 });
    expect((await t.users.list()).entries.map((u) => u.id)).toEqual(["c"]);
  });

  it("sets, subscribes and deletes objects, and sets and deletes tenants, in bulk", async () => {
    const t = createTestEngine();
    const set = await t.objects.bulk.set("teams", {
      objects: [
        { id: "core", name: "Core" },
        { id: "web", name: "Web" },
      ],
    });
    expect(set).toMatchObject({ name: "objects.set", success_count: 2 });
    expect((await t.objects.get("teams", "web")).properties).toEqual({ name: "Web" });
    const subscribed = await t.objects.bulk.addSubscriptions("teams", {
      subscriptions: [
        { id: "core", recipients: ["ada", { id: "bob", name: "Bob" }], properties: { role: "x" } },
        { id: "web", recipients: [] },
      ],
    });
    expect(subscribed).toMatchObject({ success_count: 1, error_count: 1 });
    expect(subscribed.error_items).toEqual([
      { id: "web", collection: "teams", message: expect.stringContaining("1 to 100 recipients") },
    ]);
    const subscribers = await t.objects.listSubscriptions("teams", "core");
    expect(subscribers.entries.map((s) => [s.recipient, s.properties])).toEqual([
      ["ada", { role: "x" }],
      ["bob", { role: "x" }],
    ]);
    await t.objects.bulk.delete("teams", { object_ids: ["core"] });
    await expect(t.objects.get("teams", "core")).rejects.toBeInstanceOf(NotFoundError);
    await expect(t.objects.bulk.set("$users", { objects: [{ id: "x" }] })).rejects.toBeInstanceOf(
      InvalidParamsError,
    );

    await t.tenants.bulk.set({ tenants: [{ id: "acme", name: "Acme" }, { id: "initech" }] });
    // Items for different ids apply concurrently: their order in the list is not defined.
    expect((await t.tenants.list()).entries.map((tenant) => tenant.id).sort()).toEqual([
      "acme",
      "initech",
    ]);
    await t.tenants.bulk.delete({ tenant_ids: ["initech"] });
    expect((await t.tenants.list()).entries.map((tenant) => tenant.id)).toEqual(["acme"]);
  });

  it("applies the items for one id in the order given: the last one wins", async () => {
    const t = createTestEngine();
    const users = Array.from({ length: 16 }, (_, i) => ({ id: `u${i % 4}`, name: `n${i}` }));
    const tenants = Array.from({ length: 12 }, (_, i) => ({ id: `t${i % 3}`, name: `n${i}` }));
    await t.users.bulk.identify({ users });
    await t.tenants.bulk.set({ tenants });
    for (let id = 0; id < 4; id++) expect((await t.users.get(`u${id}`)).name).toBe(`n${12 + id}`);
    for (let id = 0; id < 3; id++) expect((await t.tenants.get(`t${id}`)).name).toBe(`n${9 + id}`);
  });

  it("rejects a call that is not a list of 1 to 1,000 items, applying nothing", async () => {
    const t = createTestEngine();
    await expect(t.users.bulk.identify({ users: [] })).rejects.toBeInstanceOf(InvalidParamsError);
    await expect(t.users.bulk.identify({} as never)).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "users", type: "type" })],
    });
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `u${i}` }));
    await expect(t.users.bulk.identify({ users: tooMany })).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "users", type: "length" })],
    });
    await expect(
      t.users.bulk.setPreferences({ user_ids: ["a"], preferences: null as never }),
    ).rejects.toBeInstanceOf(InvalidParamsError);
    // A bad set or set id is the call's error, reported once.
    await expect(
      t.users.bulk.setPreferences({ user_ids: ["a", "b"], preferences: { workflows: 5 as never } }),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ field: "preferences.workflows" })],
    });
    await expect(
      t.users.bulk.setPreferences({ user_ids: ["a"], preferences: { id: "bad/id" } }),
    ).rejects.toBeInstanceOf(InvalidParamsError);
    expect((await t.users.list()).entries).toEqual([]);
    await expect(t.bulkOperations.get("unknown")).rejects.toBeInstanceOf(NotFoundError);
  });
});
