// Type tests for route parameters: checked by `npm run typecheck` (tsc over test/), never run.
// Each `Expect<Equal<…>>` fails to compile when a type is wrong, and each `@ts-expect-error`
// fails the build ("Unused '@ts-expect-error' directive") when the line below it compiles.

import { Blueprint, Carafe, type Request, type RouteParams } from "carafe";

/** `true` only when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// ---- RouteParams from the rule string ------------------------------------------------------

const _int: Expect<Equal<RouteParams<"/user/<int:id>">, { id: number }>> = true;
const _default: Expect<Equal<RouteParams<"/user/<name>">, { name: string }>> = true;
const _string: Expect<Equal<RouteParams<"/tag/<string(length=3):t>">, { t: string }>> = true;
const _float: Expect<Equal<RouteParams<"/price/<float:amount>">, { amount: number }>> = true;
const _path: Expect<Equal<RouteParams<"/files/<path:p>/edit">, { p: string }>> = true;
const _uuid: Expect<Equal<RouteParams<"/o/<uuid:id>">, { id: string }>> = true;
const _any: Expect<Equal<RouteParams<"/sort/<any(asc, desc):order>">, { order: "asc" | "desc" }>> =
  true;
const _anyQuoted: Expect<Equal<RouteParams<"/<any('a', \"b\"):x>">, { x: "a" | "b" }>> = true;
const _intArgs: Expect<Equal<RouteParams<"/p/<int(min=1):n>">, { n: number }>> = true;
const _many: Expect<
  Equal<
    RouteParams<"/<lang>/blog/<int:year>/<any(draft, live):state>/<path:slug>">,
    { lang: string; year: number; state: "draft" | "live"; slug: string }
  >
> = true;
const _mixed: Expect<
  Equal<RouteParams<"/files/<name>.<any(txt, md):ext>">, { name: string; ext: "txt" | "md" }>
> = true;
// A rule without variables gives no params; an unknown converter gives `unknown`.
const _none: Expect<Equal<keyof RouteParams<"/about">, never>> = true;
const _unknown: Expect<Equal<RouteParams<"/c/<hex:v>">, { v: unknown }>> = true;
// A rule only known as `string` gives an open record.
const _wide: Expect<Equal<RouteParams<string>, Record<string, unknown>>> = true;

// ---- Handlers see the params of their rule ---------------------------------------------------

const app = new Carafe();

app.get("/user/<int:id>", (req) => {
  const _id: Expect<Equal<typeof req.params.id, number>> = true;
  const _req: Expect<Equal<typeof req, Request<{ id: number }>>> = true;
  // @ts-expect-error an int param is a number, not a string
  req.params.id.toUpperCase();
  // @ts-expect-error a param not in the rule does not exist
  void req.params.name;
  // @ts-expect-error a number param cannot be assigned to a string
  const _text: string = req.params.id;
  return String(req.params.id + 1);
});

app.get("/user/<name>", (req) => {
  const _name: Expect<Equal<typeof req.params.name, string>> = true;
  // @ts-expect-error a string param is not a number
  const _n: number = req.params.name;
  return req.params.name.toUpperCase();
});

app.post("/price/<float:amount>", (req) => {
  const _amount: Expect<Equal<typeof req.params.amount, number>> = true;
  return req.params.amount.toFixed(2);
});

app.route("/files/<path:p>/<uuid:id>", { methods: ["GET", "PUT"] }, (req) => {
  const _p: Expect<Equal<typeof req.params.p, string>> = true;
  const _id: Expect<Equal<typeof req.params.id, string>> = true;
  return `${req.params.p.split("/").length} ${req.params.id}`;
});

app.get("/sort/<any(asc, desc):order>", (req) => {
  const _order: Expect<Equal<typeof req.params.order, "asc" | "desc">> = true;
  // @ts-expect-error "random" is not one of the choices
  const _random: boolean = req.params.order === "random";
  return req.params.order;
});

app.put("/<lang>/posts/<int:year>/<slug>", (req) => {
  const _all: Expect<Equal<typeof req.params, { lang: string; year: number; slug: string }>> = true;
  // @ts-expect-error params are only those of the rule
  void req.params.id;
  return `${req.params.lang}/${req.params.year.toFixed(0)}/${req.params.slug}`;
});

app.get("/about", (req) => {
  // @ts-expect-error a rule without variables has no params
  void req.params.id;
  return "about";
});

const bp = new Blueprint("shop");
bp.delete("/item/<int:id>", (req) => {
  const _id: Expect<Equal<typeof req.params.id, number>> = true;
  return String(req.params.id);
});

// @ts-expect-error a handler typed for other params does not fit the rule
app.get("/user/<int:id>", (req: Request<{ id: string }>) => req.params.id);

// A handler declared apart from the route can name its params with RouteParams.
function showUser(req: Request<RouteParams<"/user/<int:uid>">>): string {
  return req.params.uid.toFixed(0);
}
app.get("/u/<int:uid>", showUser);

// ---- WebSocket handlers see the params of their rule too -------------------------------------

app.websocket("/room/<int:id>/<any(read, write):mode>", async (ws, req) => {
  const _id: Expect<Equal<typeof req.params.id, number>> = true;
  const _mode: Expect<Equal<typeof req.params.mode, "read" | "write">> = true;
  // @ts-expect-error a param not in the rule does not exist
  void req.params.name;
  await ws.send(`room ${req.params.id}`);
});
app.websocket("/live/<int:id>", {
  open(ws, req) {
    const _id: Expect<Equal<typeof req.params.id, number>> = true;
    void ws.send(`open ${req.params.id}`);
  },
  message(ws, message, req) {
    const _message: Expect<Equal<typeof message, string | Uint8Array>> = true;
    // @ts-expect-error a param not in the rule does not exist
    void req.params.name;
    void ws.send(`live ${req.params.id}`);
  },
  close(_ws, code, reason) {
    const _close: Expect<Equal<[typeof code, typeof reason], [number, string]>> = true;
    console.log(code, reason);
  },
});
// @ts-expect-error a handler object needs a message function
app.websocket("/live", { open() {} });
