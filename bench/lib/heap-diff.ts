// Two heap snapshots of one process side by side: what kinds of object there are more of at the
// end, by count and by size. `npm run soak -- --snapshots` puts the top of it in its report; it is
// what Chrome DevTools' Comparison view shows, without opening DevTools.
import { readFileSync } from "node:fs";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects of one kind: how many, and their own bytes (not what they hold on to). */
export interface Kind {
  count: number;
  bytes: number;
}

/**
 * The objects of a snapshot grouped by kind: a constructor's name for objects, closures and
 * native objects (`WebSocket`, `Socket`, `Array`), the node type in parentheses otherwise
 * (`(string)`, `(code)`, `(hidden)`).
 */
export function kindsOf(path: string): Map<string, Kind> {
  const heap = JSON.parse(readFileSync(path, "utf8")) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const kinds = new Map<string, Kind>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt] as number] ?? "?";
    const named = type === "object" || type === "closure" || type === "native";
    const name = named ? (heap.strings[heap.nodes[i + nameAt] as number] ?? "?") : `(${type})`;
    const kind = kinds.get(name) ?? { count: 0, bytes: 0 };
    kind.count += 1;
    kind.bytes += heap.nodes[i + sizeAt] as number;
    kinds.set(name, kind);
  }
  return kinds;
}

export interface Growth {
  kind: string;
  before: Kind;
  after: Kind;
}

/** The kinds whose bytes grew most from `before` to `after`, most first. */
export function growth(before: Map<string, Kind>, after: Map<string, Kind>, most = 12): Growth[] {
  const none: Kind = { count: 0, bytes: 0 };
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names]
    .map((kind) => ({ kind, before: before.get(kind) ?? none, after: after.get(kind) ?? none }))
    .sort((a, b) => b.after.bytes - b.before.bytes - (a.after.bytes - a.before.bytes))
    .slice(0, most);
}

/** Sum of every kind's bytes and count. */
export function total(kinds: Map<string, Kind>): Kind {
  let count = 0;
  let bytes = 0;
  for (const kind of kinds.values()) {
    count += kind.count;
    bytes += kind.bytes;
  }
  return { count, bytes };
}
