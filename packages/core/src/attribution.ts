/**
 * Failure attribution: which component failed first, on which node, with which exit code and log
 * lines, and whose fault it is — infrastructure (node, network, SLURM, container), configuration
 * (the engine or Dynamo rejected an argument, a release without the component) or engine (it
 * started and then crashed, or answered the first request badly). Pure: the CLI reads the status
 * file, plan.json and the log, and hands them here.
 *
 * The category comes from ATTRIBUTION_RULES, a table read top to bottom: the first rule that
 * matches decides. Knowledge as data: a new signature is one more row.
 */
import type { StatusEvent } from "./status.js";

export type FailureCategory = "infrastructure" | "configuration" | "engine";

/** What is known about a failure, as the CLI read it. */
export interface AttributionInput {
  /** The status file's first `failed` event (summarizeStatus's failed). */
  readonly failed: { readonly component: string; readonly message: string; readonly code?: number };
  /** The node the component ran on (nodeOfStep), when the plan says. */
  readonly node?: string | null | undefined;
  /** The last lines of the component's log (logs/<step>.log), oldest first. */
  readonly logTail?: readonly string[] | undefined;
  /** SLURM's final state of the job when it ended (NODE_FAIL, FAILED, …), or the status file's `ended`. */
  readonly endReason?: string | null | undefined;
}

export interface Attribution {
  readonly component: string;
  readonly node: string | null;
  /** The process's exit code, when a process exited (the `failed` event's code). */
  readonly code: number | null;
  readonly category: FailureCategory;
  /** The id of the ATTRIBUTION_RULES row that decided. */
  readonly rule: string;
  /** Why, in words: the rule's text. */
  readonly reason: string;
  readonly message: string;
  readonly logTail: readonly string[];
}

interface RuleContext {
  readonly component: string;
  readonly message: string;
  readonly code: number | undefined;
  readonly log: string;
  readonly endReason: string | undefined;
}

export interface AttributionRule {
  readonly id: string;
  readonly category: FailureCategory;
  readonly reason: string;
  readonly matches: (c: RuleContext) => boolean;
}

/** dyn's own steps before any engine starts, and its watchers: a failure there is never the engine's. */
export const INFRA_COMPONENTS: readonly string[] = [
  "allocation",
  "node-setup",
  "preflight",
  "container-preload",
  "etcd",
  "nats",
  "supervision",
];

/**
 * A command line rejected at parse time. argparse (Dynamo's Python components, vLLM, SGLang) prints
 * "usage: …" and "<prog>: error: …" and exits 2; clap (dynamo-run) "error: unexpected argument";
 * click "Error: No such option" / "Usage:". Wordings as the stand-in reproduces them from each
 * release's own parser (testbed/runtime/python/dynamo/_flags.py, format_error).
 */
const REJECTED_ARGS =
  /(^|\n)usage: |: error: (unrecognized arguments|argument |the following arguments are required|ambiguous option)|error: unexpected argument|Error: (No such option|Invalid value for|Option '.*' requires)/i;

/** The release does not have what the plan launches (the stand-in's and Python's words). */
const RELEASE_REFUSED =
  /No module named dynamo\b|is not in the stand-in's flag tables|it has no \S+ component|requires Dynamo [\d.]+/;

/** pyxis/enroot failing to set up a container step (their error prefixes). */
const CONTAINER_ERROR =
  /(^|\n)(slurmstepd: error: )?pyxis: (?!importing|imported|creating|created|reusing|running)|(^|\n)\[ERROR\] |couldn't chdir to/;

const HTTP_5XX = /HTTP 5\d\d/;

/** The rules, first match wins. Every rule is documented in docs/reliability.md (Failure attribution). */
export const ATTRIBUTION_RULES: readonly AttributionRule[] = [
  {
    id: "slurm-node",
    category: "infrastructure",
    reason: "SLURM ended the job because a node failed (NODE_FAIL/BOOT_FAIL)",
    matches: (c) => c.endReason === "NODE_FAIL" || c.endReason === "BOOT_FAIL",
  },
  {
    id: "secrets",
    category: "configuration",
    reason: "a secret the spec names is not set in the job's environment",
    matches: (c) => c.component === "secrets",
  },
  {
    id: "dyn-infra-step",
    category: "infrastructure",
    reason:
      "a step dyn runs before any engine (allocation, node setup, preflight, container import, etcd/NATS)",
    matches: (c) => INFRA_COMPONENTS.includes(c.component),
  },
  {
    id: "dyn-watcher",
    category: "infrastructure",
    reason: "dyn's /health watcher itself failed (python3 on the batch host)",
    matches: (c) => c.component === "readiness" && c.message.includes("/health watcher"),
  },
  {
    id: "command-not-found",
    category: "infrastructure",
    reason: "the command is not on the node or in the container image (exit 127)",
    matches: (c) => c.code === 127,
  },
  {
    id: "container-setup",
    category: "infrastructure",
    reason: "pyxis/enroot could not set up the step's container",
    matches: (c) => CONTAINER_ERROR.test(c.log),
  },
  {
    id: "rejected-argument",
    category: "configuration",
    reason: "the engine or Dynamo rejected its command line (usage error, exit 2)",
    matches: (c) => c.code === 2 && REJECTED_ARGS.test(c.log),
  },
  {
    id: "release-refused",
    category: "configuration",
    reason: "the Dynamo release does not have what the plan launches",
    matches: (c) => RELEASE_REFUSED.test(c.log) || RELEASE_REFUSED.test(c.message),
  },
  {
    id: "smoke-http-5xx",
    category: "engine",
    reason: "the first request through the frontend failed with a server error",
    matches: (c) => c.component === "smoke" && HTTP_5XX.test(c.message),
  },
  {
    id: "smoke",
    category: "engine",
    reason: "the workers registered but the first request got no tokens",
    matches: (c) => c.component === "smoke",
  },
  {
    id: "not-ready",
    category: "engine",
    reason: "the processes ran but did not register within the readiness timeout",
    matches: (c) => c.component === "readiness",
  },
  {
    id: "lost-after-ready",
    category: "engine",
    reason: "registered instances vanished after READY",
    matches: (c) => /vanished after READY|did not answer for/.test(c.message),
  },
  {
    id: "engine-exit",
    category: "engine",
    reason: "a process exited after it started",
    matches: (c) => c.code !== undefined,
  },
  {
    id: "other",
    category: "engine",
    reason: "no rule knows this failure: counted as the engine's",
    matches: () => true,
  },
];

/** The node a failure names in its message, for dyn's own steps (which have no single node). */
function nodeInMessage(component: string, message: string): string | null {
  if (component === "preflight")
    return /^node (\S+) did not report/.exec(message)?.[1] ?? /^(\S+): /.exec(message)?.[1] ?? null;
  if (component === "node-setup")
    return /\bnode (\S+) did not report/.exec(message)?.[1] ?? / on (\S+)$/.exec(message)?.[1] ?? null;
  return null;
}

export function attributeFailure(input: AttributionInput): Attribution {
  const { component, message } = input.failed;
  const logTail = input.logTail ?? [];
  const ctx: RuleContext = {
    component,
    message,
    code: input.failed.code,
    log: logTail.join("\n"),
    endReason: input.endReason ?? undefined,
  };
  const rule = ATTRIBUTION_RULES.find((r) => r.matches(ctx)) as AttributionRule;
  return {
    component,
    node: input.node ?? nodeInMessage(component, message),
    code: input.failed.code ?? null,
    category: rule.category,
    rule: rule.id,
    reason: rule.reason,
    message,
    logTail,
  };
}

/** A planned step as plan.json has it (only what attribution and the timeline read). */
export interface StepPlacement {
  readonly id: string;
  readonly role: string;
  readonly nodes: readonly number[];
  readonly registers?: string | null | undefined;
  readonly log?: string | undefined;
}

/** The node name a step ran on: its first node index, named by the status file's `node` events. */
export function nodeOfStep(
  stepId: string,
  steps: readonly StepPlacement[],
  nodes: ReadonlyArray<{ readonly index: number; readonly name: string }>,
): string | null {
  const index = steps.find((s) => s.id === stepId)?.nodes[0];
  if (index === undefined) return null;
  return nodes.find((n) => n.index === index)?.name ?? null;
}

/** The events of the last attempt (after the last job-started), so a requeue's history is left out. */
export function lastAttempt(events: readonly StatusEvent[]): readonly StatusEvent[] {
  let from = 0;
  events.forEach((e, i) => {
    if (e.event === "job-started") from = i;
  });
  return events.slice(from);
}
