// A Hono app, served by Carafe the way gunicorn serves any WSGI app: Carafe runs any object
// with a `fetch(Request)` method. The first routes are those of Hono's "Getting Started" page.
//
// Serve it with:   carafe serve examples/hono/app.ts
// (from a checkout: node --conditions=carafe-source bin/carafe.js serve examples/hono/app.ts)

import { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { stream } from "hono/streaming";

const app = new Hono();

app.get("/", (c) => c.text("Hello Hono!"));

app.get("/api/hello", (c) => c.json({ ok: true, message: "Hello Hono!" }));

app.get("/posts/:id", (c) => {
  const page = c.req.query("page");
  const id = c.req.param("id");
  c.header("X-Message", "Hi!");
  return c.text(`You want to see ${page} of ${id}`);
});

app.post("/posts", async (c) => {
  const post = await c.req.json<{ title: string }>();
  return c.json({ created: post.title }, 201);
});

app.get("/user/:id", (c) => c.json({ id: c.req.param("id") }));

app.get("/login", (c) => {
  setCookie(c, "session", "abc", { httpOnly: true, path: "/" });
  // Browsers cap cookie lifetimes at 400 days; a week keeps within it.
  setCookie(c, "theme", "dark", { expires: new Date(Date.now() + 7 * 24 * 3600 * 1000) });
  return c.text("Logged in");
});

app.get("/count", (c) =>
  stream(c, async (out) => {
    for (let i = 1; i <= 3; i++) await out.writeln(String(i));
  }),
);

export default app;
