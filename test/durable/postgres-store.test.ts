import { postgresStore } from "../../src/postgres/index.js";
import { testStore } from "../../src/testing/conformance/store.js";
import { reusableSchemas, testPool } from "./helpers.js";

const { pool } = testPool(20);
// Emptied between tests (a fresh store each time) rather than migrated per test; migrations have
// their own tests in postgres-store-extra.test.ts.
const schema = reusableSchemas(pool, "store");

testStore(() => postgresStore({ pool, schema: schema() }), {
  name: "postgresStore: Store conformance",
});
