// Route parameters typed from the rule string: `'/user/<int:id>'` gives `{ id: number }`.

/**
 * The value type each converter produces. Add your own converters here by declaration merging:
 *
 * @example
 * declare module "carafe" {
 *   interface ConverterTypes { list: string[] }
 * }
 */
export interface ConverterTypes {
  default: string;
  string: string;
  int: number;
  float: number;
  path: string;
  uuid: string;
  any: string;
}

type Trim<S extends string> = S extends ` ${infer R}`
  ? Trim<R>
  : S extends `${infer R} `
    ? Trim<R>
    : S extends `'${infer R}'`
      ? R
      : S extends `"${infer R}"`
        ? R
        : S;

type Choices<S extends string> = S extends `${infer Head},${infer Rest}`
  ? Trim<Head> | Choices<Rest>
  : Trim<S>;

/** The value type of the converter written as `name` or `name(args)`. */
type ConverterValue<C extends string> = C extends `any(${infer Args})`
  ? Choices<Args>
  : C extends `${infer Name}(${string})`
    ? Name extends keyof ConverterTypes
      ? ConverterTypes[Name]
      : unknown
    : C extends keyof ConverterTypes
      ? ConverterTypes[C]
      : unknown;

type Variable<V extends string> = V extends `${infer C}:${infer N}`
  ? { [K in N]: ConverterValue<C> }
  : { [K in V]: string };

type Collect<R extends string> = R extends `${string}<${infer V}>${infer Rest}`
  ? Variable<V> & Collect<Rest>
  : unknown;

/**
 * The parameters of a rule, as the handler receives them.
 *
 * @example
 * type P = RouteParams<"/user/<int:id>/<any(a, b):kind>">; // { id: number; kind: "a" | "b" }
 */
export type RouteParams<R extends string> = string extends R
  ? Record<string, unknown>
  : { [K in keyof Collect<R>]: Collect<R>[K] };
