/**
 * The conformance kit (@dyn/core/testing): a backend that keeps the contract passes every case, and
 * each way of breaking the contract is reported by the case that should catch it, in words that say
 * what to do. Also the pieces it is made of: the flag-table checker and the shell scan.
 */
import { describe, expect, it } from "vitest";
import {
  type Backend,
  type Command,
  type CommandContext,
  defineBackend,
  defineReleases,
  frontendCommand,
  variable,
  type WorkerRole,
  z,
} from "../src/index.js";
import {
  argvProblems,
  conformance,
  conformanceProblems,
  flagTables,
  PROBE,
  PROBE_MARKER,
  parserOf,
  planForTest,
  renderForTest,
  scanShell,
} from "../src/testing.js";

const ROLE_FLAGS: Record<WorkerRole, string[]> = {
  prefill: ["--disaggregation-mode", "prefill"],
  decode: ["--disaggregation-mode", "decode"],
  aggregated: ["--disaggregation-mode", "agg"],
};
type Ctx = CommandContext<{ speedupRatio: number }>;

/** A small backend that keeps the contract: Dynamo's mocker from 1.4.0 on. */
const goodDefinition = {
  name: "probe",
  description: "conformance fixture",
  options: z.strictObject({
    speedupRatio: z.number().min(0).default(1).describe("--speedup-ratio"),
  }),
  releases: defineReleases<{ bootstrap: boolean }>({
    rows: [{ since: "1.4.0", bootstrap: true }],
    known: ["1.4.0", "1.5.1"],
  }),
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components: () =>
    Object.fromEntries(
      (["prefill", "decode", "aggregated"] as const).map((r) => [
        r,
        {
          alias: `Probe${r}`,
          dynamo: `dynamo.mocker ${ROLE_FLAGS[r].join(" ")}`,
          health: r === "prefill" ? "prefill" : "backend",
        },
      ]),
    ),
  multiNode: () => ({ unsupported: "one process per worker" }),
  ports: ({ role }: { role: string }) => (role === "frontend" ? [] : ["system"]),
  check(o: { speedupRatio: number }) {
    return o.speedupRatio > 100
      ? { key: "backend.options.speedupRatio", reason: "above 100 the mocker's timers overflow" }
      : undefined;
  },
  command(ctx: Ctx): Command {
    if (ctx.role === "frontend") return frontendCommand(ctx);
    return {
      argv: [
        "python3",
        "-m",
        "dynamo.mocker",
        "--model-path",
        ctx.model.path,
        "--model-name",
        ctx.model.servedName,
        ...ROLE_FLAGS[ctx.role],
        "--speedup-ratio",
        String(ctx.options.speedupRatio),
        ...ctx.args,
      ],
      env: { DYN_SYSTEM_PORT: ctx.port("system") },
    };
  },
};
// biome-ignore lint/suspicious/noExplicitAny: fixtures vary the definition freely
const backend = (overrides: Record<string, any> = {}): Backend =>
  defineBackend({ ...goodDefinition, ...overrides } as never) as unknown as Backend;
const good = backend();

/** The problems of every case, as one list. */
const problemsOf = (b: Backend) => conformanceProblems(b);
/** Workers' commands, with the good one's argv changed by `edit`. */
const withWorker = (edit: (ctx: Ctx, cmd: Command) => Command) =>
  backend({
    command(ctx: Ctx) {
      const cmd = goodDefinition.command(ctx);
      return ctx.role === "frontend" ? cmd : edit(ctx, cmd);
    },
  });

describe("the conformance kit", () => {
  it("a backend that keeps the contract passes every case", () => {
    const cases = conformance(good);
    expect(cases.map((c) => c.name)).toEqual([
      "contract",
      ...["1.4.0", "1.5.1"].flatMap((r) =>
        [
          "default split",
          "default split on one node",
          "disaggregated",
          "aggregated",
          "multi-node worker",
          "packed workers",
          "two frontends",
        ].map((s) => `${r} ${s}`),
      ),
    ]);
    for (const c of cases) expect(c.problems(), c.name).toEqual([]);
    expect(() => {
      for (const c of cases) c.run();
    }).not.toThrow();
  });

  it("run() throws every problem of its case, one per line", () => {
    const c = conformance(withWorker((_ctx, cmd) => ({ ...cmd, env: {} }))).find(
      (x) => x.name === "1.5.1 aggregated",
    );
    expect(() => c?.run()).toThrow(
      [
        "1.5.1 aggregated: the backend does not conform:",
        "  - aggregated-w0: declares port system but its argv and env never use it",
        "  - aggregated-w1: declares port system but its argv and env never use it",
        '  - aggregated-w0: DYN_SYSTEM_PORT must be one of its own ports (declare "system" in ports(), env DYN_SYSTEM_PORT: ctx.port("system"))',
        '  - aggregated-w1: DYN_SYSTEM_PORT must be one of its own ports (declare "system" in ports(), env DYN_SYSTEM_PORT: ctx.port("system"))',
      ].join("\n"),
    );
  });

  it("options: per case, releases and shapes can be narrowed", () => {
    const seen: string[] = [];
    const cases = conformance(good, {
      releases: ["1.5.1"],
      skip: ["two frontends", "multi-node worker"],
      options: ({ shape, release }) => {
        seen.push(`${release} ${shape}`);
        return { speedupRatio: 2 };
      },
    });
    expect(cases.map((c) => c.name)).toEqual([
      "contract",
      "1.5.1 default split",
      "1.5.1 default split on one node",
      "1.5.1 disaggregated",
      "1.5.1 aggregated",
      "1.5.1 packed workers",
    ]);
    for (const c of cases) c.run();
    expect(seen).toContain("1.5.1 packed workers");
  });

  describe("reports", () => {
    it("user text handed to a shell with -c", () => {
      const b = withWorker((ctx) => ({
        argv: ["bash", "-c", `python3 -m dynamo.mocker --model-name ${ctx.model.servedName}`],
        env: { DYN_SYSTEM_PORT: ctx.port("system") },
      }));
      expect(problemsOf(b)).toContainEqual(
        expect.stringMatching(/aggregated-w0: runs bash -c with user text in it/),
      );
    });

    it("the user's args not appended last", () => {
      const b = withWorker((ctx, cmd) => ({
        ...cmd,
        argv: cmd.argv.slice(0, cmd.argv.length - ctx.args.length),
      }));
      expect(problemsOf(b)).toContainEqual(
        expect.stringMatching(/prefill-w0: argv does not end with the user's args .*append ctx\.args last/),
      );
    });

    it("a port it never uses, and one it never declared", () => {
      const unused = backend({
        ports: ({ role }: { role: string }) => (role === "frontend" ? [] : ["system", "spare"]),
      });
      expect(problemsOf(unused)).toContainEqual(
        expect.stringMatching(/decode-w0: declares port spare but its argv and env never use it/),
      );
      const undeclared = withWorker((ctx, cmd) => ({
        ...cmd,
        argv: [...cmd.argv, "--port", ctx.port("nccl")],
      }));
      expect(problemsOf(undeclared)).toContainEqual(
        expect.stringMatching(
          /refused with DYN_INTERNAL, which is not an input error.*used port "nccl" it did not declare/,
        ),
      );
    });

    it("a worker without its own DYN_SYSTEM_PORT", () => {
      expect(problemsOf(withWorker((_c, cmd) => ({ argv: cmd.argv })))).toContainEqual(
        expect.stringMatching(/prefill-w0: DYN_SYSTEM_PORT must be one of its own ports/),
      );
    });

    it("env the core sets, changed by the backend; an invalid env name", () => {
      const b = withWorker((_c, cmd) => ({
        ...cmd,
        env: { ...cmd.env, ETCD_ENDPOINTS: "http://localhost:2379" },
      }));
      expect(problemsOf(b)).toContainEqual(expect.stringMatching(/ETCD_ENDPOINTS changed; the core sets it/));
      // Whole-node workers see every GPU: the core leaves CUDA_VISIBLE_DEVICES unset for them.
      const gpus = backend({
        defaults: { model: "m" },
        command: (ctx: Ctx) => {
          const cmd = goodDefinition.command(ctx);
          return ctx.role === "frontend" ? cmd : { ...cmd, env: { ...cmd.env, CUDA_VISIBLE_DEVICES: "0" } };
        },
      });
      expect(problemsOf(gpus)).toContainEqual(
        expect.stringMatching(
          /decode-w0: CUDA_VISIBLE_DEVICES is 0; the core sets it from the planned GPUs \(0,1,2,3,4,5,6,7\)/,
        ),
      );
      const name = withWorker((_c, cmd) => ({ ...cmd, env: { ...cmd.env, "BAD-NAME": "x" } }));
      expect(problemsOf(name)).toContainEqual(expect.stringMatching(/env name "BAD-NAME" is not/));
    });

    it("a refusal whose key is not a spec key, that spans lines, or that is not a DynError", () => {
      const key = backend({ check: () => ({ key: "speed", reason: "too fast" }) });
      expect(problemsOf(key)).toContainEqual(expect.stringMatching(/refusal key speed is not a spec key/));
      const lines = backend({ check: () => ({ key: "backend.options.speedupRatio", reason: "one\ntwo" }) });
      expect(problemsOf(lines)).toContainEqual(expect.stringMatching(/refusal spans lines/));
      const thrown = backend({
        check: () => {
          throw new TypeError("cannot read engine config");
        },
      });
      expect(problemsOf(thrown)).toContainEqual(
        expect.stringMatching(
          /threw TypeError instead of refusing: cannot read engine config \(refuse with check\(\)/,
        ),
      );
      // A clear refusal of what the backend claims is still reported: the claim is wrong.
      const claimed = backend({
        check: () => ({ key: "roles.aggregated.workers", reason: "Dynamo 1.5.1 has no aggregated mocker" }),
      });
      expect(problemsOf(claimed)).toContainEqual(
        expect.stringMatching(
          /^1\.5\.1 aggregated: refused a shape its own components\(\)\/multiNode\(\) claim/,
        ),
      );
    });

    it("a refusal of a shape the backend does not claim is accepted when it is clear", () => {
      // multiNode() says unsupported: the multi-node shape must be refused, and it is, naming the key.
      const c = conformance(good).find((x) => x.name === "1.5.1 multi-node worker");
      expect(c?.problems()).toEqual([]);
      expect(() =>
        planForTest(good, {
          slurm: { gpusPerNode: 4 },
          roles: { aggregated: { workers: 1, gpusPerWorker: 8 } },
        }),
      ).toThrow(expect.objectContaining({ key: "roles.aggregated.gpusPerWorker" }));
    });

    it("flags the release's parser does not have, and a module other than the one components() names", () => {
      const flag = withWorker((_ctx, cmd) => ({
        ...cmd,
        argv: [...cmd.argv.slice(0, 3), "--no-such-flag", ...cmd.argv.slice(3)],
      }));
      expect(problemsOf(flag)).toContainEqual(
        expect.stringMatching(/prefill-w0: Dynamo 1\.4\.0 mocker: unrecognized argument --no-such-flag/),
      );
      const other = withWorker((_c, cmd) => ({
        ...cmd,
        argv: ["python3", "-m", "dynamo.vllm", ...cmd.argv.slice(3)],
      }));
      expect(problemsOf(other)).toContainEqual(
        expect.stringMatching(/components\(\) says dynamo\.mocker, but argv runs python3 -m dynamo\.vllm/),
      );
      // ... unless the flag check is off (an image with a patched Dynamo).
      expect(conformanceProblems(flag, { flags: false })).toEqual([]);
    });

    it("a release whose Dynamo has no such module", () => {
      const old = backend({ releases: defineReleases({ rows: [{ since: "0.3.2" }], known: ["0.3.2"] }) });
      expect(problemsOf(old)).toContainEqual(
        expect.stringMatching(
          /0\.3\.2 aggregated: aggregated-w0: Dynamo 0\.3\.2 mocker: Dynamo 0\.3\.2 has no component mocker/,
        ),
      );
    });

    it("a runtime variable the script never defines", () => {
      const b = withWorker((_c, cmd) => ({
        ...cmd,
        argv: [...cmd.argv.slice(0, 5), variable("HOME"), ...cmd.argv.slice(6)],
      }));
      expect(problemsOf(b)).toContainEqual(
        expect.stringMatching(/variable HOME is not defined by the script/),
      );
    });

    it("the contract: options that are not strict, undescribed or without defaults; no roles; bad defaults", () => {
      const loose = backend({ options: z.object({ speedupRatio: z.number().default(1) }) });
      expect(conformance(loose)[0]?.problems()).toEqual([
        "options: an unknown option is accepted; make the schema z.strictObject so a misspelt key is an error",
        "options.speedupRatio: no .describe(): dyn backends show prints it",
      ]);
      const required = backend({ options: z.strictObject({ engine: z.string().describe("engine") }) });
      expect(conformance(required)[0]?.problems()[0]).toMatch(/^options: the defaults do not parse/);
      const none = backend({ components: () => ({}) });
      expect(conformance(none)[0]?.problems()).toContain(
        "Dynamo 1.4.0: components() lists no role; start the release table at the first release the backend runs",
      );
      const gpus = backend({ defaults: { gpusPerWorker: { prefill: 0, encode: 1 } } });
      expect(conformance(gpus)[0]?.problems()).toEqual([
        "defaults.gpusPerWorker.prefill: 0 is not a whole number of GPUs ≥ 1",
        "defaults.gpusPerWorker.encode: not a worker role",
      ]);
      expect(conformance({ name: "x" } as unknown as Backend)[0]?.problems()[0]).toMatch(
        /does not default-export a backend made with defineBackend/,
      );
    });
  });
});

describe("the flag-table checker", () => {
  it("ships every release dyn knows, with each component's parser", () => {
    const t = flagTables();
    expect(Object.keys(t.releases)).toHaveLength(18);
    expect(Object.keys(t.releases["1.5.1"]?.components ?? {})).toEqual(
      expect.arrayContaining(["frontend", "vllm", "sglang", "trtllm", "mocker"]),
    );
    expect(t.releases["0.3.2"]?.components.mocker).toBeUndefined();
  });

  it("rejects what each release's parser rejects", () => {
    expect(
      argvProblems("1.4.0", ["python3", "-m", "dynamo.vllm", "--model", "m", "--is-prefill-worker"]),
    ).toEqual(["unrecognized argument --is-prefill-worker"]);
    expect(
      argvProblems("1.4.0", [
        "python3",
        "-m",
        "dynamo.trtllm",
        "--disaggregation-mode",
        "prefill_and_decode",
      ])[0],
    ).toMatch(/invalid choice "prefill_and_decode"/);
    expect(
      argvProblems("1.0.0", ["python3", "-m", "dynamo.trtllm", "--disaggregation-mode", "agg"])[0],
    ).toMatch(/invalid choice "agg"/);
    expect(argvProblems("0.3.2", ["python3", "-m", "dynamo.mocker"])).toEqual([
      "Dynamo 0.3.2 has no component mocker",
    ]);
    expect(argvProblems("1.5.1", ["python3", "-m", "dynamo.sglang", "--tp", "2"])).toEqual([
      "unrecognized argument --tp",
    ]);
    expect(argvProblems("1.5.1", ["python3", "-m", "dynamo.frontend", "--http-port"])).toEqual([
      "--http-port: expected one argument",
    ]);
    expect(argvProblems("1.5.1", ["python3", "-m", "dynamo.frontend", "--http-port", "{port+3}"])).toEqual(
      [],
    );
    expect(argvProblems("1.5.1", ["python3", "-m", "my_engine"])).toEqual([
      "no Dynamo parser for python3 -m my_engine",
    ]);
  });

  it("knows Dynamo's entry points", () => {
    expect(parserOf(["trtllm-llmapi-launch", "python3", "-m", "dynamo.trtllm", "--model", "m"])).toEqual({
      component: "trtllm",
      from: 4,
    });
    expect(parserOf(["dynamo", "run", "in=http", "out=dyn", "--http-port", "1"])).toEqual({
      component: "frontend",
      from: 4,
    });
    expect(parserOf(["dynamo", "serve", "graphs.agg:Frontend", "-f", "c.yaml"])).toEqual({
      component: "serve",
      from: 3,
    });
    expect(parserOf(["python3", "components/worker.py"])).toEqual({ component: "sglang", from: 2 });
    expect(parserOf(["python3", "-m", "my_engine"])).toBeUndefined();
  });
});

describe("the shell scan", () => {
  const exposed = (script: string) => scanShell(script, PROBE_MARKER).exposed;
  it("single quotes, quoted heredocs and comments are literal", () => {
    expect(exposed(`echo 'a $(dyn-probe)'\n`)).toEqual([]);
    expect(exposed(`echo 'it'\\''s $(dyn-probe)'\n`)).toEqual([]);
    expect(exposed(`cat <<'EOF'\n$(dyn-probe)\nEOF\necho ok\n`)).toEqual([]);
    expect(exposed(`# note: $(dyn-probe)\n`)).toEqual([]);
    expect(exposed(`x="$(printf '%s' '$(dyn-probe)')"\n`)).toEqual([]);
  });
  it("double quotes, bare words, unquoted heredocs and a newline out of a comment are not", () => {
    expect(exposed(`echo "$(dyn-probe)"\n`)).toEqual([1]);
    expect(exposed(`echo ok\necho $(dyn-probe)\n`)).toEqual([2]);
    expect(exposed(`cat <<EOF\n$(dyn-probe)\nEOF\n`)).toEqual([2]);
    expect(exposed(`# model: x\n$(dyn-probe)\n`)).toEqual([2]);
    expect(exposed(`echo "\${#a[@]}" 'x' $(dyn-probe)\n`)).toEqual([1]);
  });
  it("says when it lost track of the quoting", () => {
    expect(scanShell(`echo 'open\n`, PROBE_MARKER).balanced).toBe(false);
    expect(scanShell(`echo "$(x)" <<<"y"\n`, PROBE_MARKER).balanced).toBe(true);
  });
  it("the kit's probe reaches a rendered script, single-quoted everywhere", () => {
    const script = renderForTest(good, {
      model: { servedName: PROBE.servedName },
      roles: { aggregated: { workers: 1, args: [...PROBE.args], env: { ...PROBE.env } } },
    });
    expect(script.split(PROBE_MARKER).length - 1).toBeGreaterThanOrEqual(3);
    expect(scanShell(script, PROBE_MARKER)).toEqual({ exposed: [], balanced: true });
  });
});
