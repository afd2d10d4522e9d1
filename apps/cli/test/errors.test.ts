import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, FIXTURE_PROJECT, firstLine, ls, run, tmp, writeConfig } from "./helpers.js";

interface Row {
  argv: string[];
  config?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** What `sinfo -h -a -o %P|%D` prints (the partition check before sbatch); default: no sinfo. */
  sinfo?: string;
  code: 1 | 2;
  line: string;
  /** The hint line, when it matters. */
  hint?: string;
}

const SPEC_HINT = "hint: dyn deploy --help lists the flags; docs/cli.md the config keys";
const KEYS_HINT =
  "hint: docs/cli.md (Config file) lists the keys; the JSON schema that dyn init links checks them as you type";
const ARGS_HINT =
  "hint: write the arguments as in a shell: quote a word that has spaces ('a b'), nothing is expanded";
const DIR_HINT =
  "hint: use a directory on a filesystem the compute nodes share (home or a parallel filesystem)";
const STEPS_HINT =
  "hint: use fewer workers, or more GPUs per worker (--gpus-per-prefill, --gpus-per-decode, --gpus-per-aggregated)";
const STEPS =
  "above the 39997 one job can start: each is an srun step, and SLURM's default MaxStepCount is 40000 steps per job (DYN_PLAN_INVALID)";

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
    line: "error: --nodes: 1 node × 8 GPUs cannot hold the default split (at least one prefill worker of 8 GPUs and one decode worker of 8 GPUs) (DYN_PLAN_INVALID)",
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
  // ---- #14: engine args, config forms, conflicts, paths, scale, and the class of bad inputs ----
  {
    // counts: negative, empty, exponent, beyond exact, zero, above a maximum
    argv: [...B, "--nodes", "-1"],
    code: 2,
    line: "error: --nodes: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
    hint: SPEC_HINT,
  },
  {
    argv: [...B, "--nodes", ""],
    code: 2,
    line: 'error: --nodes: expected a whole number or auto, got "" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nodes", "1e3"],
    code: 2,
    line: 'error: --nodes: expected a whole number or auto, got "1e3" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nodes", "99999999999999999999"],
    code: 2,
    line: "error: --nodes: 99999999999999999999 is too large to be exact (DYN_USAGE)",
  },
  {
    argv: [...B, "--http-port", "99999999999999999999"],
    code: 2,
    line: "error: --http-port: 99999999999999999999 is too large to be exact (DYN_USAGE)",
  },
  {
    argv: [...B, "--gpus-per-node", "0"],
    code: 2,
    line: "error: --gpus-per-node: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--frontend-count", "9999999"],
    code: 2,
    line: "error: --frontend-count: Too big: expected number to be <=64 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--http-port", "0"],
    code: 2,
    line: "error: --http-port: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--ready-timeout", "0"],
    code: 2,
    line: "error: --ready-timeout: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--lost-grace", "601"],
    code: 2,
    line: "error: --lost-grace: Too big: expected number to be <=600 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--nats-max-payload-mb", "0"],
    code: 2,
    line: "error: --nats-max-payload-mb: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--aggregated-workers", "-1"],
    code: 2,
    line: "error: --aggregated-workers: Too small: expected number to be >=0 (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--num-decode-workers", "abc"],
    code: 2,
    line: 'error: --num-decode-workers: expected a whole number, got "abc" (DYN_USAGE)',
  },
  {
    argv: [...B, "--gpus-per-decode", "0", "--num-decode-workers", "1", "--num-prefill-workers", "1"],
    code: 2,
    line: "error: --gpus-per-decode: Too small: expected number to be >=1 (DYN_SPEC_INVALID)",
  },
  {
    // scale (#14 item 13): refused before anything is laid out, with the limit
    argv: [...B, "--nodes", "20000", "--gpus-per-prefill", "1", "--gpus-per-decode", "1"],
    code: 2,
    line: `error: --nodes: the plan would run 160003 processes (prefill: 80000 workers × 1 GPU), ${STEPS}`,
    hint: STEPS_HINT,
  },
  {
    argv: [...B, "--nodes", "100000", "--json"],
    code: 2,
    line: `error: --nodes: the plan would run 100003 processes (prefill: 50000 workers × 8 GPUs), ${STEPS}`,
    hint: STEPS_HINT,
  },
  {
    argv: [...B, "--aggregated-workers", "1000000", "--gpus-per-aggregated", "1"],
    code: 2,
    line: `error: --aggregated-workers: the plan would run 1000003 processes (aggregated: 1000000 workers × 1 GPU), ${STEPS}`,
    hint: STEPS_HINT,
  },
  {
    // a partition smaller than the plan, when sinfo answers: before anything is written
    argv: [...B, "--nodes", "8"],
    sinfo: "gpu*|4\n",
    code: 2,
    line: "error: --nodes: the plan needs 8 nodes, and partition gpu has 4 (sinfo); the job would never start (DYN_PLAN_INVALID)",
    hint: "hint: use at most 4 nodes (fewer or smaller workers), or a larger partition with --partition",
  },
  {
    argv: [...B, "--partition", "gpu", "--nodes", "7"],
    sinfo: "gpu|4\ngpu|2\ndebug*|1\n",
    code: 2,
    line: "error: --nodes: the plan needs 7 nodes, and partition gpu has 6 (sinfo); the job would never start (DYN_PLAN_INVALID)",
  },
  {
    argv: [...B, "--partition", "cpu"],
    sinfo: "gpu*|4\ndebug|2\n",
    code: 2,
    line: 'error: --partition: sinfo lists no partition "cpu" (it has gpu, debug) (DYN_SPEC_INVALID)',
    hint: "hint: pick one of them with --partition (dyn doctor lists them)",
  },
  {
    // enums: wrong case, empty, unknown
    argv: [...B, "--container-infra", "both"],
    code: 2,
    line: "error: option '--container-infra <where>' argument 'both' is invalid. Allowed choices are image, host.",
  },
  {
    argv: [...B, "--gpu-request", "GRES"],
    code: 2,
    line: "error: option '--gpu-request <how>' argument 'GRES' is invalid. Allowed choices are gpus-per-node, gres, none.",
  },
  {
    argv: [...B, "--frontend-placement", ""],
    code: 2,
    line: "error: option '--frontend-placement <where>' argument '' is invalid. Allowed choices are shared, dedicated.",
  },
  {
    argv: [...B, "--etcd", ""],
    code: 2,
    line: 'error: --etcd: expected managed, off or a URL like http://host:2379, got "" (DYN_USAGE)',
  },
  {
    argv: [...B, "--nats", "NATS://x:1"],
    code: 2,
    line: 'error: --nats: expected managed, off or a URL like nats://host:4222, got "NATS://x:1" (DYN_USAGE)',
  },
  {
    argv: ["deploy", "--backend", ""],
    code: 2,
    line: "error: --backend: required (or set backend: in dyn.yaml) (DYN_USAGE)",
  },
  {
    argv: [...B, "-o", "transferBackend=tcp"],
    code: 2,
    line: 'error: -o transferBackend: Invalid option: expected one of "nixl"|"mooncake" (DYN_OPTIONS_INVALID)',
    hint: "hint: dyn backends show sglang lists the options",
  },
  {
    // paths (#14 item 6): a runs directory that cannot exist fails at once
    argv: [...B, "--runs-dir", "/proc/x"],
    code: 2,
    line: "error: --runs-dir: /proc/x is on /proc, a proc filesystem, where no directory can be made (DYN_USAGE)",
    hint: DIR_HINT,
  },
  {
    argv: ["render", "--backend", "sglang", "--runs-dir", "/proc/x"],
    code: 2,
    line: "error: --runs-dir: /proc/x is on /proc, a proc filesystem, where no directory can be made (DYN_USAGE)",
    hint: DIR_HINT,
  },
  {
    argv: ["render", "--backend", "sglang", "--run-dir", "/sys/x"],
    code: 2,
    line: "error: --run-dir: /sys/x is on /sys, a sysfs filesystem, where no directory can be made (DYN_USAGE)",
    hint: DIR_HINT,
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nrunsDir: /proc/x\n",
    code: 2,
    line: "error: dyn.yaml:2:10 runsDir: /proc/x is on /proc, a proc filesystem, where no directory can be made (DYN_USAGE)",
    hint: DIR_HINT,
  },
  {
    argv: [...B, "--runs-dir", "/tmp/a b"],
    code: 2,
    line: 'error: --runs-dir: run directory must be an absolute path without spaces or quotes: "/tmp/a b/dynamo-20250615-150640" (DYN_SPEC_INVALID)',
  },
  {
    argv: ["render", "--backend", "sglang", "--run-dir", "rel"],
    code: 2,
    line: 'error: --run-dir: must be an absolute path (the nodes read it), got "rel" (DYN_USAGE)',
    hint: "hint: e.g. --run-dir CWD/rel",
  },
  {
    argv: [...B, "--hf-cache", "cache"],
    code: 2,
    line: "error: --hf-cache: must be an absolute path (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--output", "a b"],
    code: 2,
    line: "error: --output: must be a path without spaces or quotes (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--output", "logs/%j/x.out"],
    code: 2,
    line: "error: --output: must not have a %-pattern in its directory part (sbatch does not create directories; dyn creates the one it can name) (DYN_SPEC_INVALID)",
  },
  {
    // engine args (#14 item 1): quotes, escapes and shell syntax, with the column
    argv: [...B, "--decode-arg", "--x 'a"],
    code: 2,
    line: "error: --decode-arg: column 5: unbalanced ': this quote is never closed (DYN_USAGE)",
    hint: ARGS_HINT,
  },
  {
    argv: [...B, "--prefill-arg", '--x "a'],
    code: 2,
    line: 'error: --prefill-arg: column 5: unbalanced ": this quote is never closed (DYN_USAGE)',
    hint: ARGS_HINT,
  },
  {
    argv: [...B, "--decode-arg", "a\\"],
    code: 2,
    line: "error: --decode-arg: column 2: ends with a lone \\ (escape the backslash: \\\\) (DYN_USAGE)",
  },
  {
    argv: [...B, "--frontend-arg", "--x $HOME"],
    code: 2,
    line: "error: --frontend-arg: column 5: \"$H\" would be expanded by a shell, and dyn passes words literally: quote it ('$H\u2026') to pass it as it is (DYN_USAGE)",
  },
  {
    argv: [...B, "--decode-arg", "--a 1; rm -rf /"],
    code: 2,
    line: "error: --decode-arg: column 6: \";\" is shell syntax, and no shell reads these words: quote it (';') if it is part of an argument (DYN_USAGE)",
  },
  {
    argv: [...B, "--decode-arg", "--x `id`"],
    code: 2,
    line: "error: --decode-arg: column 5: \"`\" is shell syntax, and no shell reads these words: quote it ('`') if it is part of an argument (DYN_USAGE)",
  },
  {
    argv: [...B, "--decode-arg", "--dir ~/m"],
    code: 2,
    line: "error: --decode-arg: column 7: ~ would be your home directory in a shell, and nothing expands it here: write the path out (DYN_USAGE)",
  },
  {
    argv: [...B, "--decode-arg", "--a 1 # c"],
    code: 2,
    line: "error: --decode-arg: column 7: # starts a comment in a shell: quote it ('#\u2026') if it is part of an argument (DYN_USAGE)",
  },
  {
    argv: [...B, "--decode-arg", "--x \u0000"],
    code: 2,
    line: "error: --decode-arg: column 5: contains a NUL byte, which no argument can hold (DYN_USAGE)",
  },
  {
    argv: [...B, "--worker-arg", "--x 1"],
    code: 2,
    line: "error: --worker-arg: is for aggregated workers, and this deployment has none (by default it is disaggregated) (DYN_USAGE)",
    hint: "hint: add --aggregated-workers N, or use --prefill-arg / --decode-arg",
  },
  {
    argv: [...B, "--num-prefill-workers", "1", "--worker-arg", "--x"],
    code: 2,
    line: "error: --worker-arg: is for aggregated workers, and this deployment is disaggregated (prefill and decode workers) (DYN_USAGE)",
  },
  {
    argv: [...B, "--aggregated-workers", "1", "--prefill-arg", "--x"],
    code: 2,
    line: "error: --prefill-arg: this deployment is aggregated (--aggregated-workers): it has no prefill workers (DYN_USAGE)",
    hint: "hint: its workers take --worker-arg",
  },
  {
    // unicode where SLURM and the environment take ASCII names
    argv: [...B, "--job-name", "\u30e2\u30c7\u30eb"],
    code: 2,
    line: "error: --job-name: must be letters, digits, _ . - (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--partition", "gp\u00fc"],
    code: 2,
    line: "error: --partition: must be a SLURM name (letters, digits, _ . , : + -) (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--env", "\u00c4B=1"],
    code: 2,
    line: 'error: --env: "\u00c4B" is not an environment variable name (DYN_USAGE)',
  },
  {
    argv: [...B, "--secret", "HF_T\u00d6KEN"],
    code: 2,
    line: 'error: --secret: expected the NAME of an environment variable, got "HF_T\u00d6KEN" (DYN_USAGE)',
  },
  {
    argv: [...B, "--network-interface", "eth 0"],
    code: 2,
    line: "error: --network-interface: must be an interface name (DYN_SPEC_INVALID)",
  },
  {
    // empty strings
    argv: [...B, "--model", ""],
    code: 2,
    line: "error: --model: must not be empty (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--container", ""],
    code: 2,
    line: "error: --container: must not be empty (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--job-name", ""],
    code: 2,
    line: "error: --job-name: must be letters, digits, _ . - (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--partition", ""],
    code: 2,
    line: "error: --partition: must be a SLURM name (letters, digits, _ . , : + -) (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--time", ""],
    code: 2,
    line: "error: --time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS (DYN_SPEC_INVALID)",
  },
  {
    argv: [...B, "--env", "=x"],
    code: 2,
    line: 'error: --env: expected NAME=VALUE, got "=x" (DYN_USAGE)',
  },
  {
    argv: [...B, "--secret", ""],
    code: 2,
    line: 'error: --secret: expected the NAME of an environment variable, got "" (DYN_USAGE)',
  },
  {
    argv: [...B, "--sbatch-arg", ""],
    code: 2,
    line: "error: --sbatch-arg: must be one line starting with - or -- (DYN_SPEC_INVALID)",
  },
  {
    // conflicts (#14 item 5): an extra #SBATCH option that repeats a planned one
    argv: [...B, "--sbatch-arg=--nodes=3"],
    code: 2,
    line: 'error: --sbatch-arg: "--nodes=3" repeats #SBATCH --nodes, which dyn writes from --nodes (slurm.nodes; by default the plan\'s node count) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=-N3"],
    code: 2,
    line: 'error: --sbatch-arg: "-N3" repeats #SBATCH -N (--nodes), which dyn writes from --nodes (slurm.nodes; by default the plan\'s node count) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--chdir=/x"],
    code: 2,
    line: 'error: --sbatch-arg: "--chdir=/x" repeats #SBATCH --chdir, which dyn writes from the run directory (under --runs-dir) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--output=x.out"],
    code: 2,
    line: 'error: --sbatch-arg: "--output=x.out" repeats #SBATCH --output, which dyn writes from --output (slurm.output) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--ntasks-per-node=2"],
    code: 2,
    line: 'error: --sbatch-arg: "--ntasks-per-node=2" repeats #SBATCH --ntasks-per-node, which dyn writes from the plan (one task per node, one per GPU for MPI steps) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--gpus-per-node=4"],
    code: 2,
    line: 'error: --sbatch-arg: "--gpus-per-node=4" repeats #SBATCH --gpus-per-node, which dyn writes from --gpus-per-node and --gpu-type (slurm.gpusPerNode); with --gpu-request none dyn requests no GPUs (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--job-name=x"],
    code: 2,
    line: 'error: --sbatch-arg: "--job-name=x" repeats #SBATCH --job-name, which dyn writes from --job-name (slurm.jobName) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg=--time=10"],
    code: 2,
    line: 'error: --sbatch-arg: "--time=10" repeats #SBATCH --time, which dyn writes from --time (slurm.time) (DYN_SPEC_INVALID)',
  },
  {
    argv: [...B, "--sbatch-arg", "--partition gpu"],
    code: 2,
    line: 'error: --sbatch-arg: "--partition gpu" repeats #SBATCH --partition, which dyn writes from --partition (slurm.partition) (DYN_SPEC_INVALID)',
  },
  {
    argv: ["deploy"],
    config: 'backend: sglang\nslurm:\n  extraSbatch: ["-N 4"]\n',
    code: 2,
    line: 'error: dyn.yaml:3:17 slurm.extraSbatch.0: "-N 4" repeats #SBATCH -N (--nodes), which dyn writes from --nodes (slurm.nodes; by default the plan\'s node count) (DYN_CONFIG_INVALID)',
  },
  {
    // config forms (#14 item 4): one problem, its position, key and did-you-mean
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  partiton: gpu\n",
    code: 2,
    line: "error: dyn.yaml:3:3 slurm.partiton: unknown key (did you mean partition?) (DYN_CONFIG_INVALID)",
    hint: KEYS_HINT,
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  gpus_per_node: 8\n",
    code: 2,
    line: "error: dyn.yaml:3:3 slurm.gpus_per_node: unknown key (did you mean gpusPerNode?) (DYN_CONFIG_INVALID)",
    hint: KEYS_HINT,
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\npartition: gpu\n",
    code: 2,
    line: "error: dyn.yaml:2:1 partition: unknown key (did you mean slurm.partition?) (DYN_CONFIG_INVALID)",
    hint: KEYS_HINT,
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nmodel:\n  pth: x\n",
    code: 2,
    line: "error: dyn.yaml:3:3 model.pth: unknown key (did you mean path?) (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nmodel: 5\n",
    code: 2,
    line: "error: dyn.yaml:2:8 model: must be a model id or path, or { path, servedName } (DYN_CONFIG_INVALID)",
    hint: SPEC_HINT,
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nsecrets: hf-token\n",
    code: 2,
    line: "error: dyn.yaml:2:10 secrets.0: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*) (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nenv:\n  A: null\n",
    code: 2,
    line: "error: dyn.yaml:3:6 env.A: must be text, a number or a boolean (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  time: 2.5\n",
    code: 2,
    line: "error: dyn.yaml:3:9 slurm.time: must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS, or a number of minutes (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: 'backend: sglang\nslurm:\n  nodes: "0"\n',
    code: 2,
    line: "error: dyn.yaml:3:10 slurm.nodes: Too small: expected number to be >=1 (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nroles:\n  decode:\n    workers: 1\n    args: [--max-model-len 8192]\n",
    code: 2,
    line: 'error: dyn.yaml:5:12 roles.decode.args.0: "--max-model-len 8192" is one word with a blank in it: list the words as separate items ([--max-model-len, 8192]) or give args as one string (DYN_CONFIG_INVALID)',
  },
  {
    argv: ["deploy"],
    config: 'backend: sglang\nroles:\n  aggregated:\n    args: "--x 1"\n',
    code: 2,
    line: "error: dyn.yaml:3:3 roles.aggregated.workers: is required (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: 'backend: sglang\nroles:\n  aggregated:\n    workers: 1\n    args: "--x \'a"\n',
    code: 2,
    line: "error: dyn.yaml:5:11 roles.aggregated.args: column 5: unbalanced ': this quote is never closed (DYN_CONFIG_INVALID)",
  },
  {
    argv: ["deploy"],
    config: "backend: sglang\nslurm:\n  output: logs/%j/x.out\n",
    code: 2,
    line: "error: dyn.yaml:3:11 slurm.output: must not have a %-pattern in its directory part (sbatch does not create directories; dyn creates the one it can name) (DYN_CONFIG_INVALID)",
  },
];

describe("bad input: exit code, one-line message, nothing written or submitted", () => {
  it("has at least 130 rows", () => expect(rows.length).toBeGreaterThanOrEqual(130));

  it.each(
    rows.map(
      (r, i) =>
        [i, r.argv.join(" ") + (r.config ? ` [dyn.yaml: ${JSON.stringify(r.config)}]` : ""), r] as const,
    ),
  )("#%i %s", async (_i, _name, row) => {
    const cwd = row.cwd ?? tmp();
    if (row.config) writeConfig(cwd, row.config);
    const slurm = new FakeSlurm();
    if (row.sinfo !== undefined)
      slurm.probes.set("sinfo -h -a -o %P|%D", { found: true, code: 0, stdout: row.sinfo, stderr: "" });
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
    if (row.hint !== undefined) expect(lines[1]).toBe(row.hint.replaceAll("CWD", cwd));
    expect(r.stdout).toEqual(row.argv.includes("--json") ? expect.stringContaining('"ok": false') : "");
    expect(ls(join(cwd, "dyn-runs"))).toEqual([]);
    expect(slurm.count("sbatch")).toBe(0);
  });

  it("--json errors are one JSON document on stdout", async () => {
    const r = await run(["plan", "--json", "--backend", "sglang", "--nodes", "x"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      schemaVersion: 1,
      format: "dyn.error/v1",
      ok: false,
      error: {
        code: "DYN_USAGE",
        message: '--nodes: expected a whole number or auto, got "x"',
        hint: null,
        problems: null,
      },
    });
  });

  it("no stack trace unless --debug", async () => {
    const plain = await run([...B, "--nodes", "0", "--dry-run"]);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await run([...B, "--nodes", "0", "--dry-run", "--debug"]);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
