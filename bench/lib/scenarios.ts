// The load each configuration is put under (bench/README.md explains why these): HTTP scenarios
// for the HTTP servers, WebSocket scenarios for the WebSocket servers.

export interface Scenario {
  key: string;
  title: string;
  method: "GET" | "POST";
  path: string;
  connections: number;
  /** Load on another route running at the same time; only the main route is measured. */
  background?: { path: string; connections: number };
  /**
   * Whether the load runs in one-second slices, each slice on every server in turn (bench/run.ts):
   * the scenarios where the server's CPU is the limit, so its rate follows the machine's speed.
   */
  sliced?: boolean;
}

export const SCENARIOS: Scenario[] = [
  { key: "S1", title: "GET / (text)", method: "GET", path: "/", connections: 50, sliced: true },
  { key: "S2", title: "GET /json", method: "GET", path: "/json", connections: 50, sliced: true },
  {
    key: "S3",
    title: "GET /user/123?x=abc",
    method: "GET",
    path: "/user/123?x=abc",
    connections: 50,
    sliced: true,
  },
  {
    key: "S4",
    title: "POST /echo (1 KB JSON)",
    method: "POST",
    path: "/echo",
    connections: 50,
    sliced: true,
  },
  {
    key: "S5",
    title: "GET / while /cpu is loaded",
    method: "GET",
    path: "/",
    connections: 20,
    background: { path: "/cpu", connections: 4 },
  },
  { key: "S6", title: "GET /block (50 ms sync)", method: "GET", path: "/block", connections: 16 },
  { key: "S7", title: "GET /io (50 ms await)", method: "GET", path: "/io", connections: 100 },
];

export interface SocketScenario {
  key: string;
  title: string;
  /** What each client does (bench/lib/ws-load.ts): echo round trips, or receive broadcasts. */
  mode: "echo" | "broadcast";
  path: string;
  clients: number;
}

export const SOCKET_SCENARIOS: SocketScenario[] = [
  {
    key: "W1",
    title: "echo, one 32-byte text message at a time per client",
    mode: "echo",
    path: "/echo",
    clients: 50,
  },
  {
    key: "W2",
    title: "broadcast to one room",
    mode: "broadcast",
    path: "/room/bench",
    clients: 1000,
  },
  {
    key: "W3",
    title: "W1's echo, the route written as event handlers",
    mode: "echo",
    path: "/echo-events",
    clients: 50,
  },
];

/** The ≈1 KB JSON document `POST /echo` sends. */
export const ECHO_BODY = JSON.stringify({
  id: 12345,
  name: "Ada Lovelace",
  email: "ada@example.com",
  tags: Array.from({ length: 24 }, (_, i) => `tag-${i}`),
  items: Array.from({ length: 12 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    qty: i + 1,
    price: 9.99,
  })),
  note: "x".repeat(200),
});
