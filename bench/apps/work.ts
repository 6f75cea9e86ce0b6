// The work every benchmark app does, written once so that each server runs exactly the same
// code: only the framework around it differs.
import { pbkdf2Sync } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

/** pbkdf2 iterations of `GET /cpu` (≈25 ms on the reference machine; flask_app.py uses the same). */
export const CPU_ITERATIONS = 160_000;
/** Milliseconds of `GET /block` (synchronous) and `GET /io` (an awaited timer). */
export const WAIT_MS = 50;

export const HELLO = "Hello, World!";
export const JSON_BODY = { message: "Hello, World!" };

export function cpu(): string {
  return pbkdf2Sync("password", "salt", CPU_ITERATIONS, 32, "sha256").toString("hex");
}

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread, as a synchronous database or file call would. */
export function block(): string {
  Atomics.wait(cell, 0, 0, WAIT_MS);
  return "blocked";
}

export async function io(): Promise<string> {
  await sleep(WAIT_MS);
  return "waited";
}

export function user(id: string, x: string | null): { id: string; x: string | null } {
  return { id, x };
}

/** The parameters every app reads from the environment. */
export function portFromEnv(): number {
  const port = Number(process.env["PORT"]);
  if (!Number.isInteger(port) || port <= 0) throw new Error("set PORT to the port to listen on");
  return port;
}

/** How a WebSocket app greets a socket that joined a room: `pid ` and its process id. */
export const ROOM_HELLO = "pid ";

/**
 * The greeting itself. Bench apps only: it tells the load client which process holds each
 * socket, so W2 can check that both of Carafe's workers got some.
 */
export function roomHello(): string {
  return `${ROOM_HELLO}${process.pid}`;
}
