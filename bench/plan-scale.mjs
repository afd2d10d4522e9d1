// Planning and rendering at scale: 16 → 8192 nodes of mixed multi-node (16-GPU prefill workers over 2
// nodes) and packed (4-GPU decode workers, two per node) workers. Reports the median plan+render time
// (and each part), its growth per node, the script size per process and against SLURM's default
// max_script_size, and a same-run baseline (JSON round trip of the plan) so the figures can be
// compared across noisy machines.
import sglang from "@dyn/backend-sglang";
import { DeploymentSpec, MAX_SCRIPT_BYTES, plan, renderScript } from "@dyn/core";
import { ms, summarize } from "./stats.mjs";

export function specFor(nodes) {
  const half = nodes / 2;
  return DeploymentSpec.parse({
    backend: { name: "sglang" },
    model: { path: "deepseek-ai/DeepSeek-R1" },
    slurm: { gpusPerNode: 8, nodes },
    roles: {
      prefill: { workers: half / 2, gpusPerWorker: 16 },
      decode: { workers: half * 2, gpusPerWorker: 4 },
    },
    ports: { slot: 200 },
  });
}

function once(spec) {
  const t0 = performance.now();
  const p = plan(spec, sglang);
  const tp = performance.now();
  const script = renderScript(p, { runDir: "/shared/runs/bench" });
  const t1 = performance.now();
  JSON.parse(JSON.stringify(p));
  const t2 = performance.now();
  return {
    total: t1 - t0,
    plan: tp - t0,
    render: t1 - tp,
    baseline: t2 - t1,
    steps: p.steps.length,
    bytes: Buffer.byteLength(script),
  };
}

export function planScale(sizes = [16, 64, 256, 1024, 4096, 8192], runs = 15) {
  const rows = [];
  for (const nodes of sizes) {
    const spec = specFor(nodes);
    for (let i = 0; i < 3; i++) once(spec); // warm up the JIT
    const samples = Array.from({ length: runs }, () => once(spec));
    const t = summarize(samples.map((s) => s.total));
    const b = summarize(samples.map((s) => s.baseline));
    const planT = summarize(samples.map((s) => s.plan));
    const renderT = summarize(samples.map((s) => s.render));
    const { steps, bytes } = samples[0];
    rows.push({ nodes, steps, bytes, time: t, plan: planT, render: renderT, baseline: b });
  }
  return rows;
}

export function formatPlanScale(rows) {
  const lines = [
    "| nodes | processes | script | of max_script_size | plan+render (median, p10–p90) | plan | render | per node | vs JSON round trip of the plan |",
    "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.nodes} | ${r.steps} | ${(r.bytes / 1024).toFixed(0)} KiB (${(r.bytes / r.steps).toFixed(0)} B/process) | ${((100 * r.bytes) / MAX_SCRIPT_BYTES).toFixed(0)}% | ${ms(r.time.median)} (${ms(r.time.p10)}–${ms(r.time.p90)}) | ${ms(r.plan.median)} | ${ms(r.render.median)} | ${((r.time.median / r.nodes) * 1000).toFixed(1)} µs | ${(r.time.median / r.baseline.median).toFixed(1)}× |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatPlanScale(planScale()));
}
