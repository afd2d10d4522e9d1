/**
 * vLLM on Dynamo. What changes between releases is the table `releases` below, one row per change
 * (facts: shared/reference/dynamo-releases.md and the argparse tables captured at each release,
 * shared/reference/dynamo-flags/releases-{0,1}.x.json, component `vllm`). The builders only read
 * the folded row of the chosen release.
 */
import {
  type Arg,
  type Command,
  type CommandContext,
  defineBackend,
  defineReleases,
  frontendCommand,
  type MultiNodeLaunch,
  type ServeGraph,
  serveGraphCommand,
  serveGraphComponents,
  serveGraphOptions,
  type WorkerRole,
  z,
} from "@dyn/core";

export const options = z.strictObject({
  ...serveGraphOptions("/workspace/examples/vllm_v1"),
});
export type VllmOptions = z.output<typeof options>;

/** The disaggregated roles' KV connector, as the ≥ 1.0 launch scripts pass it. */
const NIXL = JSON.stringify({ kv_connector: "NixlConnector", kv_role: "kv_both" });
const RAY =
  "multi-node vLLM workers need a Ray cluster, which dyn does not start (use Dynamo ≥ 1.0.0: vLLM's own --nnodes/--headless)";

export interface VllmRelease {
  /** `serve-graph`: 0.3.2's `dynamo serve` graph of examples/vllm_v1; `module`: python3 -m dynamo.vllm. */
  readonly launch: "serve-graph" | "module";
  /** What selects each role on the dynamo.vllm command line. */
  readonly roleFlags: Readonly<Record<WorkerRole, readonly string[]>>;
  /** Disaggregated roles pass `--kv-transfer-config` (NIXL): required for prefill from 1.0.0. */
  readonly kvTransferConfig: boolean;
  /** Component each role registers as (what /health lists); a missing role is not supported. */
  readonly registers: Readonly<Partial<Record<WorkerRole, string>>>;
  readonly multiNode: MultiNodeLaunch;
  /** VLLM_NIXL_SIDE_CHANNEL_HOST/PORT are read (up to 0.6.1 the worker overwrites them). */
  readonly nixlSideChannel: boolean;
}

// biome-ignore format: a table reads best one row per release
export const releases = defineReleases<VllmRelease>({
  rows: [
    { since: "0.3.2", launch: "serve-graph", roleFlags: { prefill: [], decode: [], aggregated: [] }, kvTransferConfig: false,
      registers: { prefill: "VllmPrefillWorker", decode: "VllmDecodeWorker" },
      multiNode: { unsupported: "the dynamo serve graph runs one worker per node (use Dynamo ≥ 1.0.0)" }, nixlSideChannel: false,
      note: "dynamo serve graph; the frontend process also runs one decode worker" },
    { since: "0.4.1", launch: "module", roleFlags: { prefill: ["--is-prefill-worker"], decode: [], aggregated: [] },
      registers: { prefill: "prefill", decode: "backend", aggregated: "backend" }, multiNode: { unsupported: RAY },
      note: "python3 -m dynamo.vllm; decode is the default role" },
    { since: "0.9.0", roleFlags: { prefill: ["--is-prefill-worker"], decode: ["--is-decode-worker"], aggregated: [] },
      nixlSideChannel: true, note: "--is-decode-worker; launcher's NIXL side channel respected" },
    { since: "1.0.0", kvTransferConfig: true, multiNode: "per-node",
      roleFlags: { prefill: ["--disaggregation-mode", "prefill"], decode: ["--disaggregation-mode", "decode"], aggregated: ["--disaggregation-mode", "agg"] },
      note: "--disaggregation-mode; prefill needs --kv-transfer-config; --nnodes/--headless" },
    { since: "1.4.0", note: "--is-prefill-worker/--is-decode-worker removed (dyn uses --disaggregation-mode)" },
  ],
});
type Ctx = CommandContext<VllmOptions, VllmRelease>;

/** Legacy `dynamo serve` graph (examples/vllm_v1, v0.3.2); graphs.agg:Frontend hosts a decode worker. */
const graph = (o: { graphDir: string; config: string }): ServeGraph => ({
  graphDir: o.graphDir,
  config: o.config,
  targets: { prefill: "components.worker:VllmPrefillWorker", decode: "components.worker:VllmDecodeWorker" },
  hosted: "decode",
});

/** NIXL side channel on the node's routable IP (from 1.1.0 vLLM raises without one on multi-NIC nodes). */
function nixlEnv(ctx: Ctx): Record<string, Arg> {
  if (!ctx.release.facts.nixlSideChannel) return {};
  return { VLLM_NIXL_SIDE_CHANNEL_HOST: ctx.nodeIp, VLLM_NIXL_SIDE_CHANNEL_PORT: ctx.port("nixl") };
}

function workerCommand(ctx: Ctx, role: WorkerRole): Command {
  const r = ctx.release.facts;
  const argv: Arg[] = [
    "python3",
    "-m",
    "dynamo.vllm",
    "--model",
    ctx.model.path,
    "--served-model-name",
    ctx.model.servedName,
    "--tensor-parallel-size",
    String(ctx.gpusPerWorker),
    ...r.roleFlags[role],
  ];
  if (r.kvTransferConfig && role !== "aggregated") argv.push("--kv-transfer-config", NIXL);
  if (ctx.nnodes > 1) {
    argv.push(
      "--nnodes",
      String(ctx.nnodes),
      "--node-rank",
      String(ctx.rank),
      "--master-addr",
      ctx.leaderIp,
      "--master-port",
      ctx.port("master"),
    );
    if (ctx.rank > 0) argv.push("--headless");
  }
  argv.push(...ctx.args);
  return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system"), ...nixlEnv(ctx) } };
}

export default defineBackend({
  name: "vllm",
  description: "vLLM workers (python3 -m dynamo.vllm); the dynamo serve graph for Dynamo 0.3.2",
  options,
  releases,
  defaults: { model: "Qwen/Qwen3-0.6B" },
  components(o, { facts: r }) {
    if (r.launch === "serve-graph")
      return serveGraphComponents(graph(o), { prefill: "VllmPrefillWorker", decode: "VllmDecodeWorker" });
    const show = (role: WorkerRole) => ["dynamo.vllm", ...r.roleFlags[role]].join(" ");
    const info = (role: WorkerRole, alias: string) => ({
      alias,
      dynamo: show(role),
      health: r.registers[role] as string,
    });
    return {
      prefill: info("prefill", "VllmPrefillWorker"),
      decode: info("decode", "VllmDecodeWorker"),
      aggregated: info("aggregated", "VllmWorker"),
    };
  },
  multiNode: (_role, _o, { facts }) => facts.multiNode,
  ports({ role, nnodes, release: { facts: r } }) {
    const nixl = r.nixlSideChannel ? ["nixl"] : [];
    if (r.launch === "serve-graph" || role === "frontend") return [];
    return ["system", ...nixl, ...(nnodes > 1 ? ["master"] : [])];
  },
  colocatedWithFrontend: (o, { facts }) => (facts.launch === "serve-graph" ? graph(o).hosted : undefined),
  command(ctx) {
    if (ctx.release.facts.launch === "serve-graph") return serveGraphCommand(ctx, graph(ctx.options));
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return workerCommand(ctx, ctx.role);
  },
});
