// The tables of `bench/results/latest.md` and the check of the targets (bench/README.md).
import { medianOf, processMedian, ratio, type Results } from "./results.ts";

const BASE = "fastify";
const RAW = "node-http";
/** What the WebSocket servers are measured against. */
const SOCKET_BASE = "ws-bare";

type ConfigEntry = Results["configs"][number];

function fixed(value: number, digits = 0): string {
  return Number.isFinite(value)
    ? value.toLocaleString("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : "—";
}

function times(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (value > 0 && value < 0.1) return `1/${Math.round(1 / value)}`;
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

function millis(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(value >= 10 ? 1 : 2)} ms`;
}

function micros(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(value >= 100 ? 0 : 1)} µs` : "—";
}

export interface Target {
  what: string;
  figure: number;
  shown: string;
  met: boolean;
}

function atLeast(what: string, figure: number, bound: number, shown = times(figure)): Target {
  return { what, figure, shown, met: figure >= bound };
}

/** The targets of the performance issue, judged on this run's medians of same-round ratios. */
export function targets(results: Results): Target[] {
  const list: Target[] = [];
  const ran = new Set(results.measurements.map((m) => m.config));
  const has = (...keys: string[]): boolean => keys.every((key) => ran.has(key));
  if (has("carafe-loop", BASE)) {
    for (const s of ["S1", "S2", "S3", "S4"]) {
      const figure = ratio(results, "carafe-loop", BASE, s);
      // What the server itself spent per request, the load generator left out.
      const cpu = ratio(results, "carafe-loop", BASE, s, "cpuUs");
      const shown = Number.isFinite(cpu)
        ? `${times(figure)} (CPU per request: ${times(cpu)} Fastify's)`
        : times(figure);
      list.push(atLeast(`${s} --threads 0 ≥ 1.0× Fastify`, figure, 1, shown));
    }
  }
  if (has("carafe-t2", "carafe-loop")) {
    const figure = ratio(results, "carafe-t2", "carafe-loop", "S1");
    // The same hand-off to threads with no framework at all, in the same rounds: its floor.
    const floor = has("node-threads", "node-http")
      ? ` (node:http + 2 threads: ${times(ratio(results, "node-threads", "node-http", "S1"))} node:http)`
      : "";
    list.push(
      atLeast("S1 --threads 2 ≥ 0.6× --threads 0", figure, 0.6, `${times(figure)}${floor}`),
    );
  }
  if (has("carafe-metrics", "carafe-loop")) {
    const figure = ratio(results, "carafe-metrics", "carafe-loop", "S1");
    list.push(atLeast("S1 with metrics on ≥ 0.95× S1 without", figure, 0.95));
  }
  if (has("carafe-accesslog", "carafe-loop")) {
    list.push(
      atLeast(
        "S1 with the access log ≥ 0.90× without",
        ratio(results, "carafe-accesslog", "carafe-loop", "S1"),
        0.9,
      ),
    );
  }
  if (has("carafe-observed", "carafe-loop")) {
    list.push(
      atLeast(
        "S1 with metrics and the access log ≥ 0.85× without",
        ratio(results, "carafe-observed", "carafe-loop", "S1"),
        0.85,
      ),
    );
  }

  if (has("carafe-loop", BASE)) {
    const p99 = ratio(results, "carafe-loop", BASE, "S5", "p99");
    list.push(atLeast("S5 / req/s ≥ 10× Fastify", ratio(results, "carafe-loop", BASE, "S5"), 10), {
      what: "S5 / p99 ≤ 1/10 of Fastify's",
      figure: p99,
      shown: times(p99),
      met: p99 <= 0.1,
    });
  }
  if (has("carafe-loop", "gunicorn")) {
    list.push(
      atLeast("S5 / req/s ≥ 2× gunicorn", ratio(results, "carafe-loop", "gunicorn", "S5"), 2),
    );
  }
  if (has("carafe-t8")) {
    const rate = medianOf(results, "carafe-t8", "S6", "requestsPerSecond");
    list.push(atLeast("S6 --threads 8 ≥ 144 req/s (90 % of 160)", rate, 144, `${fixed(rate, 1)}`));
  }
  if (has("carafe-t8", "gunicorn")) {
    list.push(
      atLeast("S6 --threads 8 ≥ gunicorn", ratio(results, "carafe-t8", "gunicorn", "S6"), 1),
    );
  }
  if (has("carafe-loop", BASE)) {
    const rate = medianOf(results, "carafe-loop", "S7", "requestsPerSecond");
    list.push(
      atLeast("S7 --threads 0 ≥ 1.0× Fastify", ratio(results, "carafe-loop", BASE, "S7"), 1),
      atLeast("S7 --threads 0 ≥ 1,800 req/s (90 % of 2,000)", rate, 1800, fixed(rate)),
    );
  }
  if (has("carafe-w2", "node-cluster")) {
    for (const s of ["S1", "S2", "S3"]) {
      list.push(
        atLeast(
          `${s} --workers 2 ≥ 0.95× node:cluster`,
          ratio(results, "carafe-w2", "node-cluster", s),
          0.95,
        ),
      );
    }
  }
  if (has("gunicorn")) {
    const carafes = results.configs.filter((c) => c.carafe && ran.has(c.key));
    for (const s of ["S1", "S2", "S3", "S4"]) {
      // Only the configurations measured in this scenario (the WebSocket ones never are).
      const measured = carafes
        .map((c) => ({ config: c, ratio: ratio(results, c.key, "gunicorn", s) }))
        .filter((each) => Number.isFinite(each.ratio));
      const ratios = measured.map((each) => each.ratio);
      const best = Math.max(...ratios);
      const worst = measured[ratios.indexOf(Math.min(...ratios))]?.config;
      list.push(
        atLeast(
          `${s} Carafe ≥ 5× gunicorn (best configuration; worst: ${worst?.label ?? "—"})`,
          best,
          5,
          `${times(best)} (worst ${times(Math.min(...ratios))})`,
        ),
      );
    }
  }
  if (has("carafe-ws", SOCKET_BASE)) {
    list.push(
      atLeast(
        "W1 echo --threads 0 ≥ 0.90× bare ws",
        ratio(results, "carafe-ws", SOCKET_BASE, "W1", "messagesPerSecond"),
        0.9,
      ),
      atLeast(
        "W3 echo as event handlers --threads 0 ≥ 0.90× bare ws",
        ratio(results, "carafe-ws", SOCKET_BASE, "W3", "messagesPerSecond"),
        0.9,
      ),
    );
  }
  if (has("carafe-t2", "carafe-t8")) {
    const perThread =
      (processMedian(results, "carafe-t8", "idleMiB") -
        processMedian(results, "carafe-t2", "idleMiB")) /
      6;
    list.push({
      what: "idle RSS of each extra pool thread ≤ 10 MB",
      figure: perThread,
      shown: `${perThread.toFixed(1)} MiB`,
      met: perThread * 1.048576 <= 10,
    });
  }
  if (has("carafe-ts-w2t4", "gunicorn")) {
    const figure =
      processMedian(results, "carafe-ts-w2t4", "idleMiB") /
      processMedian(results, "gunicorn", "idleMiB");
    list.push({
      what: "idle RSS of app.ts on --workers 2 --threads 4 ≤ 2× gunicorn 2×4",
      figure,
      shown: times(figure),
      met: figure <= 2,
    });
  }
  if (has("carafe-ts-w1", BASE)) {
    const figure =
      processMedian(results, "carafe-ts-w1", "readyMs") / processMedian(results, BASE, "readyMs");
    list.push({
      what: "app.ts on --workers 1 ready ≤ 2× Fastify's time",
      figure,
      shown: times(figure),
      met: figure <= 2,
    });
  }
  return list;
}

function name(c: ConfigEntry): string {
  return c.carafe ? `**${c.label}**` : c.label;
}

/** The p50, p99 and errors cells of a row. */
function latencyCells(results: Results, config: string, scenario: string): string {
  return `${millis(medianOf(results, config, scenario, "p50"))} | ${millis(medianOf(results, config, scenario, "p99"))} | ${fixed(medianOf(results, config, scenario, "errors"))}`;
}

/** The configurations measured in any of `scenarios`. */
function measuredIn(
  results: Results,
  configs: ConfigEntry[],
  scenarios: { key: string }[],
): ConfigEntry[] {
  const keys = new Set(scenarios.map((s) => s.key));
  const ran = new Set(
    results.measurements.filter((m) => keys.has(m.scenario)).map((m) => m.config),
  );
  return configs.filter((c) => ran.has(c.key));
}

function processTable(results: Results, configs: ConfigEntry[]): string[] {
  const lines = ["| server | time to ready | RSS idle | RSS under load |", "|---|---:|---:|---:|"];
  for (const c of configs) {
    const ready = processMedian(results, c.key, "readyMs");
    if (!Number.isFinite(ready)) continue;
    lines.push(
      `| ${name(c)} | ${millis(ready)} | ${fixed(processMedian(results, c.key, "idleMiB"), 1)} MiB | ${fixed(processMedian(results, c.key, "loadMiB"), 1)} MiB |`,
    );
  }
  return lines;
}

/** Each round's sockets per server process (`538 + 462`), the same ones shown once. */
function spreadOf(results: Results, config: string, scenario: string): string {
  const spreads = results.measurements
    .filter((m) => m.config === config && m.scenario === scenario)
    .map((m) => ("socketsPerProcess" in m.result ? m.result.socketsPerProcess : []))
    .filter((spread) => spread.length > 0)
    .map((spread) => spread.map((count) => fixed(count)).join(" + "));
  return spreads.length === 0 ? "—" : [...new Set(spreads)].join(" · ");
}

function socketSection(results: Results, configs: ConfigEntry[]): string[] {
  const scenarios = results.socketScenarios ?? [];
  const servers = measuredIn(results, configs, scenarios);
  if (servers.length === 0) return [];
  const lines = [
    "## WebSockets",
    "",
    "Load: `bench/lib/ws-load.ts`, one Node process with the `ws` client, on 127.0.0.1, after a second of the same load unmeasured.",
    "W1 and W3 count round trips (each client sends its next message once the last one came back); W1's route reads the socket with for await, W3's is written as event handlers (no promise per message).",
    "W2 counts messages received, summed over all clients, and their latency from publish to receipt: one client publishes into the room through its own socket whenever fewer than 2 broadcasts are still arriving.",
    "Ratios are to bare `ws` in the same round.",
    "",
  ];
  for (const s of scenarios) {
    const broadcast = s.mode === "broadcast";
    lines.push(
      `### ${s.key}: ${s.title}, ${fixed(s.clients)} clients`,
      "",
      broadcast
        ? "| server | messages received/s | × bare ws | p50 | p99 | errors | sockets per process |"
        : "| server | round trips/s | × bare ws | p50 | p99 | errors |",
      broadcast ? "|---|---:|---:|---:|---:|---:|---:|" : "|---|---:|---:|---:|---:|---:|",
    );
    for (const c of servers) {
      const rate = medianOf(results, c.key, s.key, "messagesPerSecond");
      if (!Number.isFinite(rate)) continue;
      const spread = broadcast ? ` ${spreadOf(results, c.key, s.key)} |` : "";
      lines.push(
        `| ${name(c)} | ${fixed(rate)} | ${times(ratio(results, c.key, SOCKET_BASE, s.key, "messagesPerSecond"))} | ${latencyCells(results, c.key, s.key)} |${spread}`,
      );
    }
    lines.push("");
  }
  lines.push(
    "### Processes of the WebSocket servers",
    "",
    "Measured as for the HTTP servers; under load means during W1 to W3 (1,000 open sockets in W2).",
    "",
    ...processTable(results, servers),
    "",
  );
  return lines;
}

export function markdown(results: Results): string {
  const configs = results.configs.filter((c) => c.missing === null);
  const lines: string[] = [];
  const m = results.machine;
  lines.push(
    "# Carafe benchmark results",
    "",
    `Measured ${results.date} by \`npm run bench\` on ${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}.`,
    `Load: \`${results.tool}\` (one thread) from a second process on 127.0.0.1${typeof results.loadCpu === "number" ? `, pinned to CPU ${results.loadCpu} (the servers are not pinned)` : ""}; ${results.rounds} interleaved round(s) of ${results.seconds} s per scenario, each scenario run on every server in turn before the next.`,
    "Figures are medians over the rounds; each ratio is taken between runs seconds apart (per one-second slice in S1–S4, per round elsewhere), then its median reported.",
    "CPU/req is the CPU time (user + system, all processes and threads) the server used during the measurement, per request: lower is better, and the load generator is not in it.",
    "",
  );
  const absent = results.configs.filter((c) => c.missing !== null);
  for (const c of absent) lines.push(`- ${c.label}: absent — ${c.missing}.`);
  if (absent.length > 0) lines.push("");

  lines.push("## Targets", "", "| target | this run | met |", "|---|---|---|");
  for (const t of targets(results))
    lines.push(`| ${t.what} | ${t.shown} | ${t.met ? "yes" : "**no**"} |`);
  lines.push("");

  for (const s of results.scenarios) {
    const extra = s.background === undefined ? "" : ` (measured while ${s.background} is loaded)`;
    // Under a background load the server's CPU is mostly the background route's: not shown.
    const cpu = s.background === undefined;
    lines.push(
      `## ${s.key}: ${s.title}, ${s.connections} connections${extra}`,
      "",
      `| server | req/s | × Fastify | × node:http | p50 | p99 | errors |${cpu ? " CPU/req | CPU × Fastify's |" : ""}`,
      `|---|---:|---:|---:|---:|---:|---:|${cpu ? "---:|---:|" : ""}`,
    );
    for (const c of configs) {
      const rate = medianOf(results, c.key, s.key, "requestsPerSecond");
      if (!Number.isFinite(rate)) continue;
      const cpuCells = cpu
        ? ` ${micros(medianOf(results, c.key, s.key, "cpuUs"))} | ${times(ratio(results, c.key, BASE, s.key, "cpuUs"))} |`
        : "";
      lines.push(
        `| ${name(c)} | ${fixed(rate)} | ${times(ratio(results, c.key, BASE, s.key))} | ${times(ratio(results, c.key, RAW, s.key))} | ${latencyCells(results, c.key, s.key)} |${cpuCells}`,
      );
    }
    lines.push("");
  }

  const httpServers = measuredIn(results, configs, results.scenarios);
  if (httpServers.length > 0) {
    lines.push(
      "## Processes",
      "",
      "Resident memory of the whole process tree (every worker process, every thread), idle after start and the highest seen under load.",
      "",
      ...processTable(results, httpServers),
      "",
    );
  }
  lines.push(...socketSection(results, configs));
  return lines.join("\n");
}
