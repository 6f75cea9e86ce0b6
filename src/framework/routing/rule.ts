// Parses a rule such as `/user/<int:id>/posts/<path:rest>` once, at registration, into
// segments the matcher walks and parts `urlFor` fills in.

import { CarafeError } from "../errors.ts";
import type { Converter, ConverterArg, ConverterFactory } from "./converters.ts";

/** One `/`-separated piece of a rule. */
export type RuleSegment =
  | { readonly kind: "static"; readonly text: string }
  | { readonly kind: "variable"; readonly name: string; readonly converter: Converter }
  | {
      readonly kind: "mixed";
      readonly pattern: RegExp;
      readonly names: readonly string[];
      readonly converters: readonly Converter[];
    }
  | { readonly kind: "path"; readonly name: string; readonly converter: Converter };

/** A piece of the rule for building URLs: literal text or a variable. */
export type RulePart =
  | { readonly kind: "static"; readonly text: string }
  | { readonly kind: "variable"; readonly name: string; readonly converter: Converter };

/** A rule, parsed. */
export interface ParsedRule {
  readonly rule: string;
  readonly segments: readonly RuleSegment[];
  readonly parts: readonly RulePart[];
  readonly variables: readonly string[];
}

const VARIABLE = /<(?:([a-zA-Z_][a-zA-Z0-9_]*)(?:\((.*?)\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>/y;

function badRule(rule: string, problem: string): CarafeError {
  return new CarafeError("ERR_BAD_RULE", `malformed rule ${JSON.stringify(rule)}: ${problem}`);
}

/** Splits a rule into text and variable parts, checking its syntax. */
function tokenize(rule: string, converters: ReadonlyMap<string, ConverterFactory>): RulePart[] {
  if (!rule.startsWith("/")) throw badRule(rule, "a rule must start with '/'");
  const parts: RulePart[] = [];
  const seen = new Set<string>();
  let text = "";
  let index = 0;
  while (index < rule.length) {
    const char = rule[index] as string;
    if (char === ">") throw badRule(rule, `'>' at position ${index} closes nothing`);
    if (char !== "<") {
      text += char;
      index += 1;
      continue;
    }
    VARIABLE.lastIndex = index;
    const match = VARIABLE.exec(rule);
    if (match === null) {
      throw badRule(
        rule,
        `the variable at position ${index} is not of the form <name> or <converter:name>`,
      );
    }
    const [whole, converterName = "default", rawArgs, name = ""] = match;
    if (seen.has(name)) throw badRule(rule, `the variable '${name}' appears twice`);
    seen.add(name);
    const factory = converters.get(converterName);
    if (factory === undefined) {
      throw badRule(
        rule,
        `unknown converter '${converterName}' (known: ${[...converters.keys()].filter((key) => key !== "default").join(", ")}); register it with app.addConverter`,
      );
    }
    let converter: Converter;
    try {
      const [args, kwargs] = parseArguments(rawArgs ?? "");
      converter = factory(args, kwargs);
    } catch (error) {
      throw badRule(rule, `converter '${converterName}': ${(error as Error).message}`);
    }
    if (text) parts.push({ kind: "static", text });
    text = "";
    parts.push({ kind: "variable", name, converter });
    index += whole.length;
  }
  if (text) parts.push({ kind: "static", text });
  return parts;
}

/** Parses converter arguments such as `min=1, max=10` or `'a', b`. */
function parseArguments(raw: string): [ConverterArg[], Record<string, ConverterArg>] {
  const args: ConverterArg[] = [];
  const kwargs: Record<string, ConverterArg> = {};
  if (raw.trim() === "") return [args, kwargs];
  for (const item of raw.split(",")) {
    const eq = item.indexOf("=");
    if (eq >= 0) kwargs[item.slice(0, eq).trim()] = parseValue(item.slice(eq + 1).trim());
    else args.push(parseValue(item.trim()));
  }
  return [args, kwargs];
}

function parseValue(text: string): ConverterArg {
  if (text === "") {
    throw new CarafeError(
      "ERR_BAD_RULE",
      "empty argument; write a value after '=', or remove the extra comma",
    );
  }
  if (/^(['"]).*\1$/.test(text)) return text.slice(1, -1);
  if (text === "True" || text === "true") return true;
  if (text === "False" || text === "false") return false;
  if (text === "None" || text === "null") return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

/** Parses and validates a rule; throws `CarafeError` (`ERR_BAD_RULE`) naming the rule. */
export function parseRule(
  rule: string,
  converters: ReadonlyMap<string, ConverterFactory>,
): ParsedRule {
  const parts = tokenize(rule, converters);
  // Regroup the parts into '/'-separated segments (the leading '/' is implied).
  const segments: RuleSegment[] = [];
  let current: RulePart[] = [];
  const flush = (): void => {
    segments.push(toSegment(rule, current));
    current = [];
  };
  let first = true;
  for (const part of parts) {
    if (part.kind === "variable") {
      current.push(part);
      continue;
    }
    const pieces = part.text.split("/");
    pieces.forEach((piece, i) => {
      if (i > 0) {
        if (first) first = false;
        else flush();
      }
      if (piece) current.push({ kind: "static", text: piece });
    });
  }
  flush();
  for (let i = 0; i < segments.length - 1; i += 1) {
    const segment = segments[i] as RuleSegment;
    if (segment.kind === "static" && segment.text === "") {
      throw badRule(rule, "it has an empty segment ('//')");
    }
  }
  const variables = parts.flatMap((part) => (part.kind === "variable" ? [part.name] : []));
  return { rule, segments, parts, variables };
}

function toSegment(rule: string, parts: readonly RulePart[]): RuleSegment {
  if (parts.length === 0) return { kind: "static", text: "" };
  const only = parts[0] as RulePart;
  if (parts.length === 1 && only.kind === "static") return only;
  if (parts.length === 1 && only.kind === "variable") {
    return only.converter.partIsolating === false
      ? { kind: "path", name: only.name, converter: only.converter }
      : { kind: "variable", name: only.name, converter: only.converter };
  }
  const names: string[] = [];
  const converters: Converter[] = [];
  let source = "^";
  for (const part of parts) {
    if (part.kind === "static") {
      source += part.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      continue;
    }
    if (part.converter.partIsolating === false) {
      throw badRule(
        rule,
        `'${part.name}' uses a converter that spans '/', so it must fill whole segments`,
      );
    }
    names.push(part.name);
    converters.push(part.converter);
    source += `(${part.converter.regex})`;
  }
  return { kind: "mixed", pattern: new RegExp(`${source}$`), names, converters };
}
