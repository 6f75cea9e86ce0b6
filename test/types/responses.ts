// Type tests for what a handler may return: checked by `npm run typecheck`, never run. Each
// `@ts-expect-error` fails the build ("Unused '@ts-expect-error' directive") when the line
// below it compiles, so a return type TypeScript should refuse cannot slip back in.

import { Buffer } from "node:buffer";
import { Carafe, Response, json, makeResponse, type ResponseValue } from "carafe";

const app = new Carafe();

interface User {
  id: number;
  name: string;
  tags: string[];
}
declare const user: User;
declare function loadUser(): Promise<User>;

// ---- Accepted --------------------------------------------------------------------------------

app.get("/text", () => "<p>hi</p>");
app.get("/object", () => ({ id: 1, nested: { ok: true }, list: [1, "two", null] }));
// An interface-typed value is a plain object as far as TypeScript can tell.
app.get("/interface", () => user);
app.get("/interface-async", async () => loadUser());
app.get("/array", () => [user, user]);
app.get("/empty-array", () => []);
// A Flask tuple is an array, so JSON; makeResponse gives a status and headers.
app.get("/tuple", () => ["Created", 201] as const);
app.post("/created", () => makeResponse("Created", 201, { Location: "/items/7" }));
app.get("/bytes", () => new Uint8Array([1, 2]));
app.get("/buffer", () => Buffer.from("hi"));
app.get("/response", () => new Response("ok", { status: 202 }));
app.get("/web-response", () => new globalThis.Response("ok"));
app.get("/json", () => json({ id: 1 }, 201));
app.get("/generator", () =>
  (function* () {
    yield "a";
    yield new Uint8Array([98]);
  })(),
);
app.get("/async-generator", () =>
  (async function* () {
    yield "a";
  })(),
);
app.get("/stream", () => new ReadableStream<Uint8Array>());
// Data keys named like methods are fine as long as they hold data.
app.get("/method-names", () => ({ has: true, then: "later", bind: 1, getTime: null }));
app.errorHandler(404, () => ({ error: "not found" }));

// ---- Refused ---------------------------------------------------------------------------------

// @ts-expect-error a Map is sent as {} by JSON: convert it with Object.fromEntries
app.get("/map", () => new Map([["a", 1]]));
// @ts-expect-error a Set is sent as {} by JSON: convert it with [...set]
app.get("/set", () => new Set(["a"]));
// @ts-expect-error a Map behind a promise is refused too
app.get("/map-async", async () => new Map<string, number>());
// @ts-expect-error a WeakMap cannot be sent at all
app.get("/weakmap", () => new WeakMap());
// @ts-expect-error a Date is not a plain object
app.get("/date", () => new Date());
// @ts-expect-error a function is not a response
app.get("/function", () => () => "hi");
// @ts-expect-error a number is not a response (Flask refuses an int too)
app.get("/number", () => 42);
// @ts-expect-error a boolean is not a response
app.get("/boolean", () => true);
// @ts-expect-error null is not a response
app.get("/null", () => null);
// @ts-expect-error a view must return something
app.get("/nothing", () => {});
// @ts-expect-error an iterable of numbers is not a stream of text or bytes
app.get("/numbers", () => (function* () { yield 1; })()); // prettier-ignore
// @ts-expect-error an array's items are checked: a Map inside one is refused
app.get("/array-of-maps", () => [new Map()]);
// @ts-expect-error error handlers return the same values as views
app.errorHandler(500, () => new Map());

// ResponseValue names the same set, for helpers declared apart from a route.
const _ok: ResponseValue = { id: 1 };
function listUsers(): ResponseValue {
  return { users: [user], total: 1 };
}
app.get("/users", listUsers);
makeResponse({ id: 1 }, 201);
// @ts-expect-error a key that holds a method is not data
const _method: ResponseValue = { has: () => true };
// @ts-expect-error the same set as a view's return
const _map: ResponseValue = new Map();
// @ts-expect-error makeResponse takes what a view may return
makeResponse(new Set());
