/**
 * `crier/knock`: reading what Knock's tools write, so a project that uses Knock can run on crier.
 *
 * @module crier/knock
 */

export { loadKnockWorkflows } from "./load-workflows.js";
