// What one benchmark run measured, and the medians and same-round ratios derived from it.
import type { LoadResult, SocketLoadResult } from "./load.ts";

export interface Measurement {
  round: number;
  config: string;
  scenario: string;
  /** A `LoadResult` in the HTTP scenarios (S*), a `SocketLoadResult` in the WebSocket ones (W*). */
  result: LoadResult | SocketLoadResult;
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

/** A figure of a measurement; the rate is `requestsPerSecond` (HTTP) or `messagesPerSecond`. */
type Field = "requestsPerSecond" | "messagesPerSecond" | "p50" | "p99" | "errors";

function figure(result: LoadResult | SocketLoadResult, field: Field): number {
  return field in result ? (result as Record<Field, number>)[field] : Number.NaN;
}

/** Every round's figure of `config` in `scenario`, indexed by round. */
function perRound(results: Results, config: string, scenario: string, field: Field): number[] {
  const values = new Array<number>(results.rounds).fill(Number.NaN);
  for (const m of results.measurements) {
    if (m.config === config && m.scenario === scenario) values[m.round] = figure(m.result, field);
  }
  return values;
}

export function medianOf(results: Results, config: string, scenario: string, field: Field): number {
  return median(perRound(results, config, scenario, field));
}

/** Median over rounds of `a / b`, each ratio taken within one round. */
export function ratio(
  results: Results,
  a: string,
  b: string,
  scenario: string,
  field: Field = "requestsPerSecond",
): number {
  const top = perRound(results, a, scenario, field);
  const bottom = perRound(results, b, scenario, field);
  return median(top.map((value, round) => value / (bottom[round] as number)));
}

export function processMedian(
  results: Results,
  config: string,
  field: "readyMs" | "idleMiB" | "loadMiB",
): number {
  return median(results.processes.filter((p) => p.config === config).map((p) => p[field]));
}
