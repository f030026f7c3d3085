/**
 * crier accepts every call shape of `@knocklabs/node` v1 for the methods API.md lists. Each
 * method's argument list is taken from Knock's own declarations, so a change on either side that
 * breaks a call written for `new Knock(...)` fails this file.
 */
import type { Knock } from "@knocklabs/node";
import { describe, expectTypeOf, it } from "vitest";
import { createEngine, defineWorkflow, type Engine } from "../../src/index.js";
import { createTestEngine } from "../../src/testing/index.js";

/**
 * The methods covered, by namespace path; a dotted path reaches a nested namespace (e.g.
 * `"users.feeds": "listItems"`). Covering a method is adding its name here.
 */
interface Covered {
  workflows: "trigger" | "cancel";
  users:
    | "update"
    | "get"
    | "delete"
    | "getPreferences"
    | "setPreferences"
    | "setChannelData"
    | "getChannelData"
    | "listMessages"
    | "listSubscriptions"
    | "listSchedules";
  objects:
    | "set"
    | "get"
    | "delete"
    | "addSubscriptions"
    | "deleteSubscriptions"
    | "listSubscriptions"
    | "setPreferences"
    | "getPreferences"
    | "setChannelData"
    | "getChannelData"
    | "listMessages";
  tenants: "set" | "get" | "delete";
  schedules: "create" | "update" | "delete" | "list";
  messages:
    | "list"
    | "get"
    | "markAsSeen"
    | "markAsUnseen"
    | "markAsRead"
    | "markAsUnread"
    | "archive"
    | "unarchive"
    | "markAsInteracted";
  "messages.batch":
    | "markAsSeen"
    | "markAsUnseen"
    | "markAsRead"
    | "markAsUnread"
    | "archive"
    | "unarchive"
    | "markAsInteracted";
  "users.feeds": "listItems";
  workflowRecipientRuns: "list" | "get";
}

/** The namespace at a dotted path: `At<Knock, "users.feeds">` is `Knock["users"]["feeds"]`. */
type At<T, TPath extends string> = TPath extends `${infer THead}.${infer TRest}`
  ? THead extends keyof T
    ? At<T[THead], TRest>
    : never
  : TPath extends keyof T
    ? T[TPath]
    : never;

/** `{ users: { feeds: T } }` from `"users.feeds"` and `T`. */
type Nest<TPath extends string, T> = TPath extends `${infer THead}.${infer TRest}`
  ? { [K in THead]: Nest<TRest, T> }
  : { [K in TPath]: T };

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (
  x: infer I,
) => void
  ? I
  : never;

type Args<F> = F extends (...args: infer TArgs) => unknown ? TArgs : never;

/** Knock's methods `TKeys` of a namespace, as function types taking exactly Knock's arguments. */
type KnockMethods<TNamespace, TKeys extends keyof TNamespace> = {
  [K in TKeys]: (...args: Args<TNamespace[K]>) => Promise<unknown>;
};

/** An engine as Knock's client is called: every covered method, with Knock's parameter types. */
type KnockShapedEngine = UnionToIntersection<
  {
    [P in keyof Covered]: Nest<P, KnockMethods<At<Knock, P>, Covered[P] & keyof At<Knock, P>>>;
  }[keyof Covered]
>;

/** For each covered method of `TEngine`: `check<KnockArgs, CrierArgs, "path.method">`. */
type EachMethod<TEngine, TCheck extends "args" | "keys"> = {
  [P in keyof Covered]: {
    [M in Covered[P]]: M extends keyof At<Knock, P>
      ? M extends keyof At<TEngine, P>
        ? TCheck extends "args"
          ? ArgsAccepted<Args<At<Knock, P>[M]>, Args<At<TEngine, P>[M]>, `${P}.${M}`>
          : KeysDeclared<Args<At<Knock, P>[M]>, Args<At<TEngine, P>[M]>, `${P}.${M}`>
        : `${P}.${M}: missing on crier`
      : `${P}.${M}: not a method of Knock's client`;
  }[Covered[P]];
}[keyof Covered];

/**
 * Every argument list Knock's method takes is one crier's takes: a tuple check, so arity counts
 * (a function taking fewer parameters is still assignable to one taking more, but a call passing
 * Knock's trailing request options to it would not compile).
 */
type ArgsAccepted<TKnock, TCrier, TName extends string> = [TKnock] extends [never]
  ? `${TName}: no Knock signature`
  : TKnock extends TCrier
    ? never
    : TName;

type NamedKeys<T> = T extends object ? (string extends keyof T ? never : keyof T & string) : never;
type HasIndex<T> = T extends object ? (string extends keyof T ? true : false) : false;

/**
 * Every top-level field of each object argument of Knock's is declared by crier's parameter
 * (or crier's takes any key), so object literals written for Knock pass excess-property checks.
 */
type KeysDeclared<TKnock, TCrier, TName extends string> = {
  [I in keyof TKnock & `${number}`]: I extends keyof TCrier
    ? true extends HasIndex<NonNullable<TCrier[I]>>
      ? never
      : `${TName}(#${I}).${Exclude<NamedKeys<NonNullable<TKnock[I]>>, NamedKeys<NonNullable<TCrier[I]>>>}`
    : `${TName}(#${I})`;
}[keyof TKnock & `${number}`];

describe("Knock compatibility", () => {
  it("takes every argument list of @knocklabs/node v1 for the covered methods", () => {
    expectTypeOf<EachMethod<Engine, "args">>().toBeNever();
  });

  it("declares every field of Knock's parameters, so Knock's object literals compile", () => {
    expectTypeOf<EachMethod<Engine, "keys">>().toBeNever();
  });

  it("assigns the engine and the test engine to an interface of Knock's method signatures", () => {
    const engine: KnockShapedEngine = createEngine();
    const testEngine: KnockShapedEngine = createTestEngine();
    expectTypeOf(engine).toExtend<KnockShapedEngine>();
    expectTypeOf(testEngine).toExtend<KnockShapedEngine>();
    // An engine that knows its workflows' data types still takes Knock's calls.
    const welcome = defineWorkflow({
      key: "welcome",
      trigger_data_json_schema: { type: "object", properties: { plan: { type: "string" } } },
      steps: [],
    });
    const typed = createTestEngine({ workflows: [welcome] });
    const typedAsKnock: KnockShapedEngine = typed;
    expectTypeOf<EachMethod<typeof typed, "args">>().toBeNever();
    void [engine, testEngine, typedAsKnock];
  });

  it("is not vacuous: a method that rejects Knock's arguments is named", () => {
    type Narrowed = Omit<Engine, "users" | "tenants"> & {
      users: Omit<Engine["users"], "get"> & { get(id: number): Promise<unknown> };
      tenants: Omit<Engine["tenants"], "get"> & { get(id: string): Promise<unknown> };
    };
    expectTypeOf<EachMethod<Narrowed, "args">>().toEqualTypeOf<"users.get" | "tenants.get">();
    type Undeclared = Omit<Engine, "workflows"> & {
      workflows: Omit<Engine["workflows"], "trigger"> & {
        trigger(
          key: string,
          params: { recipients: string[] },
          options?: Parameters<Engine["workflows"]["trigger"]>[2],
        ): Promise<unknown>;
      };
    };
    expectTypeOf<EachMethod<Undeclared, "keys">>().toEqualTypeOf<
      | "workflows.trigger(#1).actor"
      | "workflows.trigger(#1).cancellation_key"
      | "workflows.trigger(#1).data"
      | "workflows.trigger(#1).settings"
      | "workflows.trigger(#1).tenant"
    >();
  });

  it("takes Knock's calls as written", () => {
    const knock = createTestEngine();
    const options = { idempotencyKey: "k1", timeout: 5_000, maxRetries: 2 };
    void knock.workflows.trigger(
      "welcome",
      {
        recipients: ["u1", { id: "u2", email: "u2@example.com" }],
        actor: { id: "a1", collection: "teams" },
        data: { plan: "pro" },
        settings: { sandbox_mode: true },
        tenant: { id: "acme", settings: { branding: { primary_color: "#000" } } },
      },
      options,
    );
    void knock.users.listSubscriptions("u1", { objects: [{ id: "p1", collection: "projects" }] });
    void knock.tenants.get("acme", { resolve_full_preference_settings: true }, { timeout: 1 });
    void knock.users.getPreferences("u1", "default", null, { maxRetries: 0 });
    void knock.schedules.update({
      schedule_ids: ["s1"],
      repeats: [{ frequency: "daily", days: null, hours: 9, __typename: "ScheduleRepeatRule" }],
    });
  });
});
