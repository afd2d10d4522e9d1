/**
 * What to load: the deployment's frontend URL (its status file, while SLURM runs the job: the same
 * observation `dyn status` makes) and the model it serves (GET /v1/models, preferring the plan's
 * served name), unless `--url` / `--model` say.
 */
import { DynError } from "@dyn/core";
import type { Io } from "../io.js";
import { observe, type Target } from "../observe.js";
import { registryDir } from "../registry.js";
import { fetchFailure } from "./client.js";

export interface ResolvedTarget {
  readonly jobId: string | null;
  readonly runDir: string | null;
  readonly url: string;
  /** The plan's served model name, if the deployment has a plan. */
  readonly planModel: string | undefined;
}

/** The served name a plan's frontend registers: servedName, else the model path. */
export function planModelOf(target: Target): string | undefined {
  const model = target.deployment?.plan?.spec.model;
  return model?.servedName ?? model?.path;
}

export async function resolveTarget(
  arg: string | undefined,
  target: Target | undefined,
  url: string | undefined,
  io: Io,
  runsDir: string,
): Promise<ResolvedTarget> {
  if (arg === undefined || target === undefined) {
    if (url === undefined)
      throw new DynError("DYN_USAGE", "--url: give a job id or run directory, or the frontend's --url", {
        key: "--url",
        hint: "dyn list shows the deployments dyn knows",
      });
    return { jobId: null, runDir: null, url, planModel: undefined };
  }
  const d = target.deployment;
  if (!d && url === undefined) {
    const registry = registryDir(io.env);
    throw new DynError(
      "DYN_USAGE",
      `${arg}: no run directory found for it under ${runsDir}${registry ? ` nor in the registry ${registry}` : ""}`,
      { key: arg, hint: "pass the run directory, --runs-dir where it lives, or the frontend's --url" },
    );
  }
  const base = { jobId: target.jobId ?? null, runDir: d?.runDir ?? null, planModel: planModelOf(target) };
  if (url !== undefined) return { ...base, url };
  const [o] = await observe(await io.slurm(), [target]);
  if (!o?.url)
    throw new DynError(
      "DYN_USAGE",
      `${arg}: the deployment is ${o?.state ?? "unknown"}, not ready: it has no URL to load`,
      {
        key: arg,
        hint: `dyn status ${arg} shows it; dyn deploy --wait waits until it is ready`,
      },
    );
  return { ...base, url: o.url.replace(/\/+$/, "") };
}

/** GET /v1/models: the served model ids, or why they could not be listed. */
export async function servedModels(url: string, timeoutMs = 10_000): Promise<string[] | { error: string }> {
  try {
    const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return { error: `GET ${url}/v1/models answered HTTP ${res.status}` };
    const body = (await res.json()) as { data?: Array<{ id?: unknown }> };
    return (body.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
  } catch (err) {
    return { error: `GET ${url}/v1/models failed: ${fetchFailure(err)}` };
  }
}

/**
 * The model to request: --model; else the plan's served name when the frontend lists it (or
 * cannot list); else the only model listed. Several or none listed is an error naming them.
 */
export function chooseModel(
  flag: string | undefined,
  planModel: string | undefined,
  listed: string[] | { error: string },
  url: string,
): string {
  if (flag !== undefined) return flag;
  if (!Array.isArray(listed)) {
    if (planModel !== undefined) return planModel;
    throw new DynError("DYN_IO_FAILED", `${listed.error}: cannot tell which model to load`, {
      hint: "check the frontend is up (dyn status), or pass --model",
    });
  }
  if (planModel !== undefined && listed.includes(planModel)) return planModel;
  if (listed.length === 1) return listed[0] as string;
  if (listed.length === 0)
    throw new DynError("DYN_JOB_FAILED", `${url} serves no model yet (GET /v1/models lists none)`, {
      hint: "a worker may still be registering: dyn status shows readiness per role",
    });
  throw new DynError("DYN_USAGE", `--model: ${url} serves ${listed.join(", ")}; which one?`, {
    key: "--model",
    hint: `pass --model ${listed[0]}`,
  });
}
