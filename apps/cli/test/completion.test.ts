// Completion of values: backends, roles, --gpu-request values, releases, config files, the registry's
// job ids, `backends show <TAB>`. The bash script runs in a real bash; its TAB-time questions go to
// `dyn __values`, tested in-process, here answered by a stand-in `dyn` on PATH.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, FIXTURE_PROJECT, run, tmp } from "./helpers.js";
import { stubBin } from "./stubs.js";

const STAND_IN_DYN = `case "$1 $2" in
  "__values jobs") printf '%s\\n' 102 101 ;;
  "__values backends") printf '%s\\n' vllm sglang trtllm fake @acme/scoped ;;
esac`;

let script = "";
async function bashScript(): Promise<string> {
  if (script === "") script = (await run(["completion", "bash"])).stdout;
  return script;
}

/** What bash offers for the words typed so far (the last one is being completed). */
async function complete(typed: string[], cwd = tmp()): Promise<string[]> {
  const path = `${stubBin({ dyn: STAND_IN_DYN })}:/usr/bin:/bin`;
  const words = typed.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
  const r = spawnSync(
    "bash",
    [
      "--norc",
      "--noprofile",
      "-c",
      `eval "$DYN_COMPLETION"\nCOMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}\n_dyn\nprintf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { cwd, encoding: "utf8", env: { PATH: path, DYN_COMPLETION: await bashScript() } },
  );
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("bash completion of values", () => {
  it("commands, and options of a command", async () => {
    expect(await complete(["dyn", "dep"])).toEqual(["deploy"]);
    expect(await complete(["dyn", "deploy", "--num-"])).toEqual([
      "--num-decode-workers",
      "--num-prefill-workers",
    ]);
    expect(await complete(["dyn", "__v"])).toEqual([]);
  });

  it("an option's choices: --gpu-request, --frontend-placement, --container-infra", async () => {
    expect(await complete(["dyn", "deploy", "--gpu-request", ""])).toEqual(["gpus-per-node", "gres", "none"]);
    expect(await complete(["dyn", "plan", "--gpu-request", "g"])).toEqual(["gpus-per-node", "gres"]);
    expect(await complete(["dyn", "render", "--frontend-placement", ""])).toEqual(["dedicated", "shared"]);
    expect(await complete(["dyn", "deploy", "--container-infra", "h"])).toEqual(["host"]);
  });

  it("backends for --backend and backends show <TAB>; subcommands of backends", async () => {
    const all = ["@acme/scoped", "fake", "sglang", "trtllm", "vllm"];
    expect(await complete(["dyn", "deploy", "--backend", ""])).toEqual(all);
    expect(await complete(["dyn", "init", "--backend", "s"])).toEqual(["sglang"]);
    expect(await complete(["dyn", "backends", "show", ""])).toEqual(all);
    expect(await complete(["dyn", "backends", ""])).toEqual(expect.arrayContaining(["new", "show"]));
  });

  it("roles for logs --role; releases for --dynamo-version; bash|zsh", async () => {
    expect(await complete(["dyn", "logs", "101", "--role", ""])).toEqual([
      "aggregated",
      "decode",
      "etcd",
      "frontend",
      "nats",
      "prefill",
    ]);
    expect(await complete(["dyn", "deploy", "--dynamo-version", "1.4"])).toEqual(["1.4.0", "1.4.1", "1.4.2"]);
    expect(await complete(["dyn", "backends", "show", "vllm", "--dynamo-version", "l"])).toEqual(["latest"]);
    expect(await complete(["dyn", "completion", ""])).toEqual(["bash", "zsh"]);
  });

  it("config files for --config: .yaml, .yml, .json and directories", async () => {
    const cwd = tmp();
    for (const f of ["a.yaml", "b.yml", "c.json", "notes.txt"]) writeFileSync(join(cwd, f), "");
    mkdirSync(join(cwd, "configs"));
    expect(await complete(["dyn", "deploy", "--config", ""], cwd)).toEqual([
      "a.yaml",
      "b.yml",
      "c.json",
      "configs",
    ]);
  });

  it("job ids of the registry (and run directories) for status, logs and stop", async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, "dyn-runs"));
    for (const cmd of ["status", "logs", "stop"])
      expect(await complete(["dyn", cmd, ""], cwd)).toEqual(["101", "102", "dyn-runs"]);
    expect(await complete(["dyn", "status", "10"], cwd)).toEqual(["101", "102"]);
  });
});

describe("dyn __values (what the scripts ask at TAB time)", () => {
  it("jobs: the registry's job ids, newest first", async () => {
    const env = { XDG_STATE_HOME: tmp("dyn-state-") };
    const slurm = new FakeSlurm();
    for (const id of ["300", "301"]) {
      slurm.nextJobId = id;
      expect((await run(["deploy", "--backend", "sglang"], { cwd: tmp(), env, slurm })).code).toBe(0);
    }
    const r = await run(["__values", "jobs"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["300", "301"]);
    expect((await run(["__values", "jobs"], { env: {} })).stdout).toBe("");
  });

  it("backends: built-ins and the project's installed backends, as --backend takes them", async () => {
    const r = await run(["__values", "backends"], { cwd: FIXTURE_PROJECT });
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(
      expect.arrayContaining(["vllm", "sglang", "trtllm", "fake", "@acme/scoped"]),
    );
  });

  it("is hidden from --help and the completion of commands", async () => {
    expect((await run(["--help"])).stdout).not.toContain("__values");
    expect(await bashScript()).not.toMatch(/_dyn_words [^\n]*__values --help/);
  });
});

describe("zsh completion script", () => {
  it("carries the same values", async () => {
    const z = (await run(["completion", "zsh"])).stdout;
    expect(z).toContain('"deploy --gpu-request") compadd -- gpus-per-node gres none; return ;;');
    expect(z).toContain('"logs --role") compadd -- frontend prefill decode aggregated etcd nats; return ;;');
    expect(z).toContain(`"deploy --config") _files -g '*.(yaml|yml|json)'; return ;;`);
    expect(z).toContain(
      '"backends show") compadd -- ${(f)"$("${words[1]}" __values backends 2>/dev/null)"}; return ;;',
    );
    expect(z).toContain('__values jobs 2>/dev/null)"}; _files -/; return ;;');
  });
});
