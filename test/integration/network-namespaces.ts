// Hosts of their own for the multi-host tests: each a Linux network namespace joined to the root
// namespace by a veth pair, as machines on one network are. A process started in a host (`ip
// netns exec`) sees only that host's addresses; the root namespace reaches each host at its
// address, and each host reaches the root namespace at its gateway.

import { spawnSync } from "node:child_process";

/** `false` when this machine can create network namespaces, otherwise why not (a `skip` reason). */
export const namespacesUnavailable: string | false = probe();

function probe(): string | false {
  if (process.platform !== "linux") return "network namespaces are a Linux feature";
  if (spawnSync("ip", ["-V"]).status !== 0) {
    return "the ip command is not installed (apt-get install iproute2)";
  }
  if (process.getuid?.() !== 0) return "creating network namespaces needs root (ip netns add)";
  const name = `carafe-probe-${process.pid}`;
  const added = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (added.status !== 0) {
    return `this machine cannot create network namespaces (ip netns add: ${added.stderr.trim()})`;
  }
  spawnSync("ip", ["netns", "del", name]);
  return false;
}

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr.trim()}`);
}

/** One host: a network namespace with one address, linked to the root namespace. */
export interface Host {
  readonly name: string;
  readonly namespace: string;
  /** The host's address, where its servers listen. */
  readonly address: string;
  /** The root namespace's address on the link: what the host sees as its peer and gateway. */
  readonly gateway: string;
  /** Runs a command inside the host: prefix it with this (`startServe`'s `prefix`). */
  readonly exec: string[];
}

/** The third byte of a 10.200.X.0/24 that no interface of this machine uses yet. */
function freeSubnet(): number {
  const used = spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout;
  for (let step = 0; step < 256; step += 1) {
    const third = (process.pid + step) % 256;
    if (!used.includes(` 10.200.${third}.`)) return third;
  }
  throw new Error("every 10.200.X.0/24 is in use on this machine");
}

/** What this process created, for `removeHosts`: namespaces, and links of the root namespace. */
const created: { namespaces: string[]; links: string[] } = { namespaces: [], links: [] };

/**
 * Creates one host per name, in a 10.200.X.0/24 no interface uses, with names unique to this
 * process. `removeHosts` takes them away again; call it from an `after` hook, which runs
 * whether the tests passed or not.
 */
export function createHosts(names: readonly string[]): Host[] {
  const third = freeSubnet();
  const hosts: Host[] = [];
  names.forEach((name, index) => {
    const namespace = `carafe-${process.pid}-${name}`;
    // Interface names have at most 15 characters.
    const [outside, inside] = [`cf${process.pid}${index}r`, `cf${process.pid}${index}n`];
    const gateway = `10.200.${third}.${index * 4 + 1}`;
    const address = `10.200.${third}.${index * 4 + 2}`;
    ip("netns", "add", namespace);
    created.namespaces.push(namespace);
    ip("link", "add", outside, "type", "veth", "peer", "name", inside);
    created.links.push(outside);
    ip("link", "set", inside, "netns", namespace);
    ip("addr", "add", `${gateway}/30`, "dev", outside);
    ip("link", "set", outside, "up");
    const within = (...args: string[]) => ip("-n", namespace, ...args);
    within("addr", "add", `${address}/30`, "dev", inside);
    within("link", "set", inside, "up");
    within("link", "set", "lo", "up");
    within("route", "add", "default", "via", gateway);
    hosts.push({ name, namespace, address, gateway, exec: ["ip", "netns", "exec", namespace] });
  });
  return hosts;
}

/**
 * Deletes every namespace and link `createHosts` made in this process, those of a call that
 * failed halfway included (deleting one end of a link deletes the other). Kill the processes
 * started in the hosts first: a namespace lives on while a process runs in it.
 */
export function removeHosts(): void {
  for (const link of created.links.splice(0)) spawnSync("ip", ["link", "del", link]);
  for (const namespace of created.namespaces.splice(0)) {
    spawnSync("ip", ["netns", "del", namespace]);
  }
}
