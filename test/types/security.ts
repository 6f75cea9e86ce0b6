// Type tests for carafe/security: checked by `npm run typecheck`, never run. Each
// `@ts-expect-error` fails the build when the line below it compiles.

import {
  checkPasswordHash,
  checkPasswordHashAsync,
  generatePasswordHash,
  generatePasswordHashAsync,
} from "carafe/security";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export async function checks(form: { get(key: string): string | undefined }): Promise<void> {
  const hash = generatePasswordHash("pw", "pbkdf2:sha256:600000", 8);
  const _hash: Expect<Equal<typeof hash, string>> = true;
  const ok = checkPasswordHash(hash, "pw");
  const _ok: Expect<Equal<typeof ok, boolean>> = true;
  const later = await generatePasswordHashAsync("pw");
  const _later: Expect<Equal<typeof later, string>> = true;
  const okLater = checkPasswordHashAsync(hash, "pw");
  const _okLater: Expect<Equal<typeof okLater, Promise<boolean>>> = true;
  // @ts-expect-error: a form field may be missing; require() it or check it first
  checkPasswordHash(hash, form.get("password"));
  // @ts-expect-error: the salt length is a number
  generatePasswordHash("pw", "scrypt", "16");
  // @ts-expect-error: the password is a string
  await generatePasswordHashAsync(new Uint8Array(2));
  void [hash, ok, later, okLater, _hash, _ok, _later, _okLater];
}
