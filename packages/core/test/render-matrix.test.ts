/**
 * Every backend shape × container × SLURM/infra/network/secrets option renders a script that
 * `bash -n` parses and shellcheck (default severity and -S style) finds clean.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Backend } from "../src/index.js";
import { renderForTest, type TestSpec } from "../src/testing.js";
import { legacy, mpi, perNode } from "./fixtures/backends.js";

const SHAPES: Array<[string, Backend, TestSpec]> = [
  ["seed default split", perNode, { slurm: { nodes: 3 } }],
  [
    "multi-node per-node",
    perNode,
    { roles: { prefill: { workers: 1 }, decode: { workers: 2, gpusPerWorker: 16 } } },
  ],
  [
    "packed",
    perNode,
    { roles: { aggregated: { workers: 4, gpusPerWorker: 2 } }, options: { cwd: "/opt/run dir" } },
  ],
  [
    "MPI",
    mpi,
    { roles: { prefill: { workers: 2, gpusPerWorker: 4 }, decode: { workers: 1, gpusPerWorker: 16 } } },
  ],
  ["legacy hosted worker", legacy, { slurm: { nodes: 4 } }],
  [
    "multiple frontends",
    perNode,
    { roles: { frontend: { count: 2, args: ["--router-mode", "kv"] }, aggregated: { workers: 2 } } },
  ],
  [
    "dedicated frontend",
    perNode,
    { roles: { frontend: { placement: "dedicated" }, prefill: { workers: 1 }, decode: { workers: 1 } } },
  ],
];

const CONTAINERS: TestSpec["container"][] = [
  { kind: "none" },
  { kind: "none", setup: "source /opt/venv/bin/activate" },
  {
    kind: "pyxis",
    // Not one of Dynamo's engine images (those belong to one backend); its tag chooses 1.4.2.
    image: "nvcr.io#nvidia/ai-dynamo/dynamo-base:1.4.2",
    mounts: ["/lustre/models:/models:ro", "/scratch:/scratch"],
    workdir: "/workspace",
    env: ["NCCL_DEBUG", "UCX_TLS"],
  },
  { kind: "pyxis", image: "/shared/images/dynamo.sqsh", preload: false },
  { kind: "pyxis", image: "docker://ghcr.io/x/y:1", mountHome: true, entrypoint: true },
];

const SLURM: NonNullable<TestSpec["slurm"]>[] = [
  {},
  { gpuRequest: "gres", gpuType: "h100" },
  {
    gpuRequest: "gpus-per-node",
    gpuType: "a100",
    partition: "batch",
    account: "proj-42",
    qos: "high",
    time: "1-02:00:00",
    exclusive: true,
    extraSbatch: ["--reservation=demo", "--constraint=ib&nvlink"],
    mpi: "pmix",
  },
  { gpuRequest: "none", time: "30" },
  { gpuRequest: "gres" },
];

/**
 * etcd managed/external × NATS managed/external/off. Without etcd every component needs another
 * discovery backend, and the one that works on SLURM (file) is single-machine only: those scripts
 * are ETCD_OFF below, on one-node shapes.
 */
const INFRA = (["managed", "external"] as const).flatMap((etcd) =>
  (["managed", "external", "off"] as const).map((nats) => ({
    etcd: etcd === "external" ? { mode: etcd, url: "http://etcd.example:2379" } : { mode: etcd },
    nats: nats === "external" ? { mode: nats, url: "nats://nats.example:4222" } : { mode: nats },
  })),
);

/** etcd off (file discovery on one node) with each NATS mode and each backend shape. */
const ETCD_OFF: Array<[string, Backend, TestSpec]> = (
  [
    ["per-node packed", perNode, { roles: { aggregated: { workers: 4, gpusPerWorker: 2 } } }],
    ["MPI", mpi, { roles: { aggregated: { workers: 1, gpusPerWorker: 8 } } }],
    [
      "legacy hosted worker",
      legacy,
      {
        roles: {
          prefill: { workers: 1, gpusPerWorker: 4 },
          decode: { workers: 1, gpusPerWorker: 4 },
          colocate: true,
        },
      },
    ],
  ] as Array<[string, Backend, TestSpec]>
).map(([name, backend, spec], i) => {
  const nats = (["managed", "external", "off"] as const)[i] as "managed" | "external" | "off";
  return [
    `etcd off / ${name} / nats ${nats}`,
    backend,
    {
      ...spec,
      model: { path: "Qwen/Qwen3-0.6B" },
      container: CONTAINERS[i],
      env: { DYN_DISCOVERY_BACKEND: "file" },
      infra: {
        etcd: { mode: "off" },
        nats: nats === "external" ? { mode: nats, url: "nats://nats.example:4222" } : { mode: nats },
      },
    },
  ];
});

/**
 * 21 scripts: shape k mod 7 and container k mod 5 (coprime, so all 21 pairs differ), SLURM options
 * and infra modes cycled on other strides, so every value of every dimension meets several shapes;
 * then the etcd-off scripts.
 * (Every shape × container × option would be thousands of shellcheck runs for no new lines.)
 */
const matrix = Array.from({ length: SHAPES.length * 3 }, (_, k) => {
  const [name, backend, spec] = SHAPES[k % SHAPES.length] as (typeof SHAPES)[number];
  const container = CONTAINERS[k % CONTAINERS.length];
  const slurm = (k + Math.floor(k / CONTAINERS.length)) % SLURM.length;
  const infra = k % INFRA.length;
  const shape: TestSpec = {
    ...spec,
    model: { path: "Qwen/Qwen3-0.6B" },
    container,
    slurm: { ...spec.slurm, ...SLURM[slurm] },
    infra: INFRA[infra],
    ...(k % 2 ? { network: { interface: "ib0" } } : {}),
    ...(k % 3 ? { secrets: ["HF_TOKEN", "NGC_API_KEY"] } : {}),
    ...(k % 4 === 0 ? { hfCache: "/lustre/cache/hf" } : {}),
    env: { NCCL_DEBUG: "WARN" },
  };
  return {
    label: `${name} / ${container?.kind} #${k % CONTAINERS.length} / slurm #${slurm} / infra #${infra}`,
    backend,
    shape,
    dims: { container: k % CONTAINERS.length, slurm, infra },
  };
});

/** execFile as a promise that resolves with the exit code instead of rejecting on non-zero. */
function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (error, stdout) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "dyn-core-matrix-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scripts = [...matrix, ...ETCD_OFF.map(([label, backend, shape]) => ({ label, backend, shape }))];
const files = scripts.map(({ label, backend, shape }, i) => {
  const file = join(dir, `script-${i}.sh`);
  writeFileSync(file, renderForTest(backend, shape));
  return { label, file };
});

describe("rendered scripts", () => {
  it("cover every value of every dimension", () => {
    const values = (d: "container" | "slurm" | "infra") => new Set(matrix.map((m) => m.dims[d])).size;
    expect([values("container"), values("slurm"), values("infra")]).toEqual([
      CONTAINERS.length,
      SLURM.length,
      INFRA.length,
    ]);
    expect(new Set(matrix.map((m) => `${m.label.split(" / ")[0]} ${m.dims.container}`)).size).toBe(
      matrix.length,
    );
    // The etcd-off scripts render without an etcd step or ETCD_ENDPOINTS.
    for (const [, backend, shape] of ETCD_OFF) {
      const script = renderForTest(backend, shape);
      expect(script).not.toContain("ETCD_ENDPOINTS");
      expect(script).toContain("DYN_DISCOVERY_BACKEND=file");
    }
  });

  it.each(files)("bash -n: $label", ({ file }) => {
    // stdin must not be a socket: bash then assumes it runs under sshd and sources ~/.bashrc.
    const r = spawnSync("bash", ["-n", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("shellcheck -S style finds nothing in any of them", async () => {
    // Two shellcheck processes (one per core): it is single-threaded and the slowest check here.
    const half = Math.ceil(files.length / 2);
    const chunks = [files.slice(0, half), files.slice(half)].map((chunk) =>
      run("shellcheck", ["-S", "style", "-f", "gcc", ...chunk.map((f) => f.file)]),
    );
    for (const r of await Promise.all(chunks)) {
      expect(r.stdout).toBe("");
      expect(r.code).toBe(0);
    }
  }, 60_000);

  it("the stub executables of the whole-script tests are shellcheck-clean too", () => {
    const stubs = ["srun", "scontrol", "python3", "ip", "timeout", "sleep"].map(
      (s) => new URL(`./fixtures/stubs/${s}`, import.meta.url).pathname,
    );
    const r = spawnSync("shellcheck", ["-S", "style", "-f", "gcc", ...stubs], { encoding: "utf8" });
    expect(r.stdout).toBe("");
  });
});
