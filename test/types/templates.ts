// Type tests for the template environment: checked by `npm run typecheck` (tsc over test/),
// never run. Each `Expect<Equal<…>>` fails to compile when a type is wrong, and each
// `@ts-expect-error` fails the build when the line below it compiles.

import { Carafe, templateEnvironment, type TemplateEnvironment } from "carafe";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// ---- Carafe's own type, never `any` ----------------------------------------------------------

const environment = templateEnvironment(new Carafe());
const _typed: Expect<Equal<typeof environment, TemplateEnvironment>> = true;
const _chained: Expect<Equal<ReturnType<TemplateEnvironment["addFilter"]>, TemplateEnvironment>> =
  true;

environment.addFilter("shout", (text: string) => text.toUpperCase());
// @ts-expect-error a filter is a function
environment.addFilter("shout", "upper");
// @ts-expect-error an extension names the tags it parses
environment.addExtension("shout", { parse: () => null });
// @ts-expect-error render takes the template's name
environment.render(3);
