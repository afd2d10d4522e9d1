/**
 * `main(argv, io) → exit code`: 0 success, 1 the operation failed, 2 bad input. Nothing below main
 * calls process.exit; bin/dyn.js sets process.exitCode. Two exceptions end a real process at once: a
 * closed stdout/stderr (io.ts: quietly, exit 0) and an error no await caught (reported as usual).
 */
import { localHost, useHost } from "./host.js";
import { createIo, type Io } from "./io.js";
import { createProgram } from "./program.js";

export type { Io } from "./io.js";
export type { Slurm } from "./slurm.js";

interface ErrorLike {
  code?: unknown;
  exitCode?: unknown;
  message?: unknown;
  hint?: unknown;
  stack?: unknown;
  cause?: unknown;
  problems?: unknown;
}

/** DynError.problems: each problem of an input that has several. */
interface ProblemLike {
  key: string;
  message: string;
  label?: string;
  where?: string;
}

const DYN_ERROR = Symbol.for("dyn.error");

/**
 * A real process only (tests pass their own streams): an error that escapes every await (a stream's
 * error event, a stray rejection) is reported like any other, one line and no stack unless --debug.
 */
let lastResortInstalled = false;
function installLastResort(io: Io, json: boolean, debug: boolean): void {
  if (lastResortInstalled) return;
  lastResortInstalled = true;
  const handle = (err: unknown) => process.exit(report(err, io, json, debug));
  process.on("uncaughtException", handle);
  process.on("unhandledRejection", handle);
}

/**
 * zod without its JIT: on the first parse of a schema zod generates a parser with `new Function`,
 * which pays off over many parses; a CLI run parses each schema once, so the generation is pure
 * start-up cost (about 5 ms of a `deploy --dry-run`, docs/benchmarks.md). zod reads the setting when
 * a schema is built, from the config object it keeps on globalThis (zod/v4/core/core.js; `z.config()`
 * writes the same object), so it is set before any command module builds one. The CLI does not
 * import zod itself: `dyn --help` never loads it. Parse results are the same either way.
 */
function zodWithoutJit(): void {
  const g = globalThis as { __zod_globalConfig?: Record<string, unknown> };
  g.__zod_globalConfig = Object.assign(g.__zod_globalConfig ?? {}, { jitless: true });
}

export async function main(argv: readonly string[], partialIo: Partial<Io> = {}): Promise<number> {
  zodWithoutJit();
  const io = createIo(partialIo);
  // SLURM and the run directories are on this machine unless the command is given a remote.
  useHost(localHost(io.env, io.cwd));
  const json = argv.includes("--json");
  const debug = argv.includes("--debug");
  if (!partialIo.stdout || !partialIo.stderr) installLastResort(io, json, debug);
  let exit = 0;
  try {
    const program = createProgram(io, (code) => {
      exit = code;
    });
    await program.parseAsync([...argv], { from: "user" });
    return exit;
  } catch (err) {
    return report(err, io, json, debug);
  }
}

/** The one error document of every command with --json (json/error.ts: `dyn.error/v1`). */
function printError(
  io: Io,
  error: { code: string; message: string; hint: string | null; problems: ProblemJson[] | null },
): void {
  const doc = { schemaVersion: 1, format: "dyn.error/v1", ok: false, error };
  io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
}

interface ProblemJson {
  key: string;
  where: string | null;
  message: string;
}

function report(err: unknown, io: Io, json: boolean, debug: boolean): number {
  const e = (err ?? {}) as ErrorLike;
  // Commander has already printed its one-line message (and the hint line).
  if (typeof e.code === "string" && e.code.startsWith("commander.")) {
    const code = e.exitCode === 0 ? 0 : 2;
    if (code !== 0 && json) {
      const message = String(e.message ?? "").replace(/^error: /, "");
      printError(io, { code: "DYN_USAGE", message, hint: null, problems: null });
    }
    return code;
  }
  const isDyn = typeof err === "object" && err !== null && DYN_ERROR in err;
  const message = String(e.message ?? err);
  if (isDyn) {
    const code = String(e.code);
    const hint = typeof e.hint === "string" ? e.hint : undefined;
    const problems = Array.isArray(e.problems) ? (e.problems as ProblemLike[]) : undefined;
    if (problems && problems.length > 1) {
      // Every problem at once: a heading (the message's own, `2 of 3 sweep points fail`, when it
      // leads with the count), then one line each.
      const lead = message.split(": ")[0] ?? "";
      const heading = lead.startsWith(`${problems.length} `) ? lead : `${problems.length} problems`;
      io.stderr(`error: ${heading} (${code})\n`);
      for (const p of problems)
        io.stderr(`  ${p.key === "" && p.label ? `${p.label} ` : `${p.label ?? p.key}: `}${p.message}\n`);
    } else io.stderr(`error: ${message} (${code})\n`);
    if (hint) io.stderr(`hint: ${hint}\n`);
    if (debug) io.stderr(`${String(e.stack)}\n${e.cause ? `cause: ${inspectCause(e.cause)}\n` : ""}`);
    if (json) {
      const list = problems?.map((p) => ({ key: p.key, where: p.where ?? null, message: p.message }));
      printError(io, { code, message, hint: hint ?? null, problems: list ?? null });
    }
    return e.exitCode === 2 ? 2 : 1;
  }
  io.stderr(`error: internal error: ${message.split("\n")[0]} (DYN_INTERNAL)\n`);
  io.stderr(
    debug ? `${String(e.stack)}\n` : "hint: this is a bug in dyn; rerun with --debug and report the output\n",
  );
  if (json) printError(io, { code: "DYN_INTERNAL", message, hint: null, problems: null });
  return 1;
}

function inspectCause(cause: unknown): string {
  if (cause instanceof Error) return cause.stack ?? cause.message;
  try {
    return JSON.stringify(cause);
  } catch {
    return String(cause);
  }
}
