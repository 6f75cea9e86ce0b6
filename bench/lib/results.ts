// What one benchmark run measured, and the medians and same-round ratios derived from it.
import type { LoadResult, SocketLoadResult } from "./load.ts";

export interface Measurement {
  round: number;
  config: string;
  scenario: string;
  /** A `LoadResult` in the HTTP scenarios (S*), a `SocketLoadResult` in the WebSocket ones (W*). */
  result: LoadResult | SocketLoadResult;
  /**
   * Which of the round's slices of the scenario this is (absent: 0). A scenario's seconds are
   * cut into slices, and each slice runs on every server in turn before the next one.
   */
  slice?: number;
  /** How long the load ran, in seconds (absent: the run's `seconds`, one slice). */
  seconds?: number;
  /** Milliseconds of CPU the server's process tree used during the measurement (absent before). */
  cpuMs?: number;
}

export interface ProcessFigures {
  round: number;
  config: string;
  readyMs: number;
  idleMiB: number;
  loadMiB: number;
}

export interface Results {
  date: string;
  machine: { cpus: number; model: string; memoryGiB: number; node: string; os: string };
  tool: string;
  /** The CPU the load generators were pinned to; `null` or absent when they were not. */
  loadCpu?: number | null;
  rounds: number;
  seconds: number;
  configs: { key: string; label: string; carafe: boolean; missing: string | null }[];
  scenarios: { key: string; title: string; connections: number; background?: string }[];
  /** The WebSocket scenarios; absent from results written before there were any. */
  socketScenarios?: { key: string; title: string; mode: "echo" | "broadcast"; clients: number }[];
  measurements: Measurement[];
  processes: ProcessFigures[];
}

export function median(values: number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = finite.length >> 1;
  return finite.length % 2 === 1
    ? (finite[middle] as number)
    : ((finite[middle - 1] as number) + (finite[middle] as number)) / 2;
}

/**
 * A figure of a measurement; the rate is `requestsPerSecond` (HTTP) or `messagesPerSecond`, and
 * `cpuUs` the server's microseconds of CPU per request (or message).
 */
type Field = "requestsPerSecond" | "messagesPerSecond" | "p50" | "p99" | "errors" | "cpuUs";

function figure(results: Results, m: Measurement, field: Field): number {
  const { result } = m;
  if (field === "cpuUs") {
    const rate =
      "requestsPerSecond" in result ? result.requestsPerSecond : result.messagesPerSecond;
    const seconds = m.seconds ?? results.seconds;
    return m.cpuMs === undefined ? Number.NaN : (m.cpuMs * 1000) / (rate * seconds);
  }
  return field in result ? (result as Record<Field, number>)[field] : Number.NaN;
}

/** `config`'s measurements in `scenario`: each round's slices, keyed `round:slice`. */
function measurementsBySlice(
  results: Results,
  config: string,
  scenario: string,
): Map<string, Measurement> {
  const slices = new Map<string, Measurement>();
  for (const m of results.measurements) {
    if (m.config === config && m.scenario === scenario) slices.set(`${m.round}:${m.slice ?? 0}`, m);
  }
  return slices;
}

/**
 * Each round's figure of `config` in `scenario`, indexed by round: over the round's slices, the
 * mean rate (the slices last alike), every error, and the median of the rest.
 */
function perRound(results: Results, config: string, scenario: string, field: Field): number[] {
  const byRound = Array.from({ length: results.rounds }, () => [] as number[]);
  for (const m of measurementsBySlice(results, config, scenario).values()) {
    byRound[m.round]?.push(figure(results, m, field));
  }
  const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);
  return byRound.map((values) => {
    if (values.length === 0) return Number.NaN;
    if (field === "errors") return sum(values);
    if (field === "requestsPerSecond" || field === "messagesPerSecond") {
      return sum(values) / values.length;
    }
    return median(values);
  });
}

export function medianOf(results: Results, config: string, scenario: string, field: Field): number {
  return median(perRound(results, config, scenario, field));
}

/**
 * Median of `a / b` over every slice both were measured in, each ratio taken between the two
 * servers' runs of the same slice of the same round (seconds apart).
 */
export function ratio(
  results: Results,
  a: string,
  b: string,
  scenario: string,
  field: Field = "requestsPerSecond",
): number {
  const bottom = measurementsBySlice(results, b, scenario);
  const ratios: number[] = [];
  for (const [key, m] of measurementsBySlice(results, a, scenario)) {
    const other = bottom.get(key);
    if (other !== undefined) ratios.push(figure(results, m, field) / figure(results, other, field));
  }
  return median(ratios);
}

export function processMedian(
  results: Results,
  config: string,
  field: "readyMs" | "idleMiB" | "loadMiB",
): number {
  return median(results.processes.filter((p) => p.config === config).map((p) => p[field]));
}
