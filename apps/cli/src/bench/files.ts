/**
 * The results directory, `<dir>/<UTC timestamp>/` holding results.json, results.csv and chart.svg.
 * Made as a temporary sibling first (so an unwritable place fails before any request is sent) and
 * renamed into place once every file is written: never half written.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DynError } from "@dyn/core";

export const RESULT_FILES = { json: "results.json", csv: "results.csv", chart: "chart.svg" } as const;

/** YYYYMMDD-HHMMSS in UTC, as run directories are named. */
export function utcStamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

const ioError = (what: string, err: unknown) =>
  new DynError("DYN_IO_FAILED", `${what}: ${(err as Error).message}`, {
    hint: "pass --out a writable directory",
    cause: err,
  });

export interface ResultsDir {
  /** Where the results will be (absolute). */
  readonly path: string;
  readonly files: { readonly json: string; readonly csv: string; readonly chart: string };
  /** Write the files and move the directory into place (a sweep's combined results have no chart). */
  commit(contents: { json: string; csv: string; chart?: string }): void;
  /** Remove the temporary directory (nothing to keep). */
  discard(): void;
}

export function prepareResultsDir(parent: string, now: number): ResultsDir {
  const base = join(parent, utcStamp(now));
  let path = base;
  for (let i = 2; existsSync(path); i++) path = `${base}-${i}`;
  let tmp: string;
  try {
    mkdirSync(parent, { recursive: true });
    tmp = mkdtempSync(join(parent, `.tmp-${basename(path)}-`));
  } catch (err) {
    throw ioError(`cannot write the results under ${parent}`, err);
  }
  const files = {
    json: join(path, RESULT_FILES.json),
    csv: join(path, RESULT_FILES.csv),
    chart: join(path, RESULT_FILES.chart),
  };
  return {
    path,
    files,
    commit(contents) {
      try {
        for (const k of ["json", "csv", "chart"] as const) {
          const text = contents[k];
          if (text !== undefined) writeFileSync(join(tmp, RESULT_FILES[k]), text);
        }
        renameSync(tmp, path);
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw ioError(`cannot write the results ${path}`, err);
      }
    },
    discard() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
