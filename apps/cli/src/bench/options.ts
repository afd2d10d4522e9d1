/**
 * `dyn bench` flags, checked: each bad value is one DYN_USAGE error naming its flag (exit 2), found
 * before anything is sent or written. Defaults are vLLM `bench serve`'s random dataset (1024 input,
 * 128 output tokens) and the concurrency sweep of issue #16.
 */
import { DynError } from "@dyn/core";
import { APIS, type Api } from "./openai.js";
import { type BenchConfig, defaultRequests } from "./results.js";

/** The sweep's settings (recorded in the results) plus where to send it and write it. */
export interface BenchOptions extends BenchConfig {
  readonly url: string | undefined;
  readonly model: string | undefined;
  readonly out: string | undefined;
}

export const DEFAULTS = {
  concurrency: [1, 4, 16, 64],
  inputTokens: 1024,
  outputTokens: 128,
  seed: 0,
  timeoutS: 300,
} as const;

const usage = (flag: string, message: string, hint?: string) =>
  new DynError("DYN_USAGE", `${flag}: ${message}`, { key: flag, hint });

const shown = (v: unknown) => JSON.stringify(String(v));

/** A whole number in [min, max], from a flag's text. */
export function wholeFlag(flag: string, v: unknown, min: number, max: number): number {
  const s = String(v).trim();
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw usage(flag, `expected a whole number from ${min} to ${max}, got ${shown(v)}`);
  return n;
}

/** A number of seconds > 0 (decimals allowed). */
export function secondsFlag(flag: string, v: unknown, max = 86_400): number {
  const s = String(v).trim();
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : Number.NaN;
  if (!(n > 0) || n > max) throw usage(flag, `expected seconds above 0 (at most ${max}), got ${shown(v)}`);
  return n;
}

/** "1,4,16": whole numbers from 1 to 4096, comma-separated, at least one. */
export function concurrencyFlag(v: unknown): number[] {
  const parts = String(v)
    .split(",")
    .map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 4096))
    throw usage(
      "--concurrency",
      `expected whole numbers from 1 to 4096 separated by commas, got ${shown(v)}`,
    );
  return parts.map(Number);
}

/** The frontend's base URL: http or https, no query; a trailing slash is dropped. */
export function urlFlag(v: unknown): string {
  let u: URL;
  try {
    u = new URL(String(v));
  } catch {
    throw usage("--url", `expected the frontend's URL such as http://node1:8000, got ${shown(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw usage("--url", `expected an http:// or https:// URL, got ${shown(v)}`);
  if (u.search || u.hash) throw usage("--url", `expected a base URL without ? or #, got ${shown(v)}`);
  return u.href.replace(/\/+$/, "");
}

export function parseBenchOptions(flags: Record<string, unknown>): BenchOptions {
  const api = (flags.api as string | undefined) ?? "chat";
  if (!(APIS as readonly string[]).includes(api))
    throw usage("--api", `expected ${APIS.join(" or ")}, got ${shown(api)}`);
  const concurrency =
    flags.concurrency === undefined ? [...DEFAULTS.concurrency] : concurrencyFlag(flags.concurrency);
  if (flags.requests !== undefined && flags.duration !== undefined)
    throw usage("--duration", "cannot be combined with --requests (each step runs for one or the other)");
  const durationS = flags.duration === undefined ? null : secondsFlag("--duration", flags.duration);
  const perStep =
    flags.requests === undefined ? undefined : wholeFlag("--requests", flags.requests, 1, 10_000_000);
  const model = flags.model as string | undefined;
  if (model !== undefined && model.trim() === "") throw usage("--model", "must not be empty");
  return {
    api: api as Api,
    concurrency,
    inputTokens:
      flags.inputTokens === undefined
        ? DEFAULTS.inputTokens
        : wholeFlag("--input-tokens", flags.inputTokens, 1, 1_000_000),
    outputTokens:
      flags.outputTokens === undefined
        ? DEFAULTS.outputTokens
        : wholeFlag("--output-tokens", flags.outputTokens, 1, 1_000_000),
    seed: flags.seed === undefined ? DEFAULTS.seed : wholeFlag("--seed", flags.seed, 0, 4_294_967_295),
    requests: durationS !== null ? null : concurrency.map((c) => perStep ?? defaultRequests(c)),
    durationS,
    timeoutS: flags.timeout === undefined ? DEFAULTS.timeoutS : secondsFlag("--timeout", flags.timeout),
    url: flags.url === undefined ? undefined : urlFlag(flags.url),
    model,
    out: flags.out as string | undefined,
  };
}
