import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONVERTERS } from "../../../src/framework/routing/converters.ts";
import { LinearRegex } from "../../../src/framework/routing/linear-regex.ts";

/** A deterministic stream of numbers below `n`, so a failure can be replayed. */
function numbers(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
}

function compile(source: string): LinearRegex {
  const linear = LinearRegex.compile(new RegExp(source));
  assert.ok(linear !== null, `${source} should compile`);
  return linear;
}

describe("LinearRegex", () => {
  it("gives what RegExp#exec gives, groups included, on segment-like patterns", () => {
    const pick = numbers(20);
    const variables = [
      "([^/]{1,})",
      "([^/]+?)",
      "(\\d+)",
      "(-?\\d+)",
      "(\\d+\\.\\d+)",
      "((?:a|ab|b))",
      "([a-z]+)",
      "([0-9a-f]{2,4})",
      "([^/]{2})",
      "(.+)",
      "(.*?)",
      "((?:ab)+)",
      "(a|b|)",
      "(x?)",
      "(\\w{1,3}?)",
    ];
    const texts = ["-", ".", "a", "\\.", "ab", "", "1", "\\-"];
    const alphabet = "ab-.1 2/x\n";
    for (let round = 0; round < 600; round += 1) {
      let source = `^${texts[pick(texts.length)]}`;
      for (let i = 0, count = 1 + pick(3); i < count; i += 1) {
        source += `${variables[pick(variables.length)]}${texts[pick(texts.length)]}`;
      }
      source += "$";
      const native = new RegExp(source);
      const linear = compile(source);
      for (let trial = 0; trial < 30; trial += 1) {
        let text = "";
        for (let i = 0, length = pick(12); i < length; i += 1)
          text += alphabet[pick(alphabet.length)];
        const expected = native.exec(text);
        assert.deepEqual(
          linear.exec(text),
          expected === null ? null : [...expected],
          `${source} on ${JSON.stringify(text)}`,
        );
      }
    }
  });

  it("runs the regex of every built-in converter", () => {
    for (const [name, factory] of DEFAULT_CONVERTERS) {
      const converter = factory(name === "any" ? ["a", "b.c"] : [], {});
      compile(`^x(${converter.regex})\\.y$`);
    }
  });

  it("compiles to null for a regex outside the subset it runs", () => {
    for (const regex of [
      /^(?=a)a$/,
      /^(?!a)b$/,
      /^(?<=a)b$/,
      /^(a)\1$/,
      /^(?<name>a)$/,
      /^a\bb$/,
      /^a^b$/,
      /^a$b$/,
      /^a{$/,
      /^a}$/,
      /^(?:a*)*$/,
      /^(?:a?)+$/,
      /^(a)+$/,
      /^a$/i,
      /^a/,
      /a$/,
      /^a\$/,
    ]) {
      assert.equal(LinearRegex.compile(regex), null, String(regex));
    }
  });

  it("steps the same number of threads per character on a text 16 times as long", () => {
    // Where backtracking tries the second variable again from each '-' the first could end at.
    const linear = compile("^([^/]{1,})\\-([^/]{1,})\\-(-?\\d+)\\.tar\\.gz$");
    linear.exec("a-".repeat(200));
    const short = linear.steps;
    linear.exec("a-".repeat(3200));
    assert.ok(linear.steps <= 16 * short * 1.01, `${linear.steps} steps, ${short} for 1/16 of it`);
  });
});
