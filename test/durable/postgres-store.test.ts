import { postgresStore } from "../../src/postgres/index.js";
import { testStore } from "../../src/testing/conformance/store.js";
import { testPool } from "./helpers.js";

const { pool, schemaName } = testPool(20);

testStore(() => postgresStore({ pool, schema: schemaName("store") }), {
  name: "postgresStore: Store conformance",
});
