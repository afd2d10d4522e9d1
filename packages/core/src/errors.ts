/**
 * One error type for everything `dyn` reports to a user. The code is permanent (greppable, stable in
 * `--json` output); the message says what happened and why; the hint says what to do.
 */
const BRAND = Symbol.for("dyn.error");

/** Exit code 2: the user's input is wrong. Exit code 1: the operation itself failed. */
const INPUT_ERRORS = {
  DYN_SPEC_INVALID: 2,
  DYN_OPTIONS_INVALID: 2,
  DYN_PLAN_INVALID: 2,
  DYN_UNSUPPORTED: 2,
  DYN_SECRET_MISSING: 2,
  DYN_BACKEND_NOT_FOUND: 2,
  DYN_BACKEND_INVALID: 2,
  DYN_BACKEND_INCOMPATIBLE: 2,
  DYN_CONFIG_INVALID: 2,
  DYN_USAGE: 2,
} as const;
const OPERATION_ERRORS = {
  DYN_SLURM_FAILED: 1,
  DYN_JOB_FAILED: 1,
  DYN_TIMEOUT: 1,
  DYN_IO_FAILED: 1,
  /** ssh to the --remote login node failed: unreachable, authentication, host key (ssh exit 255). */
  DYN_REMOTE_FAILED: 1,
  DYN_INTERNAL: 1,
} as const;
const EXIT_CODES = { ...INPUT_ERRORS, ...OPERATION_ERRORS };

export type DynErrorCode = keyof typeof EXIT_CODES;

/** One of several things wrong with the input, reported together. */
export interface Problem {
  /** The spec key (`slurm.nodes`) or flag the problem is about. */
  readonly key: string;
  readonly message: string;
  /** How the user wrote it: `--nodes`, `DYN_NODES`, `dyn.yaml:3:10 slurm.nodes` (default: the key). */
  readonly label?: string | undefined;
  /** Where: `dyn.yaml:3:10`, `--nodes` or `DYN_NODES` (undefined when only the key is known). */
  readonly where?: string | undefined;
}

export interface DynErrorOptions {
  /** What to do about it, one line. */
  hint?: string | undefined;
  /** The flag (`--nodes`) or config key (`roles.prefill.workers`) the error is about. */
  key?: string | undefined;
  cause?: unknown;
  /** Every problem when there are several (the message then lists them all on one line). */
  problems?: readonly Problem[] | undefined;
}

export class DynError extends Error {
  readonly [BRAND] = true;
  readonly code: DynErrorCode;
  readonly hint: string | undefined;
  readonly key: string | undefined;
  readonly problems: readonly Problem[] | undefined;

  constructor(code: DynErrorCode, message: string, options: DynErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DynError";
    this.code = code;
    this.hint = options.hint;
    this.key = options.key;
    this.problems = options.problems;
  }

  get exitCode(): 1 | 2 {
    return EXIT_CODES[this.code];
  }

  /** Brand check instead of instanceof: a plugin may bring its own copy of @dyn/core. */
  static is(value: unknown): value is DynError {
    return typeof value === "object" && value !== null && BRAND in value;
  }
}
