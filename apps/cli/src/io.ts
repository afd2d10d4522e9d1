/**
 * Everything a command touches outside itself: output streams, terminal facts, environment, cwd,
 * clock, SLURM. `main(argv, io)` takes a partial Io so tests run commands in-process with fakes.
 */
import type { Slurm } from "./slurm.js";

export interface Io {
  /** Results (tables, JSON). Exactly one JSON document with --json. */
  readonly stdout: (text: string) => void;
  /** Errors, hints, progress. */
  readonly stderr: (text: string) => void;
  /** stderr is a terminal: progress may redraw one line. */
  readonly isTTY: boolean;
  /** Colour allowed (TTY and NO_COLOR unset). */
  readonly color: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** SLURM client (real commands unless a test injects a fake). */
  readonly slurm: () => Promise<Slurm>;
  readonly now: () => number;
  /** Resolves after ms, or early when the signal aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * An AbortSignal that fires on Ctrl-C, for commands that wait. Only such commands ask for it, so
   * Ctrl-C keeps its default meaning everywhere else. dispose() removes the handler.
   */
  readonly interrupts: () => { signal: AbortSignal; dispose: () => void };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The reader of stdout (or stderr) went away: `dyn render | head -1`. Nothing more can be said to
 * anyone, so the process ends at once, quietly, with exit 0 (as `head` asked for no more). Installed
 * once, and only when dyn writes to the real streams. Any other stream error is reported by main.
 */
let closedPipeHandled = false;
function endQuietlyOnClosedPipe(): void {
  if (closedPipeHandled) return;
  closedPipeHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
}

export function createIo(partial: Partial<Io> = {}): Io {
  const env = partial.env ?? process.env;
  const isTTY = partial.isTTY ?? Boolean(process.stderr.isTTY);
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  if (!partial.stdout || !partial.stderr) endQuietlyOnClosedPipe();
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    now: () => Date.now(),
    sleep,
    // on the current host (host.ts): this machine, or the --remote login node
    slurm: async () =>
      (await import("./slurm.js")).createSlurm(env, (await import("./host.js")).currentHost()),
    interrupts: () => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once("SIGINT", onSigint);
      return { signal: controller.signal, dispose: () => process.removeListener("SIGINT", onSigint) };
    },
    ...partial,
    env,
    isTTY,
    color: partial.color ?? (isTTY && !noColor && env.TERM !== "dumb"),
  };
}

/** Minimal styling, only when colour is allowed. */
export function style(io: Io) {
  const wrap = (open: number, close: number) => (s: string) =>
    io.color ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
  };
}

/** A status line: redrawn in place on a TTY, printed only when it changes otherwise. */
export function progressLine(io: Io) {
  let last = "";
  let lastState = "";
  return {
    /**
     * On a TTY the line is redrawn whenever it changes (a ticking clock included); in a log file a
     * line is written only when `state` (the text without the clock) changes.
     */
    update(text: string, state: string = text) {
      if (io.isTTY) {
        if (text !== last) io.stderr(`\r\u001b[2K${text}`);
      } else if (state !== lastState) {
        io.stderr(`${text}\n`);
      }
      last = text;
      lastState = state;
    },
    done() {
      if (io.isTTY && last !== "") io.stderr("\n");
      last = "";
      lastState = "";
    },
  };
}

export const printJson = (io: Io, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
