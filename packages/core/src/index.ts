/**
 * @dyn/core — the deployment model, planner, port plan, sbatch renderer and backend contract for
 * running NVIDIA Dynamo on SLURM. Pure: no file, process or network I/O.
 */
export { z } from "zod";
export * from "./args.js";
export * from "./attribution.js";
export * from "./backend.js";
export * from "./chain.js";
export * from "./components.js";
export * from "./errors.js";
export * from "./explain.js";
export * from "./frontend.js";
export { isPlain, leafKeys, mergeLayers, valueIn } from "./layers.js";
export { LIMITS, MAX_PROCESSES } from "./limits.js";
export type * from "./plan.js";
export { isInfraStep } from "./plan.js";
export { type PlanOptions, plan } from "./planner.js";
export { portBaseExpression } from "./ports.js";
export * from "./profiles.js";
export { shellQuote } from "./quote.js";
export * from "./releases.js";
export { MAX_SCRIPT_BYTES, type RenderOptions, renderScript } from "./render/script.js";
export { hostVar, nodeIpVar } from "./runtime-vars.js";
export * from "./serve-graph.js";
export * from "./spec.js";
export * from "./status.js";
export * from "./sweep.js";
export * from "./timeline.js";
export * from "./validate.js";
export * from "./version.js";
export * from "./word.js";
