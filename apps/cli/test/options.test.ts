import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { candidateNames } from "../src/backends.js";
import { parseConfig } from "../src/config-file.js";
import {
  envLayer,
  flagsLayer,
  labelFor,
  mergeLayers,
  parseOptionValue,
  resolveInput,
} from "../src/spec-from-options.js";
import { run, tmp, writeConfig } from "./helpers.js";

const planJson = async (argv: string[], opts: Parameters<typeof run>[1] = {}) => {
  const r = await run(["plan", "--json", ...argv], opts);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};

describe("precedence: flags > DYN_* env > config file > backend defaults", () => {
  it("backend defaults apply when nothing is given", async () => {
    const p = await planJson(["--backend", "sglang"]);
    expect(p.spec.model.path).toBe("Qwen/Qwen3-0.6B");
    expect(p.spec.slurm.gpusPerNode).toBe(8);
    // No release given and no image: the newest release, and the plan says so.
    expect(p.spec.dynamo).toEqual({ allowUnknownVersion: false });
    expect(p.release).toEqual({
      version: "1.5.1",
      requested: null,
      source: "default",
      origin: "default",
      notes: [],
      unknown: false,
    });
    expect(p.spec.backend.options).toEqual({
      transferBackend: "nixl",
      trustRemoteCode: false,
      exampleDir: "/workspace/examples/sglang",
    });
  });

  it("the release: --dynamo-version > DYN_DYNAMO_VERSION > dynamo.version in dyn.yaml > the image tag > newest", async () => {
    const cwd = tmp();
    writeConfig(cwd, 'backend: vllm\ndynamo:\n  version: "1.2"\n');
    const release = async (argv: string[], env: Record<string, string> = {}) =>
      (await planJson(argv, { cwd, env })).release;
    expect(await release([])).toMatchObject({
      version: "1.2.1",
      requested: "1.2",
      origin: "dyn.yaml:3:12 dynamo.version",
    });
    expect(await release([], { DYN_DYNAMO_VERSION: "1.3" })).toMatchObject({
      version: "1.3.1",
      origin: "DYN_DYNAMO_VERSION",
    });
    expect(await release(["--dynamo-version", "1.4.0"], { DYN_DYNAMO_VERSION: "1.3" })).toMatchObject({
      version: "1.4.0",
      source: "explicit",
      origin: "--dynamo-version",
    });
    // Without an explicit value, the image tag decides.
    const img = await planJson([
      "--backend",
      "vllm",
      "--container",
      "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.0.2",
    ]);
    expect(img.release).toMatchObject({ version: "1.0.2", source: "image", origin: "image tag 1.0.2" });
    // --allow-unknown-dynamo-version renders an unknown release as the newest and says so.
    const unknown = await planJson([
      "--backend",
      "vllm",
      "--dynamo-version",
      "1.6.0",
      "--allow-unknown-dynamo-version",
    ]);
    expect(unknown.release).toMatchObject({ version: "1.5.1", requested: "1.6.0", unknown: true });
    expect(unknown.spec.dynamo).toEqual({ version: "1.6.0", allowUnknownVersion: true });
  });

  it("config file beats defaults, env beats config, flags beat env", async () => {
    const cwd = tmp();
    writeConfig(
      cwd,
      "backend: sglang\nmodel:\n  path: from/config\nslurm:\n  partition: cfg\n  gpusPerNode: 4\n  account: cfgacct\n",
    );
    const cfg = await planJson([], { cwd });
    expect(cfg.spec.model.path).toBe("from/config");
    expect(cfg.spec.slurm.partition).toBe("cfg");
    expect(cfg.spec.slurm.gpusPerNode).toBe(4);

    const env = { DYN_MODEL: "from/env", DYN_PARTITION: "envpart" };
    const withEnv = await planJson([], { cwd, env });
    expect(withEnv.spec.model.path).toBe("from/env");
    expect(withEnv.spec.slurm.partition).toBe("envpart");
    expect(withEnv.spec.slurm.account).toBe("cfgacct");

    const withFlags = await planJson(["--model", "from/flag"], { cwd, env });
    expect(withFlags.spec.model.path).toBe("from/flag");
    expect(withFlags.spec.slurm.partition).toBe("envpart");
  });

  it("DYN_BACKEND selects the backend; --backend overrides it", async () => {
    expect((await planJson([], { env: { DYN_BACKEND: "sglang" } })).backend).toBe("sglang");
    const cwd = tmp();
    writeConfig(cwd, "backend: nope\n");
    expect((await planJson(["--backend", "sglang"], { cwd })).backend).toBe("sglang");
  });

  it("maps merge key by key and lists append (config then flags)", async () => {
    const cwd = tmp();
    writeConfig(
      cwd,
      "backend: sglang\nenv:\n  A: cfg\n  B: cfg\nslurm:\n  extraSbatch: ['--reservation=r1']\nsecrets: [HF_TOKEN]\n",
    );
    const p = await planJson(["--env", "B=flag", "--sbatch-arg=--comment=x", "--secret", "OTHER"], { cwd });
    expect(p.spec.env).toEqual({ A: "cfg", B: "flag" });
    expect(p.spec.slurm.extraSbatch).toEqual(["--reservation=r1", "--comment=x"]);
    expect(p.spec.secrets).toEqual(["HF_TOKEN", "OTHER"]);
  });

  it("--container replaces a bare-metal container section from the config", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\ncontainer:\n  kind: none\n  setup: source /venv/bin/activate\n");
    const p = await planJson(["--container", "/img/dynamo.sqsh", "--container-mount", "/data:/data:ro"], {
      cwd,
    });
    expect(p.spec.container).toMatchObject({
      kind: "pyxis",
      image: "/img/dynamo.sqsh",
      mounts: ["/data:/data:ro"],
    });
  });

  it("--config points at a file elsewhere; dyn.yml and dyn.json are found upward", async () => {
    const root = tmp();
    const sub = join(root, "a", "b");
    await import("node:fs").then((fs) => fs.mkdirSync(sub, { recursive: true }));
    writeConfig(root, '{ "backend": "sglang", "slurm": { "partition": "json" } }', "dyn.json");
    expect((await planJson([], { cwd: sub })).spec.slurm.partition).toBe("json");
    const other = writeConfig(tmp(), "backend: sglang\nslurm: { partition: explicit }\n", "custom.yml");
    expect((await planJson(["--config", other], { cwd: sub })).spec.slurm.partition).toBe("explicit");
  });

  it("-o values are JSON when they parse; --legacy is --dynamo-version 0.3.2", async () => {
    expect(parseOptionValue("3")).toBe(3);
    expect(parseOptionValue("true")).toBe(true);
    expect(parseOptionValue("0.3.2")).toBe("0.3.2");
    expect(parseOptionValue('["a"]')).toEqual(["a"]);
    const p = await planJson(["--backend", "sglang", "-o", "trustRemoteCode=true"]);
    expect(p.spec.backend.options).toMatchObject({ trustRemoteCode: true });
    const legacy = await planJson(["--backend", "sglang", "--legacy"]);
    expect(legacy.spec.dynamo.version).toBe("0.3.2");
    expect(legacy.release).toMatchObject({ version: "0.3.2", source: "explicit", origin: "--legacy" });
    // SGLang at 0.3.2: the examples/sglang scripts behind `dynamo run`, not a dynamo serve graph.
    expect(legacy.groups[0].dynamo).toBe("python3 components/worker.py --disaggregation-mode prefill");
    expect(legacy.spec.backend.options).not.toHaveProperty("dynamoVersion");
  });

  it("each flag maps to its spec key", () => {
    const { raw, origins } = flagsLayer({
      backend: "vllm",
      nodes: "4",
      numPrefillWorkers: "2",
      gpusPerPrefill: "4",
      container: "/x.sqsh",
      output: "%x_%j.log",
      etcd: "http://h:2379",
      nats: "off",
      containerPreload: false,
      exclusive: true,
      frontendPlacement: "dedicated",
      dynamoVersion: "1.4",
      allowUnknownDynamoVersion: true,
    });
    expect(raw).toEqual({
      backend: { name: "vllm" },
      dynamo: { version: "1.4", allowUnknownVersion: true },
      slurm: { nodes: 4, output: "%x_%j.log", exclusive: true },
      roles: { prefill: { workers: 2, gpusPerWorker: 4 }, frontend: { placement: "dedicated" } },
      container: { kind: "pyxis", image: "/x.sqsh", preload: false },
      infra: { etcd: { mode: "external", url: "http://h:2379" }, nats: { mode: "off" } },
    });
    expect(origins.get("roles.prefill.workers")).toBe("--num-prefill-workers");
    expect(origins.get("container.preload")).toBe("--no-container-preload");
    expect(origins.get("dynamo.version")).toBe("--dynamo-version");
    // --legacy is --dynamo-version 0.3.2, and only one of the two may be given.
    expect(flagsLayer({ legacy: true }).raw).toEqual({ dynamo: { version: "0.3.2" } });
    expect(() => flagsLayer({ legacy: true, dynamoVersion: "1.0.0" })).toThrow(
      expect.objectContaining({
        code: "DYN_USAGE",
        message: "--legacy: means --dynamo-version 0.3.2; give only one of them",
      }),
    );
  });

  it("DYN_* env covers the single-valued flags it documents", () => {
    const { raw, origins } = envLayer({
      DYN_NODES: "auto",
      DYN_GPUS_PER_NODE: "4",
      DYN_ACCOUNT: "a",
      DYN_DYNAMO_VERSION: "1.3.1",
      OTHER: "x",
    });
    expect(raw).toEqual({
      slurm: { nodes: "auto", gpusPerNode: 4, account: "a" },
      dynamo: { version: "1.3.1" },
    });
    expect(origins.get("dynamo.version")).toBe("DYN_DYNAMO_VERSION");
    expect(origins.get("slurm.gpusPerNode")).toBe("DYN_GPUS_PER_NODE");
  });

  it("mergeLayers: scalars replace, maps merge, lists append without duplicates", () => {
    expect(mergeLayers({ a: 1, m: { x: 1 }, l: [1, 2] }, { a: 2, m: { y: 2 }, l: [2, 3] })).toEqual({
      a: 2,
      m: { x: 1, y: 2 },
      l: [1, 2, 3],
    });
  });

  it("labels name the flag, the env var or the config position", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: sglang\nslurm:\n  nodes: 0\n  partition: p\n");
    const input = await resolveInput({ gpusPerNode: "4" }, { cwd, env: { DYN_ACCOUNT: "x" } });
    expect(labelFor(input, "slurm.gpusPerNode")).toBe("--gpus-per-node");
    expect(labelFor(input, "slurm.account")).toBe("DYN_ACCOUNT");
    expect(labelFor(input, "slurm.nodes")).toBe("dyn.yaml:3:10 slurm.nodes");
    expect(labelFor(input, "roles.prefill")).toBe("roles.prefill");
  });

  it("config positions: values, unknown keys (at the key), JSON files", async () => {
    const c = await parseConfig("backend: vllm\nslurm:\n  nodez: 2\n", "/p/dyn.yaml", "/p");
    expect(c.locate(["slurm", "nodez"], true)).toBe("dyn.yaml:3:3");
    expect(c.locate(["slurm", "nodez"])).toBe("dyn.yaml:3:10");
    const j = await parseConfig('{\n  "slurm": {\n    "nodes": "x"\n  }\n}', "/p/dyn.json", "/p");
    expect(j.locate(["slurm", "nodes"])).toBe("dyn.json:3:14");
  });

  it("backend name candidates follow the dyn-backend convention", () => {
    expect(candidateNames("foo")).toEqual(["dyn-backend-foo", "foo"]);
    expect(candidateNames("@acme/foo")).toEqual(["@acme/dyn-backend-foo", "@acme/foo"]);
    expect(candidateNames("@acme")).toEqual(["@acme/dyn-backend"]);
    expect(candidateNames("dyn-backend-x")).toEqual(["dyn-backend-x"]);
    expect(candidateNames("@acme/dyn-backend-x")).toEqual(["@acme/dyn-backend-x"]);
  });
});

describe("the original guide's interface (--num-prefill-workers alone)", () => {
  const groups = (p: { groups: Array<{ role: string; workers: number; gpusPerWorker: number }> }) =>
    Object.fromEntries(p.groups.map((g) => [g.role, [g.workers, g.gpusPerWorker]]));

  it("whole-node workers: decode = nodes − prefill (the guide's rule)", async () => {
    const p = await planJson(["--backend", "sglang", "--nodes", "4", "--num-prefill-workers", "1"]);
    expect(groups(p)).toEqual({ prefill: [1, 8], decode: [3, 8] });
    expect(p.nodes).toBe(4);
  });

  it("seed command: 2 prefill × 4 GPUs share one node, decode takes the 3 remaining nodes", async () => {
    const p = await planJson([
      "--backend",
      "sglang",
      "--nodes",
      "4",
      "--num-prefill-workers",
      "2",
      "--gpus-per-prefill",
      "4",
      "--container",
      "/path/to/dynamo.sqsh",
      "--output",
      "/shared/out/%x_%j.log",
    ]);
    expect(groups(p)).toEqual({ prefill: [2, 4], decode: [3, 8] });
    expect(p.nodes).toBe(4);
    expect(p.spec.slurm.output).toBe("/shared/out/%x_%j.log");
    expect(p.spec.container).toMatchObject({ kind: "pyxis", image: "/path/to/dynamo.sqsh" });
  });

  it("--num-decode-workers alone: prefill takes the rest; --gpus-per-decode is honoured", async () => {
    const p = await planJson([
      "--backend",
      "sglang",
      "--nodes",
      "3",
      "--decode-workers",
      "2",
      "--gpus-per-decode",
      "8",
      "--gpus-per-prefill",
      "4",
    ]);
    expect(groups(p)).toEqual({ prefill: [2, 4], decode: [2, 8] });
  });

  it("without --nodes the other group gets one worker", async () => {
    const p = await planJson(["--backend", "sglang", "--num-prefill-workers", "3"]);
    expect(groups(p)).toEqual({ prefill: [3, 8], decode: [1, 8] });
  });

  it("only per-worker GPUs: half the worker nodes prefill, filled to capacity", async () => {
    const p = await planJson(["--backend", "sglang", "--nodes", "4", "--gpus-per-prefill", "2"]);
    expect(groups(p)).toEqual({ prefill: [8, 2], decode: [2, 8] });
  });

  it("a dedicated frontend node is not worker capacity", async () => {
    const p = await planJson([
      "--backend",
      "sglang",
      "--nodes",
      "4",
      "--num-prefill-workers",
      "1",
      "--frontend-placement",
      "dedicated",
    ]);
    expect(groups(p)).toEqual({ prefill: [1, 8], decode: [2, 8] });
  });

  it("legacy mode is one flag away", async () => {
    const p = await planJson([
      "--backend",
      "sglang",
      "--nodes",
      "4",
      "--num-prefill-workers",
      "2",
      "--legacy",
    ]);
    expect(groups(p)).toEqual({ prefill: [2, 8], decode: [2, 8] });
    expect(p.release.version).toBe("0.3.2");
    expect(p.processes.find((x: { id: string }) => x.id === "frontend-0").command.join(" ")).toMatch(
      /^dynamo run in=http out=dyn --http-port /,
    );
  });

  it("vllm: the seed command as the guide wrote it", async (ctx) => {
    const r = await run([
      "plan",
      "--json",
      "--backend",
      "vllm",
      "--nodes",
      "4",
      "--num-prefill-workers",
      "2",
      "--gpus-per-prefill",
      "4",
      "--container",
      "/path/to/dynamo.sqsh",
      "--output",
      "%x_%j.log",
    ]);
    if (r.code !== 0 && /DYN_BACKEND_(NOT_FOUND|INVALID)/.test(r.stderr)) ctx.skip(); // vllm backend not built yet
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.nodes).toBe(4);
    expect(p.groups.find((g: { role: string }) => g.role === "prefill")).toMatchObject({
      workers: 2,
      gpusPerWorker: 4,
    });
  });
});
