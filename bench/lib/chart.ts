// `bench/results/latest.svg`: each server's req/s as a ratio to Fastify's in the same round, one
// column per scenario, on a log scale with Fastify's 1× marked, so a reader sees at a glance
// where each server stands.
import { ratio, type Results } from "./results.ts";

const LABEL_WIDTH = 230;
const CELL_WIDTH = 150;
const ROW_HEIGHT = 24;
const TOP = 64;
const PAD = 10;

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function colourOf(key: string, carafe: boolean): string {
  if (carafe) return "#b5541c";
  if (key === "fastify") return "#555";
  if (key === "gunicorn") return "#3572a5";
  return "#999";
}

export function chart(results: Results): string {
  // The HTTP scenarios only: Fastify serves no WebSockets to compare with.
  const scenarios = results.scenarios;
  const keys = new Set(scenarios.map((s) => s.key));
  const ran = new Set(
    results.measurements.filter((m) => keys.has(m.scenario)).map((m) => m.config),
  );
  const configs = results.configs.filter((c) => ran.has(c.key));
  const values = configs.map((c) => scenarios.map((s) => ratio(results, c.key, "fastify", s.key)));
  const finite = values.flat().filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.1, ...finite)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...finite)));
  const inner = CELL_WIDTH - 2 * PAD;
  const x = (v: number): number =>
    PAD + (inner * (Math.log10(v) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const width = LABEL_WIDTH + CELL_WIDTH * scenarios.length + PAD;
  const height = TOP + ROW_HEIGHT * configs.length + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD}" y="20" font-size="15" font-weight="bold">Requests per second as a multiple of Fastify's (same round, median of ${results.rounds}; log scale)</text>`,
  ];
  scenarios.forEach((s, j) => {
    const left = LABEL_WIDTH + j * CELL_WIDTH;
    out.push(
      `<text x="${left + CELL_WIDTH / 2}" y="${TOP - 22}" text-anchor="middle" font-weight="bold">${s.key}</text>`,
      `<text x="${left + CELL_WIDTH / 2}" y="${TOP - 8}" text-anchor="middle" font-size="10" fill="#555">${escapeXml(s.title)}</text>`,
      `<line x1="${left + x(1)}" y1="${TOP}" x2="${left + x(1)}" y2="${TOP + ROW_HEIGHT * configs.length}" stroke="#333" stroke-dasharray="3,3"/>`,
    );
  });
  configs.forEach((c, i) => {
    const y = TOP + i * ROW_HEIGHT;
    if (i % 2 === 0) {
      out.push(`<rect x="0" y="${y}" width="${width}" height="${ROW_HEIGHT}" fill="#f4f4f4"/>`);
    }
    out.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y + 16}" text-anchor="end"${c.carafe ? ' font-weight="bold"' : ""}>${escapeXml(c.label)}</text>`,
    );
    scenarios.forEach((_s, j) => {
      const value = values[i]?.[j] ?? Number.NaN;
      if (!Number.isFinite(value) || value <= 0) return;
      const left = LABEL_WIDTH + j * CELL_WIDTH;
      const end = Math.max(x(value), PAD + 1);
      out.push(
        `<rect x="${left + PAD}" y="${y + 5}" width="${end - PAD}" height="${ROW_HEIGHT - 10}" fill="${colourOf(c.key, c.carafe)}"/>`,
        `<text x="${left + Math.min(end + 4, CELL_WIDTH - 36)}" y="${y + 16}" font-size="10">${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×</text>`,
      );
    });
  });
  const axisY = TOP + ROW_HEIGHT * configs.length + 14;
  scenarios.forEach((_s, j) => {
    const left = LABEL_WIDTH + j * CELL_WIDTH;
    // The scale's two ends are left unlabelled, so neighbouring columns do not collide.
    for (let v = lo * 10; v < hi * 0.999; v *= 10) {
      out.push(
        `<text x="${left + x(v)}" y="${axisY}" text-anchor="middle" font-size="9" fill="#555">${v >= 1 ? v.toFixed(0) : String(v)}</text>`,
      );
    }
  });
  out.push(
    `<text x="${PAD}" y="${height - 8}" font-size="10" fill="#555">${escapeXml(`${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}, ${results.tool}, ${results.date}`)}</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
