/**
 * Check an argv against the argparse tables captured at each Dynamo release commit
 * (shared/reference/dynamo-flags/releases-{0,1}.x.json: each component's own parser, executed at the
 * release commit with the engines stubbed). The tables ship with the kit in compact form
 * (flag-tables.generated.ts, written by scripts/gen-flag-tables.mjs next to the testbed's copy).
 * Independent of any backend: it only knows the tables and how Dynamo's entry points are spelt.
 */
import { FLAGS, PARSERS, RELEASES } from "./flag-tables.generated.js";

/** One captured flag, compact: [names, takesValue, choices, nargs, deprecated, releaseUncertain]. */
export type FlagRow = readonly [
  names: readonly string[],
  takesValue: 0 | 1,
  choices: readonly (string | number)[] | null,
  nargs: string | null,
  deprecated: 0 | 1,
  releaseUncertain: 0 | 1,
];

export interface TableFlag {
  readonly names: readonly string[];
  readonly takesValue: boolean;
  /** As argparse compares them: the value's text (numeric choices as their decimal text). */
  readonly choices: readonly string[] | null;
  readonly nargs: string | null;
  readonly deprecated: boolean;
  /** The flag changed on main while the release branch was cut: the tag may or may not have it. */
  readonly releaseUncertain: boolean;
}

export interface FlagTables {
  /** Release → component (`frontend`, `vllm`, `sglang`, `trtllm`, `mocker`, `serve`, …) → its flags. */
  readonly releases: Readonly<
    Record<
      string,
      { readonly components: Readonly<Record<string, { readonly flags: readonly TableFlag[] }>> }
    >
  >;
}

const flag = ([names, takesValue, choices, nargs, deprecated, uncertain]: FlagRow): TableFlag =>
  Object.freeze({
    names,
    takesValue: takesValue === 1,
    choices: choices && Object.freeze(choices.map(String)),
    nargs,
    deprecated: deprecated === 1,
    releaseUncertain: uncertain === 1,
  });

let decoded: FlagTables | undefined;

/** The captured tables, every release dyn knows (decoded once, on first use). */
export function flagTables(): FlagTables {
  if (decoded) return decoded;
  const flags = FLAGS.map(flag);
  const parsers = PARSERS.map((ids) => Object.freeze({ flags: ids.map((i) => flags[i] as TableFlag) }));
  const releases = Object.fromEntries(
    Object.entries(RELEASES).map(([rel, comps]) => [
      rel,
      {
        components: Object.fromEntries(
          Object.entries(comps).map(([c, i]) => [c, parsers[i] as { flags: TableFlag[] }]),
        ),
      },
    ]),
  );
  decoded = Object.freeze({ releases });
  return decoded;
}

/** Which component's parser reads this argv, and from which index its options start. */
export function parserOf(argv: readonly string[]): { component: string; from: number } | undefined {
  let i = 0;
  if (argv[i] === "trtllm-llmapi-launch") i++;
  if (argv[i] === "python3" && argv[i + 1] === "-m" && /^dynamo\.\w+$/.test(argv[i + 2] ?? "")) {
    return { component: (argv[i + 2] as string).slice("dynamo.".length), from: i + 3 };
  }
  // Dynamo 0.3.2's SGLang example scripts parse SGLang ServerArgs only.
  if (argv[i] === "python3" && /^components\/(worker|decode_worker)\.py$/.test(argv[i + 1] ?? ""))
    return { component: "sglang", from: i + 2 };
  if (argv[i] === "dynamo" && argv[i + 1] === "run") {
    let j = i + 2;
    while (/^(in|out)=/.test(argv[j] ?? "")) j++;
    return { component: "frontend", from: j };
  }
  // dynamo serve <module:Class>: the target is positional.
  if (argv[i] === "dynamo" && argv[i + 1] === "serve") return { component: "serve", from: i + 3 };
  return undefined;
}

/**
 * The problems argparse would report for `argv` at `release` (empty = accepted). Flags must be
 * spelt out in full (dyn never relies on argparse's prefix matching); `dynamo serve`'s
 * `--<Service>.<key>=<value>` overrides are accepted as its parser does. Runtime values (`${VAR}`,
 * `{port+N}` in `showArg` form) are accepted wherever a value is.
 */
export function argvProblems(release: string, argv: readonly string[]): string[] {
  const parser = parserOf(argv);
  if (!parser) return [`no Dynamo parser for ${argv.slice(0, 3).join(" ")}`];
  const comp = flagTables().releases[release]?.components[parser.component];
  if (!comp) return [`Dynamo ${release} has no component ${parser.component}`];
  const byName = new Map<string, TableFlag>();
  for (const f of comp.flags) for (const n of f.names) byName.set(n, f);
  const problems: string[] = [];
  for (let i = parser.from; i < argv.length; i++) {
    const word = argv[i] as string;
    if (!word.startsWith("-")) {
      problems.push(`unexpected positional ${JSON.stringify(word)}`);
      continue;
    }
    const eq = word.indexOf("=");
    const name = eq > 0 ? word.slice(0, eq) : word;
    if (parser.component === "serve" && /^--[A-Za-z]\w*\.[\w-]+$/.test(name) && eq > 0) continue;
    const flag = byName.get(name);
    if (!flag) {
      problems.push(`unrecognized argument ${name}`);
      // Its value, if it has one, is part of the same problem.
      if (eq < 0 && i + 1 < argv.length && !(argv[i + 1] as string).startsWith("-")) i++;
      continue;
    }
    if (!flag.takesValue) {
      if (eq > 0) problems.push(`${name}: ignored explicit argument`);
      continue;
    }
    const values: string[] = [];
    if (eq > 0) values.push(word.slice(eq + 1));
    else if (flag.nargs === "+" || flag.nargs === "*") {
      while (i + 1 < argv.length && !(argv[i + 1] as string).startsWith("--"))
        values.push(argv[++i] as string);
    } else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith("--"))
      values.push(argv[++i] as string);
    if (values.length === 0 && flag.nargs !== "*" && flag.nargs !== "?")
      problems.push(`${name}: expected one argument`);
    for (const v of values) {
      if (flag.choices && !isRuntime(v) && !flag.choices.includes(v))
        problems.push(
          `${name}: invalid choice ${JSON.stringify(v)} (choose from ${flag.choices.join(", ")})`,
        );
    }
  }
  return problems;
}

/** A value known only when the job runs (a variable or a port), in `showArg` form. */
const isRuntime = (v: string) => v.includes("${") || /\{port\+\d+\}/.test(v);
