/**
 * Dot-path reading for conditions: `data.items.0.name`, `data.items[0].name` and
 * `data["odd.key"]`, own properties only.
 *
 * @module
 */

/** @internal A compiled path: reads the value at the path from a root, undefined when missing. */
export type PathReader = (root: unknown) => unknown;

/**
 * @internal Splits a path into its property names. Dots separate names; `[0]`, `["key"]` and
 * `['key']` are bracket forms (the quoted ones may hold dots). Done once per path, at compile time.
 */
export function parsePath(path: string): string[] {
  const segments: string[] = [];
  let current = "";
  let afterBracket = false;
  let i = 0;
  while (i < path.length) {
    const char = path[i]!;
    if (char === ".") {
      if (!afterBracket || current !== "") segments.push(current);
      current = "";
      afterBracket = false;
      i += 1;
      continue;
    }
    if (char === "[") {
      const close = bracketEnd(path, i);
      if (close === -1) {
        // No closing bracket: the rest is an ordinary name.
        current += path.slice(i);
        break;
      }
      if (current !== "") segments.push(current);
      current = "";
      segments.push(bracketKey(path.slice(i + 1, close)));
      afterBracket = true;
      i = close + 1;
      continue;
    }
    current += char;
    i += 1;
  }
  if (current !== "" || (!afterBracket && path !== "")) segments.push(current);
  return segments;
}

/** Index of the `]` closing the bracket opened at `open`, honouring quotes; -1 when none. */
function bracketEnd(path: string, open: number): number {
  const quote = path[open + 1];
  if (quote === '"' || quote === "'") {
    const endQuote = path.indexOf(quote, open + 2);
    if (endQuote === -1 || path[endQuote + 1] !== "]") return -1;
    return endQuote + 1;
  }
  return path.indexOf("]", open + 1);
}

function bracketKey(inner: string): string {
  const first = inner[0];
  if ((first === '"' || first === "'") && inner.length >= 2 && inner[inner.length - 1] === first) {
    return inner.slice(1, -1);
  }
  return inner.trim();
}

/**
 * @internal Reads one own property of a value. Objects, arrays and strings have properties
 * (`length`, indexes); anything else has none. Inherited properties (`__proto__`,
 * `constructor`, `toString`) are never read.
 */
export function readOwn(value: unknown, key: string): unknown {
  if (typeof value === "object" ? value === null : typeof value !== "string") return undefined;
  const target = value as Record<string, unknown>;
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** @internal Compiles property names into a reader (specialized for short paths). */
export function compileSegments(segments: readonly string[]): PathReader {
  const [a, b, c] = segments;
  switch (segments.length) {
    case 0:
      return (root) => root;
    case 1:
      return (root) => readOwn(root, a!);
    case 2:
      return (root) => readOwn(readOwn(root, a!), b!);
    case 3:
      return (root) => readOwn(readOwn(readOwn(root, a!), b!), c!);
    default: {
      const keys = [...segments];
      const n = keys.length;
      return (root) => {
        let value = root;
        for (let i = 0; i < n; i++) {
          if (value === undefined || value === null) return undefined;
          value = readOwn(value, keys[i]!);
        }
        return value;
      };
    }
  }
}

/** @internal Compiles a path string into a reader. */
export function compilePath(path: string): PathReader {
  return compileSegments(parsePath(path));
}

const PARSED_CACHE_LIMIT = 1000;
const parsedCache = new Map<string, string[]>();

/**
 * Reads a dot path (`"data.items.0.name"`, also `"data.items[0].name"`) from the scope.
 *
 * Only own properties are read, never inherited ones: `data.__proto__` or `data.constructor` on
 * a plain object read `undefined` unless the object has such an own property. Arrays and strings
 * expose their indexes and `length`.
 *
 * @param scope - The root value (usually a condition scope).
 * @param path - The path to read.
 * @returns The value at the path, or `undefined` when any part of it is missing.
 * @example
 * ```ts
 * readPath({ data: { items: [{ name: "a" }] } }, "data.items[0].name"); // "a"
 * readPath({ data: {} }, "data.constructor"); // undefined
 * ```
 */
export function readPath(scope: unknown, path: string): unknown {
  let segments = parsedCache.get(path);
  if (segments === undefined) {
    segments = parsePath(path);
    if (parsedCache.size >= PARSED_CACHE_LIMIT) parsedCache.clear();
    parsedCache.set(path, segments);
  }
  let value = scope;
  for (const key of segments) {
    if (value === undefined || value === null) return undefined;
    value = readOwn(value, key);
  }
  return value;
}
