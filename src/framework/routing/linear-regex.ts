// Design: a segment that mixes text and variables (`<name>-<version>.tar.gz`) is matched with
// one regex built from its text and its converters' regexes. V8's engine backtracks: with two
// variables that can both run on, each place the first could end makes the second scan the
// rest of the segment again, so a 4 KB segment costs tens of milliseconds and the cost grows
// with the square of its length (the cube with three). This is the same regex run as a Pike VM
// (Thompson's NFA simulation): each character is stepped once for each state of the regex,
// whatever the input. Its threads are kept in priority order, so it picks the match
// backtracking would (the leftmost-first semantics of JavaScript regexes), captures included.
//
// It runs a subset: literals, `.`, escapes for one character, classes, non-capturing and
// capturing groups, alternation and every quantifier, greedy or lazy. A regex outside it
// (lookaround, backreferences, anchors inside, flags, captures inside a repeated group, a
// repeated group that can match nothing) compiles to `null` and stays on V8's engine.

/** The code units one position of the regex accepts: looked up for ASCII, tested otherwise. */
interface CharClass {
  readonly ascii: Uint8Array;
  readonly regex: RegExp;
}

type Node =
  | { readonly type: "char"; readonly chars: CharClass }
  | { readonly type: "seq"; readonly items: readonly Node[] }
  | { readonly type: "alt"; readonly options: readonly Node[] }
  | { readonly type: "group"; readonly capture: number | null; readonly body: Node }
  | {
      readonly type: "repeat";
      readonly body: Node;
      readonly min: number;
      readonly max: number;
      readonly greedy: boolean;
    };

/** Thrown inside the parser when the regex is outside the subset; never escapes this module. */
class Unsupported extends Error {}

/** The classes made so far, by source: rules repeat the same few (`[^/]`, `\d`). */
const classes = new Map<string, CharClass>();

/** The class of a one-character regex (`[^/]`, `\d`, `.`, `a`), as V8 reads it. */
function charClass(source: string): Node {
  let chars = classes.get(source);
  if (chars === undefined) {
    const regex = new RegExp(`^${source}$`);
    const ascii = new Uint8Array(128);
    for (let code = 0; code < 128; code += 1) {
      ascii[code] = regex.test(String.fromCharCode(code)) ? 1 : 0;
    }
    chars = { ascii, regex };
    classes.set(source, chars);
  }
  return { type: "char", chars };
}

const QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;
const ONE_CHAR_ESCAPE = /^\\(?:[dDwWsStnrfv]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[^0-9a-zA-Z])/;

class Parser {
  #at = 0;
  captures = 0;

  constructor(readonly source: string) {}

  parse(): Node {
    const node = this.#alternation();
    if (this.#at !== this.source.length) throw new Unsupported();
    return node;
  }

  #alternation(): Node {
    const options = [this.#sequence()];
    while (this.source[this.#at] === "|") {
      this.#at += 1;
      options.push(this.#sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { type: "alt", options };
  }

  #sequence(): Node {
    const items: Node[] = [];
    for (;;) {
      const char = this.source[this.#at];
      if (char === undefined || char === "|" || char === ")") break;
      items.push(this.#quantified(this.#atom()));
    }
    return { type: "seq", items };
  }

  #atom(): Node {
    const rest = this.source.slice(this.#at);
    const char = rest[0] as string;
    if (char === "(") {
      let capture: number | null = null;
      if (rest.startsWith("(?:")) this.#at += 3;
      else if (rest.startsWith("(?")) throw new Unsupported();
      else {
        this.#at += 1;
        capture = this.captures += 1;
      }
      const body = this.#alternation();
      if (this.source[this.#at] !== ")") throw new Unsupported();
      this.#at += 1;
      return { type: "group", capture, body };
    }
    if (char === "[") {
      let end = rest[1] === "^" ? 2 : 1;
      while (end < rest.length && rest[end] !== "]") end += rest[end] === "\\" ? 2 : 1;
      if (end >= rest.length) throw new Unsupported();
      this.#at += end + 1;
      return charClass(rest.slice(0, end + 1));
    }
    if (char === "\\") {
      const escape = ONE_CHAR_ESCAPE.exec(rest);
      if (escape === null) throw new Unsupported();
      this.#at += escape[0].length;
      return charClass(escape[0]);
    }
    if (char === ".") {
      this.#at += 1;
      return charClass(".");
    }
    // Anchors, quantifiers with nothing to repeat, and the brackets JavaScript reads as text
    // only in some places.
    if ("^$*+?{}]".includes(char)) throw new Unsupported();
    this.#at += 1;
    return charClass(char.replace(/[.*+?^${}()|[\]\\/]/, "\\$&"));
  }

  #quantified(body: Node): Node {
    const rest = this.source.slice(this.#at);
    let min: number;
    let max: number;
    let length = 1;
    if (rest[0] === "*") [min, max] = [0, Infinity];
    else if (rest[0] === "+") [min, max] = [1, Infinity];
    else if (rest[0] === "?") [min, max] = [0, 1];
    else if (rest[0] === "{") {
      const match = QUANTIFIER.exec(rest);
      if (match === null) throw new Unsupported();
      min = Number(match[1]);
      max = match[2] === undefined ? min : match[3] === "" ? Infinity : Number(match[3]);
      length = match[0].length;
    } else return body;
    this.#at += length;
    const greedy = this.source[this.#at] !== "?";
    if (!greedy) this.#at += 1;
    // JavaScript clears the captures inside a group at each repetition, and refuses a round
    // of a repeat that matches nothing: the VM does neither, so such regexes stay native.
    if (nullable(body) || (max > 1 && captures(body))) throw new Unsupported();
    if (min > max) throw new Unsupported();
    return { type: "repeat", body, min, max, greedy };
  }
}

function nullable(node: Node): boolean {
  switch (node.type) {
    case "char":
      return false;
    case "seq":
      return node.items.every(nullable);
    case "alt":
      return node.options.some(nullable);
    case "group":
      return nullable(node.body);
    case "repeat":
      return node.min === 0 || nullable(node.body);
  }
}

function captures(node: Node): boolean {
  switch (node.type) {
    case "char":
      return false;
    case "seq":
      return node.items.some(captures);
    case "alt":
      return node.options.some(captures);
    case "group":
      return node.capture !== null || captures(node.body);
    case "repeat":
      return captures(node.body);
  }
}

const enum Op {
  Char,
  Split,
  Jump,
  Save,
  Match,
}

/** Past this many instructions (large counted repeats) a regex stays on V8's engine. */
const MAX_PROGRAM = 4096;

/** The instructions of the VM: `Split` tries `a` before `b`; `Save` records a position. */
class Program {
  readonly ops: Op[] = [];
  readonly a: number[] = [];
  readonly b: number[] = [];
  readonly chars: (CharClass | null)[] = [];

  emit(op: Op, a = 0, b = 0, chars: CharClass | null = null): number {
    if (this.ops.length >= MAX_PROGRAM) throw new Unsupported();
    this.ops.push(op);
    this.a.push(a);
    this.b.push(b);
    this.chars.push(chars);
    return this.ops.length - 1;
  }

  get next(): number {
    return this.ops.length;
  }

  compile(node: Node): void {
    switch (node.type) {
      case "char":
        this.emit(Op.Char, 0, 0, node.chars);
        return;
      case "seq":
        for (const item of node.items) this.compile(item);
        return;
      case "group":
        if (node.capture !== null) this.emit(Op.Save, 2 * node.capture);
        this.compile(node.body);
        if (node.capture !== null) this.emit(Op.Save, 2 * node.capture + 1);
        return;
      case "alt": {
        const jumps: number[] = [];
        node.options.forEach((option, i) => {
          if (i === node.options.length - 1) {
            this.compile(option);
            return;
          }
          const split = this.emit(Op.Split);
          this.a[split] = this.next;
          this.compile(option);
          jumps.push(this.emit(Op.Jump));
          this.b[split] = this.next;
        });
        for (const jump of jumps) this.a[jump] = this.next;
        return;
      }
      case "repeat":
        this.#repeat(node);
    }
  }

  #repeat(node: Extract<Node, { type: "repeat" }>): void {
    for (let i = 0; i < node.min; i += 1) this.compile(node.body);
    // A greedy repeat prefers one more round to leaving; a lazy one the other way round.
    const branch = (split: number, into: number, out: number): void => {
      this.a[split] = node.greedy ? into : out;
      this.b[split] = node.greedy ? out : into;
    };
    if (node.max === Infinity) {
      const split = this.emit(Op.Split);
      this.compile(node.body);
      this.emit(Op.Jump, split);
      branch(split, split + 1, this.next);
      return;
    }
    const splits: number[] = [];
    for (let i = node.min; i < node.max; i += 1) {
      splits.push(this.emit(Op.Split));
      this.compile(node.body);
    }
    for (const split of splits) branch(split, split + 1, this.next);
  }
}

/**
 * A fully anchored regex (`^…$`, no flags) run in time linear in the text it matches: the
 * same match and groups as `RegExp#exec`.
 */
export class LinearRegex {
  /** Threads stepped by the last `exec`: what its time is proportional to. */
  steps = 0;
  readonly #ops: Int8Array;
  readonly #a: Int32Array;
  readonly #b: Int32Array;
  /** For each `Char` instruction, where its class's 128 ASCII answers start in `#ascii`. */
  readonly #classAt: Int32Array;
  readonly #ascii: Uint8Array;
  readonly #regexes: readonly (RegExp | null)[];
  readonly #groups: number;
  // Working space of `exec`, kept between calls: two thread lists (a pc and its saved
  // positions each), the stack of the closure, and the list each pc was last added to.
  readonly #pcs: [Int32Array, Int32Array];
  readonly #saved: [(Saved | null)[], (Saved | null)[]];
  readonly #stackPcs: Int32Array;
  readonly #stackSaved: (Saved | null)[] = [];
  readonly #seen: Int32Array;

  private constructor(program: Program, groups: number) {
    const size = program.ops.length;
    this.#ops = Int8Array.from(program.ops);
    this.#a = Int32Array.from(program.a);
    this.#b = Int32Array.from(program.b);
    const distinct = [...new Set(program.chars)].filter((chars) => chars !== null);
    this.#ascii = new Uint8Array(128 * distinct.length);
    distinct.forEach((chars, i) => this.#ascii.set(chars.ascii, 128 * i));
    this.#classAt = Int32Array.from(program.chars, (chars) =>
      chars === null ? 0 : 128 * distinct.indexOf(chars),
    );
    this.#regexes = program.chars.map((chars) => chars?.regex ?? null);
    this.#groups = groups;
    this.#pcs = [new Int32Array(size), new Int32Array(size)];
    this.#saved = [[], []];
    // Each instruction is pushed at most once per jump or split that leads to it.
    this.#stackPcs = new Int32Array(2 * size + 1);
    this.#seen = new Int32Array(size);
  }

  /** The regex compiled for the VM, or `null` when it is outside the subset the VM runs. */
  static compile(regex: RegExp): LinearRegex | null {
    const source = regex.source;
    if (regex.flags !== "" || !source.startsWith("^") || !source.endsWith("$")) return null;
    if (source.endsWith("\\$")) return null;
    try {
      const parser = new Parser(source.slice(1, -1));
      const tree = parser.parse();
      const program = new Program();
      program.compile(tree);
      program.emit(Op.Match);
      return new LinearRegex(program, parser.captures);
    } catch (error) {
      if (error instanceof Unsupported) return null;
      throw error;
    }
  }

  /** What `RegExp#exec` gives for `text`: the whole match then each group, or `null`. */
  exec(text: string): (string | undefined)[] | null {
    const ops = this.#ops;
    this.#seen.fill(-1);
    let list = 0;
    let count = this.#add(list, 0, 0, null, 0);
    this.steps = 0;
    for (let at = 0; count > 0; at += 1) {
      const pcs = this.#pcs[list] as Int32Array;
      const saved = this.#saved[list] as (Saved | null)[];
      if (at === text.length) {
        // The first thread to match is the best: the lists are in priority order.
        for (let i = 0; i < count; i += 1) {
          if (ops[pcs[i] as number] === Op.Match) return this.#result(text, saved[i] ?? null);
        }
        return null;
      }
      const code = text.charCodeAt(at);
      const into = 1 - list;
      let added = 0;
      const [ascii, classAt] = [this.#ascii, this.#classAt];
      const char = code < 128 ? "" : text.charAt(at);
      for (let i = 0; i < count; i += 1) {
        const pc = pcs[i] as number;
        // Only `Char` and `Match` instructions are on a list, and `Match` accepts nothing.
        const accepted =
          ops[pc] === Op.Char &&
          (code < 128
            ? ascii[(classAt[pc] as number) + code] === 1
            : this.#regexes[pc]?.test(char) === true);
        if (accepted) added = this.#add(into, added, pc + 1, saved[i] ?? null, at + 1);
      }
      this.steps += count;
      list = into;
      count = added;
    }
    return null;
  }

  /**
   * Adds the thread at `pc` to list `list` (which holds `count`), after following its jumps,
   * splits and saves; returns the new count. A pc already on the list is not added again: the
   * thread there got to it first, so it is the better one.
   */
  #add(list: number, count: number, pc: number, saved: Saved | null, at: number): number {
    const ops = this.#ops;
    const seen = this.#seen;
    const stackPcs = this.#stackPcs;
    const stackSaved = this.#stackSaved;
    const mark = 2 * at + list;
    let depth = 0;
    stackPcs[depth] = pc;
    stackSaved[depth] = saved;
    depth += 1;
    while (depth > 0) {
      depth -= 1;
      const here = stackPcs[depth] as number;
      const positions = stackSaved[depth] ?? null;
      if (seen[here] === mark) continue;
      seen[here] = mark;
      const op = ops[here];
      if (op === Op.Jump) {
        stackPcs[depth] = this.#a[here] as number;
        stackSaved[depth] = positions;
        depth += 1;
      } else if (op === Op.Split) {
        // Pushed last, `a` is taken first, so its threads go on the list before `b`'s.
        stackPcs[depth] = this.#b[here] as number;
        stackSaved[depth] = positions;
        stackPcs[depth + 1] = this.#a[here] as number;
        stackSaved[depth + 1] = positions;
        depth += 2;
      } else if (op === Op.Save) {
        stackPcs[depth] = here + 1;
        stackSaved[depth] = { slot: this.#a[here] as number, at, earlier: positions };
        depth += 1;
      } else {
        (this.#pcs[list] as Int32Array)[count] = here;
        (this.#saved[list] as (Saved | null)[])[count] = positions;
        count += 1;
      }
    }
    return count;
  }

  #result(text: string, saved: Saved | null): (string | undefined)[] {
    // The latest position saved in a slot is the one that counts.
    const slots = new Array<number>(2 * (this.#groups + 1)).fill(-1);
    for (let each = saved; each !== null; each = each.earlier) {
      if (slots[each.slot] === -1) slots[each.slot] = each.at;
    }
    const result: (string | undefined)[] = [text];
    for (let group = 1; group <= this.#groups; group += 1) {
      const [from, to] = [slots[2 * group] as number, slots[2 * group + 1] as number];
      result.push(from >= 0 && to >= 0 ? text.slice(from, to) : undefined);
    }
    return result;
  }
}

/** The positions a thread saved, latest first: shared between threads, never changed. */
interface Saved {
  readonly slot: number;
  readonly at: number;
  readonly earlier: Saved | null;
}
