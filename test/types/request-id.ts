// Type tests for `request.id`: checked by `npm run typecheck` (tsc over test/), never run.

import type { Request } from "carafe";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

declare const req: Request;

const _id: Expect<Equal<typeof req.id, string>> = true;

// @ts-expect-error a request's id is read-only
req.id = "mine";
