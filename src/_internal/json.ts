/** @internal JSON value types shared by every module. */
export type JsonPrimitive = string | number | boolean | null;
/** @internal */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** @internal */
export type JsonObject = { [key: string]: JsonValue };
