// The benchmark app on Hono 4, served by @hono/node-server.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { HELLO, JSON_BODY, block, cpu, io, portFromEnv, user } from "./work.ts";

const app = new Hono();

app.get("/", (c) => c.text(HELLO));
app.get("/json", (c) => c.json(JSON_BODY));
app.get("/user/:id", (c) => c.json(user(c.req.param("id"), c.req.query("x") ?? null)));
app.post("/echo", async (c) => c.json(await c.req.json()));
app.get("/cpu", (c) => c.text(cpu()));
app.get("/block", (c) => c.text(block()));
app.get("/io", async (c) => c.text(await io()));

serve({ fetch: app.fetch, port: portFromEnv(), hostname: "127.0.0.1" });
