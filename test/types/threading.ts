// Type tests for carafe/threading: checked by `npm run typecheck`, never run. Each
// `@ts-expect-error` fails the build when the line below it compiles.

import { Thread, toThread } from "carafe/threading";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const add = (a: number, b: number): number => a + b;
const greet = async (name: string): Promise<string> => `hello ${name}`;

export async function checks(): Promise<void> {
  const thread = new Thread({ target: add, args: [1, 2] });
  const _join: Expect<Equal<Awaited<ReturnType<typeof thread.join>>, number>> = true;
  // @ts-expect-error: args must match the target's parameters
  new Thread({ target: add, args: [1, "2"] });
  // @ts-expect-error: too few args
  new Thread({ target: add, args: [1] });

  const sum = await toThread(add, 1, 2);
  const _sum: Expect<Equal<typeof sum, number>> = true;
  const text = await toThread(greet, "ann", { signal: AbortSignal.timeout(1000) });
  const _text: Expect<Equal<typeof text, string>> = true;
  // @ts-expect-error: an argument of the wrong type
  await toThread(add, 1, "2");
  // @ts-expect-error: a missing argument
  await toThread(greet);
  void [thread, sum, text, _join, _sum, _text];
}
