import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, FIXTURE_PROJECT, firstLine, ls, run, tmp, writeConfig } from "./helpers.js";

interface Row {
  argv: string[];
  config?: string;
  env?: Record<string, string>;
  cwd?: string;
  code: 1 | 2;
  line: string;
}

const B = ["deploy", "--backend", "sglang"];

/** Bad input → exact exit code and the exact one-line message; nothing written, nothing submitted. */
const rows: Row[] = [
  {
    argv: [...B, "--nodes", "abc"],
    code: 2,
    line: 'error: --nodes: expected a whole number or auto, got "abc" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nodes", "0"],
    code: 2,
    line: "error: --nodes: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--gpus-per-node", "2.5"],
    code: 2,
    line: 'error: --gpus-per-node: expected a whole number, got "2.5" (DYN_USAGE)',
  },
  {
    argv: [...B, "--gpus-per-node", "65"],
    code: 2,
    line: "error: --gpus-per-node: Too big: expected number to be <=64 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--http-port", "70000"],
    code: 2,
    line: "error: --http-port: Too big: expected number to be <=65535 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--gpu-request", "all"],
    code: 2,
    line: "error: option '--gpu-request <how>' argument 'all' is invalid. Allowed choices are gpus-per-node, gres, none.",
  },
  {
    argv: [...B, "--frontend-placement", "elsewhere"],
    code: 2,
    line: "error: option '--frontend-placement <where>' argument 'elsewhere' is invalid. Allowed choices are shared, dedicated.",
  },
  { argv: [...B, "--nodez", "2"], code: 2, line: "error: unknown option '--nodez' (did you mean --nodes?)" },
  {
    argv: [...B, "--time", "1h"],
    code: 2,
    line: "error: --time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--env", "NOVALUE"],
    code: 2,
    line: 'error: --env: expected NAME=VALUE, got "NOVALUE" (DYN_USAGE)',
  },
  {
    argv: [...B, "--env", "1BAD=x"],
    code: 2,
    line: 'error: --env: "1BAD" is not an environment variable name (DYN_USAGE)',
  },
  {
    argv: [...B, "--container", "/i.sqsh", "--container-mount", "/only-one-part"],
    code: 2,
    line: 'error: --container-mount: expected SRC:DST[:FLAGS], got "/only-one-part" (DYN_USAGE)',
  },
  {
    argv: [...B, "--container-mount", "/a:/b"],
    code: 2,
    line: "error: --container-mount: needs --container <image> (or container.image in dyn.yaml) (DYN_USAGE)",
  },
  {
    argv: [...B, "--container", "/i.sqsh", "--setup", "source x"],
    code: 2,
    line: "error: --setup: cannot be combined with --container (--setup is for bare-metal runs) (DYN_USAGE)",
  },
  {
    argv: [...B, "--secret", "hf-token"],
    code: 2,
    line: 'error: --secret: expected the NAME of an environment variable, got "hf-token" (DYN_USAGE)',
  },
  {
    argv: [...B, "--secret", "HF_TOKEN"],
    code: 2,
    line: "error: --secret HF_TOKEN: not set in this shell; the job reads it from the environment at run time (DYN_SECRET_MISSING)",
  },
  {
    argv: [...B, "--secret", "HF_TOKEN", "--env", "HF_TOKEN=abc"],
    env: { HF_TOKEN: "s" },
    code: 2,
    line: "error: --env: HF_TOKEN is a secret; its value must not be set in the spec (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--etcd", "etcd.local:2379"],
    code: 2,
    line: 'error: --etcd: expected managed, off or a URL like http://host:2379, got "etcd.local:2379" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nats", "http://x:4222"],
    code: 2,
    line: 'error: --nats: expected managed, off or a URL like nats://host:4222, got "http://x:4222" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nodes", "1"],
    code: 2,
    line: "error: --nodes: 1 node cannot hold the default split (one prefill and one decode worker of 8 GPUs each) (DYN_PLAN_INVALID)",
  },
  {
    argv: [...B, "--nodes", "2", "--num-prefill-workers", "2"],
    code: 2,
    line: "error: --num-prefill-workers: 2 prefill workers × 8 GPUs leave no room for decode workers (8 GPUs each) on 2 nodes × 8 GPUs (DYN_PLAN_INVALID)",
  },
  {
    argv: [...B, "--num-prefill-workers", "2", "--prefill-workers", "3"],
    code: 2,
    line: "error: --prefill-workers: conflicts with --num-prefill-workers (--prefill-workers is another name for it) (DYN_USAGE)",
  },
  {
    argv: [...B, "--aggregated-workers", "1", "--num-prefill-workers", "1"],
    code: 2,
    line: "error: --aggregated-workers: cannot be combined with prefill/decode groups (choose aggregated or disaggregated) (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--gpus-per-prefill", "12", "--num-prefill-workers", "1", "--num-decode-workers", "1"],
    code: 2,
    line: "error: --gpus-per-prefill: 12 GPUs do not tile 8-GPU nodes (DYN_PLAN_INVALID)",
  },
  {
    // The release is no backend option any more (it is --dynamo-version / dynamo.version).
    argv: [...B, "-o", "dynamoVersion=latest"],
    code: 2,
    line: "error: -o dynamoVersion: the Dynamo release is no longer a backend option (DYN_OPTIONS_INVALID)",
  },
  {
    argv: [...B, "--dynamo-version", "9.9.9"],
    code: 2,
    line: "error: --dynamo-version: Dynamo 9.9.9 is not a release dyn knows; known releases of sglang: 0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0, 1.0.1, 1.0.2, 1.1.0, 1.1.1, 1.2.0, 1.2.1, 1.3.0, 1.3.1, 1.4.0, 1.4.1, 1.4.2, 1.5.0, 1.5.1 (DYN_UNSUPPORTED)",
  },
  {
    argv: [...B, "--dynamo-version", "one"],
    code: 2,
    line: "error: --dynamo-version: must be a release like 1.5.1, a series like 1.5, or latest (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--dynamo-version", "1.4", "--container", "nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.3.0"],
    code: 2,
    line: "error: --dynamo-version: 1.4 disagrees with the container image nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.3.0 (tag 1.3.0 = Dynamo 1.3.0) (DYN_UNSUPPORTED)",
  },
  {
    argv: ["deploy", "--container", "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.4.2", "--backend", "sglang"],
    code: 2,
    line: "error: --container: nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.4.2 is Dynamo's vllm image, not one for backend sglang (DYN_UNSUPPORTED)",
  },
  {
    argv: [...B, "--container", "nvcr.io#nvidia/ai-dynamo/sglang-runtime:0.8.1.post1"],
    code: 2,
    line: "error: --container: Dynamo 0.8.1.post1 (the tag of nvcr.io#nvidia/ai-dynamo/sglang-runtime:0.8.1.post1) is not a release dyn knows; known releases of sglang: 0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0, 1.0.1, 1.0.2, 1.1.0, 1.1.1, 1.2.0, 1.2.1, 1.3.0, 1.3.1, 1.4.0, 1.4.1, 1.4.2, 1.5.0, 1.5.1 (DYN_UNSUPPORTED)",
  },
  {
    argv: [...B, "--legacy", "--dynamo-version", "1.0.0"],
    code: 2,
    line: "error: --legacy: means --dynamo-version 0.3.2; give only one of them (DYN_USAGE)",
  },
  {
    argv: [...B, "--nats", "off", "--dynamo-version", "0.9.0"],
    code: 2,
    line: "error: --nats: Dynamo 0.9.0 cannot run without NATS (its runtime always connects to NATS_SERVER, default nats://localhost:4222) (DYN_UNSUPPORTED)",
  },
  {
    argv: [...B, "--etcd", "off"],
    code: 2,
    line: "error: --etcd: off needs another discovery backend: every component discovers through etcd unless DYN_DISCOVERY_BACKEND names another backend (DYN_UNSUPPORTED)",
  },
  {
    argv: ["deploy"],
    config: 'backend: sglang\ndynamo:\n  version: "1.9"\n',
    code: 2,
    line: "error: dyn.yaml:3:12 dynamo.version: Dynamo 1.9 is not a release dyn knows; known releases of sglang: 0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0, 1.0.1, 1.0.2, 1.1.0, 1.1.1, 1.2.0, 1.2.1, 1.3.0, 1.3.1, 1.4.0, 1.4.1, 1.4.2, 1.5.0, 1.5.1 (DYN_UNSUPPORTED)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\n",
    env: { DYN_DYNAMO_VERSION: "0.5" },
    code: 2,
    line: "error: DYN_DYNAMO_VERSION: Dynamo 0.5 is not a release dyn knows; known releases of sglang: 0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0, 1.0.1, 1.0.2, 1.1.0, 1.1.1, 1.2.0, 1.2.1, 1.3.0, 1.3.1, 1.4.0, 1.4.1, 1.4.2, 1.5.0, 1.5.1 (DYN_UNSUPPORTED)",
  },
  {
    argv: [...B, "-o", "noSuchOption=1"],
    code: 2,
    line: "error: -o noSuchOption: unknown key (DYN_OPTIONS_INVALID)",
  },
  {
    argv: [...B, "-o", "novalue"],
    code: 2,
    line: 'error: -o: expected KEY=VALUE, got "novalue" (DYN_USAGE)',
  },
  { argv: ["deploy"], code: 2, line: "error: --backend: required (or set backend: in dyn.yaml) (DYN_USAGE)" },
  {
    argv: ["deploy", "--backend", "nope"],
    code: 2,
    line: 'error: --backend: no backend "nope": not built in (vllm, sglang, trtllm); tried dyn-backend-nope, nope from CWD (DYN_BACKEND_NOT_FOUND)',
  },
  {
    argv: ["deploy", "--backend", "@acme/missing"],
    code: 2,
    line: 'error: --backend: no backend "@acme/missing": not built in (vllm, sglang, trtllm); tried @acme/dyn-backend-missing, @acme/missing from CWD (DYN_BACKEND_NOT_FOUND)',
  },
  {
    argv: ["deploy", "--backend", "broken"],
    cwd: FIXTURE_PROJECT,
    code: 2,
    line: "error: dyn-backend-broken does not default-export a backend made with defineBackend() (DYN_BACKEND_INVALID)",
  },
  {
    argv: [...B, "--runs-dir", "/dev/null/x"],
    code: 2,
    line: "error: --runs-dir: /dev/null/x cannot be a directory: /dev/null is a file (DYN_USAGE)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  nodes: 0\n",
    code: 2,
    line: "error: dyn.yaml:3:10 slurm.nodes: Too small: expected number to be >=1 (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  nodez: 2\n",
    code: 2,
    line: "error: dyn.yaml:3:3 slurm.nodez: unknown key (did you mean nodes?) (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nflavour: x\n",
    code: 2,
    line: "error: dyn.yaml:2:1 flavour: unknown key (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nroles:\n  prefill:\n    workers: two\n",
    code: 2,
    line: "error: dyn.yaml:4:14 roles.prefill.workers: must be a whole number (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm: [\n",
    code: 2,
    line: "error: dyn.yaml:3:1 Flow sequence in block collection must be sufficiently indented and end with a ] (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nbackend: vllm\n",
    code: 2,
    line: "error: dyn.yaml:2:1 Map keys must be unique (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nbackend:\n",
    code: 2,
    line: "error: dyn.yaml:2:1 Map keys must be unique (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "- a\n- b\n",
    code: 2,
    line: "error: dyn.yaml:1:1 the file must be a mapping of keys (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nbackends: foo\n",
    code: 2,
    line: "error: dyn.yaml:2:11 backends: must be a list of package names or paths (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy", "--nodes", "0"],
    config: "backend: sglang\nslurm:\n  nodes: 2\n",
    code: 2,
    line: "error: --nodes: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\n",
    env: { DYN_NODES: "lots" },
    code: 2,
    line: 'error: DYN_NODES: expected a whole number or auto, got "lots" (DYN_USAGE)',
  },
  {
    argv: ["deploy", "--config", "missing.yaml", "--backend", "sglang"],
    code: 2,
    line: "error: --config: cannot read CWD/missing.yaml: ENOENT: no such file or directory, open 'CWD/missing.yaml' (DYN_CONFIG_INVALID)",
  },
  {
    argv: [...B, "--dry-run", "--wait"],
    code: 2,
    line: "error: --wait: cannot wait for a --dry-run (nothing is submitted) (DYN_USAGE)",
  },
  {
    argv: [...B, "--wait", "--timeout", "soon"],
    code: 2,
    line: 'error: --timeout: expected a number of seconds ≥ 1, got "soon" (DYN_USAGE)',
  },
  {
    // vLLM at 0.3.2 is the dynamo serve graph, which has no aggregated deployment in dyn.
    argv: ["deploy", "--backend", "vllm", "--legacy", "--aggregated-workers", "1"],
    code: 2,
    line: "error: --aggregated-workers: backend vllm has no aggregated component in Dynamo 0.3.2 (DYN_UNSUPPORTED)",
  },
  {
    // SGLang's 0.3.2 scripts run aggregated workers, but only one per node.
    argv: [
      ...B,
      "--legacy",
      "--num-prefill-workers",
      "1",
      "--num-decode-workers",
      "1",
      "--gpus-per-decode",
      "16",
    ],
    code: 2,
    line: "error: --gpus-per-decode: 16 GPUs span 2 nodes, but with Dynamo 0.3.2 the examples/sglang scripts run one worker per node (use Dynamo ≥ 0.4.1) (DYN_UNSUPPORTED)",
  },
];

describe("bad input: exit code, one-line message, nothing written or submitted", () => {
  it("has at least 25 rows", () => expect(rows.length).toBeGreaterThanOrEqual(25));

  it.each(
    rows.map(
      (r, i) =>
        [i, r.argv.join(" ") + (r.config ? ` [dyn.yaml: ${JSON.stringify(r.config)}]` : ""), r] as const,
    ),
  )("#%i %s", async (_i, _name, row) => {
    const cwd = row.cwd ?? tmp();
    if (row.config) writeConfig(cwd, row.config);
    const slurm = new FakeSlurm();
    const r = await run(row.argv, { cwd, env: row.env ?? {}, slurm });
    const expected = row.line
      .replaceAll("CWD", cwd)
      .replace("RUNDIR", firstLine(r.stderr).match(/run directory (\S+):/)?.[1] ?? "?");
    expect(firstLine(r.stderr)).toBe(expected);
    expect(r.code).toBe(row.code);
    // one line, then at most a hint line
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(2);
    if (lines[1]) expect(lines[1]).toMatch(/^hint: /);
    expect(r.stdout).toBe("");
    expect(ls(join(cwd, "dyn-runs"))).toEqual([]);
    expect(slurm.count("sbatch")).toBe(0);
  });

  it("--json errors are one JSON document on stdout", async () => {
    const r = await run(["plan", "--json", "--backend", "sglang", "--nodes", "x"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: { code: "DYN_USAGE", message: '--nodes: expected a whole number or auto, got "x"', hint: null },
    });
  });

  it("no stack trace unless --debug", async () => {
    const plain = await run([...B, "--nodes", "0", "--dry-run"]);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await run([...B, "--nodes", "0", "--dry-run", "--debug"]);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
