/**
 * The conformance kit: given a backend, plan and render the standard shapes for every release it
 * declares and check the contract's invariants (docs/writing-a-backend.md § Conformance):
 *
 *   import { conformance } from "@dyn/core/testing";
 *   for (const c of conformance(backend)) it(c.name, c.run);
 *
 * Framework-free: each case's `problems()` lists what is wrong (empty = conforms) and `run()` throws
 * them as one Error. Pure (no I/O): it plans and renders in memory.
 */

import { z } from "zod";
import {
  assertBackend,
  type Backend,
  type ComponentInfo,
  releaseOf,
  releaseTableOf,
  resolveOptions,
} from "../backend.js";
import { DynError } from "../errors.js";
import { isInfraStep, type Plan, type PlannedStep } from "../plan.js";
import { plan as planDeployment } from "../planner.js";
import { DYNAMO_RELEASES } from "../releases.js";
import { renderScript } from "../render/script.js";
import { DeploymentSpec, type DeploymentSpecInput, WORKER_ROLES, type WorkerRole } from "../spec.js";
import { parseOrThrow } from "../validate.js";
import { type Arg, isWord, type PortRef, showArg } from "../word.js";
import { argvProblems, parserOf } from "./flags.js";
import { isSpecKey } from "./keys.js";
import { type Claims, PROBE, PROBE_MARKER, SHAPES, type ShapeName } from "./shapes.js";
import { scanShell } from "./shell.js";

export type { ShapeName } from "./shapes.js";
export { PROBE, PROBE_MARKER, SHAPES } from "./shapes.js";

export interface ConformanceOptions {
  /**
   * Backend options for every case, or per case: e.g. the engine configs a multi-GPU TRT-LLM worker
   * needs. Default: the options schema's defaults.
   */
  readonly options?:
    | Readonly<Record<string, unknown>>
    | ((c: { readonly shape: ShapeName; readonly release: string }) => Readonly<Record<string, unknown>>);
  /** Releases to check (default: every release the backend declares). */
  readonly releases?: readonly string[];
  /** Shapes to leave out. */
  readonly skip?: readonly ShapeName[];
  /**
   * Check every Dynamo command line against the argparse tables captured at that release (default
   * true). Leave it on unless your image runs a Dynamo that differs from the release's.
   */
  readonly flags?: boolean;
}

export interface ConformanceCase {
  /** `contract`, or `<release> <shape>` (e.g. `1.5.1 packed workers`). */
  readonly name: string;
  readonly release: string | undefined;
  readonly shape: ShapeName | undefined;
  /** What is wrong, one line each; empty when the backend conforms. */
  problems(): string[];
  /** Throws an Error listing the problems. */
  run(): void;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEALTH_NAME = /^[A-Za-z0-9_.-]+$/;
const FALLBACK_MODEL = "Qwen/Qwen3-0.6B";
const SHELLS = new Set(["bash", "sh", "dash", "zsh", "ksh"]);

/** The kit's cases for `backend`: one contract case, then one per release × shape. */
export function conformance(backend: Backend, options: ConformanceOptions = {}): ConformanceCase[] {
  const table = releaseTableOf(backend);
  const releases = options.releases ?? table.known;
  const cases: ConformanceCase[] = [
    makeCase("contract", undefined, undefined, () => contractProblems(backend)),
  ];
  for (const release of releases) {
    for (const shape of SHAPES) {
      if (options.skip?.includes(shape.name)) continue;
      cases.push(
        makeCase(`${release} ${shape.name}`, release, shape.name, () =>
          shapeProblems(backend, release, shape.name, options),
        ),
      );
    }
  }
  return cases;
}

/** Every problem of every case, each prefixed with its case's name (for a single assertion). */
export function conformanceProblems(backend: Backend, options: ConformanceOptions = {}): string[] {
  return conformance(backend, options).flatMap((c) => c.problems().map((p) => `${c.name}: ${p}`));
}

function makeCase(
  name: string,
  release: string | undefined,
  shape: ShapeName | undefined,
  problems: () => string[],
): ConformanceCase {
  return {
    name,
    release,
    shape,
    problems,
    run() {
      const found = problems();
      if (found.length > 0)
        throw new Error(`${name}: the backend does not conform:\n  - ${found.join("\n  - ")}`);
    },
  };
}

/** The definition itself: what `dyn` checks when it loads a backend, and what the docs require. */
function contractProblems(backend: Backend): string[] {
  const problems: string[] = [];
  try {
    assertBackend(backend, `backend ${String(backend.name)}`);
  } catch (err) {
    return [String((err as Error).message)];
  }
  try {
    resolveOptions(backend, {});
  } catch (err) {
    return [
      `options: the defaults do not parse (${(err as Error).message}); give every option a default or make it optional`,
    ];
  }
  try {
    resolveOptions(backend, { dynProbeUnknownOption: 1 });
    problems.push(
      "options: an unknown option is accepted; make the schema z.strictObject so a misspelt key is an error",
    );
  } catch (err) {
    if (!DynError.is(err) || err.key !== "backend.options.dynProbeUnknownOption")
      problems.push(
        `options: an unknown option is refused without naming backend.options.<key>: ${String(err)}`,
      );
  }
  const schema = optionsSchema(backend);
  for (const [key, field] of Object.entries(schema.properties ?? {}))
    if (!field.description) problems.push(`options.${key}: no .describe(): dyn backends show prints it`);
  const table = releaseTableOf(backend);
  for (const r of table.known)
    if (!DYNAMO_RELEASES.includes(r)) problems.push(`releases: ${r} is not a Dynamo release dyn knows`);
  for (const [role, n] of Object.entries(backend.defaults?.gpusPerWorker ?? {})) {
    if (!WORKER_ROLES.includes(role as WorkerRole))
      problems.push(`defaults.gpusPerWorker.${role}: not a worker role`);
    else if (!Number.isInteger(n) || (n as number) < 1)
      problems.push(`defaults.gpusPerWorker.${role}: ${String(n)} is not a whole number of GPUs ≥ 1`);
  }
  for (const version of table.known) {
    const release = releaseOf(backend, { version });
    const components = backend.components(resolveOptions(backend, {}), release);
    const roles = Object.keys(components);
    if (roles.length === 0)
      problems.push(
        `Dynamo ${version}: components() lists no role; start the release table at the first release the backend runs`,
      );
    for (const [role, info] of Object.entries(components) as Array<[string, ComponentInfo]>) {
      if (!WORKER_ROLES.includes(role as WorkerRole))
        problems.push(`Dynamo ${version}: components() names ${role}, not a worker role`);
      for (const field of ["alias", "dynamo", "health"] as const)
        if (typeof info?.[field] !== "string" || info[field] === "")
          problems.push(`Dynamo ${version}: components().${role}.${field} is empty`);
      if (typeof info?.health === "string" && !HEALTH_NAME.test(info.health))
        problems.push(
          `Dynamo ${version}: components().${role}.health ${JSON.stringify(info.health)} is not a component name`,
        );
    }
  }
  return problems;
}

function optionsSchema(backend: Backend): { properties?: Record<string, { description?: string }> } {
  return z.toJSONSchema(backend.options, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, { description?: string }>;
  };
}

function claimsOf(backend: Backend, version: string, options: Record<string, unknown>): Claims {
  const release = releaseOf(backend, { version });
  const o = resolveOptions(backend, options);
  const roles = new Set(Object.keys(backend.components(o, release)) as WorkerRole[]);
  return {
    roles,
    multiNode: (role) => typeof backend.multiNode(role, o, release) === "string",
    defaultGpus: (role, gpn) => backend.defaults?.gpusPerWorker?.[role] ?? gpn,
  };
}

function shapeProblems(
  backend: Backend,
  release: string,
  shapeName: ShapeName,
  options: ConformanceOptions,
): string[] {
  const shape = SHAPES.find((s) => s.name === shapeName) as (typeof SHAPES)[number];
  const backendOptions = {
    ...(typeof options.options === "function"
      ? options.options({ shape: shapeName, release })
      : (options.options ?? {})),
  };
  let claims: Claims;
  try {
    claims = claimsOf(backend, release, backendOptions);
  } catch (err) {
    return [`components()/multiNode() threw for Dynamo ${release}: ${String(err)}`];
  }
  const base = shape.spec(claims, PROBE);
  if (!base) return [];
  const input: DeploymentSpecInput = {
    ...base,
    dynamo: { version: release },
    backend: { name: backend.name, options: backendOptions },
    model: {
      ...(backend.defaults?.model ? {} : { path: FALLBACK_MODEL }),
      ...(typeof base.model === "string" ? { path: base.model } : base.model),
    },
  };
  let p: Plan;
  try {
    const spec = parseOrThrow(DeploymentSpec, input, { code: "DYN_SPEC_INVALID" });
    p = planDeployment(spec, backend);
  } catch (err) {
    const unclear = refusalProblems(err, backend);
    if (unclear.length > 0) return unclear;
    if (shape.mustRender(claims))
      return [
        `refused a shape its own components()/multiNode() claim for Dynamo ${release}: ${(err as Error).message}`,
      ];
    return [];
  }
  return planProblems(backend, p, release, shapeName, options.flags ?? true);
}

/** A refusal is a DynError of the user's input (exit 2), one line, naming a key the user can set. */
function refusalProblems(err: unknown, backend: Backend): string[] {
  if (!DynError.is(err))
    return [
      `threw ${(err as Error)?.name ?? typeof err} instead of refusing: ${String((err as Error)?.message ?? err)} (refuse with check() returning { key, reason }, or multiNode() { unsupported })`,
    ];
  const problems: string[] = [];
  if (err.exitCode !== 2)
    problems.push(`refused with ${err.code}, which is not an input error (exit 2): ${err.message}`);
  if (err.message.includes("\n")) problems.push(`refusal spans lines: ${JSON.stringify(err.message)}`);
  if (!err.key) problems.push(`refusal names no key: ${err.message}`);
  else {
    if (!isSpecKey(err.key, backend))
      problems.push(
        `refusal key ${err.key} is not a spec key (backend.options.<option>, roles.<role>.<field>, dynamo.version, …)`,
      );
    if (!err.message.startsWith(`${err.key}: `))
      problems.push(`refusal does not start with its key: ${err.message}`);
  }
  return problems;
}

function planProblems(
  backend: Backend,
  p: Plan,
  release: string,
  shape: ShapeName,
  checkFlags: boolean,
): string[] {
  const problems: string[] = [];
  if (p.release.version !== release) problems.push(`planned Dynamo ${p.release.version}, not ${release}`);
  const facts = releaseOf(backend, { version: release }).facts;
  const components = backend.components(
    resolveOptions(backend, p.spec.backend.options),
    releaseOf(backend, { version: release }),
  );
  const services = p.steps.filter((s) => !isInfraStep(s));

  if (shape.startsWith("default split")) {
    for (const g of p.groups) {
      const want = backend.defaults?.gpusPerWorker?.[g.role] ?? p.gpusPerNode;
      if (g.gpusPerWorker !== want)
        problems.push(
          `default split: ${g.role} workers got ${g.gpusPerWorker} GPUs, the backend's default is ${want}`,
        );
    }
  }
  for (const g of p.groups) {
    const info = components[g.role];
    if (info && g.component !== info.health)
      problems.push(`${g.role} workers register as ${g.component}, components() says ${info.health}`);
  }
  problems.push(...portProblems(p));
  for (const step of services)
    problems.push(...stepProblems(p, step, facts.systemServer, components, release, checkFlags));

  let script: string;
  try {
    script = renderScript(p, {
      runDir: "/shared/runs/conformance",
      generator: "@dyn/core/testing conformance",
    });
  } catch (err) {
    return [...problems, `the plan does not render: ${String(err)}`];
  }
  const scan = scanShell(script, PROBE_MARKER);
  if (!scan.balanced) problems.push("the rendered script's quoting could not be followed to its end");
  for (const line of scan.exposed)
    problems.push(
      `script line ${line}: user text reaches the shell unquoted (${PROBE_MARKER} outside single quotes)`,
    );
  problems.push(...variableProblems(p, script));
  return problems;
}

/** Ports: job ports unique per node over every step (infra included); each process uses only its own. */
function portProblems(p: Plan): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  const key = (node: number, ref: PortRef) => `${node}:${ref.kind === "fixed" ? `=${ref.port}` : ref.offset}`;
  const frontendHttp = p.frontend.port;
  for (const step of p.steps) {
    for (const [name, ref] of Object.entries(step.ports)) {
      for (const node of step.nodes) {
        const k = key(node, ref);
        const other = owner.get(k);
        if (other && other !== step.id)
          problems.push(`${step.id}: port ${name} on node ${node} is also ${other}'s`);
        owner.set(k, step.id);
      }
    }
    if (isInfraStep(step)) continue;
    const own = Object.values(step.ports);
    for (const ref of portsIn([...step.argv, ...Object.values(step.env)])) {
      if (!own.some((o) => same(o, ref)) && !same(ref, frontendHttp))
        problems.push(`${step.id}: uses a port it did not declare in ports()`);
    }
    const used = portsIn([...step.argv, ...Object.values(step.env)]);
    for (const [name, ref] of Object.entries(step.ports))
      if (!used.some((u) => same(u, ref)))
        problems.push(`${step.id}: declares port ${name} but its argv and env never use it`);
  }
  return problems;
}

function same(a: PortRef, b: PortRef): boolean {
  return a.kind === "fixed"
    ? b.kind === "fixed" && a.port === b.port
    : b.kind === "job" && a.offset === b.offset;
}

function portsIn(args: readonly Arg[]): PortRef[] {
  const out: PortRef[] = [];
  for (const a of args) if (isWord(a)) for (const part of a.parts) if ("port" in part) out.push(part.port);
  return out;
}

function stepProblems(
  p: Plan,
  step: PlannedStep,
  systemServer: string,
  components: Partial<Record<WorkerRole, ComponentInfo>>,
  release: string,
  checkFlags: boolean,
): string[] {
  const problems: string[] = [];
  const argv = step.argv.map(showArg);
  if (argv.length === 0) problems.push(`${step.id}: empty argv`);
  for (const [name, value] of Object.entries(step.env)) {
    if (!ENV_NAME.test(name))
      problems.push(`${step.id}: env name ${JSON.stringify(name)} is not [A-Za-z_][A-Za-z0-9_]*`);
    if (typeof value === "string" && value.includes("\0"))
      problems.push(`${step.id}: env ${name} has a NUL byte`);
  }
  // The env the core adds keeps the core's value.
  const spec = p.spec;
  if (spec.infra.etcd.mode !== "off" && showArg(step.env.ETCD_ENDPOINTS ?? "") !== "${DYN_ETCD_ENDPOINTS}")
    problems.push(`${step.id}: ETCD_ENDPOINTS changed; the core sets it`);
  if (spec.infra.nats.mode !== "off" && showArg(step.env.NATS_SERVER ?? "") !== "${DYN_NATS_SERVER}")
    problems.push(`${step.id}: NATS_SERVER changed; the core sets it`);
  const partial = step.gpus.length > 0 && step.gpus.length < p.gpusPerNode;
  const cvd = step.env.CUDA_VISIBLE_DEVICES;
  if (partial ? showArg(cvd ?? "") !== step.gpus.join(",") : cvd !== undefined)
    problems.push(
      `${step.id}: CUDA_VISIBLE_DEVICES is ${cvd === undefined ? "unset" : showArg(cvd)}; the core sets it from the planned GPUs (${step.gpus.join(",") || "none"})`,
    );
  if (step.env.HF_HOME !== undefined)
    problems.push(`${step.id}: sets HF_HOME; the core sets it (the model cache)`);

  const role = step.role as WorkerRole | "frontend";
  const group = role === "frontend" ? spec.roles.frontend : spec.roles[role];
  // The user's env reaches every process of the role unchanged.
  for (const [k, v] of Object.entries(group?.env ?? {}))
    if (step.env[k] !== v) problems.push(`${step.id}: the user's env ${k} does not reach the process`);
  // The user's extra args come last, as given.
  const args = group?.args ?? [];
  const tail = argv.slice(argv.length - args.length);
  if (args.length > 0 && JSON.stringify(tail) !== JSON.stringify(args))
    problems.push(
      `${step.id}: argv does not end with the user's args (${args.join(" ")}); append ctx.args last`,
    );
  const shell = argv.findIndex((a) => SHELLS.has(a.split("/").pop() as string));
  if (shell >= 0 && argv.slice(shell).includes("-c") && argv.some((a) => a.includes(PROBE_MARKER)))
    problems.push(
      `${step.id}: runs ${argv[shell]} -c with user text in it; the shell would re-parse it (pass argv words instead)`,
    );

  if (role !== "frontend" && step.registers && systemServer !== "none") {
    const sys = step.env.DYN_SYSTEM_PORT;
    const ports = Object.values(step.ports);
    const ref =
      isWord(sys) && sys.parts.length === 1 && "port" in (sys.parts[0] as object)
        ? (sys.parts[0] as { port: PortRef }).port
        : undefined;
    if (!ref || !ports.some((o) => same(o, ref)))
      problems.push(
        `${step.id}: DYN_SYSTEM_PORT must be one of its own ports (declare "system" in ports(), env DYN_SYSTEM_PORT: ctx.port("system"))`,
      );
  }

  if (checkFlags) {
    const claimed =
      role === "frontend" ? undefined : /^dynamo\.(\w+)/.exec(components[role]?.dynamo ?? "")?.[1];
    const parser = parserOf(argv);
    if (claimed && parser?.component !== claimed)
      problems.push(
        `${step.id}: components() says dynamo.${claimed}, but argv runs ${argv.slice(0, 3).join(" ")}`,
      );
    else if (parser) {
      // The user's words are the user's business, not the release's parser's: leave them out, also
      // where a legacy frontend carries the args of the worker it hosts.
      const userWords = new Set<string>(
        [spec.roles.frontend, spec.roles.prefill, spec.roles.decode, spec.roles.aggregated].flatMap((g) =>
          (g?.args ?? []).map(String),
        ),
      );
      const own = argv.filter((a) => !userWords.has(a));
      for (const problem of argvProblems(release, own))
        problems.push(`${step.id}: Dynamo ${release} ${parser.component}: ${problem}`);
    }
  }
  return problems;
}

/** Runtime variables in argv and env must be ones the script defines (or SLURM's). */
function variableProblems(p: Plan, script: string): string[] {
  const names = new Set<string>();
  for (const step of p.steps)
    for (const a of [...step.argv, ...Object.values(step.env)])
      if (isWord(a)) for (const part of a.parts) if ("var" in part) names.add(part.var);
  const problems: string[] = [];
  for (const name of names) {
    const indexed = /^(DYN_NODE_IP|DYN_HOST)_(\d+)$/.exec(name);
    if (indexed) {
      if (Number(indexed[2]) >= p.nodes) problems.push(`${name}: the plan has only ${p.nodes} nodes`);
      continue;
    }
    if (name.startsWith("SLURM_")) continue;
    if (!new RegExp(`(^|[\\s;])(export )?${name}=`, "m").test(script))
      problems.push(
        `variable ${name} is not defined by the script; runtime values come from the context (ctx.nodeIp, ctx.port(…))`,
      );
  }
  return problems;
}
