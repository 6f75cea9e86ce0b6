// What `npm run soak` records and reports: the samples, the figures drawn from them (start, end,
// peak and two least-squares slopes per series), the markdown report and the CSV of samples.
import type { Growth, Kind } from "./heap-diff.ts";
import type { SoakLoadReport } from "./soak-load.ts";

const MiB = 1024 * 1024;

/** A pool thread's V8 heap, as the soak app's memory route reports it (bytes). */
export interface ThreadHeap {
  threadId: number;
  heapUsed: number;
  heapTotal: number;
  /** V8's young generation, part of heapTotal. */
  newSpace: number;
  external: number;
  malloced: number;
}

/** A worker's main thread, as the soak app's memory route reports it (bytes). */
export interface WorkerHeap {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  malloced: number;
  /** V8's young generation, part of heapTotal. */
  newSpace: number;
  nativeContexts: number;
  detachedContexts: number;
  threads: ThreadHeap[];
}

export interface ProcessSample {
  /** `supervisor`, `worker 1`, … (a worker started later, as a replacement, gets a new number). */
  role: string;
  pid: number;
  /** From /proc/<pid>/status, bytes: VmRSS, and its anonymous and file-backed parts. */
  rss: number;
  rssAnon: number;
  rssFile: number;
  /** A worker's heap; absent for the supervisor, and when no answer from the worker came back. */
  heap?: WorkerHeap;
}

export interface Sample {
  /** Seconds since the load started. */
  elapsedS: number;
  /** Whether it was taken after the warm-up (only those enter the figures). */
  measured: boolean;
  processes: ProcessSample[];
  /** Totals of the load so far. */
  requests: number;
  errors: number;
}

/** How the run went, for the report's head. */
export interface SoakRun {
  date: string;
  command: string;
  serveArgs: string[];
  machine: string;
  node: string;
  /** Environment variables that change memory behaviour, as they were set. */
  env: Record<string, string>;
  load: Record<string, number>;
  warmupS: number;
  intervalS: number;
  /** Seconds of measurement planned and run (short when the run was stopped early). */
  plannedS: number;
  measuredS: number;
  stoppedEarly: boolean;
  loadReport: SoakLoadReport;
  /** Things worth knowing that are not load errors: a worker replaced, a worker not reached. */
  notes: string[];
  /** With --snapshots: each worker's two heap snapshots compared. */
  snapshots: SnapshotComparison[];
  /** Where the server's output went, how many lines, and the last of them. */
  server: { log: string; lines: number; tail: string[] };
}

/** A worker's heap snapshots after the warm-up and at the end, and what grew between them. */
export interface SnapshotComparison {
  role: string;
  pid: number;
  before: string;
  after: string;
  totalBefore: Kind;
  totalAfter: Kind;
  growth: Growth[];
}

function snapshotSection(c: SnapshotComparison): string[] {
  const kib = (bytes: number): string => (bytes / 1024).toFixed(0);
  return [
    `### ${c.role} (pid ${c.pid})`,
    "",
    `\`${c.before}\` → \`${c.after}\`: ${c.totalBefore.count.toLocaleString("en-US")} → ${c.totalAfter.count.toLocaleString("en-US")} objects, ${mib(c.totalBefore.bytes / MiB)} → ${mib(c.totalAfter.bytes / MiB)} MiB. The kinds that grew most (their own size, not what they hold):`,
    "",
    table(
      ["kind", "count", "KiB"],
      c.growth.map((g) => [
        g.kind.replaceAll("|", "\\|"),
        `${g.before.count} → ${g.after.count}`,
        `${kib(g.before.bytes)} → ${kib(g.after.bytes)}`,
      ]),
    ),
    "",
  ];
}

/** One series of one process: what a row of the memory table is drawn from. */
interface Series {
  role: string;
  pid: number;
  name: string;
  points: [minutes: number, mib: number][];
}

/** The series of every process over `samples`. */
function seriesOf(samples: Sample[]): Series[] {
  const series = new Map<string, Series>();
  const add = (p: ProcessSample, name: string, minutes: number, bytes: number): void => {
    const key = `${p.role}\0${name}`;
    let s = series.get(key);
    if (s === undefined) {
      s = { role: p.role, pid: p.pid, name, points: [] };
      series.set(key, s);
    }
    s.points.push([minutes, bytes / MiB]);
  };
  for (const sample of samples) {
    const minutes = sample.elapsedS / 60;
    for (const p of sample.processes) {
      add(p, "RSS", minutes, p.rss);
      add(p, "RSS anonymous", minutes, p.rssAnon);
      if (p.heap === undefined) continue;
      const h = p.heap;
      add(p, "main heap used", minutes, h.heapUsed);
      add(p, "main heap total", minutes, h.heapTotal);
      add(p, "main new space", minutes, h.newSpace);
      add(p, "main external", minutes, h.external);
      add(p, "main array buffers", minutes, h.arrayBuffers);
      add(p, "main malloced (V8)", minutes, h.malloced);
      // The pool threads summed: one series each, whichever threads are alive.
      const threads = (name: string, pick: (t: ThreadHeap) => number): void => {
        const bytes = h.threads.reduce((total, t) => total + pick(t), 0);
        add(p, `threads' ${name} (${h.threads.length})`, minutes, bytes);
      };
      threads("heap used", (t) => t.heapUsed);
      threads("heap total", (t) => t.heapTotal);
      threads("new space", (t) => t.newSpace);
      threads("external", (t) => t.external);
    }
  }
  return [...series.values()];
}

/** A least-squares slope in MiB per 10 minutes, and twice its standard error. */
export interface Slope {
  value: number;
  /** Half the width of a ≈95% interval around `value`, from the scatter about the line. */
  margin: number;
}

/** The least-squares slope of `points` (minutes, MiB); NaN with fewer than 3 points. */
export function slopePer10Min(points: [number, number][]): Slope {
  const n = points.length;
  if (n < 3) return { value: Number.NaN, margin: Number.NaN };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  if (sxx === 0) return { value: Number.NaN, margin: Number.NaN };
  const slope = sxy / sxx;
  let residuals = 0;
  for (const [x, y] of points) residuals += (y - my - slope * (x - mx)) ** 2;
  return { value: slope * 10, margin: 2 * Math.sqrt(residuals / (n - 2) / sxx) * 10 };
}

/** A slope (MiB per 10 min) small enough to call flat, whatever the scatter. */
export const FLAT_SLOPE = 1;

export interface SeriesFigures {
  role: string;
  pid: number;
  name: string;
  /** At the first sample, as the load began: the process before any warm-up. */
  idle: number;
  start: number;
  end: number;
  peak: number;
  slope: Slope;
  slopeSecondHalf: Slope;
}

export function figures(samples: Sample[]): SeriesFigures[] {
  const idle = new Map(
    seriesOf(samples.slice(0, 1)).map((s) => [`${s.role}\0${s.name}`, s.points[0]?.[1]]),
  );
  return seriesOf(samples.filter((s) => s.measured)).map((s) => {
    const first = s.points[0] as [number, number];
    const last = s.points[s.points.length - 1] as [number, number];
    const middle = (first[0] + last[0]) / 2;
    return {
      role: s.role,
      pid: s.pid,
      name: s.name,
      idle: idle.get(`${s.role}\0${s.name}`) ?? Number.NaN,
      start: first[1],
      end: last[1],
      peak: Math.max(...s.points.map(([, y]) => y)),
      slope: slopePer10Min(s.points),
      slopeSecondHalf: slopePer10Min(s.points.filter(([x]) => x >= middle)),
    };
  });
}

/**
 * `rising` when even the low end of the slope's interval is above FLAT_SLOPE, `falling` when the
 * high end is below −FLAT_SLOPE, `flat` otherwise: RSS moves by several MiB from one sample to the
 * next, so a slope alone would call noise a trend.
 */
function trend({ value, margin }: Slope): string {
  if (Number.isNaN(value)) return "–";
  if (value - margin > FLAT_SLOPE) return "rising";
  if (value + margin < -FLAT_SLOPE) return "falling";
  return "flat";
}

const mib = (value: number): string => (Number.isNaN(value) ? "–" : value.toFixed(1));
const signed = ({ value, margin }: Slope): string =>
  Number.isNaN(value)
    ? "–"
    : `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(1)} ± ${margin.toFixed(1)}`;

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The memory table: every series of every process. */
export function memoryTable(rows: SeriesFigures[]): string {
  return table(
    [
      "process",
      "pid",
      "series",
      "idle",
      "start",
      "end",
      "peak",
      "slope",
      "slope, 2nd half",
      "2nd half",
    ],
    rows.map((r) => [
      r.role,
      String(r.pid),
      r.name,
      mib(r.idle),
      mib(r.start),
      mib(r.end),
      mib(r.peak),
      signed(r.slope),
      signed(r.slopeSecondHalf),
      trend(r.slopeSecondHalf),
    ]),
  );
}

function minutes(seconds: number): string {
  return `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
}

export function markdown(run: SoakRun, samples: Sample[]): string {
  const rows = figures(samples);
  const report = run.loadReport;
  const seconds = report.elapsedMs / 1000;
  const requestRows = Object.entries(report.requests)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, n]) => [label, String(n), (n / seconds).toFixed(1)]);
  const total = Object.values(report.requests).reduce((a, b) => a + b, 0);
  const errorRows = Object.entries(report.errors).sort(([, a], [, b]) => b - a);
  const measured = samples.filter((s) => s.measured).length;
  const env = Object.entries(run.env).map(([k, v]) => `${k}=${v}`);
  return [
    `# Soak: ${run.date}`,
    "",
    `\`${run.command}\`${run.stoppedEarly ? " (**stopped early**)" : ""}`,
    "",
    `- server: \`carafe serve bench/apps/soak.ts:app ${run.serveArgs.join(" ")}\``,
    `- measured ${minutes(run.measuredS)} of ${minutes(run.plannedS)} after ${minutes(run.warmupS)} of warm-up under the same load; a sample every ${run.intervalS} s (${measured} measured)`,
    `- load: ${Object.entries(run.load)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")} (bench/lib/soak-load.ts)`,
    `- ${run.machine}, Node ${run.node}${env.length > 0 ? `, ${env.join(" ")}` : ""}`,
    "",
    "## Memory",
    "",
    `MiB. Idle is the first sample, taken as the load began; start is the first sample after the warm-up, end the last; slopes are least squares in MiB per 10 minutes, over the whole measurement and over its second half, ± twice the standard error; the second half is \`rising\` only when the whole of that interval is above +${FLAT_SLOPE} (\`falling\` below −${FLAT_SLOPE}), \`flat\` otherwise. RSS is each process's VmRSS (its pool threads included); the heaps come from the soak app's \`/_soak/memory\` route (the main thread's \`process.memoryUsage()\`, and V8's figures of each pool thread summed). New space is V8's young generation, part of heap total but not of heap used: under a high allocation rate V8 grows it, up to 32 MiB on a worker's event loop on 64-bit Node 20 (twice \`--max-semi-space-size\`; a pool thread's is held to 2 MB), and keeps it.`,
    "",
    memoryTable(rows),
    "",
    "## Load",
    "",
    `${total.toLocaleString("en-US")} answers (${(total / seconds).toFixed(0)}/s over ${minutes(seconds)}, warm-up included), ${report.wsSessions.toLocaleString("en-US")} WebSocket sessions; a \`ws\` row counts messages echoed.`,
    "",
    table(["route", "right answers", "per second"], requestRows),
    "",
    "## Errors",
    "",
    errorRows.length === 0
      ? "None: every answer was right, every WebSocket session ended as the client meant it to."
      : table(
          ["kind", "count"],
          errorRows.map(([kind, n]) => [kind, String(n)]),
        ),
    ...(run.notes.length > 0 ? ["", "## Notes", "", ...run.notes.map((n) => `- ${n}`)] : []),
    ...(run.snapshots.length > 0
      ? ["", "## Heap snapshots", "", ...run.snapshots.flatMap(snapshotSection)]
      : []),
    "",
    "## Server output",
    "",
    `${run.server.lines} line(s), in \`${run.server.log}\`${run.server.tail.length > 0 ? "; the last:" : "."}`,
    ...(run.server.tail.length > 0 ? ["", "```", ...run.server.tail, "```"] : []),
    "",
  ].join("\n");
}

const CSV_HEAD = [
  "elapsed_s",
  "measured",
  "role",
  "pid",
  "thread_id",
  "rss_mib",
  "rss_anon_mib",
  "rss_file_mib",
  "heap_used_mib",
  "heap_total_mib",
  "new_space_mib",
  "external_mib",
  "array_buffers_mib",
  "malloced_mib",
  "native_contexts",
  "detached_contexts",
  "requests",
  "errors",
];

/** Every sample: a row per process, and a row per pool thread (its heap only). */
export function csv(samples: Sample[]): string {
  const lines = [CSV_HEAD.join(",")];
  const m = (bytes: number | undefined): string =>
    bytes === undefined ? "" : (bytes / MiB).toFixed(3);
  for (const s of samples) {
    const common = [s.elapsedS.toFixed(1), s.measured ? "1" : "0"];
    for (const p of s.processes) {
      const h = p.heap;
      lines.push(
        [
          ...common,
          p.role,
          p.pid,
          "",
          m(p.rss),
          m(p.rssAnon),
          m(p.rssFile),
          m(h?.heapUsed),
          m(h?.heapTotal),
          m(h?.newSpace),
          m(h?.external),
          m(h?.arrayBuffers),
          m(h?.malloced),
          h?.nativeContexts ?? "",
          h?.detachedContexts ?? "",
          s.requests,
          s.errors,
        ].join(","),
      );
      for (const t of h?.threads ?? []) {
        lines.push(
          [
            ...common,
            p.role,
            p.pid,
            t.threadId,
            "",
            "",
            "",
            m(t.heapUsed),
            m(t.heapTotal),
            m(t.newSpace),
            m(t.external),
            "",
            m(t.malloced),
            "",
            "",
            s.requests,
            s.errors,
          ].join(","),
        );
      }
    }
  }
  return lines.join("\n") + "\n";
}
