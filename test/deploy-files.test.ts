// The files of deploy/ agree with Carafe and with each other: every flag they pass is one
// `carafe serve` takes, and the timeouts, limits and ports that must line up do. (The nginx
// configuration also runs for real in test/integration/nginx.test.ts and multi-host.test.ts.)
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_MAX_CONTENT_LENGTH } from "carafe";
import { resolveSettings } from "../src/server/settings.ts";
import { BOOT_FAILED_EXIT } from "../src/server/supervisor/protocol.ts";

const ROOT = resolve(import.meta.dirname, "..");
const read = (path: string): string => readFileSync(join(ROOT, "deploy", path), "utf8");
const { loadAll } = createRequire(import.meta.url)("js-yaml") as {
  loadAll(text: string): unknown[];
};

/** `carafe serve`'s options for `argv` (after `serve`) and `env`, from no config file. */
function settingsOf(argv: readonly string[], env: Record<string, string> = {}) {
  return resolveSettings({ argv, env, cwd: tmpdir() });
}

/** The value of `name` in nginx's configuration; every one when it repeats. */
function nginxDirective(text: string, name: string): string[] {
  const pattern = new RegExp(`^\\s*${name}\\s+([^;]+);`, "gm");
  return [...text.matchAll(pattern)].map((match) => match[1] as string);
}

/** nginx's size (`1m`, `512k`) or time (`4s`, `1m`) in bytes or seconds. */
function nginxValue(text: string, unit: "size" | "time"): number {
  const match = /^(\d+)([kmgs]?)$/i.exec(text.trim());
  assert.ok(match, `'${text}' is not a plain nginx ${unit}`);
  const scale: Record<string, number> =
    unit === "size" ? { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } : { "": 1, s: 1, m: 60 };
  return Number(match[1]) * (scale[(match[2] as string).toLowerCase()] as number);
}

describe("deploy/nginx/carafe.conf", async () => {
  const conf = read("nginx/carafe.conf");
  const defaults = await settingsOf(["app.ts"]);

  it("refuses the bodies Carafe refuses, and no others", () => {
    const [size = ""] = nginxDirective(conf, "client_max_body_size");
    assert.equal(nginxValue(size, "size"), DEFAULT_MAX_CONTENT_LENGTH);
  });

  it("closes an idle upstream connection before Carafe's --keep-alive does", () => {
    const [idle = ""] = nginxDirective(conf, "keepalive_timeout");
    assert.ok(nginxValue(idle, "time") < defaults.keepAlive);
  });

  it("waits for an answer longer than Carafe's --timeout", () => {
    const [read = ""] = nginxDirective(conf, "proxy_read_timeout");
    assert.ok(nginxValue(read, "time") > defaults.timeout);
  });

  it("retries on the next host only what cannot run twice", () => {
    const [retry = ""] = nginxDirective(conf, "proxy_next_upstream");
    assert.match(retry, /\berror\b/);
    assert.doesNotMatch(retry, /non_idempotent/);
  });
});

describe("deploy/systemd/carafe.service", async () => {
  // Continued lines joined; `Key=value` pairs, the last one of a key winning.
  const unit = new Map(
    read("systemd/carafe.service")
      .replace(/\\\n/g, " ")
      .split("\n")
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const start = (unit.get("ExecStart") ?? "").trim().split(/\s+/);
  const options = await settingsOf(start.slice(start.indexOf("serve") + 1));

  it("starts carafe serve with flags it takes", () => {
    assert.match(start[1] ?? "", /carafe\.js$/);
    assert.equal(options.appSpec, "app.ts:app");
  });

  it("lets the drain finish before systemd kills the service", () => {
    assert.equal(unit.get("KillSignal"), "SIGTERM");
    assert.equal(unit.get("KillMode"), "mixed");
    assert.ok(Number(unit.get("TimeoutStopSec")) > options.gracefulTimeout);
  });

  it("reloads with HUP and restarts after a failure", () => {
    assert.equal(unit.get("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert.equal(unit.get("Restart"), "on-failure");
    // An app that fails to import fails again: no restart loop.
    assert.equal(unit.get("RestartPreventExitStatus"), String(BOOT_FAILED_EXIT));
    // Carafe does not tell systemd it is ready (sd_notify): Type=notify would time out.
    assert.equal(unit.get("Type"), "simple");
  });
});

interface Container {
  args: string[];
  env?: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  lifecycle: { preStop: { sleep: { seconds: number } } };
  resources: { requests: { memory: string }; limits: { memory: string } };
}

interface Manifest {
  kind: string;
  spec: {
    strategy?: { rollingUpdate: { maxUnavailable: number } };
    template?: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
    ports?: { targetPort: string }[];
  };
}

describe("deploy/kubernetes", async () => {
  const manifests = readdirSync(join(ROOT, "deploy/kubernetes"))
    .filter((file) => file.endsWith(".yaml"))
    .flatMap((file) => loadAll(read(`kubernetes/${file}`)) as Manifest[]);
  const deployment = manifests.find((manifest) => manifest.kind === "Deployment") as Manifest;
  const [container] = deployment.spec.template?.spec.containers ?? [];
  const args = container?.args ?? [];
  const metricsBind = args.find((arg) => arg.startsWith("--metrics-bind=")) ?? "";
  const env = Object.fromEntries((container?.env ?? []).map((entry) => [entry.name, entry.value]));
  const options = await settingsOf(args.slice(1), env as Record<string, string>);

  it("parses as a Deployment, a Service and a PodDisruptionBudget", () => {
    assert.deepEqual(manifests.map((manifest) => manifest.kind).sort(), [
      "Deployment",
      "PodDisruptionBudget",
      "Service",
    ]);
    assert.equal(args[0], "serve");
    assert.deepEqual(options.forwardedAllowIps, [env["CARAFE_FORWARDED_ALLOW_IPS"]]);
  });

  it("probes readiness and liveness on the metrics port", () => {
    const metrics = container?.ports.find((port) => port.name === "metrics");
    assert.equal(metrics?.containerPort, Number(metricsBind.split(":").pop()));
    assert.equal(options.metricsBind?.kind, "tcp", "--metrics-bind is one of carafe serve's");
    assert.deepEqual(container?.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
    assert.deepEqual(container?.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
  });

  it("gives the drain its whole time, and never has fewer pods ready than asked", () => {
    const grace = deployment.spec.template?.spec.terminationGracePeriodSeconds ?? 0;
    const preStop = container?.lifecycle.preStop.sleep.seconds ?? 0;
    assert.ok(grace > preStop + options.gracefulTimeout, `${grace} s of grace`);
    assert.equal(deployment.spec.strategy?.rollingUpdate.maxUnavailable, 0);
  });

  it("sends the Service's traffic to the port Carafe binds", () => {
    const service = manifests.find((manifest) => manifest.kind === "Service") as Manifest;
    const http = container?.ports.find((port) => port.name === service.spec.ports?.[0]?.targetPort);
    const [bind] = options.binds;
    assert.equal(bind?.kind === "tcp" ? bind.port : null, http?.containerPort);
  });
});
