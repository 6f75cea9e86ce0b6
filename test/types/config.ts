// Type tests for the app's configuration: checked by `npm run typecheck`, never run.

import type { Buffer } from "node:buffer";
import {
  Carafe,
  type AppConfig,
  type CarafeConfig,
  type ConfigValues,
  type Resource,
} from "carafe";

// An app declares its own keys by merging into AppConfig (as AppGlobals and SessionData).
declare module "carafe" {
  interface AppConfig {
    greeting?: string;
  }
}

/** `true` only when A and B are the same type (not merely assignable to each other). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const app = new Carafe({ secretKey: "s3cret", maxContentLength: 1024, trustedHosts: null });
const _secret: Expect<Equal<typeof app.config.secretKey, string | null>> = true;
const _debug: Expect<Equal<AppConfig["debug"], boolean>> = true;
const _own: Expect<Equal<AppConfig["greeting"], string | undefined>> = true;
// Carafe's keys are all there; the app's own are not Carafe's.
const _carafe: Expect<Equal<keyof CarafeConfig & "greeting", never>> = true;

app.config.greeting = "hello";
app.config.debug = true;
Object.assign(app.config, { greeting: "hi" } satisfies Partial<AppConfig>);

// @ts-expect-error a misspelt key is not a config key
new Carafe({ secretkey: "s3cret" });
// @ts-expect-error Flask's upper-case names are not Carafe's
new Carafe({ SECRET_KEY: "s3cret" });
// @ts-expect-error the constructor takes Carafe's keys; set your own on app.config
new Carafe({ greeting: "hello" });
// @ts-expect-error a key nobody declared does not exist on app.config
app.config.greting = "hello";
// @ts-expect-error a declared key keeps its type
app.config.greeting = 42;
// @ts-expect-error Carafe's keys keep theirs
app.config.maxContentLength = "1 MiB";

// The loaders: a key that names a config key keeps its type; any other key is checked at run time.
app.config.fromMapping({ secretKey: "dev", SECRET_KEY: "dev", DATABASE: "/srv/app.db" });
app.config.fromMapping({ greeting: "hi", debug: true });
// @ts-expect-error secretKey is a string or null
app.config.fromMapping({ secretKey: 42 });
// @ts-expect-error a declared key of the app keeps its type too
app.config.fromMapping({ greeting: 42 });
const testConfig: Partial<ConfigValues> = { testing: true };
app.config.fromMapping(testConfig);
const _loaded: boolean = app.config.fromFile("config.json", { silent: true });
const _parsed: boolean = app.config.fromFile("config.toml", (text) => text.length, {
  silent: true,
});
// @ts-expect-error the loader is a function of the file's text
app.config.fromFile("config.toml", "toml");
app.config.fromPrefixedEnv();
app.config.fromPrefixedEnv("FLASKR");
// The methods are not among the keys.
const _values: Expect<Equal<keyof ConfigValues & "fromFile", never>> = true;
const _valuesKeep: Expect<Equal<ConfigValues["greeting"], string | undefined>> = true;

// Resources: bytes and text, synchronously.
const _bytes: Buffer = app.openResource("schema.sql").read();
const _text: string = app.openResource("schema.sql").text();
const _written: Resource = app.openInstanceResource("log.txt", "a").write("line\n");
const _instance: string = app.instancePath;
new Carafe({ instancePath: "/srv/instance", instanceRelativeConfig: true });
// @ts-expect-error the modes are "r", "w" and "a"
app.openInstanceResource("log.txt", "rw");
// @ts-expect-error the app's own resources are read only
app.openResource("schema.sql", "w");
