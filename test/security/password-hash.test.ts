// carafe/security reads and writes Werkzeug's password hashes: hashes made by real Werkzeug
// verify, Carafe's are in Werkzeug's format, and what Werkzeug refuses is refused with a code.
import crypto from "node:crypto";
import { syncBuiltinESMExports } from "node:module";
import { describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { CarafeError, abort } from "carafe";
import {
  checkPasswordHash,
  checkPasswordHashAsync,
  generatePasswordHash,
  generatePasswordHashAsync,
} from "carafe/security";
import { captureLogs, newApp } from "../helpers.ts";

const PASSWORD = "correct horse battery staple";

// Made on 2026-05 by Werkzeug 3.1.8 with
//   python3 -c 'from werkzeug.security import generate_password_hash as g; print(g(PASSWORD, METHOD, SALT_LENGTH))'
// for each [password, method, saltLength] below; each was checked with check_password_hash.
const WERKZEUG_HASHES: readonly (readonly [password: string, method: string, hash: string])[] = [
  [
    PASSWORD,
    "scrypt",
    "scrypt:32768:8:1$mRfWWFpabfXFLIVm$f15c5752cb7de7b4790932cad37b51507edb204d34c79565105e83d76b6d30caa8230ce3057219196958ca44ea33e44325fe873522161356bf3e2d01f2ac1241",
  ],
  [
    PASSWORD,
    "scrypt:16384:8:1, saltLength 8",
    "scrypt:16384:8:1$II56ldnF$e05765e3434df31d0d37b1356642292391b3bc3849b25895b1108783a556158f9d63659552e5c7ed6136f328fac39ea322d3834fa5d38f36c18576be22d0076f",
  ],
  [
    PASSWORD,
    "scrypt:1024:1:2",
    "scrypt:1024:1:2$u33796Dzhxh97Qkm$cd8a477ffff7f3cee3e7b1b055af95238d875694109bb32342f799d6c0ab6d9e9beeb650152688a27391448ddeefb4d9fecd7113214457042d4591a8fdb83aec",
  ],
  [
    PASSWORD,
    "pbkdf2 (Werkzeug 3.1's default)",
    "pbkdf2:sha256:1000000$hZIJJJvJ1J9wdL4y$9f1e1dd87382c60884e2fd71f1b3d6e9f5fa9d7fa34f7e39439809dc107c6f53",
  ],
  [
    PASSWORD,
    "pbkdf2:sha256:600000 (Werkzeug 3.0's default)",
    "pbkdf2:sha256:600000$KptEsDvv7YxCfn4Y$0edb1b61019417ac861961a5f9cc96f13c6316a7bcaa92d211b97def50fe1916",
  ],
  [
    PASSWORD,
    "pbkdf2:sha1",
    "pbkdf2:sha1:1000000$hYzl1je6UnRkQzTI$75f1d8dac71afa3b4108ea793dc00565b7713fc5",
  ],
  [
    PASSWORD,
    "pbkdf2:sha512:1000",
    "pbkdf2:sha512:1000$mkqOnarIMIrb24al$bc2be8882636e615cdfc1fd24a2c0b447b3a65260e794a007788f17ce10dd4343a8f37a48892306850d7d8f56bff6057099ae0e2c837a67d38d2afacbdde5b26",
  ],
  [
    PASSWORD,
    "pbkdf2:sha3_256:1000",
    "pbkdf2:sha3_256:1000$U4Tcna1fo9SKfqKO$d9ed957b26cecf7a7d632a50dbc48b9b122fd333ffd8d84edf79cb6ad726b43a",
  ],
  [
    PASSWORD,
    "pbkdf2:blake2b:1000",
    "pbkdf2:blake2b:1000$NpfJSkzeM9XOxKd7$3aec32922d3102ba1fc054fbc14f2b36586697fbb1a76a8e30b83cdad841404cc79c6971ff5622627706592aab8406c1aca9ed15736b3ccadb10572165e725a4",
  ],
  [
    PASSWORD,
    "pbkdf2:md5:1000",
    "pbkdf2:md5:1000$tFnhw0hIETndoUxW$81d55eded64ffc8dd40b573caa7ce1f5",
  ],
  [
    "pässwörd 🔑 日本",
    "scrypt:16384:8:1",
    "scrypt:16384:8:1$s4DqDXmLhqJPR4Li$cfb5430900ea2f85a260946addb3e6f0e10b93f6762bdf4dac4089b51a17223921653c86aa699d3be9584fa2879f4656058b53ffbdedabc791c274d6c28d8a9c",
  ],
  [
    "",
    "pbkdf2:sha256:1000",
    "pbkdf2:sha256:1000$74oarL1ivFCyAEFp$7f507876d7acd9c487af0a590be66cdba0c15e6c90791e014e40e02c7f9e7107",
  ],
  [
    "x",
    "pbkdf2:sha256:1000, saltLength 64",
    "pbkdf2:sha256:1000$H3p8oauwl0QwGZhjjop5DuIivYX2JVX4vH6zXU9qNtHrJ2mF8gUMVrC4AlZg35sA$6c87b2b403ce2d403a3417f2971b9c030f44d39af87d7815afd8c8b9ef409737",
  ],
  [
    // An empty salt, which Werkzeug reads too: made with
    // hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"", 1000).hex().
    PASSWORD,
    "pbkdf2:sha256:1000, empty salt",
    "pbkdf2:sha256:1000$$0db401841eeea56cb6469915fb67d5d2d607e891d3fe97403d77c9bbf68a0ada",
  ],
];

// The users of Flask's tutorial (examples/tutorial/tests/data.sql in Flask's repository),
// made by an older Werkzeug: "test" and "other" are their passwords.
const FLASKR_USERS = {
  test: "pbkdf2:sha256:50000$TCI4GzcX$0de171a4f4dac32e3364c7ddc7c14f3e2fa61f2d17574483f7ffbb431b4acb2f",
  other:
    "pbkdf2:sha256:50000$kJPKsz6N$d2d4784f1b030a9761f5ccaeeaca413f27f2ecb76d6168407af962ddce849f79",
};

const SALT = /^[A-Za-z0-9]+$/;

function hasCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof CarafeError, `a CarafeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** How many turns the event loop took while `work` ran. */
async function loopTurnsDuring(work: () => Promise<unknown> | unknown): Promise<number> {
  let turns = 0;
  let running = true;
  const turn = (): void => {
    turns++;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  await work();
  running = false;
  return turns;
}

describe("checkPasswordHash on hashes made by Werkzeug", () => {
  for (const [password, method, hash] of WERKZEUG_HASHES) {
    it(`verifies ${method} and refuses a wrong password`, () => {
      assert.equal(checkPasswordHash(hash, password), true);
      assert.equal(checkPasswordHash(hash, `${password}!`), false);
    });
  }

  it("verifies the users of Flask's tutorial, each with its own password only", () => {
    assert.equal(checkPasswordHash(FLASKR_USERS.test, "test"), true);
    assert.equal(checkPasswordHash(FLASKR_USERS.other, "other"), true);
    assert.equal(checkPasswordHash(FLASKR_USERS.test, "other"), false);
    assert.equal(checkPasswordHash(FLASKR_USERS.other, "test"), false);
  });

  it("checkPasswordHashAsync gives the same answers", async () => {
    const [, , scrypt] = WERKZEUG_HASHES[0]!;
    assert.equal(await checkPasswordHashAsync(scrypt, PASSWORD), true);
    assert.equal(await checkPasswordHashAsync(scrypt, "wrong"), false);
    assert.equal(await checkPasswordHashAsync(FLASKR_USERS.test, "test"), true);
    assert.equal(await checkPasswordHashAsync(FLASKR_USERS.test, "other"), false);
  });

  it("refuses a hash whose hex was altered, cut short, upper-cased or extended, as Werkzeug does", () => {
    const hash = FLASKR_USERS.test;
    const hex = hash.slice(hash.lastIndexOf("$") + 1);
    const prefix = hash.slice(0, hash.lastIndexOf("$") + 1);
    const flipped = (hex[0] === "0" ? "1" : "0") + hex.slice(1);
    assert.equal(checkPasswordHash(prefix + flipped, "test"), false);
    assert.equal(checkPasswordHash(prefix + hex.slice(0, -2), "test"), false);
    assert.equal(checkPasswordHash(prefix + hex.toUpperCase(), "test"), false);
    assert.equal(checkPasswordHash(`${hash}$x`, "test"), false);
    assert.equal(checkPasswordHash(prefix, "test"), false);
    assert.equal(checkPasswordHash(`${prefix}${hex.slice(0, -1)}é`, "test"), false);
  });
});

describe("generatePasswordHash", () => {
  it("writes Werkzeug's default, scrypt:32768:8:1 with a 16-character salt and 64 bytes of hex", () => {
    const hash = generatePasswordHash(PASSWORD);
    const [method, salt, hex] = hash.split("$");
    assert.equal(method, "scrypt:32768:8:1");
    assert.match(salt!, SALT);
    assert.equal(salt!.length, 16);
    assert.match(hex!, /^[0-9a-f]{128}$/);
    assert.equal(checkPasswordHash(hash, PASSWORD), true);
    assert.equal(checkPasswordHash(hash, "wrong"), false);
  });

  it("spells out every parameter of the method, as Werkzeug writes them", () => {
    const cases: [string, RegExp][] = [
      ["scrypt:1024:8:1", /^scrypt:1024:8:1\$[A-Za-z0-9]{16}\$[0-9a-f]{128}$/],
      ["pbkdf2", /^pbkdf2:sha256:1000000\$[A-Za-z0-9]{16}\$[0-9a-f]{64}$/],
      ["pbkdf2:sha512", /^pbkdf2:sha512:1000000\$[A-Za-z0-9]{16}\$[0-9a-f]{128}$/],
      ["pbkdf2:sha1:1000", /^pbkdf2:sha1:1000\$[A-Za-z0-9]{16}\$[0-9a-f]{40}$/],
    ];
    for (const [method, format] of cases) {
      const hash = generatePasswordHash("s3cret", method);
      assert.match(hash, format, method);
      assert.equal(checkPasswordHash(hash, "s3cret"), true, method);
    }
  });

  it("draws a fresh salt of the given length from Werkzeug's 62 letters and digits", () => {
    const short = generatePasswordHash(PASSWORD, "pbkdf2:sha256:1", 1);
    assert.match(short, /^pbkdf2:sha256:1\$[A-Za-z0-9]\$[0-9a-f]{64}$/);
    const salts = Array.from(
      { length: 8 },
      () => generatePasswordHash(PASSWORD, "pbkdf2:sha256:1", 1024).split("$")[1]!,
    );
    assert.equal(new Set(salts).size, salts.length, "every hash has its own salt");
    for (const salt of salts) {
      assert.equal(salt.length, 1024);
      assert.match(salt, SALT);
    }
    // 8192 draws: each of the 62 characters is missed with odds below 1e-55.
    assert.equal(new Set(salts.join("")).size, 62);
  });

  it("generatePasswordHashAsync writes the same format, checked by either check", async () => {
    const hash = await generatePasswordHashAsync(PASSWORD, "scrypt:16384:8:1", 12);
    assert.match(hash, /^scrypt:16384:8:1\$[A-Za-z0-9]{12}\$[0-9a-f]{128}$/);
    assert.equal(checkPasswordHash(hash, PASSWORD), true);
    assert.equal(await checkPasswordHashAsync(hash, PASSWORD), true);
    assert.equal(await checkPasswordHashAsync(hash, "wrong"), false);
  });
});

describe("the async variants", () => {
  it("leave the event loop turning while scrypt runs, where the sync ones hold it", async () => {
    const [, , hash] = WERKZEUG_HASHES[0]!;
    const blocked = await loopTurnsDuring(() => checkPasswordHash(hash, PASSWORD));
    const free = await loopTurnsDuring(() => checkPasswordHashAsync(hash, PASSWORD));
    assert.equal(blocked, 0);
    assert.ok(free > 0, `the loop turned ${free} times`);
  });
});

describe("the comparison", () => {
  it("is crypto.timingSafeEqual's on the whole derived key, for a match and a mismatch alike", async () => {
    const compare = mock.method(crypto, "timingSafeEqual");
    // The module's named import of node:crypto sees the mock once the exports are synced.
    syncBuiltinESMExports();
    try {
      const hash = generatePasswordHash(PASSWORD, "pbkdf2:sha256:1000");
      const wrong = `${PASSWORD.slice(0, -1)}X`;
      assert.equal(checkPasswordHash(hash, PASSWORD), true);
      assert.equal(checkPasswordHash(hash, wrong), false);
      assert.equal(await checkPasswordHashAsync(hash, wrong), false);
      const hex = hash.split("$")[2]!;
      assert.deepEqual(
        compare.mock.calls.map((call) => [
          Buffer.from(call.arguments[0] as Uint8Array).byteLength,
          Buffer.from(call.arguments[1] as Uint8Array).toString("latin1"),
          call.result,
        ]),
        [
          [hex.length, hex, true],
          [hex.length, hex, false],
          [hex.length, hex, false],
        ],
      );
    } finally {
      compare.mock.restore();
      syncBuiltinESMExports();
    }
  });
});

describe("what Werkzeug answers False to", () => {
  it("is false: a string that is not method$salt$hash", () => {
    for (const stored of ["", "nodollar", "plain text password", "pbkdf2$salt", "$"]) {
      assert.equal(checkPasswordHash(stored, PASSWORD), false, JSON.stringify(stored));
    }
  });

  it("is false: a password with a lone UTF-16 surrogate, though U+FFFD itself matches", async () => {
    const hash = generatePasswordHash("a\ufffd", "pbkdf2:sha256:1000");
    assert.equal(checkPasswordHash(hash, "a\ufffd"), true);
    assert.equal(checkPasswordHash(hash, "a\ud800"), false);
    assert.equal(await checkPasswordHashAsync(hash, "a\udc00"), false);
  });
});

describe("what Werkzeug raises on", () => {
  it("throws ERR_PASSWORD_HASH_METHOD for an unknown method or a malformed parameter, naming it", () => {
    const broken = [
      ["md5$salt$abc", /"md5"/],
      ["bcrypt$salt$abc", /unknown method "bcrypt"/],
      ["PBKDF2:sha256:1000$salt$abc", /unknown method "PBKDF2"/],
      ["scrypt:16384:8$salt$abc", /3 parameters/],
      ["scrypt:16384:8:1:1$salt$abc", /3 parameters/],
      ["scrypt::8:1$salt$abc", /"" is not a whole number/],
      ["scrypt:3:8:1$salt$abc", /power of 2/],
      ["scrypt:1:8:1$salt$abc", /power of 2/],
      ["scrypt:1024:0:1$salt$abc", /"0" is not a whole number of at least 1/],
      ["pbkdf2:foo$salt$abc", /unknown digest "foo"/],
      ["pbkdf2::1000$salt$abc", /unknown digest ""/],
      ["pbkdf2:sha256:abc$salt$abc", /"abc" is not a whole number/],
      ["pbkdf2:sha256:-1$salt$abc", /"-1" is not a whole number/],
      ["pbkdf2:sha256:1.5$salt$abc", /"1.5" is not a whole number/],
      ["pbkdf2:sha256:1:2$salt$abc", /2 parameters/],
    ] as const;
    for (const [stored, message] of broken) {
      assert.throws(() => checkPasswordHash(stored, PASSWORD), hasCode("ERR_PASSWORD_HASH_METHOD"));
      assert.throws(() => checkPasswordHash(stored, PASSWORD), message, stored);
    }
  });

  it("quotes no more than the start of a huge method in its message", () => {
    const huge = `x${"y".repeat(1_000_000)}$salt$abc`;
    assert.throws(
      () => checkPasswordHash(huge, PASSWORD),
      (error: Error) => hasCode("ERR_PASSWORD_HASH_METHOD")(error) && error.message.length < 400,
    );
  });

  it("throws ERR_PASSWORD_HASH_METHOD from generatePasswordHash for a method Werkzeug refuses", () => {
    for (const method of ["bcrypt", "scrypt:1", "pbkdf2:a:b:c", "pbkdf2:sha256:abc", ""]) {
      assert.throws(
        () => generatePasswordHash(PASSWORD, method),
        hasCode("ERR_PASSWORD_HASH_METHOD"),
      );
    }
  });

  it("rejects, rather than throws, from the async variants", async () => {
    const pending = checkPasswordHashAsync("md5$salt$abc", PASSWORD);
    await assert.rejects(pending, hasCode("ERR_PASSWORD_HASH_METHOD"));
    await assert.rejects(
      generatePasswordHashAsync(PASSWORD, "bcrypt"),
      hasCode("ERR_PASSWORD_HASH_METHOD"),
    );
  });
});

describe("the cost bound", () => {
  it("refuses scrypt past 128·N·r·p = 256 MiB before allocating anything", async () => {
    const tooCostly = [
      "scrypt:1048576:8:1$salt$abc", // 1 GiB
      "scrypt:16384:8:17$salt$abc", // p counts: 272 MiB of work
      "scrypt:2:1073741824:1$salt$abc",
      `scrypt:${"9".repeat(400)}:8:1$salt$abc`,
    ];
    for (const stored of tooCostly) {
      assert.throws(() => checkPasswordHash(stored, PASSWORD), hasCode("ERR_PASSWORD_HASH_COST"));
      await assert.rejects(
        checkPasswordHashAsync(stored, PASSWORD),
        hasCode("ERR_PASSWORD_HASH_COST"),
      );
    }
    assert.throws(
      () => generatePasswordHash(PASSWORD, "scrypt:524288:8:1"),
      /256 MiB.*refused rather than computed/,
    );
  });

  it("refuses PBKDF2 past 10,000,000 iterations", () => {
    for (const iterations of ["10000001", "4294967296", "9".repeat(40)]) {
      assert.throws(
        () => checkPasswordHash(`pbkdf2:sha256:${iterations}$salt$abc`, PASSWORD),
        hasCode("ERR_PASSWORD_HASH_COST"),
      );
    }
    assert.throws(
      () => generatePasswordHash(PASSWORD, "pbkdf2:sha1:20000000"),
      hasCode("ERR_PASSWORD_HASH_COST"),
    );
  });
});

describe("arguments of the wrong kind", () => {
  // What plain JavaScript, or a cast, can pass despite the types.
  const loose = {
    check: checkPasswordHash as (pwhash: unknown, password: unknown) => boolean,
    generate: generatePasswordHash as (p: unknown, m?: unknown, s?: unknown) => string,
  };

  it("throw ERR_PASSWORD_HASH_ARGUMENT naming what was wrong", () => {
    assert.throws(
      () => loose.check(undefined, PASSWORD),
      /stored hash must be a string, not undefined/,
    );
    assert.throws(
      () => loose.check(FLASKR_USERS.test, undefined),
      hasCode("ERR_PASSWORD_HASH_ARGUMENT"),
    );
    assert.throws(
      () => loose.check(FLASKR_USERS.test, null),
      /password must be a string, not null/,
    );
    assert.throws(() => loose.generate(42), hasCode("ERR_PASSWORD_HASH_ARGUMENT"));
    assert.throws(() => loose.generate(PASSWORD, 3), /method must be a string/);
    for (const saltLength of [0, -1, 1.5, 1025, Number.NaN, "16"]) {
      assert.throws(
        () => loose.generate(PASSWORD, "pbkdf2:sha256:1", saltLength),
        /saltLength must be a whole number from 1 to 1024/,
        String(saltLength),
      );
    }
  });

  it("refuse to hash a password with a lone UTF-16 surrogate, as Werkzeug does", async () => {
    assert.throws(
      () => generatePasswordHash("\ud83d", "pbkdf2:sha256:1"),
      hasCode("ERR_PASSWORD_HASH_ARGUMENT"),
    );
    await assert.rejects(
      generatePasswordHashAsync("ok\udc00", "pbkdf2:sha256:1"),
      hasCode("ERR_PASSWORD_HASH_ARGUMENT"),
    );
    // A whole surrogate pair is a character like any other.
    assert.match(generatePasswordHash("\ud83d\udd11", "pbkdf2:sha256:1"), /^pbkdf2:sha256:1\$/);
  });
});

describe("in an app", () => {
  it("logs a user in from a Werkzeug table, and a broken row is a 500 that shows no stack", async () => {
    const users = new Map<string, string>([
      ["test", FLASKR_USERS.test],
      ["broken", "md5$x$0123"],
    ]);
    const app = newApp();
    const logged = captureLogs(app);
    app.post("/login", (req) => {
      const stored = users.get(req.form.require("username"));
      if (!stored || !checkPasswordHash(stored, req.form.require("password"))) abort(401);
      return "welcome";
    });
    app.post("/login-async", async (req) => {
      const stored = users.get(req.form.require("username")) ?? "";
      if (!(await checkPasswordHashAsync(stored, req.form.require("password")))) abort(401);
      return "welcome";
    });
    const client = app.testClient();
    for (const path of ["/login", "/login-async"]) {
      const ok = await client.post(path, { form: { username: "test", password: "test" } });
      assert.equal(ok.status, 200, path);
      assert.equal(ok.text(), "welcome");
      const wrong = await client.post(path, { form: { username: "test", password: "other" } });
      assert.equal(wrong.status, 401, path);
      const broken = await client.post(path, { form: { username: "broken", password: "x" } });
      assert.equal(broken.status, 500, path);
      assert.doesNotMatch(broken.text(), /at |ERR_PASSWORD|md5/, path);
    }
    // The log says what is wrong with the row.
    assert.equal(logged.length, 2);
    for (const { error } of logged) hasCode("ERR_PASSWORD_HASH_METHOD")(error);
  });
});
