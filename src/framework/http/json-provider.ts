// The app's JSON provider (Flask's `app.json`): how the values a view returns, and `json()`, are
// encoded. Its defaults are `JSON.stringify`'s own output, which the record fast path sends
// as it is; the options (sorted keys, ASCII only, indentation) and a subclass's `dumps` or
// `response` take the slower road through them.

import { Buffer } from "node:buffer";
import { CarafeError } from "../errors.ts";
import { Response, encodeJson } from "./response.ts";

/** Characters `ensureAscii` escapes: all but printable ASCII (control characters JSON escapes itself). */
const NON_ASCII = /[\u007f-\uffff]/g;

function escapeNonAscii(text: string): string {
  return text.replace(
    NON_ASCII,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Orders strings by code point, as Python sorts `sort_keys`' keys. UTF-16 order differs only
 * where a surrogate (half of a character above U+FFFF) meets a character from U+E000 to U+FFFF.
 */
function byCodePoint(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && Math.max(x, y) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * `JSON.stringify(value, null, gap)` with every object's keys in sorted order. A replacer
 * cannot do it: an object puts integer-like keys (`"10"`, `"9"`) first, in numeric order,
 * whatever order they are added in.
 */
function stringifySorted(value: unknown, gap: string): string | undefined {
  const stack: object[] = [];
  const write = (key: string, input: unknown, indent: string): string | undefined => {
    let item = input;
    if (
      item !== null &&
      (typeof item === "object" || typeof item === "bigint") &&
      typeof (item as { toJSON?: unknown }).toJSON === "function"
    ) {
      item = (item as { toJSON: (key: string) => unknown }).toJSON.call(item, key);
    }
    if (
      item === null ||
      typeof item !== "object" ||
      item instanceof Number ||
      item instanceof String ||
      item instanceof Boolean ||
      item instanceof BigInt
    ) {
      // Text, numbers, booleans, null, and what JSON leaves out (undefined, functions, symbols).
      return JSON.stringify(item);
    }
    if (stack.includes(item)) throw new TypeError("Converting circular structure to JSON");
    stack.push(item);
    const inner = indent + gap;
    const open = gap === "" ? "" : `\n${inner}`;
    const close = gap === "" ? "" : `\n${indent}`;
    const separator = gap === "" ? "," : `,\n${inner}`;
    let text: string;
    if (Array.isArray(item)) {
      const items = item.map((each, index) => write(String(index), each, inner) ?? "null");
      text = items.length === 0 ? "[]" : `[${open}${items.join(separator)}${close}]`;
    } else {
      const fields: string[] = [];
      for (const name of Object.keys(item).sort(byCodePoint)) {
        const field = write(name, (item as Record<string, unknown>)[name], inner);
        if (field !== undefined)
          fields.push(`${JSON.stringify(name)}:${gap === "" ? "" : " "}${field}`);
      }
      text = fields.length === 0 ? "{}" : `{${open}${fields.join(separator)}${close}}`;
    }
    stack.pop();
    return text;
  };
  return write("", value, "");
}

/**
 * How the app encodes JSON (Flask's `app.json`): the values views return, `json()`,
 * `makeResponse()`. Change its options on `app.json`, or subclass it and set `app.json` to an
 * instance, as with Flask's `DefaultJSONProvider`. With the defaults, responses are exactly
 * `JSON.stringify`'s output.
 *
 * @example
 * app.json.sortKeys = true;   // {"a":1,"b":2} whatever the order the keys were added in
 * app.json.ensureAscii = true; // "café" → "caf\u00e9"
 * app.json.compact = false;    // indented by two spaces
 */
export class JsonProvider {
  /** Sort every object's keys (Flask's default is `true`; Carafe keeps insertion order). */
  sortKeys = false;
  /** Escape every character beyond ASCII as `\uXXXX` (Flask's default is `true`). */
  ensureAscii = false;
  /** No whitespace; `false` indents by two spaces (Flask's `None` indents in debug mode). */
  compact = true;
  /** The media type of JSON responses. */
  mimetype = "application/json";

  /**
   * Encodes `value` as JSON text with this provider's options; what JSON cannot encode (a
   * cycle, a BigInt, `undefined` alone) is a `CarafeError` (`ERR_NOT_JSON`).
   */
  dumps(value: unknown): string {
    const text =
      this.sortKeys || !this.compact
        ? encodeJson(value, (each) =>
            this.sortKeys
              ? stringifySorted(each, this.compact ? "" : "  ")
              : JSON.stringify(each, null, 2),
          )
        : encodeJson(value);
    return this.ensureAscii ? escapeNonAscii(text) : text;
  }

  /** Parses JSON text (or UTF-8 bytes); text that is not JSON is a `CarafeError` (`ERR_BAD_JSON`). */
  loads(text: string | Uint8Array): unknown {
    const source =
      typeof text === "string"
        ? text
        : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8");
    try {
      return JSON.parse(source) as unknown;
    } catch (error) {
      throw new CarafeError(
        "ERR_BAD_JSON",
        `app.json.loads(): the text is not JSON (${(error as Error).message})`,
        { cause: error },
      );
    }
  }

  /**
   * A JSON response of `value` (Flask's `app.json.response`, what `jsonify` calls): `dumps`'s
   * text, sent as `mimetype`.
   */
  response(value: unknown, status = 200): Response {
    return new Response(this.dumps(value), { status, mimetype: this.mimetype });
  }

  /**
   * Whether responses are `JSON.stringify`'s text sent as `application/json`: the defaults,
   * with `dumps` and `response` this class's own. A view's object then becomes a record at once.
   * @internal
   */
  get isPlain(): boolean {
    return (
      this.compact &&
      !this.sortKeys &&
      !this.ensureAscii &&
      this.mimetype === "application/json" &&
      this.dumps === DUMPS &&
      this.response === RESPONSE
    );
  }

  /**
   * The body `response(value)` sends, when `response` is this class's own (a subclass may
   * replace it); `undefined` otherwise. Lets a view's value become a record without a
   * `Response`. @internal
   */
  responseText(value: unknown): string | undefined {
    return this.response === RESPONSE ? this.dumps(value) : undefined;
  }
}

const { dumps: DUMPS, response: RESPONSE } = JsonProvider.prototype;

/** The provider used outside a request (`json()` in a script): the defaults. @internal */
export const DEFAULT_JSON = new JsonProvider();
