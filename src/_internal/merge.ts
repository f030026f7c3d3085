/**
 * @internal Deep merge and copy for JSON data, safe against prototype pollution: every key, even
 * `__proto__`, `constructor` or `prototype`, becomes an own data property of a plain object.
 */

/** @internal True for plain objects (not arrays, not null, not class instances). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * @internal Freezes `value` and every object and array inside it, in place; returns it. An object
 * frozen already is taken as frozen all through (as the store's values are) and not walked. Only
 * for values the caller made and no one else holds.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** @internal Sets an own, enumerable data property, whatever the key. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__" || key === "constructor" || key === "prototype") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/** @internal Reads an own property only (never one inherited from a prototype). */
export function getOwn(source: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(source, key) ? source[key] : undefined;
}

/** @internal A deep copy of JSON data (plain objects and arrays are copied; other values shared). */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => cloneJson(item)) as T;
  if (isPlainObject(value)) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setOwn(copy, key, cloneJson(value[key]));
    return copy as T;
  }
  return value;
}

/**
 * @internal Deep merge as identify does it: plain objects merge key by key, anything else
 * (arrays, scalars, `null`) replaces. `undefined` values are ignored. Neither input is changed.
 */
export function deepMerge(
  base: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const result = cloneJson(base);
  for (const key of Object.keys(patch)) {
    const next = patch[key];
    if (next === undefined) continue;
    const current = getOwn(result, key);
    if (isPlainObject(current) && isPlainObject(next))
      setOwn(result, key, deepMerge(current, next));
    else setOwn(result, key, cloneJson(next));
  }
  return result;
}
