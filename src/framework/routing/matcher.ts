// Design: a trie over path segments, built at registration. Matching a request walks it once:
// at each node the exact static child is looked up in a Map (O(1)), then dynamic edges in
// priority order (mixed text+variable segments, then converters by weight), then `path`
// edges that swallow one or more segments. The walk backtracks only where a converter rejects
// a value, so static rules always win over dynamic ones and the cost does not grow with the
// number of rules the way a linear regex scan does.

import { ValidationError, type Converter } from "./converters.ts";
import type { RuleSegment } from "./rule.ts";

interface DynamicEdge<T> {
  readonly segment: Exclude<RuleSegment, { kind: "static" }>;
  /** The shape of each converter's value (one per variable of the segment). */
  readonly shapes: readonly RegExp[];
  readonly node: TrieNode<T>;
  readonly rank: number;
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

/** A compiled set of rules that finds the rules matching a list of decoded path segments. */
export class SegmentMatcher<T> {
  readonly #root = new TrieNode<T>();

  /** Adds a rule's segments; `leaf` is what the visitor receives when it matches. */
  insert(segments: readonly RuleSegment[], leaf: T): void {
    let node = this.#root;
    for (const segment of segments) {
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
   * The first rule matching `segments`, best first, that `accepts`; `values` receives its
   * variables' converted values in the rule's order.
   */
  find<K>(
    segments: readonly string[],
    accepts: Accepts<T, K>,
    key: K,
    values: unknown[],
  ): T | undefined {
    return walk(this.#root, segments, 0, values, accepts, key);
  }

  /** Every rule matching `segments`, best first. */
  all(segments: readonly string[]): T[] {
    const found: T[] = [];
    this.find(
      segments,
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

/** Up to this many static children are compared one by one rather than looked up. */
const FEW = 8;

function staticChild<T>(node: TrieNode<T>, text: string): TrieNode<T> | undefined {
  const texts = node.fewTexts;
  if (texts === null) return node.static.get(text);
  for (let i = 0; i < texts.length; i += 1) if (texts[i] === text) return node.fewNodes[i];
  return undefined;
}

// The walk keeps the values of the variables on the way down in `values` and leaves them there
// when a rule is accepted, so the caller reads them without a copy.
function walk<T, K>(
  node: TrieNode<T>,
  segments: readonly string[],
  index: number,
  values: unknown[],
  accepts: Accepts<T, K>,
  key: K,
): T | undefined {
  if (index === segments.length) {
    for (const leaf of node.leaves) if (accepts(leaf, key)) return leaf;
    return undefined;
  }
  const text = segments[index] as string;
  const child = staticChild(node, text);
  if (child !== undefined) {
    const found = walk(child, segments, index + 1, values, accepts, key);
    if (found !== undefined) return found;
  }

  for (const edge of node.dynamic) {
    const segment = edge.segment;
    if (segment.kind === "variable") {
      if (text === "") continue;
      const value = convert(segment.converter, edge.shapes[0] as RegExp, text);
      if (value === REJECTED) continue;
      values.push(value);
      const found = walk(edge.node, segments, index + 1, values, accepts, key);
      if (found !== undefined) return found;
      values.pop();
    } else if (segment.kind === "mixed") {
      const groups = segment.pattern.exec(text);
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
      const found = walk(edge.node, segments, index + 1, values, accepts, key);
      if (found !== undefined) return found;
      values.length -= segment.names.length;
    }
  }

  // `path` values span segments; the shortest that lets the rest of the rule match wins.
  if (text === "") return undefined;
  for (const edge of node.paths) {
    if (edge.segment.kind !== "path") continue;
    let joined = text;
    for (let end = index + 1; end <= segments.length; end += 1) {
      if (end > index + 1) joined += `/${segments[end - 1] as string}`;
      const value = convert(edge.segment.converter, edge.shapes[0] as RegExp, joined);
      if (value === REJECTED) continue;
      values.push(value);
      const found = walk(edge.node, segments, end, values, accepts, key);
      if (found !== undefined) return found;
      values.pop();
    }
  }
  return undefined;
}
