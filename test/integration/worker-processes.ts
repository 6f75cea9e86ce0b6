// What the tests of `carafe serve` observe of its worker processes from outside: which process
// holds a listening socket (from /proc), and when a worker process ends.

import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createServer as createNetServer, type Socket } from "node:net";
import { deferred } from "../helpers.ts";

type Deferred = ReturnType<typeof deferred<void>>;

/** The inode of the socket listening on 127.0.0.1:`port`, from the kernel's table. */
export function listeningInode(port: number): string {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const [, address, , state, , , , , , inode] = line.trim().split(/\s+/);
    if (address === local && state === "0A" && inode !== undefined) return inode;
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Whether process `pid` has the socket `inode` open (a listening socket it accepts on). */
export function holdsSocket(pid: number, inode: string): boolean {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false; // closed between listing and reading
    }
  });
}

/**
 * Listens on the Unix socket `path` for the workers of test/fixtures/pool/exit-reporting.ts: each connects, says
 * its pid, and holds the connection until its process ends, when the kernel closes it.
 */
export async function watchExits(path: string): Promise<{
  path: string;
  /** Resolves once worker `pid` has connected. */
  connected(pid: number): Promise<void>;
  /** Resolves once the process of worker `pid` has ended (its connection closed). */
  exited(pid: number): Promise<void>;
  /** Whether worker `pid` has connected and its process has not ended yet. */
  isOpen(pid: number): boolean;
  close(): void;
}> {
  type Watched = { connected: Deferred; exited: Deferred; open: boolean };
  const connections = new Map<number, Watched>();
  const sockets = new Set<Socket>();
  const entry = (pid: number): Watched => {
    let found = connections.get(pid);
    if (found === undefined) {
      found = { connected: deferred(), exited: deferred(), open: false };
      connections.set(pid, found);
    }
    return found;
  };
  const server = createNetServer((socket) => {
    sockets.add(socket);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (text.includes("\n")) return; // the pid came already
      text += chunk;
      if (!text.includes("\n")) return;
      const watched = entry(Number(text.split("\n")[0]));
      watched.open = true;
      watched.connected.resolve();
      socket.once("close", () => {
        watched.open = false;
        watched.exited.resolve();
      });
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((done) => server.listen(path, done));
  return {
    path,
    connected: (pid) => entry(pid).connected.promise,
    exited: (pid) => entry(pid).exited.promise,
    isOpen: (pid) => connections.get(pid)?.open === true,
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
