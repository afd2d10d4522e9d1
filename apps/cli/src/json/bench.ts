/** `dyn bench --json` and the results.json it writes: `dyn.bench/v1`. */
import { z } from "@dyn/core";
import { envelope, int, nonNegative, str } from "./common.js";

const Summary = z.strictObject({
  count: nonNegative(),
  mean: z.number().nullable(),
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p99: z.number().nullable(),
});

export const BenchStep = z.strictObject({
  concurrency: int().positive(),
  /** Requests finished in the step (answered or failed). */
  requests: nonNegative(),
  /** Requests answered (a streamed completion with its tokens). */
  answered: nonNegative(),
  errors: nonNegative(),
  durationS: z.number().nonnegative(),
  ttftMs: Summary,
  itlMs: Summary,
  latencyMs: Summary,
  outputTokens: nonNegative(),
  outputTokensPerS: z.number().nonnegative(),
  requestsPerS: z.number().nonnegative(),
  inputTokensMean: z.number().nullable(),
  errorKinds: z.array(z.strictObject({ message: str, count: int().positive() })),
  interrupted: z.boolean(),
});

/** The load a bench sent (`dyn bench` and `dyn bench --sweep`). */
export const BenchConfig = z.strictObject({
  api: z.enum(["chat", "completions"]),
  concurrency: z.array(int().positive()),
  inputTokens: int().positive(),
  outputTokens: int().positive(),
  seed: nonNegative(),
  requests: z.array(int().positive()).nullable(),
  durationS: z.number().positive().nullable(),
  timeoutS: z.number().positive(),
  tokenUnit: z.literal("word"),
});

export const BenchDocument = envelope("dyn.bench/v1", {
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  target: z.strictObject({ jobId: str.nullable(), runDir: str.nullable(), url: str, model: str }),
  config: BenchConfig,
  steps: z.array(BenchStep),
  interrupted: z.boolean(),
  files: z.strictObject({ dir: str, json: str, csv: str, chart: str }),
});
