/**
 * chart.svg: throughput against latency across the sweep, one self-contained SVG (no script, no
 * external font or style). Two panels share the x axis, output tokens/s: TTFT on the left,
 * inter-token latency on the right; p50 is a solid line, p99 a dashed one; each point is labelled
 * with its concurrency.
 */

import type { StepResult } from "./results.js";
import type { Summary } from "./stats.js";

/** XML text/attribute escaping. */
export function xmlEscape(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** The smallest 1, 2 or 5 × 10^k at or above `v` (an axis end); 1 for nothing to show. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const k = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * k >= v * (1 - 1e-12)) return m * k;
  return 10 * k;
}

/** Five equal intervals from 0 to niceCeil(max). */
export function ticks(max: number): number[] {
  const end = niceCeil(max);
  return [0, 1, 2, 3, 4, 5].map((i) => (end * i) / 5);
}

interface Point {
  readonly x: number;
  readonly y: number;
  readonly label: string;
}

const W = 440;
const H = 320;
const M = { left: 56, right: 16, top: 36, bottom: 44 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();
/** An axis label: 0, 0.2, 50, 1200 (no trailing zeros). */
export const tickLabel = (v: number) => String(Number(v.toPrecision(6)));

function points(steps: readonly StepResult[], metric: (s: StepResult) => number | null): Point[] {
  return steps
    .map((s) => ({ x: s.outputTokensPerS, y: metric(s), label: `c=${s.concurrency}` }))
    .filter((p): p is Point => p.y !== null);
}

function panel(
  title: string,
  steps: readonly StepResult[],
  pick: (s: StepResult) => Summary,
  xMax: number,
  offsetX: number,
): string {
  const answered = steps.filter((s) => s.answered > 0);
  const p50 = points(answered, (s) => pick(s).p50);
  const p99 = points(answered, (s) => pick(s).p99);
  const yMax = niceCeil(Math.max(0, ...p99.map((p) => p.y), ...p50.map((p) => p.y)));
  const X = (v: number) => M.left + (v / xMax) * PW;
  const Y = (v: number) => M.top + PH - (v / yMax) * PH;
  const out: string[] = [`<g transform="translate(${offsetX},0)">`];
  out.push(
    `<text x="${M.left + PW / 2}" y="20" text-anchor="middle" font-weight="bold">${xmlEscape(title)}</text>`,
  );
  for (const t of ticks(yMax)) {
    out.push(`<line x1="${M.left}" x2="${M.left + PW}" y1="${n2(Y(t))}" y2="${n2(Y(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${n2(Y(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of ticks(xMax)) {
    out.push(
      `<line x1="${n2(X(t))}" x2="${n2(X(t))}" y1="${M.top + PH}" y2="${M.top + PH + 4}" stroke="#444"/>`,
    );
    out.push(`<text x="${n2(X(t))}" y="${M.top + PH + 18}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  out.push(
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#444"/>`,
    `<text x="${M.left + PW / 2}" y="${H - 8}" text-anchor="middle">output tokens/s</text>`,
    `<text transform="translate(14,${M.top + PH / 2}) rotate(-90)" text-anchor="middle">ms</text>`,
  );
  if (answered.length === 0) {
    out.push(
      `<text x="${M.left + PW / 2}" y="${M.top + PH / 2}" text-anchor="middle">no answered requests</text>`,
    );
  }
  const path = (ps: Point[]) =>
    ps.map((p, i) => `${i === 0 ? "M" : "L"}${n2(X(p.x))},${n2(Y(p.y))}`).join(" ");
  if (p99.length > 1)
    out.push(`<path class="p99" d="${path(p99)}" fill="none" stroke="#d62728" stroke-dasharray="5,4"/>`);
  if (p50.length > 1)
    out.push(`<path class="p50" d="${path(p50)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  for (const p of p99)
    out.push(
      `<circle class="p99" cx="${n2(X(p.x))}" cy="${n2(Y(p.y))}" r="3" fill="#fff" stroke="#d62728"/>`,
    );
  for (const p of p50) {
    out.push(`<circle class="p50" cx="${n2(X(p.x))}" cy="${n2(Y(p.y))}" r="3.5" fill="#1f77b4"/>`);
    out.push(`<text x="${n2(X(p.x) + 6)}" y="${n2(Y(p.y) - 6)}">${xmlEscape(p.label)}</text>`);
  }
  out.push("</g>");
  return out.join("\n");
}

export function renderChart(steps: readonly StepResult[], title: string): string {
  const xMax = niceCeil(Math.max(0, ...steps.filter((s) => s.answered > 0).map((s) => s.outputTokensPerS)));
  const legend = [
    `<line x1="${W * 2 - 220}" x2="${W * 2 - 196}" y1="${H + 14}" y2="${H + 14}" stroke="#1f77b4" stroke-width="2"/>`,
    `<text x="${W * 2 - 190}" y="${H + 18}">p50</text>`,
    `<line x1="${W * 2 - 150}" x2="${W * 2 - 126}" y1="${H + 14}" y2="${H + 14}" stroke="#d62728" stroke-dasharray="5,4"/>`,
    `<text x="${W * 2 - 120}" y="${H + 18}">p99</text>`,
  ];
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2}" height="${H + 30}" viewBox="0 0 ${W * 2} ${H + 30}" font-family="sans-serif" font-size="11">`,
    `<title>${xmlEscape(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    panel("time to first token", steps, (s) => s.ttftMs, xMax, 0),
    panel("inter-token latency", steps, (s) => s.itlMs, xMax, W),
    `<text x="12" y="${H + 18}">${xmlEscape(title)}</text>`,
    ...legend,
    "</svg>",
    "",
  ].join("\n");
}
