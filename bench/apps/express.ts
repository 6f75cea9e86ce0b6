// The benchmark app on Express 5.
import express from "express";
import { HELLO, JSON_BODY, block, cpu, io, portFromEnv, user } from "./work.ts";

const app = express();
app.use(express.json());

app.get("/", (_req, res) => void res.type("text/plain").send(HELLO));
app.get("/json", (_req, res) => void res.json(JSON_BODY));
app.get("/user/:id", (req, res) => {
  const x = typeof req.query["x"] === "string" ? req.query["x"] : null;
  res.json(user(req.params.id, x));
});
app.post("/echo", (req, res) => void res.json(req.body));
app.get("/cpu", (_req, res) => void res.type("text/plain").send(cpu()));
app.get("/block", (_req, res) => void res.type("text/plain").send(block()));
app.get("/io", async (_req, res) => void res.type("text/plain").send(await io()));

app.listen(portFromEnv(), "127.0.0.1");
