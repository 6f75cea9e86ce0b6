// Design: a trie over path segments, built at registration. Matching a request walks it once:
// at each node the exact static child is looked up in a Map (O(1)), then dynamic edges in
// priority order (mixed text+variable segments, then converters by weight), then `path`
// edges that swallow one or more segments. The walk backtracks only where a converter rejects
// a value, so static rules always win over dynamic ones and the cost does not grow with the
// number of rules the way a linear regex scan does.
//
// The walk reads the percent-encoded path itself, a segment at a time as it reaches one, so the
// segments a `path` value spans are never split only to be joined again. A `path` value is the
// shortest that lets the rest of its rule match, and it is converted once, when that rest has
// reached the rule's end: converting it at each end tried would scan the path once per segment,
// quadratic in its length. Each rule has its own dynamic edges, so when the rest of a rule has a
// fixed number of segments there is one end to try, the one that leaves that many. Only when
// another `path` variable follows is every end tried; then a `path` edge whose rest failed from
// every end after some position is not walked from a later start again, which keeps several
// `path` variables linear too. (Unless a converter rejects `path` values: each rejected try
// costs a conversion.) A long segment that mixes text and variables is matched in linear time
// too (linear-regex.ts), where V8's backtracking engine could take the square of its length.

import { ValidationError, type Converter } from "./converters.ts";
import { LinearRegex } from "./linear-regex.ts";
import type { RuleSegment } from "./rule.ts";

interface DynamicEdge<T> {
  readonly segment: Exclude<RuleSegment, { kind: "static" }>;
  /** The shape of each converter's value (one per variable of the segment). */
  readonly shapes: readonly RegExp[];
  readonly node: TrieNode<T>;
  readonly rank: number;
  /** For a `path` edge: how many segments its rule has after it; `null` when one is a `path`. */
  readonly rest: number | null;
  /** For a mixed segment: its pattern run in linear time, when the VM can run it. */
  readonly linear: LinearRegex | null;
}

class TrieNode<T> {
  readonly static = new Map<string, TrieNode<T>>();
  /** The static children's texts while they are few (else `null`): comparing them one by one beats hashing the fresh string a request brings. */
  fewTexts: string[] | null = [];
  fewNodes: TrieNode<T>[] = [];
  readonly dynamic: DynamicEdge<T>[] = [];
  readonly paths: DynamicEdge<T>[] = [];
  readonly leaves: T[] = [];
}

/** Asked of each rule whose path matches, best first, whether it is the one (`key`: e.g. the method). */
export type Accepts<T, K> = (leaf: T, key: K) => boolean;

/** Rank of a dynamic segment: mixed segments (they carry literal text) before bare converters. */
function rankOf(segment: Exclude<RuleSegment, { kind: "static" }>): number {
  if (segment.kind === "mixed") return 0;
  return 1000 + (segment.converter.weight ?? 100);
}

/** A compiled set of rules that finds the rules matching a request's path. */
export class SegmentMatcher<T> {
  readonly #root = new TrieNode<T>();

  /** Adds a rule's segments; `leaf` is what the visitor receives when it matches. */
  insert(segments: readonly RuleSegment[], leaf: T): void {
    let node = this.#root;
    for (const [position, segment] of segments.entries()) {
      if (segment.kind === "static") {
        let child = node.static.get(segment.text);
        if (child === undefined) {
          child = new TrieNode<T>();
          node.static.set(segment.text, child);
          node.fewTexts = node.static.size <= FEW ? [...node.static.keys()] : null;
          node.fewNodes = node.fewTexts === null ? [] : [...node.static.values()];
        }
        node = child;
        continue;
      }
      const converters = segment.kind === "mixed" ? segment.converters : [segment.converter];
      const edge: DynamicEdge<T> = {
        segment,
        shapes: converters.map(shapeOf),
        node: new TrieNode<T>(),
        rank: rankOf(segment),
        rest: restAfter(segments, position),
        linear: segment.kind === "mixed" ? LinearRegex.compile(segment.pattern) : null,
      };
      const list = segment.kind === "path" ? node.paths : node.dynamic;
      // Stable insert by rank keeps registration order among equals.
      let at = list.length;
      while (at > 0 && (list[at - 1] as DynamicEdge<T>).rank > edge.rank) at -= 1;
      list.splice(at, 0, edge);
      node = edge.node;
    }
    node.leaves.push(leaf);
  }

  /**
   * The first rule matching `path`, best first, that `accepts`; `values` receives its
   * variables' converted values in the rule's order. `path` is percent-encoded, starts with
   * `/`, and its encoding has been checked (`decodeURIComponent` accepts it).
   */
  find<K>(path: string, accepts: Accepts<T, K>, key: K, values: unknown[]): T | undefined {
    return walk(new Walk(path, values, accepts, key), this.#root, 1);
  }

  /** Every rule matching `path`, best first. */
  all(path: string): T[] {
    const found: T[] = [];
    this.find(
      path,
      (leaf) => {
        found.push(leaf);
        return false;
      },
      undefined,
      [],
    );
    return found;
  }
}

/** The number of segments after `segments[position]`, or `null` when one of them is a `path`. */
function restAfter(segments: readonly RuleSegment[], position: number): number | null {
  const after = segments.slice(position + 1);
  return after.some((segment) => segment.kind === "path") ? null : after.length;
}

// A converter's `regex` says what it accepts (as in Werkzeug, where rules compile to regexes);
// `toValue` may reject more but need not re-check the shape. Compiled once per converter.
const shapes = new WeakMap<Converter, RegExp>();

function shapeOf(converter: Converter): RegExp {
  let shape = shapes.get(converter);
  if (shape === undefined) {
    shape = new RegExp(`^(?:${converter.regex})$`);
    shapes.set(converter, shape);
  }
  return shape;
}

/** What `convert` returns for a value the converter does not accept. */
const REJECTED = Symbol("rejected");

function convert(converter: Converter, shape: RegExp, raw: string): unknown {
  if (!shape.test(raw)) return REJECTED;
  try {
    return converter.toValue(raw);
  } catch (error) {
    if (error instanceof ValidationError) return REJECTED;
    throw error;
  }
}

/** Mixed segments up to this long are matched by V8's regex engine, longer ones in linear time. */
const SHORT = 32;

/** Up to this many static children are compared one by one rather than looked up. */
const FEW = 8;

function staticChild<T>(node: TrieNode<T>, text: string): TrieNode<T> | undefined {
  const texts = node.fewTexts;
  if (texts === null) return node.static.get(text);
  for (let i = 0; i < texts.length; i += 1) if (texts[i] === text) return node.fewNodes[i];
  return undefined;
}

/** A `path` value whose end is being tried: converted once the rest of its rule has matched. */
interface PendingPath {
  readonly converter: Converter;
  readonly shape: RegExp;
  /** Its text is `path.slice(start, end - 1)`: from its first segment to the `/` before `end`. */
  readonly start: number;
  end: number;
  /** Where its value goes in `values`. */
  readonly slot: number;
  /** Whether the converter accepted it; `undefined` until it is converted. */
  accepted: boolean | undefined;
}

const SLASH = 0x2f;

/**
 * The state of one `find`. Positions in the path are offsets where a segment starts (just
 * after a `/`); `end`, one past the path's length, is where a final `/` would put the next one.
 */
class Walk<T, K> {
  readonly end: number;
  /** Whether segments need percent-decoding. */
  readonly encoded: boolean;
  /** The `path` values on the way down, outermost first. */
  readonly pending: PendingPath[] = [];
  /** For a `path` edge: no end from this position on leads to a rule through it. */
  failsFrom: Map<DynamicEdge<T>, number> | undefined;
  /** How many pending values converters have rejected so far. */
  rejections = 0;
  /** `startFromEnd`'s answers so far. */
  readonly #fromEnd: number[];

  constructor(
    readonly path: string,
    readonly values: unknown[],
    readonly accepts: Accepts<T, K>,
    readonly key: K,
  ) {
    this.end = path.length + 1;
    this.encoded = path.includes("%");
    this.#fromEnd = [this.end];
  }

  /** The decoded text of `path.slice(from, to)`. */
  text(from: number, to: number): string {
    const raw = this.path.slice(from, to);
    return this.encoded && raw.includes("%") ? decodeURIComponent(raw) : raw;
  }

  /** Where the segment after the one at `at` starts (`end` after the last). */
  nextStart(at: number): number {
    const slash = this.path.indexOf("/", at);
    return slash < 0 ? this.end : slash + 1;
  }

  /** Where the segment starts that leaves `count` segments after it (0 when there is none). */
  startFromEnd(count: number): number {
    // Remembered: each `path` variable tried asks for the same few.
    const starts = this.#fromEnd;
    while (starts.length <= count) {
      const later = starts[starts.length - 1] as number;
      starts.push(later > 1 ? this.path.lastIndexOf("/", later - 2) + 1 : 0);
    }
    return starts[count] as number;
  }
}

/** Converts the pending `path` values not converted yet; `false` when one is rejected. */
function settle<T, K>(state: Walk<T, K>): boolean {
  for (const pending of state.pending) {
    if (pending.accepted === undefined) {
      const value = convert(
        pending.converter,
        pending.shape,
        // Decoding the segments together gives what decoding each and joining them would:
        // a `/` is never part of an encoded character.
        state.text(pending.start, pending.end - 1),
      );
      pending.accepted = value !== REJECTED;
      if (pending.accepted) state.values[pending.slot] = value;
      else state.rejections += 1;
    }
    if (!pending.accepted) return false;
  }
  return true;
}

// The walk keeps the values of the variables on the way down in `values` and leaves them there
// when a rule is accepted, so the caller reads them without a copy.
function walk<T, K>(state: Walk<T, K>, node: TrieNode<T>, at: number): T | undefined {
  if (at === state.end) {
    if (node.leaves.length === 0 || !settle(state)) return undefined;
    for (const leaf of node.leaves) if (state.accepts(leaf, state.key)) return leaf;
    return undefined;
  }
  // Right after a `path` variable a node often has only another one: it needs no segment text.
  if (node.static.size > 0 || node.dynamic.length > 0) {
    const found = walkSegment(state, node, at);
    if (found !== undefined) return found;
  }
  // `path` values never start with an empty segment.
  const path = state.path;
  if (node.paths.length === 0 || at === path.length || path.charCodeAt(at) === SLASH) {
    return undefined;
  }
  for (const edge of node.paths) {
    const found = walkPath(state, edge, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Walks the edges of `node` that take the one segment at `at`: static, then dynamic. */
function walkSegment<T, K>(state: Walk<T, K>, node: TrieNode<T>, at: number): T | undefined {
  const next = state.nextStart(at);
  const text = state.text(at, next - 1);
  const child = staticChild(node, text);
  if (child !== undefined) {
    const found = walk(state, child, next);
    if (found !== undefined) return found;
  }
  const values = state.values;
  for (const edge of node.dynamic) {
    const segment = edge.segment;
    if (segment.kind === "variable") {
      if (text === "") continue;
      const value = convert(segment.converter, edge.shapes[0] as RegExp, text);
      if (value === REJECTED) continue;
      values.push(value);
      const found = walk(state, edge.node, next);
      if (found !== undefined) return found;
      values.pop();
    } else if (segment.kind === "mixed") {
      // Backtracking on a long segment can take time polynomial in its length; on a short one
      // V8's engine is the faster.
      const groups =
        edge.linear !== null && text.length > SHORT
          ? edge.linear.exec(text)
          : segment.pattern.exec(text);
      if (groups === null) continue;
      const converted: unknown[] = [];
      let ok = true;
      for (let i = 0; i < segment.names.length && ok; i += 1) {
        const value = convert(
          segment.converters[i] as Converter,
          edge.shapes[i] as RegExp,
          groups[i + 1] ?? "",
        );
        if (value !== REJECTED) converted.push(value);
        else ok = false;
      }
      if (!ok) continue;
      values.push(...converted);
      const found = walk(state, edge.node, next);
      if (found !== undefined) return found;
      values.length -= segment.names.length;
    }
  }
  return undefined;
}

/**
 * Walks a `path` edge whose value starts at `start`: the shortest value that lets the rest of
 * the rule match wins.
 */
function walkPath<T, K>(state: Walk<T, K>, edge: DynamicEdge<T>, start: number): T | undefined {
  if (edge.segment.kind !== "path") return undefined;
  const known = state.failsFrom?.get(edge) ?? Infinity;
  // The ends to try: the one that leaves the rest of the rule its `rest` segments, or each.
  let end = edge.rest !== null ? state.startFromEnd(edge.rest) : state.nextStart(start);
  if (end <= start || end >= known) return undefined;
  const values = state.values;
  const pending: PendingPath = {
    converter: edge.segment.converter,
    shape: edge.shapes[0] as RegExp,
    start,
    end,
    slot: values.length,
    accepted: undefined,
  };
  values.push(undefined);
  state.pending.push(pending);
  const rejections = state.rejections;
  for (;;) {
    const found = walk(state, edge.node, end);
    if (found !== undefined) return found;
    if (edge.rest !== null || end === state.end) break;
    end = state.nextStart(end);
    if (end >= known) break;
    pending.end = end;
    pending.accepted = undefined;
  }
  state.pending.pop();
  values.pop();
  // Unless a converter rejected a value on the way (which may depend on where a `path` value
  // started), the rest fails from these ends whatever the start.
  if (state.rejections === rejections) {
    state.failsFrom ??= new Map();
    state.failsFrom.set(edge, edge.rest === null ? start + 1 : end);
  }
  return undefined;
}
