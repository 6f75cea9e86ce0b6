// The method part of Werkzeug's password hashes (`scrypt:32768:8:1`, `pbkdf2:sha256:1000000`):
// parsed, bounded, and run through node:crypto, blocking or on libuv's thread pool.
//
// Design: a method string may come from a database row nobody checked, so its cost is bounded
// before anything is derived. scrypt needs 128·N·r bytes and time in proportion to N·r·p, so the
// bound is on 128·N·r·p (the product Python's hashlib is given as maxmem): 256 MiB, 8 times
// Werkzeug's default. PBKDF2 needs no memory but its time grows with the iterations: at most
// 10,000,000, 10 times Werkzeug 3.1's default. Past either, a CarafeError says so.

import type { Buffer } from "node:buffer";
import { pbkdf2, pbkdf2Sync, scrypt, scryptSync } from "node:crypto";
import { CarafeError } from "../framework/errors.ts";

/** A method of Werkzeug's with every parameter filled in. */
export type HashMethod =
  | { kind: "scrypt"; n: number; r: number; p: number }
  | { kind: "pbkdf2"; digest: string; iterations: number };

/** 128·N·r·p at most this many bytes: 256 MiB, 8 × Werkzeug's scrypt:32768:8:1. */
const SCRYPT_MAX_BYTES = 256 * 1024 * 1024;
/** PBKDF2 iterations at most: 10 × Werkzeug 3.1's default. */
const PBKDF2_MAX_ITERATIONS = 10_000_000;

// Werkzeug's defaults (3.1): `scrypt` is scrypt:32768:8:1, `pbkdf2` is pbkdf2:sha256:1000000.
const SCRYPT_DEFAULT = { kind: "scrypt", n: 2 ** 15, r: 8, p: 1 } as const;
const PBKDF2_DEFAULT_DIGEST = "sha256";
const PBKDF2_DEFAULT_ITERATIONS = 1_000_000;
// Werkzeug takes hashlib's default length: 64 bytes for scrypt, the digest's size for PBKDF2.
const SCRYPT_KEY_LENGTH = 64;

/** hashlib's digest names (what Werkzeug writes) → OpenSSL's name in Node, and the size. */
const DIGESTS: ReadonlyMap<string, { node: string; size: number }> = new Map([
  ["md5", { node: "md5", size: 16 }],
  ["sha1", { node: "sha1", size: 20 }],
  ["sha224", { node: "sha224", size: 28 }],
  ["sha256", { node: "sha256", size: 32 }],
  ["sha384", { node: "sha384", size: 48 }],
  ["sha512", { node: "sha512", size: 64 }],
  ["sha512_224", { node: "sha512-224", size: 28 }],
  ["sha512_256", { node: "sha512-256", size: 32 }],
  ["sha3_224", { node: "sha3-224", size: 28 }],
  ["sha3_256", { node: "sha3-256", size: 32 }],
  ["sha3_384", { node: "sha3-384", size: 48 }],
  ["sha3_512", { node: "sha3-512", size: 64 }],
  ["blake2b", { node: "blake2b512", size: 64 }],
  ["blake2s", { node: "blake2s256", size: 32 }],
]);

const EXAMPLES = 'e.g. "scrypt", "scrypt:32768:8:1", "pbkdf2" or "pbkdf2:sha256:1000000"';

/** A method or a part of one, quoted for a message; a hostile row's could be megabytes long. */
function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function methodError(method: string, problem: string): CarafeError {
  return new CarafeError(
    "ERR_PASSWORD_HASH_METHOD",
    `password hash method ${shown(method)}: ${problem} (${EXAMPLES})`,
  );
}

function costError(method: string, problem: string): CarafeError {
  return new CarafeError(
    "ERR_PASSWORD_HASH_COST",
    `password hash method ${shown(method)} ${problem}; a hash this costly is refused rather ` +
      `than computed`,
  );
}

/** A decimal parameter of at least 1, as Werkzeug writes them; anything else is refused. */
function parameter(method: string, text: string): number {
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1)) {
    throw methodError(method, `${shown(text)} is not a whole number of at least 1`);
  }
  return value;
}

/** Parses a method as Werkzeug writes or accepts it; throws `ERR_PASSWORD_HASH_METHOD`/`_COST`. */
export function parseMethod(method: string): HashMethod {
  const [name, ...args] = method.split(":");
  if (name === "scrypt") return args.length === 0 ? SCRYPT_DEFAULT : parseScrypt(method, args);
  if (name === "pbkdf2") return parsePbkdf2(method, args);
  throw methodError(method, `unknown method ${shown(name ?? "")}; Werkzeug's are scrypt, pbkdf2`);
}

function parseScrypt(method: string, args: readonly string[]): HashMethod {
  if (args.length !== 3) throw methodError(method, "scrypt takes 3 parameters, N:r:p");
  const [n, r, p] = args.map((text) => parameter(method, text)) as [number, number, number];
  if (128 * n * r * p > SCRYPT_MAX_BYTES) {
    throw costError(
      method,
      "needs more than carafe/security's bound of 128·N·r·p = 256 MiB (8 × Werkzeug's " +
        "scrypt:32768:8:1)",
    );
  }
  // Below the bound n < 2^21, so the bit test is exact.
  if (n < 2 || (n & (n - 1)) !== 0) throw methodError(method, "N must be a power of 2 above 1");
  return { kind: "scrypt", n, r, p };
}

function parsePbkdf2(method: string, args: readonly string[]): HashMethod {
  if (args.length > 2) throw methodError(method, "pbkdf2 takes 2 parameters, digest:iterations");
  const digest = args[0] ?? PBKDF2_DEFAULT_DIGEST;
  if (!DIGESTS.has(digest.toLowerCase())) {
    const known = [...DIGESTS.keys()].join(", ");
    throw methodError(method, `unknown digest ${shown(digest)}; known: ${known}`);
  }
  const iterations = args[1] === undefined ? PBKDF2_DEFAULT_ITERATIONS : parameter(method, args[1]);
  if (iterations > PBKDF2_MAX_ITERATIONS) {
    throw costError(
      method,
      "asks for more than carafe/security's bound of 10,000,000 iterations (10 × Werkzeug's " +
        "default)",
    );
  }
  return { kind: "pbkdf2", digest, iterations };
}

/** The method as Werkzeug writes it into a hash: every parameter spelled out. */
export function methodName(method: HashMethod): string {
  return method.kind === "scrypt"
    ? `scrypt:${method.n}:${method.r}:${method.p}`
    : `pbkdf2:${method.digest}:${method.iterations}`;
}

// OpenSSL counts 128·r·(N + p + 2) bytes for scrypt; the margin keeps a change in that
// accounting from refusing a hash the bound above allowed.
function scryptOptions(method: { n: number; r: number; p: number }) {
  const maxmem = 128 * method.r * (method.n + method.p + 2) + 1024 * 1024;
  return { N: method.n, r: method.r, p: method.p, maxmem };
}

function digestOf(method: { digest: string }): { node: string; size: number } {
  // parseMethod accepted only names in DIGESTS.
  return DIGESTS.get(method.digest.toLowerCase()) as { node: string; size: number };
}

// A digest this Node's OpenSSL lacks (a build without SHA-3, say) fails here, as a CarafeError.
function deriveError(method: HashMethod, cause: unknown): CarafeError {
  const name = methodName(method);
  return new CarafeError(
    "ERR_PASSWORD_HASH_METHOD",
    `password hash method ${shown(name)} cannot run on this Node.js: ${String(cause)}`,
    { cause },
  );
}

/** Derives the key of `password` and `salt` (UTF-8 bytes), blocking the calling thread. */
export function derive(method: HashMethod, password: Buffer, salt: Buffer): Buffer {
  try {
    if (method.kind === "scrypt") {
      return scryptSync(password, salt, SCRYPT_KEY_LENGTH, scryptOptions(method));
    }
    const { node, size } = digestOf(method);
    return pbkdf2Sync(password, salt, method.iterations, size, node);
  } catch (error) {
    throw deriveError(method, error);
  }
}

/** Derives the key as `derive` does, on libuv's thread pool, leaving the event loop free. */
export function deriveAsync(method: HashMethod, password: Buffer, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, key: Buffer) =>
      error ? reject(deriveError(method, error)) : resolve(key);
    try {
      if (method.kind === "scrypt") {
        scrypt(password, salt, SCRYPT_KEY_LENGTH, scryptOptions(method), done);
      } else {
        const { node, size } = digestOf(method);
        pbkdf2(password, salt, method.iterations, size, node, done);
      }
    } catch (error) {
      // node:crypto validates its arguments before it queues the work, and throws.
      reject(deriveError(method, error));
    }
  });
}
