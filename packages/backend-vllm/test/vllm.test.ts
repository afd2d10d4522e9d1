/**
 * vLLM commands per Dynamo release (facts: shared/reference/dynamo-releases.md and the argparse
 * tables captured at each release). One snapshot per generation × role × shape, a lint run per
 * generation, and each refusal.
 */
import { DYNAMO_RELEASES, type Release, resolveRelease } from "@dyn/core";
import { planForTest, processesForTest, renderForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import { lintScript } from "@dyn/core/testing/lint";
import { describe, expect, it } from "vitest";
import vllm, { releases, type VllmRelease } from "../src/index.js";

const processes = (spec: TestSpec) => processesForTest(vllm, spec);

const disagg = (version: string): TestSpec => ({
  dynamo: { version },
  slurm: { gpusPerNode: 4 },
  roles: { prefill: { workers: 1 }, decode: { workers: 1 } },
});
const agg = (version: string): TestSpec => ({
  dynamo: { version },
  slurm: { gpusPerNode: 4 },
  roles: { aggregated: { workers: 1, gpusPerWorker: 2 } },
});
/** The release argument a backend's contract functions receive. */
const release = (version: string): Release<VllmRelease> => ({
  ...resolveRelease(vllm, releases, { version }),
  facts: releases.facts(version),
});

describe("the release table", () => {
  it("covers every Dynamo release from 0.3.2 to 1.5.1", () => {
    // every release the core knows (core/test/releases.test.ts checks that list against the captured tables)
    expect(releases.known).toEqual(DYNAMO_RELEASES);
    expect(releases.newest).toBe("1.5.1");
  });

  it("folds to the facts of each generation", () => {
    const at = (v: string) => {
      const f = releases.facts(v);
      return `${f.launch} prefill=[${f.roleFlags.prefill.join(" ")}] decode=[${f.roleFlags.decode.join(" ")}] kv=${f.kvTransferConfig} nixlEnv=${f.nixlSideChannel} multiNode=${typeof f.multiNode === "string" ? f.multiNode : "no"} system=${f.systemServer}`;
    };
    expect(["0.3.2", "0.4.1", "0.6.1", "0.9.0", "1.0.0", "1.4.2", "1.5.1"].map(at)).toEqual([
      "serve-graph prefill=[] decode=[] kv=false nixlEnv=false multiNode=no system=none",
      "module prefill=[--is-prefill-worker] decode=[] kv=false nixlEnv=false multiNode=no system=enabled-flag",
      "module prefill=[--is-prefill-worker] decode=[] kv=false nixlEnv=false multiNode=no system=enabled-flag",
      "module prefill=[--is-prefill-worker] decode=[--is-decode-worker] kv=false nixlEnv=true multiNode=no system=port",
      "module prefill=[--disaggregation-mode prefill] decode=[--disaggregation-mode decode] kv=true nixlEnv=true multiNode=per-node system=port",
      "module prefill=[--disaggregation-mode prefill] decode=[--disaggregation-mode decode] kv=true nixlEnv=true multiNode=per-node system=port",
      "module prefill=[--disaggregation-mode prefill] decode=[--disaggregation-mode decode] kv=true nixlEnv=true multiNode=per-node system=port",
    ]);
  });
});

describe("0.3.2: the dynamo serve graph", () => {
  it("runs the vllm_v1 graph: the frontend hosts a decode worker; no system port, no NIXL env", () => {
    // The SDK era has no per-process system server, and 0.3.2's worker overwrites
    // VLLM_NIXL_SIDE_CHANNEL_HOST/PORT at start-up: a launcher's values would have no effect.
    expect(
      processes({ dynamo: { version: "0.3.2" }, slurm: { nodes: 3, gpusPerNode: 4 } }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": "VllmDecodeWorker",
        },
        {
          "command": "dynamo serve components.worker:VllmPrefillWorker -f configs/disagg.yaml",
          "env": {},
          "id": "prefill-w0",
          "registers": "VllmPrefillWorker",
        },
        {
          "command": "dynamo serve components.worker:VllmDecodeWorker -f configs/disagg.yaml",
          "env": {},
          "id": "decode-w1",
          "registers": "VllmDecodeWorker",
        },
      ]
    `);
  });

  it("graph processes run in graphDir", () => {
    const p = planForTest(vllm, { ...disagg("0.3.2"), options: { graphDir: "/opt/vllm_v1" } });
    expect(new Set(p.steps.filter((s) => s.role !== "etcd" && s.role !== "nats").map((s) => s.cwd))).toEqual(
      new Set(["/opt/vllm_v1"]),
    );
  });

  it("a second frontend serves the Frontend alone (the first one hosts the decode worker)", () => {
    const spec: TestSpec = {
      ...disagg("0.3.2"),
      roles: { ...disagg("0.3.2").roles, frontend: { count: 2 } },
    };
    expect(processes(spec).map((p) => `${p.id}: ${p.command}`)).toMatchInlineSnapshot(`
      [
        "frontend-0: dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+4}",
        "frontend-1: dynamo serve graphs.agg:Frontend -f configs/disagg.yaml --Frontend.port={port+5} --service-name Frontend",
        "prefill-w0: dynamo serve components.worker:VllmPrefillWorker -f configs/disagg.yaml",
      ]
    `);
  });
});

describe("0.4.1 – 0.9.0: python3 -m dynamo.vllm with role flags", () => {
  it("0.4.1: prefill has --is-prefill-worker, decode is the default role; DYN_SYSTEM_ENABLED, no NIXL env", () => {
    // 0.4.1/0.6.1 read DYN_SYSTEM_PORT only with DYN_SYSTEM_ENABLED=true; their worker still
    // overwrites the NIXL side channel, so dyn does not set it.
    expect(processes(disagg("0.4.1"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-prefill-worker",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4",
          "env": {
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+0}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("0.6.1: aggregated is the plain module", () => {
    expect(processes(agg("0.6.1"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 2",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_ENABLED": "true",
            "DYN_SYSTEM_PORT": "{port+5}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("0.9.0: decode says --is-decode-worker; the launcher's NIXL side channel is respected", () => {
    expect(processes(disagg("0.9.0"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-prefill-worker",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --is-decode-worker",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });
});

describe("≥ 1.0.0: --disaggregation-mode", () => {
  it("1.0.0 disaggregated: both roles pass the NIXL --kv-transfer-config", () => {
    expect(processes(disagg("1.0.0")).map((p) => p.command)).toMatchInlineSnapshot(`
      [
        "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
        "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode prefill --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
        "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
      ]
    `);
  });

  it("disaggregated, single-node workers (the default release, 1.5.1)", () => {
    const spec = { ...disagg("1.5.1"), dynamo: {} };
    expect(planForTest(vllm, spec).release).toMatchObject({ version: "1.5.1", source: "default" });
    expect(processes(spec)).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode prefill --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("aggregated: --disaggregation-mode agg, no KV transfer config", () => {
    expect(processes(agg("1.0.0"))).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 2 --disaggregation-mode agg",
          "env": {
            "CUDA_VISIBLE_DEVICES": "0,1",
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "aggregated-w0",
          "registers": "backend",
        },
      ]
    `);
  });

  it("1.4.2 (booleans removed) renders the same --disaggregation-mode commands as 1.0.0", () => {
    const commands = (v: string) => processes(disagg(v)).map((p) => p.command);
    expect(commands("1.4.2")).toEqual(commands("1.0.0"));
    expect(commands("1.4.2").join("\n")).not.toMatch(/--is-(prefill|decode)-worker/);
  });

  it("multi-node decode: one process per node, ranks > 0 headless, one registration", () => {
    expect(
      processes({
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1 }, decode: { workers: 1, gpusPerWorker: 8 } },
      }),
    ).toMatchInlineSnapshot(`
      [
        {
          "command": "python3 -m dynamo.frontend --http-host 0.0.0.0 --http-port {port+4}",
          "env": {},
          "id": "frontend-0",
          "registers": null,
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 4 --disaggregation-mode prefill --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+5}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_0}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+6}",
          },
          "id": "prefill-w0",
          "registers": "prefill",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 8 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"} --nnodes 2 --node-rank 0 --master-addr \${DYN_NODE_IP_1} --master-port {port+2}",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_1}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0-r0",
          "registers": "backend",
        },
        {
          "command": "python3 -m dynamo.vllm --model Qwen/Qwen3-0.6B --served-model-name Qwen/Qwen3-0.6B --tensor-parallel-size 8 --disaggregation-mode decode --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"} --nnodes 2 --node-rank 1 --master-addr \${DYN_NODE_IP_1} --master-port {port+2} --headless",
          "env": {
            "DYN_SYSTEM_PORT": "{port+0}",
            "VLLM_NIXL_SIDE_CHANNEL_HOST": "\${DYN_NODE_IP_2}",
            "VLLM_NIXL_SIDE_CHANNEL_PORT": "{port+1}",
          },
          "id": "decode-w0-r1",
          "registers": null,
        },
      ]
    `);
  });
});

describe("choosing the release", () => {
  it("from the vllm-runtime image tag, a series, or latest", () => {
    const chosen = (spec: TestSpec) => {
      const r = planForTest(vllm, { ...agg("1.0.0"), dynamo: {}, ...spec }).release;
      return `${r.version} ${r.source} (${r.origin})`;
    };
    expect(
      chosen({ container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/vllm-runtime:0.9.0" } }),
    ).toBe("0.9.0 image (image tag 0.9.0)");
    expect(chosen({ dynamo: { version: "1.4" } })).toBe("1.4.2 explicit (dynamo.version)");
    expect(chosen({ dynamo: { version: "latest" } })).toBe("1.5.1 explicit (dynamo.version)");
    // The image's release decides the commands: 0.9.0 uses the boolean role flags.
    const fromImage = processes({
      ...disagg("0.9.0"),
      dynamo: {},
      container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/vllm-runtime:0.9.0" },
    });
    expect(fromImage[2]?.command).toContain("--is-decode-worker");
  });
});

describe("components", () => {
  it("names and aliases by generation", () => {
    const show = (v: string) => vllm.components(vllm.options.parse({}), release(v));
    expect({ legacy: show("0.3.2"), flags: show("0.6.1"), mode: show("1.1.0") }).toMatchInlineSnapshot(`
      {
        "flags": {
          "aggregated": {
            "alias": "VllmWorker",
            "dynamo": "dynamo.vllm",
            "health": "backend",
          },
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo.vllm",
            "health": "backend",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo.vllm --is-prefill-worker",
            "health": "prefill",
          },
        },
        "legacy": {
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo serve components.worker:VllmDecodeWorker (the first one inside graphs.agg:Frontend)",
            "health": "VllmDecodeWorker",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo serve components.worker:VllmPrefillWorker",
            "health": "VllmPrefillWorker",
          },
        },
        "mode": {
          "aggregated": {
            "alias": "VllmWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode agg",
            "health": "backend",
          },
          "decode": {
            "alias": "VllmDecodeWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode decode",
            "health": "backend",
          },
          "prefill": {
            "alias": "VllmPrefillWorker",
            "dynamo": "dynamo.vllm --disaggregation-mode prefill",
            "health": "prefill",
          },
        },
      }
    `);
    expect(show("0.9.0").decode?.dynamo).toBe("dynamo.vllm --is-decode-worker");
  });
});

describe("rendered scripts", () => {
  const shapes: Record<string, TestSpec> = {
    "0.3.2 graph": { dynamo: { version: "0.3.2" }, slurm: { nodes: 3, gpusPerNode: 4 } },
    "0.4.1 flags": disagg("0.4.1"),
    "0.9.0 flags": disagg("0.9.0"),
    "1.5.1 multi-node": {
      slurm: { gpusPerNode: 4 },
      roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 2, gpusPerWorker: 2 } },
    },
  };
  for (const [name, spec] of Object.entries(shapes)) {
    it(`${name}: bash -n and shellcheck clean`, () => {
      const script = renderForTest(vllm, spec);
      expect(lintScript(script)).toEqual({ bash: "", shellcheck: "" });
      expect(script).toContain(`# Dynamo ${planForTest(vllm, spec).release.version} on SLURM, backend vllm`);
    });
  }
});

describe("unsupported combinations", () => {
  it("multi-node before 1.0 needs Ray", () => {
    const e = thrownBy(() =>
      planForTest(vllm, { ...disagg("0.9.0"), roles: { aggregated: { workers: 1, gpusPerWorker: 8 } } }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated.gpusPerWorker" });
    expect(String(e)).toContain("Ray");
    expect(String(e)).toContain("Dynamo 0.9.0");
  });
  it("0.3.2 multi-node", () => {
    const e = thrownBy(() =>
      planForTest(vllm, {
        dynamo: { version: "0.3.2" },
        slurm: { gpusPerNode: 4 },
        roles: { prefill: { workers: 1, gpusPerWorker: 8 }, decode: { workers: 1 } },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.prefill.gpusPerWorker" });
    expect(String(e)).toContain("Dynamo 0.3.2");
  });
  it("0.3.2 has no aggregated graph deployment", () => {
    const e = thrownBy(() => planForTest(vllm, agg("0.3.2")));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "roles.aggregated" });
    expect(String(e)).toContain("no aggregated component in Dynamo 0.3.2");
  });
  it("a release that is not one: DYN_UNSUPPORTED on dynamo.version, listing the known ones", () => {
    const e = thrownBy(() => planForTest(vllm, agg("0.5.0")));
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "dynamo.version" });
    expect(String(e)).toContain("0.3.2, 0.4.1, 0.6.1, 0.9.0, 1.0.0");
    expect(String(e)).toContain("1.5.1");
  });
  it("another backend's image is refused", () => {
    const e = thrownBy(() =>
      planForTest(vllm, {
        ...agg("1.0.0"),
        dynamo: {},
        container: { kind: "pyxis", image: "nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.4.2" },
      }),
    );
    expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "container.image" });
  });
  it("options are strict: dynamoVersion is no longer an option (it is dynamo.version)", () => {
    expect(thrownBy(() => planForTest(vllm, { options: { dynamoVersion: "1.1.0" } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
      key: "backend.options.dynamoVersion",
    });
    expect(thrownBy(() => planForTest(vllm, { options: { tp: 2 } }))).toMatchObject({
      code: "DYN_OPTIONS_INVALID",
    });
  });
});
