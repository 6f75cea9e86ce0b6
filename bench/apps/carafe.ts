// The benchmark app on Carafe: served by `carafe serve bench/apps/carafe.ts:app`.
// Light routes are plain functions (on the loop with --threads 0, on the pool with --threads N);
// the CPU-bound and blocking routes are marked to run on a pool thread in every configuration.
import { Carafe } from "carafe";
import { HELLO, JSON_BODY, block, cpu, io, user } from "./work.ts";

export const app = new Carafe();

app.get("/", () => HELLO);
app.get("/json", () => JSON_BODY);
app.get("/user/<id>", (req) => user(req.params.id, req.args.get("x") ?? null));
app.post("/echo", (req) => req.json());
app.get("/cpu", { thread: true }, cpu);
app.get("/block", { thread: true }, block);
app.get("/io", io);
