/**
 * `dyn backends new <name>`: the files of a ready-to-build backend plugin package. Pure: the command
 * writes what this returns. The package builds (tsc), tests (vitest, with the conformance kit) and
 * packs (npm pack) as it is; its example launches Dynamo's mocker engine, which needs no GPU work,
 * so the first deployment works on any cluster before the engine is swapped for the real one.
 */
import { CONTRACT_VERSION } from "@dyn/core";

/**
 * Dev tool versions the package pins: the ones dyn itself is built and tested with (the root
 * package.json of this repository; a repo test keeps them equal).
 */
export const SCAFFOLD_TOOLS: Readonly<Record<string, string>> = Object.freeze({
  typescript: "5.9.3",
  vitest: "4.1.12",
});

/** A backend name: what `--backend <name>` selects and `defineBackend({ name })` declares. */
export const BACKEND_NAME = /^[a-z0-9][a-z0-9-]*$/;

export interface Scaffold {
  /** The npm package name: `dyn-backend-<name>`, which `dyn deploy --backend <name>` finds. */
  readonly packageName: string;
  /** Relative path → text. */
  readonly files: Readonly<Record<string, string>>;
}

/** The plugin's files for backend `name` (already validated against BACKEND_NAME). */
export function scaffold(name: string): Scaffold {
  const packageName = `dyn-backend-${name}`;
  const range = `^${CONTRACT_VERSION}.0.0`;
  const pascal = name
    .split("-")
    .map((p) => (p[0]?.toUpperCase() ?? "") + p.slice(1))
    .join("");
  return {
    packageName,
    files: {
      "package.json": `${JSON.stringify(packageJson(name, packageName, range), null, 2)}\n`,
      "tsconfig.json": `${JSON.stringify(TSCONFIG, null, 2)}\n`,
      "src/index.ts": indexTs(name, pascal),
      "test/conformance.test.ts": testTs(name),
      "README.md": readme(name, packageName, range),
      ".gitignore": "node_modules/\ndist/\n*.tgz\n",
    },
  };
}

function packageJson(name: string, packageName: string, range: string) {
  return {
    name: packageName,
    version: "0.1.0",
    description: `dyn backend "${name}": Dynamo workers on SLURM`,
    type: "module",
    keywords: ["dyn-backend"],
    exports: {
      ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
      "./package.json": "./package.json",
    },
    files: ["dist"],
    engines: { node: ">=20.19.0" },
    scripts: { build: "tsc -p tsconfig.json", test: "vitest run", prepack: "npm run build" },
    // The contract's major: dyn refuses a backend built for another contract version.
    peerDependencies: { "@dyn/core": range },
    devDependencies: { "@dyn/core": range, ...SCAFFOLD_TOOLS },
  };
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2023",
    lib: ["ES2023"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    skipLibCheck: true,
    declaration: true,
    sourceMap: true,
    types: [],
    rootDir: "src",
    outDir: "dist",
  },
  include: ["src"],
};

function indexTs(name: string, pascal: string): string {
  return `/**
 * dyn backend "${name}". dyn plans where every process runs (nodes, GPUs, job-scoped ports, etcd and
 * NATS, readiness); this module says what each process runs. The contract: docs/writing-a-backend.md
 * and the types of @dyn/core (BackendDefinition, CommandContext).
 *
 * The example launches Dynamo's mocker engine (python3 -m dynamo.mocker), which registers like a real
 * engine and simulates it without GPU work: replace the argv in command() with your engine's.
 */
import { type Arg, defineBackend, defineReleases, frontendCommand, type WorkerRole, z } from "@dyn/core";

/** Options: a strict zod object, every field described and defaulted (-o key=value sets one). */
export const options = z.strictObject({
  speedupRatio: z
    .number()
    .min(0)
    .default(1)
    .describe("--speedup-ratio: simulated engine speed multiplier (0 = no delays)"),
});

/** What changes between the Dynamo releases this backend runs (read as ctx.release.facts). */
export interface ${pascal}Release {
  /** The flags that select each role; a role left out is not supported by that release. */
  readonly roleFlags: Readonly<Partial<Record<WorkerRole, readonly string[]>>>;
}

/**
 * One row per change, like a changelog: \`since\` is the first release a row applies to, the first row
 * is the oldest release supported and names every fact. Flags: the argparse tables captured at each
 * release, which the conformance kit checks every command line against.
 */
// biome-ignore format: a table reads best one row per release
export const releases = defineReleases<${pascal}Release>({
  rows: [
    { since: "0.6.1", roleFlags: { prefill: ["--is-prefill-worker"], decode: ["--is-decode-worker"], aggregated: [] },
      note: "--is-prefill-worker / --is-decode-worker" },
    { since: "1.0.0", note: "--disaggregation-mode",
      roleFlags: { prefill: ["--disaggregation-mode", "prefill"], decode: ["--disaggregation-mode", "decode"], aggregated: ["--disaggregation-mode", "agg"] } },
  ],
});

/** The component each role registers as: what the frontend's /health lists, counted for readiness. */
const HEALTH: Record<WorkerRole, string> = { prefill: "prefill", decode: "backend", aggregated: "backend" };

export default defineBackend({
  name: ${JSON.stringify(name)},
  description: "Dynamo's mocker engine (python3 -m dynamo.mocker), from dyn backends new",
  options,
  releases,
  // The default split (dyn deploy with only --nodes) gives each worker this many GPUs.
  defaults: { model: "Qwen/Qwen3-0.6B", gpusPerWorker: { prefill: 1, decode: 1, aggregated: 1 } },
  components: (_o, { facts }) =>
    Object.fromEntries(
      Object.entries(facts.roleFlags).map(([role, flags]) => [
        role,
        {
          alias: \`${pascal}\${role[0]?.toUpperCase()}\${role.slice(1)}Worker\`,
          dynamo: ["dynamo.mocker", ...flags].join(" "),
          health: HEALTH[role as WorkerRole],
        },
      ]),
    ),
  // A worker bigger than a node: "per-node", "mpi", or refused with the reason.
  multiNode: () => ({ unsupported: "a mocker worker is one process; use gpusPerWorker ≤ gpusPerNode" }),
  // Named ports per process, each job-scoped and unique on its node; ctx.port(name) in command().
  ports: ({ role }) => (role === "frontend" ? [] : ["system"]),
  // Refuse what cannot run: { key: a spec key the user set, reason: one line }.
  check: (o, _groups, { version }) =>
    o.speedupRatio > 1000
      ? { key: "backend.options.speedupRatio", reason: \`Dynamo \${version}'s mocker overflows above 1000\` }
      : undefined,
  command(ctx) {
    if (ctx.role === "frontend") return frontendCommand(ctx);
    const argv: Arg[] = [
      "python3",
      "-m",
      "dynamo.mocker",
      "--model-path",
      ctx.model.path,
      "--model-name",
      ctx.model.servedName,
      ...(ctx.release.facts.roleFlags[ctx.role] ?? []),
      "--speedup-ratio",
      String(ctx.options.speedupRatio),
      // The user's extra arguments for this role come last.
      ...ctx.args,
    ];
    // Every worker gets its own system port (/health, /live, /metrics). The core adds etcd, NATS,
    // CUDA_VISIBLE_DEVICES and HF_HOME; ctx.nodeIp, ctx.leaderIp and ctx.port() are runtime Words:
    // pass them as they are (or inside w\`…\`), never inside a string.
    return { argv, env: { DYN_SYSTEM_PORT: ctx.port("system") } };
  },
});
`;
}

function testTs(name: string): string {
  return `/**
 * The conformance kit plans and renders the standard deployment shapes for every release the backend
 * declares and checks each against the backend contract and the release's captured Dynamo flags.
 */
import { conformance, processesForTest } from "@dyn/core/testing";
import { describe, expect, it } from "vitest";
import backend from "../src/index.js";

describe("conformance", () => {
  for (const c of conformance(backend)) it(c.name, c.run);
});

describe(${JSON.stringify(name)}, () => {
  it("runs one mocker per GPU with the user's args last", () => {
    const [, prefill] = processesForTest(backend, {
      roles: { prefill: { workers: 1, args: ["--max-num-seqs", "8"] }, decode: { workers: 1 } },
    });
    expect(prefill?.command).toMatch(/^python3 -m dynamo\\.mocker .*--disaggregation-mode prefill .*--max-num-seqs 8$/);
    expect(prefill?.env).toMatchObject({ CUDA_VISIBLE_DEVICES: "0" });
  });
});
`;
}

function readme(name: string, packageName: string, range: string): string {
  return `# ${packageName}

A dyn backend: \`dyn deploy --backend ${name}\` runs NVIDIA Dynamo on SLURM with the commands in
\`src/index.ts\`. Written against \`@dyn/core\` ${range} (the backend contract, version
${CONTRACT_VERSION}); see docs/writing-a-backend.md in the dyn repository.

## Build, test, pack

\`@dyn/*\` are not published on npm yet: install \`@dyn/core\` from its tarball first (\`pnpm pack\` in
dyn's packages/core, or the tarball you were given), then the rest from the registry:

\`\`\`sh
npm install --save-dev /path/to/dyn-core-1.0.0.tgz
npm run build        # tsc → dist/
npm test             # vitest: the conformance kit over every release × shape
npm pack             # → ${packageName}-0.1.0.tgz
\`\`\`

## Use it

In the project you deploy from, install dyn and this backend in **one** \`npm install\` (every \`@dyn/*\`
tarball together, since npm cannot fetch them from the registry):

\`\`\`sh
npm install /path/to/dyn-core-1.0.0.tgz /path/to/dyn-backend-vllm-0.1.0.tgz \\
  /path/to/dyn-backend-sglang-0.1.0.tgz /path/to/dyn-backend-trtllm-0.1.0.tgz \\
  /path/to/dyn-cli-0.1.0.tgz /path/to/${packageName}-0.1.0.tgz
npx dyn backends show ${name}
npx dyn deploy --backend ${name} --dry-run
\`\`\`
`;
}
