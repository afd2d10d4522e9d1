/**
 * `dyn bench <job|run-dir>`: a concurrency sweep against a running deployment's OpenAI-compatible
 * frontend (streaming chat or completions), with synthetic prompts of a fixed length and seed.
 * Per step: requests, errors, TTFT and inter-token latency percentiles, output tokens/s, requests/s.
 * Results: `<run dir>/bench/<UTC timestamp>/` results.json (dyn.bench/v1), results.csv, chart.svg.
 */
import { basename, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { DynError } from "@dyn/core";
import { renderChart } from "../bench/chart.js";
import { sendRequest } from "../bench/client.js";
import { prepareResultsDir } from "../bench/files.js";
import { requestBody } from "../bench/openai.js";
import { type BenchOptions, parseBenchOptions } from "../bench/options.js";
import { synthPrompt } from "../bench/prompt.js";
import {
  progressText,
  renderCsv,
  renderSweepCsv,
  type SweepRow,
  stepLine,
  tableRows,
} from "../bench/render.js";
import { type BenchDocument, type StepResult, stepResult } from "../bench/results.js";
import { runStep } from "../bench/runner.js";
import { chooseModel, planModelOf, resolveTarget, servedModels } from "../bench/target.js";
import { currentHost } from "../host.js";
import { type Io, printJson, progressLine } from "../io.js";
import { observe, type Target } from "../observe.js";
import { readDeployment } from "../run-dir.js";
import { readSweep } from "../sweep-record.js";
import { pad, runsDirOf, targetOf } from "./shared.js";

const clock = () => performance.now();

async function sweep(
  o: BenchOptions,
  url: string,
  model: string,
  io: Io,
  signal: AbortSignal,
): Promise<StepResult[]> {
  const progress = progressLine(io);
  const steps: StepResult[] = [];
  let firstIndex = 0;
  for (const [i, concurrency] of o.concurrency.entries()) {
    const total = o.requests?.[i] ?? null;
    const durationMs = o.durationS === null ? null : o.durationS * 1000;
    const label = { step: i + 1, steps: o.concurrency.length, concurrency, total, durationMs };
    let shownAt = Number.NEGATIVE_INFINITY;
    const show = (done: number, errors: number, elapsedMs: number, force = false) => {
      const now = clock();
      if (!force && now - shownAt < 100) return; // a redraw every 100 ms is enough
      shownAt = now;
      progress.update(progressText({ ...label, done, errors, elapsedMs }), `step ${i + 1}`);
    };
    let last = { done: 0, errors: 0 };
    const stepStart = clock();
    show(0, 0, 0, true);
    // With a duration the bar moves with the clock, not only when a request finishes.
    const tick =
      durationMs !== null && io.isTTY
        ? setInterval(() => show(last.done, last.errors, clock() - stepStart), 250)
        : undefined;
    const run = await runStep({
      concurrency,
      limit: { requests: total, durationMs },
      firstIndex,
      clock,
      signal,
      send: (index) =>
        sendRequest({
          baseUrl: url,
          api: o.api,
          body: requestBody(o.api, model, synthPrompt(o.seed, index, o.inputTokens), o.outputTokens),
          timeoutMs: o.timeoutS * 1000,
          signal,
          clock,
        }),
      onProgress: (p) => {
        last = p;
        show(p.done, p.errors, p.elapsedMs);
      },
    });
    if (tick) clearInterval(tick);
    show(run.results.length, run.results.filter((r) => !r.ok).length, run.endMs - run.startMs, true);
    progress.done();
    firstIndex += run.sent;
    const result = stepResult(run);
    steps.push(result);
    io.stderr(`${stepLine(result)}\n`);
    if (run.interrupted) break;
  }
  return steps;
}

/** The load the bench sends, as results.json records it (`config`; prompts are counted in words). */
function benchConfig(o: BenchOptions) {
  return {
    api: o.api,
    concurrency: o.concurrency,
    inputTokens: o.inputTokens,
    outputTokens: o.outputTokens,
    seed: o.seed,
    requests: o.requests,
    durationS: o.durationS,
    timeoutS: o.timeoutS,
    tokenUnit: "word" as const,
  };
}

/**
 * Where results go by default: `<dir>/bench/` next to the deployment; with --remote that directory
 * is on the cluster and the load generator runs here, so `./dyn-bench/<its name>/` on this machine.
 */
export function resultsParent(dir: string, io: Pick<Io, "cwd">): string {
  return currentHost().remote ? resolve(io.cwd, "dyn-bench", basename(dir)) : join(dir, "bench");
}

export async function run(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const o = parseBenchOptions(flags);
  const runsDir = await runsDirOf(flags, io);
  const arg = args[0];
  if (flags.sweep !== undefined) {
    if (arg !== undefined || o.url !== undefined)
      throw new DynError(
        "DYN_USAGE",
        `--sweep: benches each point of the sweep; give no ${arg !== undefined ? `target (${arg})` : "--url"} with it`,
        { key: "--sweep" },
      );
    return benchSweep(o, String(flags.sweep), runsDir, io, flags.json === true);
  }
  const found = arg === undefined ? undefined : targetOf(arg, runsDir, io);
  const t = await resolveTarget(arg, found, o.url, io, runsDir);
  const model = chooseModel(o.model, t.planModel, await servedModels(t.url), t.url);
  const parent = o.out
    ? resolve(io.cwd, o.out)
    : t.runDir
      ? resultsParent(t.runDir, io)
      : resolve(io.cwd, "dyn-bench");
  const startedAt = io.now();
  const dir = prepareResultsDir(parent, startedAt);
  const { signal, dispose } = io.interrupts();
  let steps: StepResult[];
  try {
    io.stderr(
      `bench ${t.url} model ${model} (${o.api}): ${o.inputTokens} words in, ${o.outputTokens} tokens out, concurrency ${o.concurrency.join(",")}\n`,
    );
    steps = await sweep(o, t.url, model, io, signal);
  } catch (err) {
    dir.discard();
    throw err;
  } finally {
    dispose();
  }
  const silent = steps.filter((s) => s.answered === 0);
  const doc: BenchDocument = {
    schemaVersion: 1,
    format: "dyn.bench/v1",
    ok: !signal.aborted && silent.length === 0,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(io.now()).toISOString(),
    target: { jobId: t.jobId, runDir: t.runDir, url: t.url, model },
    config: benchConfig(o),
    steps,
    interrupted: signal.aborted,
    files: { dir: dir.path, ...dir.files },
  };
  const title = `dyn bench ${t.jobId ? `job ${t.jobId} ` : ""}${model} (${o.api}, ${o.inputTokens} in / ${o.outputTokens} out)`;
  dir.commit({
    json: `${JSON.stringify(doc, null, 2)}\n`,
    csv: renderCsv(steps),
    chart: renderChart(steps, title),
  });
  if (flags.json) printJson(io, doc);
  else io.stdout(`${pad(tableRows(steps))}\n\nresults: ${dir.path} (results.json, results.csv, chart.svg)\n`);
  if (signal.aborted) return 130;
  if (silent.length > 0) {
    const e = new DynError(
      "DYN_JOB_FAILED",
      `no request was answered at concurrency ${silent.map((s) => s.concurrency).join(", ")}: ${silent[0]?.errorKinds[0]?.message ?? "no request sent"}`,
      {
        hint: `the results are in ${dir.path}; dyn logs ${t.jobId ?? "<job>"} --role frontend shows the frontend's side`,
      },
    );
    io.stderr(`error: ${e.message} (${e.code})\nhint: ${e.hint}\n`);
    return 1;
  }
  return 0;
}

interface SweepBenchPoint {
  readonly index: number;
  readonly label: string;
  readonly values: Readonly<Record<string, unknown>>;
  readonly jobId: string | null;
  readonly runDir: string;
  /** benched; skipped (not READY: no URL to load); failed (an error before or while loading it). */
  readonly status: "benched" | "skipped" | "failed";
  readonly state: string;
  readonly url: string | null;
  readonly model: string | null;
  readonly reason: string | null;
  readonly steps: readonly StepResult[];
}

/**
 * `dyn bench --sweep <id>`: the same concurrency sweep against each READY point in turn (one squeue
 * call finds them), then one table: `<runs>/sweeps/<id>/bench/<UTC>/` results.json
 * (dyn.sweep-bench/v1) and results.csv, one row per point × concurrency step.
 */
async function benchSweep(
  o: BenchOptions,
  id: string,
  runsDir: string,
  io: Io,
  json: boolean,
): Promise<number> {
  const { record, dir: sweepDir } = readSweep(runsDir, id);
  const targets = record.points.map((p) => ({
    jobId: p.jobId ?? undefined,
    deployment: readDeployment(p.runDir),
  }));
  const observed = await observe(await io.slurm(), targets);
  const keys = record.matrix.map((m) => m.key);
  const startedAt = io.now();
  const dir = prepareResultsDir(o.out ? resolve(io.cwd, o.out) : resultsParent(sweepDir, io), startedAt);
  const { signal, dispose } = io.interrupts();
  const points: SweepBenchPoint[] = [];
  try {
    for (const [i, p] of record.points.entries()) {
      const obs = observed[i];
      const base = {
        index: p.index,
        label: p.label,
        values: p.values,
        jobId: p.jobId,
        runDir: p.runDir,
        state: obs?.state ?? "unknown",
      };
      const name = `point ${p.index} (${p.label})`;
      if (signal.aborted) break;
      if (!obs?.url || obs.state !== "ready") {
        io.stderr(`${name}: ${base.state}, not ready: skipped\n`);
        points.push({
          ...base,
          status: "skipped",
          url: null,
          model: null,
          reason: `${base.state}, not ready`,
          steps: [],
        });
        continue;
      }
      const url = obs.url.replace(/\/+$/, "");
      try {
        const model = chooseModel(o.model, planModelOf(targets[i] as Target), await servedModels(url), url);
        io.stderr(
          `${name}: bench ${url} model ${model} (${o.api}), concurrency ${o.concurrency.join(",")}\n`,
        );
        const steps = await sweep(o, url, model, io, signal);
        const silent = steps.filter((s) => s.answered === 0);
        points.push({
          ...base,
          status: silent.length > 0 ? "failed" : "benched",
          url,
          model,
          reason:
            silent.length > 0
              ? `no request was answered at concurrency ${silent.map((s) => s.concurrency).join(", ")}`
              : null,
          steps,
        });
      } catch (err) {
        if (!DynError.is(err)) throw err;
        io.stderr(`${name}: ${err.message} (${err.code})\n`);
        points.push({ ...base, status: "failed", url, model: null, reason: err.message, steps: [] });
      }
    }
  } catch (err) {
    dir.discard();
    throw err;
  } finally {
    dispose();
  }
  const rows: SweepRow[] = points.flatMap((p) =>
    p.steps.map((step) => ({ index: p.index, label: p.label, values: p.values, jobId: p.jobId, step })),
  );
  const failed = points.filter((p) => p.status === "failed");
  // exit 0 (ok) only when every ready point answered, and some point was benched
  const ok = !signal.aborted && failed.length === 0 && rows.length > 0;
  const doc = {
    schemaVersion: 1,
    format: "dyn.sweep-bench/v1",
    ok,
    sweep: { id: record.id, dir: sweepDir, matrix: record.matrix },
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(io.now()).toISOString(),
    config: benchConfig(o),
    points,
    interrupted: signal.aborted,
    files: { dir: dir.path, json: dir.files.json, csv: dir.files.csv },
  };
  dir.commit({ json: `${JSON.stringify(doc, null, 2)}\n`, csv: renderSweepCsv(keys, rows) });
  if (json) printJson(io, doc);
  else {
    const table = [["POINT", ...(tableRows([])[0] ?? [])]];
    for (const p of points)
      for (const r of tableRows(p.steps).slice(1)) table.push([`${p.index} ${p.label}`, ...r]);
    const benched = points.filter((p) => p.status === "benched").length;
    io.stdout(
      `${rows.length > 0 ? `${pad(table)}\n\n` : ""}${benched} of ${points.length} points benched; results: ${dir.path} (results.json, results.csv)\n`,
    );
  }
  if (signal.aborted) return 130;
  if (!ok) {
    const e =
      failed.length > 0
        ? new DynError(
            "DYN_JOB_FAILED",
            `${failed.map((p) => `point ${p.index} (${p.label}): ${p.reason}`).join("; ")}`,
            {
              hint: `the results are in ${dir.path}; dyn logs <job> --role frontend shows the frontend's side`,
            },
          )
        : new DynError("DYN_JOB_FAILED", `no point of sweep ${record.id} is ready: nothing was benched`, {
            hint: `dyn list shows the points' states; bench again once they are READY`,
          });
    io.stderr(`error: ${e.message} (${e.code})\nhint: ${e.hint}\n`);
    return 1;
  }
  return 0;
}
