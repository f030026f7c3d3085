/**
 * @internal Validation of list and filter parameters: each check records what it expected and what
 * it received as a {@link ValidationIssue}, so that a call reports every problem at once.
 */
import { InvalidParamsError, type ValidationIssue } from "../errors.js";
import type { PageRequest } from "../store/types.js";
import { describe } from "./describe.js";
import { isPlainObject } from "./merge.js";
import { type PageParams, toPageRequest } from "./paging.js";

/** @internal Collects the issues of one call's parameters. */
export class ParamChecker {
  readonly issues: ValidationIssue[] = [];
  readonly #params: Record<string, unknown>;

  /** Starts checking `params` (null or undefined: no parameters; anything else but an object is an issue). */
  constructor(params: unknown, field = "params") {
    if (params === undefined || params === null) {
      this.#params = {};
    } else if (isPlainObject(params)) {
      this.#params = params;
    } else {
      this.#params = {};
      this.issues.push({
        field,
        type: "type",
        message: `expected an object of parameters, received ${describe(params)}`,
      });
    }
  }

  /** The raw value of a parameter. */
  raw(key: string): unknown {
    return this.#params[key];
  }

  /**
   * Reports every given key that is not in `known`: type `unknown` for a typo, `unsupported` with
   * its `hint` for a Knock parameter crier does not take.
   */
  known(known: readonly string[], hint?: Record<string, string>): void {
    for (const key of Object.keys(this.#params)) {
      if (known.includes(key) || this.#params[key] === undefined) continue;
      const unsupported = hint?.[key];
      this.issues.push(
        unsupported === undefined
          ? {
              field: key,
              type: "unknown",
              message: `is not a parameter here; expected one of ${known.join(", ")}`,
            }
          : { field: key, type: "unsupported", message: unsupported },
      );
    }
  }

  /** A non-empty string, or undefined when absent. */
  string(key: string, what = "a non-empty string"): string | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    if (typeof value === "string" && value.length > 0) return value;
    this.issues.push({
      field: key,
      type: "type",
      message: `expected ${what}, received ${describe(value)}`,
    });
    return undefined;
  }

  /** A boolean, or undefined when absent. */
  boolean(key: string): boolean | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    if (typeof value === "boolean") return value;
    this.issues.push({
      field: key,
      type: "type",
      message: `expected true or false, received ${describe(value)}`,
    });
    return undefined;
  }

  /** One of `allowed`, or undefined when absent. */
  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value))
      return value as T;
    this.issues.push({
      field: key,
      type: "enum",
      message: `expected one of ${allowed.join(", ")}, received ${describe(value)}`,
    });
    return undefined;
  }

  /** A list of values from `allowed` (at least one), or undefined when absent. */
  listOf<T extends string>(key: string, allowed: readonly T[]): T[] | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length === 0) {
      this.issues.push({
        field: key,
        type: "type",
        message: `expected a non-empty array of ${allowed.join(", ")}, received ${describe(value)}`,
      });
      return undefined;
    }
    let ok = true;
    value.forEach((item, i) => {
      if (typeof item === "string" && (allowed as readonly string[]).includes(item)) return;
      ok = false;
      this.issues.push({
        field: `${key}[${i}]`,
        type: "enum",
        message: `expected one of ${allowed.join(", ")}, received ${describe(item)}`,
      });
    });
    return ok ? (value as T[]) : undefined;
  }

  /** A list of 1 to `max` non-empty strings, or undefined when absent. */
  strings(key: string, max: number): string[] | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length === 0 || value.length > max) {
      this.issues.push({
        field: key,
        type: "length",
        message: `expected an array of 1 to ${max} strings, received ${describe(value)}`,
      });
      return undefined;
    }
    let ok = true;
    value.forEach((item, i) => {
      if (typeof item === "string" && item.length > 0) return;
      ok = false;
      this.issues.push({
        field: `${key}[${i}]`,
        type: "type",
        message: `expected a non-empty string, received ${describe(item)}`,
      });
    });
    return ok ? (value as string[]) : undefined;
  }

  /** An ISO-8601 timestamp (a string `Date.parse` reads), or undefined when absent. */
  timestamp(key: string, value: unknown = this.#params[key]): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return value;
    this.issues.push({
      field: key,
      type: "format",
      message: `expected an ISO-8601 timestamp such as "2026-01-01T00:00:00Z", received ${describe(value)}`,
    });
    return undefined;
  }

  /** A `{ gt?, gte?, lt?, lte? }` range of timestamps, or undefined when absent. */
  range(key: string): { gt?: string; gte?: string; lt?: string; lte?: string } | undefined {
    const value = this.#params[key];
    if (value === undefined) return undefined;
    const bounds = ["gt", "gte", "lt", "lte"] as const;
    if (!isPlainObject(value) || !bounds.some((b) => value[b] !== undefined)) {
      this.issues.push({
        field: key,
        type: "type",
        message: `expected { gt?, gte?, lt?, lte? } with at least one ISO-8601 timestamp, received ${describe(value)}`,
      });
      return undefined;
    }
    const range: { gt?: string; gte?: string; lt?: string; lte?: string } = {};
    for (const other of Object.keys(value)) {
      if (!(bounds as readonly string[]).includes(other))
        this.issues.push({
          field: `${key}.${other}`,
          type: "unknown",
          message: "is not a bound; expected gt, gte, lt or lte",
        });
    }
    for (const bound of bounds) {
      const checked = this.timestamp(`${key}.${bound}`, value[bound]);
      if (checked !== undefined) range[bound] = checked;
    }
    return range;
  }

  /** The paging parameters (`page_size` 1 to `max`, `after`, `before`) as a store request. */
  page(max = 50): PageRequest {
    this.string("after", "a cursor string");
    this.string("before", "a cursor string");
    try {
      return toPageRequest(this.#params as PageParams, max);
    } catch (error) {
      if (!(error instanceof InvalidParamsError)) throw error;
      this.issues.push(...error.errors);
      return { limit: max };
    }
  }

  /** Throws an {@link InvalidParamsError} with every issue found, if there is any. */
  done(what: string): void {
    if (this.issues.length > 0) throw new InvalidParamsError(`Invalid ${what}:`, this.issues);
  }
}
