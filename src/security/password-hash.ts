// Werkzeug's password hashes, `method$salt$hex`, written and checked as werkzeug.security does,
// so a user table moves between Flask and Carafe unchanged in either direction.
//
// Design: what Werkzeug raises on, Carafe throws a CarafeError for (an unknown method or a
// malformed parameter is a broken table, not a wrong password); what Werkzeug answers False to
// (a string with fewer than two `$`), Carafe answers false to. The derived hex is compared in
// constant time. Each function has an async twin that derives on libuv's thread pool: scrypt's
// default costs some 65 ms of CPU and PBKDF2's 170 ms, which the event loop should not stall for.

import { Buffer } from "node:buffer";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { CarafeError } from "../framework/errors.ts";
import { derive, deriveAsync, methodName, parseMethod, type HashMethod } from "./hash-method.ts";

// Werkzeug's salt alphabet: letters and digits, each equally likely.
const SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
// The largest multiple of 62 in a byte: bytes past it are dropped so that no character is
// likelier than another.
const SALT_BYTE_LIMIT = 256 - (256 % SALT_CHARS.length);
const MAX_SALT_LENGTH = 1024;
// A lone UTF-16 surrogate has no UTF-8 form: Buffer.from would encode it as U+FFFD, so two
// different passwords would hash alike (Python refuses to encode it).
const LONE_SURROGATE = /\p{Cs}/u;

function argumentError(message: string): CarafeError {
  return new CarafeError("ERR_PASSWORD_HASH_ARGUMENT", message);
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}

function requirePassword(call: string, password: unknown): asserts password is string {
  if (typeof password !== "string") {
    throw argumentError(`${call}: the password must be a string, not ${describe(password)}`);
  }
}

function isSaltLength(length: number): boolean {
  return Number.isInteger(length) && length >= 1 && length <= MAX_SALT_LENGTH;
}

/** A random salt of Werkzeug's alphabet. */
function generateSalt(length: number): string {
  let salt = "";
  while (salt.length < length) {
    for (const byte of randomBytes(length - salt.length + 8)) {
      if (byte < SALT_BYTE_LIMIT && salt.length < length) salt += SALT_CHARS[byte % 62];
    }
  }
  return salt;
}

/** Checks the arguments of generatePasswordHash* and picks the method and salt. */
function prepareHash(
  call: string,
  password: unknown,
  method: unknown,
  saltLength: unknown,
): { method: HashMethod; salt: string; password: Buffer; saltBytes: Buffer } {
  requirePassword(call, password);
  if (LONE_SURROGATE.test(password)) {
    throw argumentError(
      `${call}: the password has a lone UTF-16 surrogate, which has no UTF-8 form ` +
        `(a string cut through an emoji?); Werkzeug refuses it too`,
    );
  }
  if (typeof method !== "string") {
    throw argumentError(
      `${call}: the method must be a string such as "scrypt", not ${describe(method)}`,
    );
  }
  if (typeof saltLength !== "number" || !isSaltLength(saltLength)) {
    throw argumentError(
      `${call}: saltLength must be a whole number from 1 to ${MAX_SALT_LENGTH}, ` +
        `not ${String(saltLength)}`,
    );
  }
  const parsed = parseMethod(method);
  const salt = generateSalt(saltLength);
  return { method: parsed, salt, password: Buffer.from(password), saltBytes: Buffer.from(salt) };
}

function formatHash(prepared: { method: HashMethod; salt: string }, key: Buffer): string {
  return `${methodName(prepared.method)}$${prepared.salt}$${key.toString("hex")}`;
}

/** The parts of a stored hash to check, or undefined when it cannot match (Werkzeug: False). */
function prepareCheck(
  call: string,
  pwhash: unknown,
  password: unknown,
): { method: HashMethod; salt: Buffer; password: Buffer; expected: Buffer } | undefined {
  if (typeof pwhash !== "string") {
    throw argumentError(`${call}: the stored hash must be a string, not ${describe(pwhash)}`);
  }
  requirePassword(call, password);
  const first = pwhash.indexOf("$");
  const second = first < 0 ? -1 : pwhash.indexOf("$", first + 1);
  if (second < 0) return undefined;
  const method = parseMethod(pwhash.slice(0, first));
  // No hash was made of such a password (generatePasswordHash and Werkzeug refuse it); read as
  // UTF-8 it would match the password with U+FFFD in its place.
  if (LONE_SURROGATE.test(password)) return undefined;
  return {
    method,
    salt: Buffer.from(pwhash.slice(first + 1, second)),
    password: Buffer.from(password),
    expected: Buffer.from(pwhash.slice(second + 1)),
  };
}

/** Whether the derived key, as Werkzeug's lowercase hex, is `expected`, in constant time. */
function matches(key: Buffer, expected: Buffer): boolean {
  const actual = Buffer.from(key.toString("hex"), "latin1");
  // The length of a stored hash is no secret: Werkzeug's compare_digest returns early too.
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Hashes a password for storage in Werkzeug's format, `method$salt$hex`, which Flask's
 * `check_password_hash` reads too. Blocks the calling thread while it derives (scrypt's default
 * takes some 65 ms of CPU): call it from a synchronous route, which runs on a pool thread when
 * served with `--threads`, and use {@link generatePasswordHashAsync} on the event loop (`async`
 * routes, `app.run()` without threads).
 *
 * `method` is Werkzeug's: `"scrypt"` (written as `scrypt:32768:8:1`), `"scrypt:N:r:p"`,
 * `"pbkdf2"` (written as `pbkdf2:sha256:1000000`, Werkzeug 3.1's default), `"pbkdf2:<digest>"`
 * or `"pbkdf2:<digest>:<iterations>"`, with hashlib's digest names (`sha256`, `sha512`,
 * `sha3_256`, …). The salt is `saltLength` random letters and digits. A cost past
 * carafe/security's bound (scrypt's 128·N·r·p over 256 MiB, PBKDF2 over 10,000,000 iterations)
 * throws `ERR_PASSWORD_HASH_COST`; an unknown method `ERR_PASSWORD_HASH_METHOD`; a password that
 * is not a string, or has a lone UTF-16 surrogate, `ERR_PASSWORD_HASH_ARGUMENT`.
 *
 * @example
 * const hash = generatePasswordHash("correct horse");
 * // "scrypt:32768:8:1$Xk3…$9f2…"
 */
export function generatePasswordHash(password: string, method = "scrypt", saltLength = 16): string {
  const prepared = prepareHash("generatePasswordHash", password, method, saltLength);
  return formatHash(prepared, derive(prepared.method, prepared.password, prepared.saltBytes));
}

/**
 * {@link generatePasswordHash} without blocking: the key is derived on libuv's thread pool, so
 * the event loop keeps serving. The one to use in `async` routes.
 *
 * @example
 * app.post("/register", async (req) => {
 *   const hash = await generatePasswordHashAsync(req.form.require("password"));
 *   // store hash
 * });
 */
export async function generatePasswordHashAsync(
  password: string,
  method = "scrypt",
  saltLength = 16,
): Promise<string> {
  const prepared = prepareHash("generatePasswordHashAsync", password, method, saltLength);
  const key = await deriveAsync(prepared.method, prepared.password, prepared.saltBytes);
  return formatHash(prepared, key);
}

/**
 * Whether `password` matches `pwhash`, a hash that Werkzeug's `generate_password_hash` or
 * {@link generatePasswordHash} made; the comparison takes the same time wherever the two differ.
 * Blocks the calling thread while it derives, as {@link generatePasswordHash} does: on the event
 * loop, use {@link checkPasswordHashAsync}.
 *
 * As in Werkzeug, a `pwhash` without two `$` (an empty or plain-text column) gives `false`, and
 * an unknown method or a malformed parameter throws (`ERR_PASSWORD_HASH_METHOD`): a broken
 * table is not a wrong password. A hash whose cost is past carafe/security's bound (see
 * {@link generatePasswordHash}) throws `ERR_PASSWORD_HASH_COST` instead of tying up the server.
 *
 * @example
 * if (!user || !checkPasswordHash(user.password, req.form.require("password"))) {
 *   flash("Incorrect username or password.");
 * }
 */
export function checkPasswordHash(pwhash: string, password: string): boolean {
  const prepared = prepareCheck("checkPasswordHash", pwhash, password);
  if (prepared === undefined) return false;
  return matches(derive(prepared.method, prepared.password, prepared.salt), prepared.expected);
}

/**
 * {@link checkPasswordHash} without blocking: the key is derived on libuv's thread pool, so the
 * event loop keeps serving. The one to use in `async` routes.
 *
 * @example
 * app.post("/login", async (req) => {
 *   const user = await findUser(req.form.require("username"));
 *   if (!user || !(await checkPasswordHashAsync(user.password, req.form.require("password")))) {
 *     abort(401);
 *   }
 * });
 */
export async function checkPasswordHashAsync(pwhash: string, password: string): Promise<boolean> {
  const prepared = prepareCheck("checkPasswordHashAsync", pwhash, password);
  if (prepared === undefined) return false;
  const key = await deriveAsync(prepared.method, prepared.password, prepared.salt);
  return matches(key, prepared.expected);
}
