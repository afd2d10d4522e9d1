/**
 * `dyn deploy -f sweep.yaml` with a `matrix:`: every point planned and checked first (any failure:
 * each failing point on one line, exit 2, nothing written), then each point written to its own run
 * directory and submitted in order; `--sweep-concurrency N` chains point i after point i − N with
 * `--dependency=afterany` (SLURM releases the next point; no client stays alive). The sweep record
 * (`<runs>/sweeps/<id>/sweep.json`) is rewritten after every submission.
 */
import { basename } from "node:path";
import { DynError, explainPlan, planToJson, sweepDependency } from "@dyn/core";
import { runFs } from "../host.js";
import { type Io, printJson, style } from "../io.js";
import { makeDirectory } from "../paths.js";
import { remember } from "../registry.js";
import { recordSubmission } from "../run-dir.js";
import type { ProbeResult, Slurm } from "../slurm.js";
import {
  newSweep,
  planSweep,
  pointName,
  SWEEP_FILES,
  type Sweep,
  type SweepRecord,
  type SweepRecordPoint,
  writeSweepRecord,
} from "../sweep.js";
import { checkPartitions, checkSecrets, writeRun } from "./deploy.js";

function cap(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < 1)
    throw new DynError(
      "DYN_USAGE",
      `--sweep-concurrency: expected a number of points ≥ 1, got ${JSON.stringify(s)}`,
      {
        key: "--sweep-concurrency",
      },
    );
  return Number(s);
}

/** The same SLURM, each probe (sinfo's partitions) asked once for all the points. */
function probeOnce(slurm: Slurm): Slurm {
  const answers = new Map<string, Promise<ProbeResult>>();
  return {
    submit: (script, options) => slurm.submit(script, options),
    queue: (ids, options) => slurm.queue(ids, options),
    accounting: (ids) => slurm.accounting(ids),
    cancel: (id) => slurm.cancel(id),
    probe: (command, args, options) => {
      const key = [command, ...args].join("\0");
      let answer = answers.get(key);
      if (!answer) {
        answer = slurm.probe(command, args, options);
        answers.set(key, answer);
      }
      return answer;
    },
  };
}

export async function deploySweep(
  flags: Record<string, unknown>,
  io: Io,
  sweep: Sweep,
  options: { dryRun: boolean; wait: boolean; say: (text: string) => void },
): Promise<number> {
  const { dryRun, say } = options;
  if (options.wait)
    throw new DynError("DYN_USAGE", "--wait: follows one deployment, and a sweep is several", {
      key: "--wait",
      hint: "dyn list shows the sweep's points; dyn status <job> --watch follows one",
    });
  const concurrency = cap(flags.sweepConcurrency);
  const slurm = dryRun ? undefined : await io.slurm();
  const sinfoOnce = slurm ? probeOnce(slurm) : undefined;
  const planned = await planSweep(flags, io, sweep, {
    remote: true,
    check: async (p) => {
      if (!sinfoOnce) return;
      checkSecrets(p, io);
      await checkPartitions(p, sinfoOnce);
    },
  });
  const first = (planned[0] as (typeof planned)[number]).prepared;
  const { remote, runsDir, runsDirLabel } = first;
  const matrix = sweep.axes.map((a) => ({ key: a.key, values: a.values }));
  const after = (i: number) => sweepDependency(i, concurrency) ?? null;
  const shape = `${sweep.points.length} point${sweep.points.length === 1 ? "" : "s"} of ${sweep.axes.map((a) => a.key).join(" × ")}`;
  const capText =
    concurrency === undefined || concurrency >= sweep.points.length
      ? "all at once"
      : `at most ${concurrency} at once`;

  if (!slurm) {
    if (flags.json)
      printJson(io, {
        schemaVersion: 1,
        format: "dyn.sweep-deploy/v1",
        ok: true,
        dryRun: true,
        remote: remote ?? null,
        sweep: {
          id: null,
          dir: null,
          record: null,
          config: sweep.config.path,
          matrix,
          concurrency: concurrency ?? null,
        },
        points: planned.map(({ point, prepared }) => ({
          index: point.index,
          label: point.label,
          values: point.values,
          after: after(point.index),
          jobId: null,
          cluster: null,
          runDir: null,
          files: null,
          plan: planToJson(prepared.plan),
        })),
        next: [],
      });
    else {
      for (const { point, prepared } of planned) {
        say(
          `── ${pointName(point)}${after(point.index) === null ? "" : `, after point ${after(point.index)}`}\n`,
        );
        say(`${explainPlan(prepared.plan)}\n\n`);
      }
      say(`dry run: ${shape} planned (${capText}); nothing written or submitted\n`);
      say(
        `one point's files: dyn deploy -f ${sweep.config.display} --point <n> --dry-run; submit them all: dyn deploy -f ${sweep.config.display}\n`,
      );
    }
    return 0;
  }

  makeDirectory(runsDir, runsDirLabel);
  const { id, dir } = newSweep(runsDir, io.now());
  makeDirectory(dir, "the sweep directory");
  const points: SweepRecordPoint[] = [];
  const createdAt = new Date(io.now()).toISOString();
  const record = (): SweepRecord => ({
    format: "dyn.sweep/v1",
    id,
    config: sweep.config.path,
    createdAt,
    matrix,
    concurrency: concurrency ?? null,
    remote: remote ?? null,
    points,
  });
  const results: Array<Record<string, unknown>> = [];
  for (const { point, prepared } of planned) {
    const dependsOn = after(point.index);
    const afterJob = dependsOn === null ? undefined : (points[dependsOn]?.jobId ?? undefined);
    let written: ReturnType<typeof writeRun> | undefined;
    let submitted: { jobId: string; cluster?: string };
    try {
      written = writeRun(prepared, io, true);
      submitted = await slurm.submit(written.files.script, { cwd: written.runDir, afterAny: afterJob });
    } catch (err) {
      // This point was not queued: no run directory of it stays; the ones before it are queued.
      if (written) runFs().remove(written.runDir);
      if (points.length === 0) runFs().remove(dir);
      else writeSweepRecord(dir, record());
      if (!DynError.is(err) || points.length === 0) throw err;
      const queued = points.map((p) => p.jobId).join(", ");
      throw new DynError(err.code, `${pointName(point)}: ${err.message}`, {
        key: err.key,
        hint: `points 0…${points.length - 1} are queued (job ${queued}): dyn stop --sweep ${id} ends them, dyn list shows them`,
        cause: err,
      });
    }
    const job = {
      jobId: submitted.jobId,
      cluster: submitted.cluster ?? null,
      submittedAt: new Date(io.now()).toISOString(),
    };
    const ref = { id, index: point.index, label: point.label, values: point.values, dir };
    recordSubmission(runsDir, written.runDir, { ...job, sweep: ref });
    const planJson = planToJson(prepared.plan);
    remember(
      io.env,
      {
        ...job,
        runDir: written.runDir,
        name: basename(written.runDir),
        backend: planJson.backend,
        remote: remote ?? null,
      },
      io.stderr,
    );
    points.push({
      index: point.index,
      label: point.label,
      values: point.values,
      runDir: written.runDir,
      jobId: submitted.jobId,
      after: dependsOn,
    });
    writeSweepRecord(dir, record());
    results.push({
      index: point.index,
      label: point.label,
      values: point.values,
      after: dependsOn,
      jobId: submitted.jobId,
      cluster: submitted.cluster ?? null,
      runDir: written.runDir,
      files: written.files,
      plan: planJson,
    });
  }
  const next = ["dyn list", `dyn bench --sweep ${id}`, `dyn stop --sweep ${id}`];
  if (flags.json) {
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.sweep-deploy/v1",
      ok: true,
      dryRun: false,
      remote: remote ?? null,
      sweep: {
        id,
        dir,
        record: `${dir}/${SWEEP_FILES.record}`,
        config: sweep.config.path,
        matrix,
        concurrency: concurrency ?? null,
      },
      points: results,
      next,
    });
    return 0;
  }
  const s = style(io);
  say(`sweep ${s.bold(id)}: ${shape} submitted (${capText})${remote ? ` via ${remote}` : ""}\n`);
  for (const p of points) {
    const afterText = p.after === null ? "" : ` (starts after job ${points[p.after]?.jobId} ends)`;
    say(`  ${pointName(p)}: job ${p.jobId}${afterText}  ${p.runDir}\n`);
  }
  say(`sweep record: ${dir}/${SWEEP_FILES.record}${remote ? ` (on ${remote})` : ""}\n`);
  say(`next: ${next.join("  |  ")}\n`);
  if (flags.quiet) io.stdout(`${id}\n`);
  return 0;
}
