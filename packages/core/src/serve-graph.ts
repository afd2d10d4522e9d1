/**
 * Dynamo 0.3.x `dynamo serve` graphs (the SDK era), shared by every backend that had one. The frontend
 * process runs `graphs.agg:Frontend`, which also starts one worker of the role the graph links to the
 * frontend (`hosted`); each other worker runs its component class. Components register under their
 * class name. Workers run in the example's graph directory with its config file.
 */

import { z } from "zod";
import type { Command, CommandContext, ComponentInfo } from "./backend.js";
import type { WorkerRole } from "./spec.js";
import { type Arg, w } from "./word.js";

export interface ServeGraph {
  /** Graph directory in the container, e.g. /workspace/examples/vllm_v1. */
  readonly graphDir: string;
  /** Config file relative to graphDir, e.g. configs/disagg.yaml. */
  readonly config: string;
  /** `module:Class` per role, e.g. { prefill: "components.worker:VllmPrefillWorker", ... }. */
  readonly targets: Readonly<Record<"prefill" | "decode", string>>;
  /** The worker role graphs.agg:Frontend runs inside the frontend process. */
  readonly hosted: "prefill" | "decode";
}

/** argv and working directory for one process of a `dynamo serve` graph. */
export function serveGraphCommand(ctx: CommandContext<unknown>, graph: ServeGraph): Command {
  const argv: Arg[] =
    ctx.role === "frontend"
      ? ["dynamo", "serve", "graphs.agg:Frontend", "-f", graph.config, w`--Frontend.port=${ctx.frontendPort}`]
      : ["dynamo", "serve", graph.targets[ctx.role as "prefill" | "decode"], "-f", graph.config];
  // Only the first frontend hosts the graph's worker; further ones serve the Frontend alone.
  if (ctx.role === "frontend" && ctx.worker > 0) argv.push("--service-name", "Frontend");
  return { argv: [...argv, ...ctx.args], cwd: graph.graphDir };
}

/** Component names of a graph: the guide's aliases, the class that runs, the class it registers as. */
export function serveGraphComponents(
  graph: Pick<ServeGraph, "targets" | "hosted">,
  aliases: Readonly<Record<"prefill" | "decode", string>>,
  notes: Partial<Record<"prefill" | "decode", string>> = {},
): Partial<Record<WorkerRole, ComponentInfo>> {
  const info = (role: "prefill" | "decode"): ComponentInfo => {
    const target = graph.targets[role];
    const extra = [
      notes[role],
      role === graph.hosted ? "the first one inside graphs.agg:Frontend" : undefined,
    ]
      .filter(Boolean)
      .join("; ");
    return {
      alias: aliases[role],
      dynamo: `dynamo serve ${target}${extra ? ` (${extra})` : ""}`,
      health: target.slice(target.indexOf(":") + 1),
    };
  };
  return { prefill: info("prefill"), decode: info("decode") };
}

/** The options of a backend that has a legacy graph: spread them into its options schema. */
export function serveGraphOptions(graphDir: string, config = "configs/disagg.yaml") {
  return {
    graphDir: z
      .string()
      .default(graphDir)
      .describe("legacy (< 0.4): example graph directory in the container"),
    config: z.string().default(config).describe("legacy (< 0.4): graph config, relative to graphDir"),
  };
}
