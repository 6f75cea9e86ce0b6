// The benchmark app on Fastify 5.
import Fastify from "fastify";
import { HELLO, JSON_BODY, block, cpu, io, portFromEnv, user } from "./work.ts";

const app = Fastify({ logger: false });

app.get("/", () => HELLO);
app.get("/json", () => JSON_BODY);
app.get<{ Params: { id: string }; Querystring: { x?: string } }>("/user/:id", (req) =>
  user(req.params.id, req.query.x ?? null),
);
app.post("/echo", (req) => req.body);
app.get("/cpu", () => cpu());
app.get("/block", () => block());
app.get("/io", () => io());

await app.listen({ port: portFromEnv(), host: "127.0.0.1" });
