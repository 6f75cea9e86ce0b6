// The demo app that `npm start` serves on http://127.0.0.1:8000.
import { Blueprint, Carafe, abort, json, redirect, renderTemplate, session, urlFor } from "carafe";

export const app = new Carafe({
  secretKey: process.env["CARAFE_SECRET_KEY"] ?? "demo-only-secret-change-me",
  maxContentLength: 1024 * 1024,
});

const users = new Map([
  [1, { id: 1, name: "Ada Lovelace" }],
  [2, { id: 2, name: "Alan Turing" }],
]);

app.get("/", function index() {
  const visits = (session.get("visits") as number | undefined) ?? 0;
  session.set("visits", visits + 1);
  return renderTemplate("index.html", { users: [...users.values()], visits: visits + 1 });
});

app.get("/user/<int:id>", function user(req) {
  const found = users.get(req.params.id);
  if (found === undefined) abort(404, `No user with id ${req.params.id}.`);
  return found;
});

app.route("/greet", { methods: ["GET", "POST"] }, function greet(req) {
  if (req.method === "POST") {
    const name = req.form.get("name", "").trim();
    if (!name) abort(400, "The form needs a non-empty 'name' field.");
    return redirect(urlFor("greet", { name }), 303);
  }
  return renderTemplate("greet.html", { name: req.args.get("name") });
});

const api = new Blueprint("api", { urlPrefix: "/api" });

api.get("/users", function listUsers() {
  return [...users.values()];
});

api.post("/users", function createUser(req) {
  const body = req.json<{ name?: unknown }>();
  if (typeof body.name !== "string" || body.name === "")
    abort(422, "'name' must be a non-empty string.");
  const id = Math.max(0, ...users.keys()) + 1;
  const created = { id, name: body.name };
  users.set(id, created);
  return json(created, 201, { Location: urlFor("user", { id }) });
});

app.registerBlueprint(api);

// `npx tsx examples/demo/app.ts` serves it too; under `carafe run` this line does nothing.
await app.run({ port: 8000 });
