// URL converters (Werkzeug's semantics): each turns one matched piece of the path into a value
// for the handler and a value back into URL text for `urlFor`.

import { CarafeError } from "../errors.ts";

/**
 * Raised by a converter's `toValue` to reject a value: the URL then does not match (404). Not a
 * `CarafeError`: it is no misuse but the converter contract's "no match" (Werkzeug's own name).
 */
export class ValidationError extends Error {
  override name = "ValidationError";
}

/**
 * Turns part of a URL into a value and back. Register your own with `app.addConverter`.
 *
 * @example
 * app.addConverter("list", () => ({
 *   regex: "[^/]+",
 *   toValue: (raw) => raw.split(","),
 *   toUrl: (value) => (value as string[]).join(","),
 * }));
 */
export interface Converter<T = unknown> {
  /** What one value looks like in the URL (no anchors, no capturing groups). */
  readonly regex: string;
  /** Lower weights are tried first when several rules could match; default 100. */
  readonly weight?: number;
  /** `false` when the value may contain `/` (like `path`); default `true`. */
  readonly partIsolating?: boolean;
  /** The matched (percent-decoded) text → the handler's value. Throw `ValidationError` to reject. */
  toValue(raw: string): T;
  /**
   * A value → URL text (`urlFor`); the result is percent-encoded by the caller. Throw (a
   * `TypeError` for a value of the wrong type) to refuse a value: `urlFor` reports it as a
   * `BuildError` that names the endpoint, the parameter and your message.
   */
  toUrl(value: T): string;
}

/** An argument written in a rule, as in `<int(min=1):id>` or `<any(a, b):kind>`. */
export type ConverterArg = string | number | boolean | null;

/** Makes a converter from the arguments written in the rule. */
export type ConverterFactory = (
  args: readonly ConverterArg[],
  kwargs: Readonly<Record<string, ConverterArg>>,
) => Converter;

function numberArg(kwargs: Readonly<Record<string, ConverterArg>>, key: string): number | null {
  const value = kwargs[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number") {
    throw new CarafeError(
      "ERR_BAD_RULE",
      `converter argument ${key} must be a number, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function boolArg(kwargs: Readonly<Record<string, ConverterArg>>, key: string): boolean {
  const value = kwargs[key];
  return value === true;
}

/** The number of characters (code points) in `text`, without splitting it. */
function characterCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    // The low half of a surrogate pair follows its high half: the pair is one character.
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
      const before = text.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) count -= 1;
    }
  }
  return count;
}

const stringConverter: ConverterFactory = (args, kwargs) => {
  const minLength = numberArg(kwargs, "minlength") ?? 1;
  const maxLength = numberArg(kwargs, "maxlength");
  const length = typeof args[0] === "number" ? args[0] : numberArg(kwargs, "length");
  const regex =
    length !== null
      ? `[^/]{${length}}`
      : `[^/]{${minLength},${maxLength === null ? "" : String(maxLength)}}`;
  return {
    regex,
    toValue(raw) {
      // The regex counts UTF-16 units; the limits count characters, as Werkzeug's do.
      if (length === null && minLength <= 1 && maxLength === null) return raw;
      const size = characterCount(raw);
      if (
        length !== null
          ? size !== length
          : size < minLength || (maxLength !== null && size > maxLength)
      ) {
        throw new ValidationError();
      }
      return raw;
    },
    toUrl: (value) => String(value),
  };
};

function numberConverter(kind: "int" | "float"): ConverterFactory {
  return (_args, kwargs) => {
    const min = numberArg(kwargs, "min");
    const max = numberArg(kwargs, "max");
    const signed = boolArg(kwargs, "signed");
    const fixedDigits = kind === "int" ? (numberArg(kwargs, "fixed_digits") ?? 0) : 0;
    const digits = kind === "int" ? "\\d+" : "\\d+\\.\\d+";
    const check = new RegExp(`^${signed ? "-?" : ""}${digits}$`);
    return {
      regex: `${signed ? "-?" : ""}${digits}`,
      weight: 50,
      toValue(raw) {
        if (!check.test(raw)) throw new ValidationError();
        if (fixedDigits && raw.replace("-", "").length !== fixedDigits) throw new ValidationError();
        const value = Number(raw);
        if (kind === "int" && !Number.isSafeInteger(value)) throw new ValidationError();
        if ((min !== null && value < min) || (max !== null && value > max)) {
          throw new ValidationError();
        }
        return value;
      },
      toUrl(value) {
        // A TypeError is the converter contract's refusal (see `Converter.toUrl`): `urlFor`
        // wraps it in a BuildError naming the endpoint and parameter, as for a custom converter.
        if (typeof value !== "number" || !Number.isFinite(value)) {
          throw new TypeError(`expected a number, got ${JSON.stringify(value)}`);
        }
        if (kind === "int") {
          if (!Number.isInteger(value)) throw new TypeError(`expected an integer, got ${value}`);
          return fixedDigits ? String(value).padStart(fixedDigits, "0") : String(value);
        }
        const text = String(value);
        return text.includes(".") || text.includes("e") ? text : `${text}.0`;
      },
    };
  };
}

const pathConverter: ConverterFactory = () => ({
  regex: "[^/].*?",
  weight: 200,
  partIsolating: false,
  toValue: (raw) => raw,
  toUrl: (value) => String(value),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uuidConverter: ConverterFactory = () => ({
  regex: "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
  toValue(raw) {
    if (!UUID.test(raw)) throw new ValidationError();
    return raw.toLowerCase();
  },
  toUrl: (value) => String(value),
});

const anyConverter: ConverterFactory = (args) => {
  if (args.length === 0) {
    throw new CarafeError("ERR_BAD_RULE", "any() needs at least one choice, e.g. any(a, b)");
  }
  const choices = new Set(args.map(String));
  const escaped = [...choices].map((choice) => choice.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return {
    regex: `(?:${escaped.join("|")})`,
    toValue(raw) {
      if (!choices.has(raw)) throw new ValidationError();
      return raw;
    },
    toUrl(value) {
      const text = String(value);
      // The contract's refusal, as in the number converters' toUrl.
      if (!choices.has(text)) {
        throw new TypeError(
          `expected one of ${[...choices].join(", ")}, got ${JSON.stringify(value)}`,
        );
      }
      return text;
    },
  };
};

/** The converters every app starts with. */
export const DEFAULT_CONVERTERS: ReadonlyMap<string, ConverterFactory> = new Map([
  ["default", stringConverter],
  ["string", stringConverter],
  ["int", numberConverter("int")],
  ["float", numberConverter("float")],
  ["path", pathConverter],
  ["uuid", uuidConverter],
  ["any", anyConverter],
]);
