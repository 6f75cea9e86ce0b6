// The instance folder, the config loaders (fromFile, fromPrefixedEnv, fromMapping) and the app's
// resources, on real files in a temporary folder and real environment variables.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Carafe,
  CarafeError,
  currentApp,
  renderTemplateString,
  session,
  type ConfigFileLoader,
} from "carafe";

// Keys of the app's own, declared as an app declares them.
declare module "carafe" {
  interface AppConfig {
    database?: string;
    db?: { host?: string; port?: number; replica?: { host?: string } };
    greeting?: string;
  }
}

let tmp: string;
let count = 0;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), "carafe-config-"));
});

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh folder for one app, holding `files` (paths relative to it). */
function folder(files: Record<string, string> = {}): string {
  count += 1;
  const root = join(tmp, `app${count}`);
  mkdirSync(root);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

function makeApp(root: string, options: ConstructorParameters<typeof Carafe>[0] = {}): Carafe {
  return new Carafe({ rootPath: root, staticFolder: null, ...options });
}

/** The `CarafeError` `fn` throws; fails when it throws none (or something else). */
function refusal(fn: () => unknown): CarafeError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CarafeError, String(error));
    return error;
  }
  assert.fail("no error was thrown");
}

/** A snapshot of the config's keys and values, to show that a refusal changed nothing. */
function snapshot(app: Carafe): string {
  return JSON.stringify(app.config);
}

describe("the app's name", () => {
  it("is its module's file name, as Flask names an app after its module, or the name given", () => {
    assert.equal(new Carafe().name, "config-loading.test");
    assert.equal(new Carafe({ name: "flaskr" }).name, "flaskr");
  });
});

describe("the instance folder", () => {
  it("is `instance` beside the app by default, and is not created", () => {
    const root = folder();
    const app = makeApp(root);
    assert.equal(app.instancePath, join(root, "instance"));
    assert.equal(existsSync(app.instancePath), false);
  });

  it("takes instancePath, a relative one from rootPath", () => {
    const root = folder();
    assert.equal(makeApp(root, { instancePath: "var/data" }).instancePath, join(root, "var/data"));
    const elsewhere = join(tmp, "shared-instance");
    assert.equal(makeApp(root, { instancePath: elsewhere }).instancePath, elsewhere);
  });

  it("refuses an instancePath that is not a path", () => {
    const error = refusal(() => makeApp(folder(), { instancePath: 42 as unknown as string }));
    assert.equal(error.code, "ERR_CONFIG_VALUE");
    assert.match(error.message, /instancePath/);
  });

  it("offers the new options when one is misspelt", () => {
    const options = { rootPath: folder(), instancepath: "x" } as Record<string, unknown>;
    const error = refusal(() => new Carafe(options));
    assert.match(error.message, /did you mean 'instancePath'/);
  });

  it("is what instanceRelativeConfig makes fromFile start from", () => {
    const root = folder({
      "config.json": '{"greeting": "from the root"}',
      "instance/config.json": '{"greeting": "from the instance"}',
    });
    const plain = makeApp(root);
    plain.config.fromFile("config.json");
    assert.equal(plain.config.greeting, "from the root");
    const relativeToInstance = makeApp(root, { instanceRelativeConfig: true });
    relativeToInstance.config.fromFile("config.json");
    assert.equal(relativeToInstance.config.greeting, "from the instance");
  });
});

describe("app.config.fromFile", () => {
  it("reads a JSON file, in Flask's spelling or Carafe's, and returns true", () => {
    const root = folder({
      "settings.json": JSON.stringify({
        SECRET_KEY: "from-file",
        MAX_CONTENT_LENGTH: 2048,
        SESSION_COOKIE_HTTPONLY: false,
        SEND_FILE_MAX_AGE_DEFAULT: 60,
        DATABASE: "/srv/app.sqlite",
        sessionCookieName: "sid",
      }),
    });
    const app = makeApp(root);
    assert.equal(app.config.fromFile("settings.json"), true);
    assert.equal(app.config.secretKey, "from-file");
    assert.equal(app.config.maxContentLength, 2048);
    assert.equal(app.config.sessionCookieHttpOnly, false);
    assert.equal(app.config.sendFileMaxAge, 60);
    assert.equal(app.config.database, "/srv/app.sqlite");
    assert.equal(app.config.sessionCookieName, "sid");
    assert.equal(Object.hasOwn(app.config, "SECRET_KEY"), false);
  });

  it("reads a file at an absolute path, and one with a byte-order mark", () => {
    const root = folder({ "bom.json": '\uFEFF{"greeting": "bom"}' });
    const app = makeApp(folder());
    app.config.fromFile(join(root, "bom.json"));
    assert.equal(app.config.greeting, "bom");
  });

  it("returns false for a missing file with { silent: true }, and changes nothing", () => {
    const root = folder({ "a-folder/x": "" });
    const app = makeApp(root);
    const before = snapshot(app);
    assert.equal(app.config.fromFile("missing.json", { silent: true }), false);
    assert.equal(app.config.fromFile("a-folder", JSON.parse, { silent: true }), false);
    assert.equal(snapshot(app), before);
  });

  it("fails on a missing file, naming it and the way to skip it", () => {
    const root = folder();
    const error = refusal(() => makeApp(root).config.fromFile("missing.json"));
    assert.equal(error.code, "ERR_CONFIG_FILE");
    assert.ok(error.message.includes(join(root, "missing.json")), error.message);
    assert.match(error.message, /no such file.*silent: true/);
  });

  it("fails on a folder, naming it", () => {
    const root = folder({ "conf.json/inner": "" });
    const error = refusal(() => makeApp(root).config.fromFile("conf.json"));
    assert.equal(error.code, "ERR_CONFIG_FILE");
    assert.match(error.message, /conf\.json'\): it is a folder/);
  });

  it("uses the loader it is given, for any format", () => {
    // A small `key = value` format, as a TOML or YAML package's parse would be passed.
    const parse: ConfigFileLoader = (text) =>
      Object.fromEntries(
        text
          .split("\n")
          .filter((line) => line.includes("="))
          .map((line) => line.split("=").map((part) => part.trim())),
      );
    const root = folder({ "app.conf": "SECRET_KEY = from-conf\ngreeting = hi\n" });
    const app = makeApp(root);
    assert.equal(app.config.fromFile("app.conf", parse), true);
    assert.equal(app.config.secretKey, "from-conf");
    assert.equal(app.config.greeting, "hi");
    assert.equal(app.config.fromFile("other.conf", parse, { silent: true }), false);
  });

  it("needs a loader for a file that is not JSON", () => {
    const root = folder({ "settings.toml": 'secret_key = "x"' });
    const error = refusal(() => makeApp(root).config.fromFile("settings.toml"));
    assert.equal(error.code, "ERR_CONFIG_FILE");
    assert.match(error.message, /for a '\.toml' file pass its parser/);
  });

  it("fails on a file that does not parse, naming the file and the parser's reason", () => {
    const root = folder({ "broken.json": '{"secretKey": ' });
    const error = refusal(() => makeApp(root).config.fromFile("broken.json"));
    assert.equal(error.code, "ERR_CONFIG_FILE");
    assert.match(error.message, /broken\.json'\): the file could not be parsed: .*JSON/);
    assert.ok(error.cause instanceof SyntaxError);
    const thrower: ConfigFileLoader = () => {
      throw new Error("line 3: bad indentation");
    };
    const loaderError = refusal(() => makeApp(root).config.fromFile("broken.json", thrower));
    assert.match(loaderError.message, /could not be parsed: line 3: bad indentation/);
  });

  it("fails on a file that holds no object of keys", () => {
    const root = folder({ "list.json": "[1, 2]", "null.json": "null" });
    const app = makeApp(root);
    assert.match(refusal(() => app.config.fromFile("list.json")).message, /not an array/);
    assert.match(refusal(() => app.config.fromFile("null.json")).message, /not null/);
  });

  it("refuses a bad key or value of a file, naming the file, and sets none of its keys", () => {
    const root = folder({
      "typo.json": '{"greeting": "hi", "secretkey": "x"}',
      "value.json": '{"greeting": "hi", "sessionCookieSameSite": "lax"}',
    });
    const app = makeApp(root);
    const before = snapshot(app);
    const typo = refusal(() => app.config.fromFile("typo.json"));
    assert.equal(typo.code, "ERR_CONFIG_KEY");
    assert.ok(typo.message.includes(join(root, "typo.json")), typo.message);
    assert.match(typo.message, /'secretkey'; did you mean 'secretKey'/);
    const value = refusal(() => app.config.fromFile("value.json"));
    assert.equal(value.code, "ERR_CONFIG_VALUE");
    assert.match(
      value.message,
      /'sessionCookieSameSite' must be one of "Strict", "Lax", "None", null; got a string \("lax"\)/,
    );
    assert.equal(snapshot(app), before);
  });

  it("refuses a call without a path", () => {
    const app = makeApp(folder());
    assert.equal(refusal(() => app.config.fromFile("")).code, "ERR_CONFIG_FILE");
  });

  it("puts what it read to work: a body limit from a file answers 413 through the client", async () => {
    const root = folder({ "limits.json": '{"MAX_CONTENT_LENGTH": 10}' });
    const app = makeApp(root);
    app.config.fromFile("limits.json");
    app.post("/echo", (req) => req.text());
    const client = app.testClient();
    assert.equal((await client.post("/echo", { data: "short" })).status, 200);
    assert.equal((await client.post("/echo", { data: "far more than ten bytes" })).status, 413);
  });
});

describe("app.config.fromPrefixedEnv", () => {
  const set: string[] = [];
  /** Sets real environment variables for one test. */
  function env(vars: Record<string, string>): void {
    for (const [name, value] of Object.entries(vars)) {
      process.env[name] = value;
      set.push(name);
    }
  }
  afterEach(() => {
    for (const name of set.splice(0)) delete process.env[name];
  });

  it("reads CARAFE_* by default, a key per variable, values parsed as JSON when they parse", () => {
    env({
      CARAFE_SECRET_KEY: "env-secret",
      CARAFE_MAX_CONTENT_LENGTH: "4096",
      CARAFE_SESSION_COOKIE_SECURE: "true",
      CARAFE_TRUSTED_HOSTS: '["example.com", ".example.org"]',
      CARAFE_SERVER_NAME: "null",
      CARAFE_GREETING: "hello there",
    });
    const app = makeApp(folder());
    app.config.fromPrefixedEnv();
    assert.equal(app.config.secretKey, "env-secret");
    assert.equal(app.config.maxContentLength, 4096);
    assert.equal(app.config.sessionCookieSecure, true);
    assert.deepEqual(app.config.trustedHosts, ["example.com", ".example.org"]);
    assert.equal(app.config.serverName, null);
    assert.equal(app.config.greeting, "hello there");
  });

  it("keeps the raw string for a Carafe key when JSON gives the wrong type", () => {
    env({ CFGT1_SECRET_KEY: "1234", CFGT1_SESSION_COOKIE_NAME: "true", CFGT1_COUNT: "12" });
    const app = makeApp(folder());
    app.config.fromPrefixedEnv("CFGT1");
    assert.equal(app.config.secretKey, "1234");
    assert.equal(app.config.sessionCookieName, "true");
    // An app's own key follows Flask's rule: JSON when it parses.
    assert.equal((app.config as unknown as Record<string, unknown>)["count"], 12);
  });

  it("reads only the variables with the prefix, with or without its trailing '_'", () => {
    env({ CFGT2_GREETING: "mine", CFGT2X_GREETING: "not mine", CFGT2: "no key" });
    const app = makeApp(folder());
    app.config.fromPrefixedEnv("CFGT2_");
    assert.equal(app.config.greeting, "mine");
    assert.deepEqual(
      Object.keys(app.config).filter((key) => !Object.hasOwn(makeApp(folder()).config, key)),
      ["greeting"],
    );
  });

  it("sets keys inside objects with '__', in sorted order, making the objects it needs", () => {
    env({
      CFGT3_DB__PORT: "5432",
      CFGT3_DB__HOST: "db.internal",
      CFGT3_DB__REPLICA__HOST: "replica.internal",
    });
    const app = makeApp(folder());
    app.config.fromPrefixedEnv("CFGT3");
    assert.deepEqual(app.config.db, {
      host: "db.internal",
      port: 5432,
      replica: { host: "replica.internal" },
    });
    assert.deepEqual(Object.keys(app.config.db ?? {}), ["host", "port", "replica"]);
  });

  it("adds to an object the app has already", () => {
    env({ CFGT4_DB__PORT: "6543" });
    const app = makeApp(folder());
    app.config.db = { host: "localhost", port: 5432 };
    app.config.fromPrefixedEnv("CFGT4");
    assert.deepEqual(app.config.db, { host: "localhost", port: 6543 });
  });

  it("refuses a value of the wrong type, naming the variable and never showing a secret", () => {
    env({ CFGT5_DEBUG: "yes" });
    const app = makeApp(folder());
    const error = refusal(() => app.config.fromPrefixedEnv("CFGT5"));
    assert.equal(error.code, "ERR_CONFIG_VALUE");
    assert.match(
      error.message,
      /^CFGT5_DEBUG: config key 'debug' must be true or false; got a string \("yes"\)/,
    );
    delete process.env["CFGT5_DEBUG"];
    env({ CFGT5_SECRET_KEY_FALLBACKS: '"hunter2"' });
    const secret = refusal(() => app.config.fromPrefixedEnv("CFGT5"));
    assert.match(secret.message, /'secretKeyFallbacks' must be an array of strings; got a string$/);
    assert.doesNotMatch(secret.message, /hunter2/);
  });

  it("refuses a misspelt Carafe key, naming the variable", () => {
    env({ CFGT6_SECRETKEY: "x" });
    const error = refusal(() => makeApp(folder()).config.fromPrefixedEnv("CFGT6"));
    assert.equal(error.code, "ERR_CONFIG_KEY");
    assert.match(
      error.message,
      /^CFGT6_SECRETKEY: unknown config key 'secretkey'; did you mean 'secretKey'/,
    );
  });

  it("refuses a key inside something that is not an object, and then sets nothing", () => {
    env({ CFGT7_A_GREETING: "set first", CFGT7_DB: "5", CFGT7_DB__HOST: "x" });
    const app = makeApp(folder());
    const before = snapshot(app);
    const error = refusal(() => app.config.fromPrefixedEnv("CFGT7"));
    assert.match(
      error.message,
      /^CFGT7_DB__HOST: config key 'db' holds a number \(5\), not an object/,
    );
    assert.equal(snapshot(app), before);
    delete process.env["CFGT7_DB"];
    delete process.env["CFGT7_DB__HOST"];
    env({ CFGT7_SERVER_NAME__HOST: "x" });
    assert.match(
      refusal(() => app.config.fromPrefixedEnv("CFGT7")).message,
      /config key 'serverName' is not an object/,
    );
    assert.equal(snapshot(app), before);
  });

  it("leaves the app's objects untouched when a later variable is refused", () => {
    env({
      CFGT8_DB__HOST: "changed",
      CFGT8_DB__REPLICA__HOST: "changed",
      CFGT8_ZZ: '{"a": 1}',
      CFGT8_ZZ__A__B: "x",
    });
    const app = makeApp(folder());
    app.config.db = { host: "original", replica: { host: "original" } };
    refusal(() => app.config.fromPrefixedEnv("CFGT8"));
    assert.deepEqual(app.config.db, { host: "original", replica: { host: "original" } });
  });

  it("refuses an empty key and a prototype's name", () => {
    env({ CFGT9_DB____HOST: "x" });
    assert.match(
      refusal(() => makeApp(folder()).config.fromPrefixedEnv("CFGT9")).message,
      /empty key/,
    );
    delete process.env["CFGT9_DB____HOST"];
    env({ CFGT9_DB____PROTO__: '{"polluted": true}' });
    refusal(() => makeApp(folder()).config.fromPrefixedEnv("CFGT9"));
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  it("refuses a prefix that no variable could have", () => {
    const app = makeApp(folder());
    assert.equal(refusal(() => app.config.fromPrefixedEnv("")).code, "ERR_CONFIG_KEY");
    assert.equal(refusal(() => app.config.fromPrefixedEnv("MY-APP")).code, "ERR_CONFIG_KEY");
  });

  it("takes every variable of Carafe's server as a key of its own, without a false typo", () => {
    // `carafe serve` reads CARAFE_WORKERS, CARAFE_BIND, …; Flask's from_prefixed_env likewise
    // takes FLASK_APP. None of them may be mistaken for a misspelt config key.
    const names = new Set<string>(["CARAFE_APP"]);
    const server = join(import.meta.dirname, "..", "..", "src", "server");
    for (const file of readdirSync(server, { recursive: true })) {
      if (!String(file).endsWith(".ts")) continue;
      const source = readFileSync(join(server, String(file)), "utf8");
      for (const [name] of source.matchAll(/\bCARAFE_[A-Z][A-Z0-9_]*[A-Z0-9]\b/g)) names.add(name);
    }
    assert.ok(names.has("CARAFE_WORKERS") && names.has("CARAFE_BIND"), [...names].join(" "));
    env(Object.fromEntries([...names].map((name) => [name, "1"])));
    const app = makeApp(folder());
    app.config.fromPrefixedEnv();
    assert.equal((app.config as unknown as Record<string, unknown>)["workers"], 1);
  });

  it("puts what it read to work: a secret key from the environment signs the session", async () => {
    env({ CFGT10_SECRET_KEY: "from-the-environment" });
    const app = makeApp(folder());
    assert.equal(app.config.secretKey, null);
    app.config.fromPrefixedEnv("CFGT10");
    app.get("/login", () => {
      session.set("user", "ada");
      return "ok";
    });
    app.get("/who", () => String(session.get("user")));
    const client = app.testClient();
    assert.equal((await client.get("/login")).status, 200);
    assert.equal(await (await client.get("/who")).text(), "ada");
  });
});

describe("app.config.fromMapping", () => {
  it("sets Carafe's keys and the app's own, in either spelling", () => {
    const app = makeApp(folder());
    app.config.fromMapping({
      SECRET_KEY: "dev",
      DATABASE: "/srv/flaskr.sqlite",
      testing: true,
      SESSION_COOKIE_SAMESITE: "Strict",
      PERMANENT_SESSION_LIFETIME: 3600,
    });
    assert.equal(app.config.secretKey, "dev");
    assert.equal(app.config.database, "/srv/flaskr.sqlite");
    assert.equal(app.config.testing, true);
    assert.equal(app.config.sessionCookieSameSite, "Strict");
    assert.equal(app.config.permanentSessionLifetime, 3600);
  });

  it("maps each of Flask's own keys to Carafe's, or refuses it as having no counterpart", () => {
    // Flask 3.1's default_config keys (from the installed Flask), and what each is in Carafe.
    const flaskKeys: Record<string, string | null> = {
      APPLICATION_ROOT: null,
      DEBUG: "debug",
      EXPLAIN_TEMPLATE_LOADING: null,
      MAX_CONTENT_LENGTH: "maxContentLength",
      MAX_COOKIE_SIZE: null,
      MAX_FORM_MEMORY_SIZE: null,
      MAX_FORM_PARTS: "maxFormParts",
      PERMANENT_SESSION_LIFETIME: "permanentSessionLifetime",
      PREFERRED_URL_SCHEME: "preferredUrlScheme",
      PROPAGATE_EXCEPTIONS: null,
      PROVIDE_AUTOMATIC_OPTIONS: null,
      SECRET_KEY: "secretKey",
      SECRET_KEY_FALLBACKS: "secretKeyFallbacks",
      SEND_FILE_MAX_AGE_DEFAULT: "sendFileMaxAge",
      SERVER_NAME: "serverName",
      SESSION_COOKIE_DOMAIN: "sessionCookieDomain",
      SESSION_COOKIE_HTTPONLY: "sessionCookieHttpOnly",
      SESSION_COOKIE_NAME: "sessionCookieName",
      SESSION_COOKIE_PARTITIONED: null,
      SESSION_COOKIE_PATH: "sessionCookiePath",
      SESSION_COOKIE_SAMESITE: "sessionCookieSameSite",
      SESSION_COOKIE_SECURE: "sessionCookieSecure",
      SESSION_REFRESH_EACH_REQUEST: "sessionRefreshEachRequest",
      TEMPLATES_AUTO_RELOAD: null,
      TESTING: "testing",
      TRAP_BAD_REQUEST_ERRORS: null,
      TRAP_HTTP_EXCEPTIONS: null,
      TRUSTED_HOSTS: "trustedHosts",
      USE_X_SENDFILE: null,
    };
    const app = makeApp(folder());
    const config = app.config as unknown as Record<string, unknown>;
    const keys = Object.keys(config);
    for (const [flask, carafe] of Object.entries(flaskKeys)) {
      if (carafe === null) {
        const error = refusal(() => app.config.fromMapping({ [flask]: true }));
        assert.match(error.message, new RegExp(`Flask's ${flask} has no Carafe counterpart`));
        continue;
      }
      // Carafe's default, sent under Flask's name, lands on Carafe's key and nowhere else.
      const value = config[carafe];
      config[carafe] = "sentinel";
      app.config.fromMapping({ [flask]: value });
      assert.deepEqual(config[carafe], value, flask);
    }
    assert.deepEqual(Object.keys(config), keys);
  });

  it("skips a key whose value is undefined", () => {
    const app = makeApp(folder());
    app.config.fromMapping({ secretKey: undefined, greeting: undefined });
    assert.equal(app.config.secretKey, null);
    assert.equal(Object.hasOwn(app.config, "greeting"), false);
  });

  it("reads a module's exports, but not its default export", async () => {
    const root = folder({
      "settings.mjs":
        'export const SECRET_KEY = "from-module";\nexport default { greeting: "no" };\n',
    });
    const app = makeApp(root);
    app.config.fromMapping((await import(join(root, "settings.mjs"))) as object);
    assert.equal(app.config.secretKey, "from-module");
    assert.equal(Object.hasOwn(app.config, "default"), false);
    assert.equal(Object.hasOwn(app.config, "greeting"), false);
  });

  it("refuses a typo of Carafe's keys, naming the key it resembles", () => {
    const app = makeApp(folder());
    for (const key of ["secretkey", "SECRET_KYE", "sessionCookieNam", "Secret_Key"]) {
      const error = refusal(() => app.config.fromMapping({ [key]: "x" }));
      assert.equal(error.code, "ERR_CONFIG_KEY", key);
      assert.match(error.message, /did you mean '(secretKey|sessionCookieName)'/, key);
    }
  });

  it("takes a key of the app's own close to one of Carafe's once app.config has it", () => {
    const app = makeApp(folder());
    assert.match(
      refusal(() => app.config.fromMapping({ debugs: 1 })).message,
      /did you mean 'debug'/,
    );
    Object.assign(app.config, { debugs: 0 });
    app.config.fromMapping({ debugs: 1 });
    assert.equal((app.config as unknown as Record<string, unknown>)["debugs"], 1);
  });

  it("refuses Flask's keys that Carafe has no counterpart for", () => {
    const app = makeApp(folder());
    for (const key of ["USE_X_SENDFILE", "TEMPLATES_AUTO_RELOAD", "propagateExceptions"]) {
      const error = refusal(() => app.config.fromMapping({ [key]: true }));
      assert.equal(error.code, "ERR_CONFIG_KEY");
      assert.match(error.message, /has no Carafe counterpart/);
    }
  });

  it("refuses a value of the wrong type for one of Carafe's keys, and sets nothing", () => {
    const app = makeApp(folder());
    const before = snapshot(app);
    const cases: [string, unknown, RegExp][] = [
      ["debug", 1, /true or false/],
      ["maxContentLength", -1, /a whole number, 0 or more/],
      ["maxContentLength", null, /a whole number/],
      ["secretKey", 42, /a string, or null; got a number$/],
      ["preferredUrlScheme", "ftp", /one of "http", "https"/],
      ["sendFileMaxAge", "1h", /a number of seconds, 0 or more, or null/],
      ["trustedHosts", ["a.example", 3], /an array of strings, or null/],
    ];
    for (const [key, value, expected] of cases) {
      const error = refusal(() => app.config.fromMapping({ greeting: "hi", [key]: value }));
      assert.equal(error.code, "ERR_CONFIG_VALUE", key);
      assert.match(error.message, expected, key);
    }
    assert.equal(snapshot(app), before);
  });

  it("refuses the names of its methods and of the prototype", () => {
    const app = makeApp(folder());
    for (const key of ["fromFile", "FROM_MAPPING", "toString", "constructor"]) {
      assert.equal(refusal(() => app.config.fromMapping({ [key]: 1 })).code, "ERR_CONFIG_KEY", key);
    }
    const polluting = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    assert.match(
      refusal(() => app.config.fromMapping(polluting)).message,
      /'__proto__' cannot be a config key/,
    );
    assert.equal(typeof app.config.fromFile, "function");
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  it("refuses what is not an object of keys", () => {
    const app = makeApp(folder());
    const map = new Map([["secretKey", "x"]]);
    assert.match(refusal(() => app.config.fromMapping(map)).message, /Object\.fromEntries/);
    assert.equal(refusal(() => app.config.fromMapping(["a"])).code, "ERR_CONFIG_KEY");
    assert.equal(
      refusal(() => app.config.fromMapping(null as unknown as object)).code,
      "ERR_CONFIG_KEY",
    );
  });
});

describe("app.config as data", () => {
  it("shows its keys only: the loaders live on its prototype", () => {
    const app = makeApp(folder());
    app.config.greeting = "hi";
    const keys = Object.keys(app.config);
    for (const method of ["fromFile", "fromPrefixedEnv", "fromMapping"]) {
      assert.equal(keys.includes(method), false, method);
      assert.equal(Object.hasOwn({ ...app.config }, method), false, method);
    }
    assert.ok(keys.includes("secretKey") && keys.includes("greeting"));
    assert.equal(JSON.parse(JSON.stringify(app.config)).greeting, "hi");
  });

  it("shows its keys only to a template that walks `config`", async () => {
    const app = makeApp(folder(), { secretKey: "s" });
    app.config.greeting = "hi";
    app.get("/", () =>
      renderTemplateString("{% for key, value in config %}{{ key }} {% endfor %}"),
    );
    const shown = (await (await app.testClient().get("/")).text()).trim().split(" ");
    assert.deepEqual(shown, Object.keys(app.config));
    assert.ok(shown.includes("greeting"));
    assert.equal(shown.includes("fromFile"), false);
  });
});

describe("app.openResource", () => {
  it("reads a file beside the app, as bytes or text, from a view through currentApp", async () => {
    const root = folder({ "schema.sql": "CREATE TABLE user (id INTEGER);\n", "data/blob.bin": "" });
    writeFileSync(join(root, "data/blob.bin"), Buffer.from([0, 255, 1]));
    const app = makeApp(root);
    app.get("/schema", () => currentApp.openResource("schema.sql").text());
    app.get("/blob", () => currentApp.openResource("data/blob.bin").read());
    const client = app.testClient();
    assert.equal(await (await client.get("/schema")).text(), "CREATE TABLE user (id INTEGER);\n");
    assert.deepEqual([...(await client.get("/blob")).body], [0, 255, 1]);
    const resource = app.openResource("schema.sql");
    assert.equal(resource.path, join(root, "schema.sql"));
    assert.ok(Buffer.isBuffer(resource.read()));
    assert.equal(app.openResource("./data/../schema.sql").text().length, 32);
  });

  it("decodes with the encoding asked for", () => {
    const root = folder();
    writeFileSync(join(root, "latin1.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    assert.equal(makeApp(root).openResource("latin1.txt").text("latin1"), "café");
  });

  it("refuses a path that leaves rootPath", () => {
    const root = folder({ "ok.txt": "" });
    writeFileSync(join(root, "..", `outside-${count}.txt`), "secret");
    const app = makeApp(root);
    for (const path of [
      `../outside-${count}.txt`,
      "a/../../x",
      "/etc/passwd",
      join(root, "ok.txt"),
      ".",
      "",
    ]) {
      const error = refusal(() => app.openResource(path));
      assert.equal(error.code, "ERR_RESOURCE_PATH", path);
    }
  });

  it("fails on a missing file or a folder, naming it", () => {
    const root = folder({ "sub/x": "" });
    const app = makeApp(root);
    const missing = refusal(() => app.openResource("schema.sql"));
    assert.equal(missing.code, "ERR_RESOURCE_MISSING");
    assert.ok(missing.message.includes(join(root, "schema.sql")), missing.message);
    assert.match(refusal(() => app.openResource("sub")).message, /is not a file/);
  });

  it("is opened for reading only", () => {
    const root = folder({ "schema.sql": "x" });
    const error = refusal(() => makeApp(root).openResource("schema.sql").write("y"));
    assert.equal(error.code, "ERR_RESOURCE_MODE");
    assert.equal(readFileSync(join(root, "schema.sql"), "utf8"), "x");
  });

  it("fails on a file removed after it was opened, naming it", () => {
    const root = folder({ "gone.txt": "x" });
    const resource = makeApp(root).openResource("gone.txt");
    rmSync(join(root, "gone.txt"));
    assert.equal(refusal(() => resource.text()).code, "ERR_RESOURCE_MISSING");
  });
});

describe("app.openInstanceResource", () => {
  it("writes from empty with 'w', adds with 'a' and reads with 'r' (the default)", () => {
    const app = makeApp(folder());
    mkdirSync(app.instancePath, { recursive: true });
    writeFileSync(join(app.instancePath, "notes.txt"), "old content");
    app.openInstanceResource("notes.txt", "w").write("one\n").write(Buffer.from("two\n"));
    app.openInstanceResource("notes.txt", "a").write("three\n");
    assert.equal(app.openInstanceResource("notes.txt").text(), "one\ntwo\nthree\n");
    assert.equal(readFileSync(join(app.instancePath, "notes.txt"), "utf8"), "one\ntwo\nthree\n");
  });

  it("creates or empties the file as soon as it is opened for writing, as Python's open does", () => {
    const app = makeApp(folder());
    mkdirSync(app.instancePath);
    app.openInstanceResource("created.txt", "a");
    assert.equal(readFileSync(join(app.instancePath, "created.txt"), "utf8"), "");
    writeFileSync(join(app.instancePath, "emptied.txt"), "content");
    app.openInstanceResource("emptied.txt", "w");
    assert.equal(readFileSync(join(app.instancePath, "emptied.txt"), "utf8"), "");
  });

  it("says to create the instance folder when it does not exist", () => {
    const app = makeApp(folder());
    const error = refusal(() => app.openInstanceResource("db.sqlite", "w"));
    assert.equal(error.code, "ERR_RESOURCE_MISSING");
    assert.match(error.message, /mkdirSync\(app\.instancePath, \{ recursive: true \}\)/);
    assert.equal(existsSync(app.instancePath), false);
  });

  it("is a folder of its own: a path out of it, or into rootPath, is refused", () => {
    const root = folder({ "schema.sql": "x" });
    const app = makeApp(root);
    mkdirSync(app.instancePath);
    const error = refusal(() => app.openInstanceResource("../schema.sql"));
    assert.equal(error.code, "ERR_RESOURCE_PATH");
    assert.equal(
      refusal(() => app.openInstanceResource("../schema.sql", "w")).code,
      "ERR_RESOURCE_PATH",
    );
    assert.equal(readFileSync(join(root, "schema.sql"), "utf8"), "x");
    assert.equal(relative(root, app.instancePath), "instance");
  });

  it("refuses a mode it does not know, and the wrong operation for its mode", () => {
    const app = makeApp(folder());
    mkdirSync(app.instancePath);
    writeFileSync(join(app.instancePath, "x.txt"), "x");
    const mode = refusal(() => app.openInstanceResource("x.txt", "rb" as "r"));
    assert.equal(mode.code, "ERR_RESOURCE_MODE");
    assert.match(mode.message, /mode must be 'r'.*got "rb"/);
    const readingWritten = refusal(() => app.openInstanceResource("x.txt", "a").read());
    assert.equal(readingWritten.code, "ERR_RESOURCE_MODE");
    assert.equal(
      refusal(() => app.openInstanceResource("x.txt").write("y")).code,
      "ERR_RESOURCE_MODE",
    );
  });
});

describe("an app factory", () => {
  it("lets a factory keep its database in the instance folder, as Flaskr does", async () => {
    const root = folder({ "schema.sql": "-- schema\n" });
    const createApp = (testConfig?: { database?: string; testing?: boolean }): Carafe => {
      const app = makeApp(root, { instanceRelativeConfig: true });
      app.config.fromMapping({ SECRET_KEY: "dev", DATABASE: join(app.instancePath, "app.db") });
      if (testConfig === undefined) app.config.fromFile("config.json", { silent: true });
      else app.config.fromMapping(testConfig);
      mkdirSync(app.instancePath, { recursive: true });
      app.get("/db", () => `${currentApp.config.database} ${currentApp.config.secretKey}`);
      return app;
    };
    const first = createApp();
    assert.equal(
      await (await first.testClient().get("/db")).text(),
      `${join(root, "instance", "app.db")} dev`,
    );
    writeFileSync(join(root, "instance", "config.json"), '{"SECRET_KEY": "production"}');
    assert.equal(
      (await (await createApp().testClient().get("/db")).text()).split(" ")[1],
      "production",
    );
    const testing = createApp({ testing: true, database: "/tmp/test.db" });
    assert.equal(testing.config.testing, true);
    assert.equal(await (await testing.testClient().get("/db")).text(), "/tmp/test.db dev");
  });
});
