/**
 * `dyn completion bash|zsh`: a completion script generated from the commander program. Commands and
 * options, and their values: an option's choices (`--gpu-request`), backends (`--backend`,
 * `backends show <TAB>`, built-ins and the project's installed ones), roles (`logs --role`), Dynamo
 * releases, config files (`--config`: .yaml/.yml/.json), and the job ids of the per-user registry
 * (`status|logs|stop <TAB>`). Values that depend on where you are (backends installed in the
 * project, the registry) are asked of dyn at TAB time: `dyn __values backends|jobs|profiles`.
 */
import { DYNAMO_RELEASES, profileNames } from "@dyn/core";
import type { Command, Option } from "commander";
import { BUILTINS, projectBackendPackages } from "../backends.js";
import type { Io } from "../io.js";
import { loadProfileSources } from "../profiles-file.js";
import type { Action } from "../program.js";
import { entries, registryDir } from "../registry.js";
import { ROLES } from "./logs.js";

/** What a value is completed from. */
export type Values =
  | { readonly kind: "words"; readonly words: readonly string[] }
  | { readonly kind: "dyn"; readonly what: "backends" | "jobs" | "profiles" }
  | { readonly kind: "config-files" }
  | { readonly kind: "files" };

/** Options whose values are not choices commander knows (knowledge as data). */
const OPTION_VALUES: Readonly<Record<string, Values>> = {
  "--backend": { kind: "dyn", what: "backends" },
  "--config": { kind: "config-files" },
  "--profile": { kind: "dyn", what: "profiles" },
  "--role": { kind: "words", words: ROLES },
  "--dynamo-version": { kind: "words", words: ["latest", ...[...DYNAMO_RELEASES].reverse()] },
  "--etcd": { kind: "words", words: ["managed", "off", "http://"] },
  "--nats": { kind: "words", words: ["managed", "off", "nats://"] },
  "--nodes": { kind: "words", words: ["auto"] },
};

/** Positional arguments: `dyn status <TAB>`, `dyn backends show <TAB>`. */
const ARGUMENT_VALUES: Readonly<Record<string, Values>> = {
  status: { kind: "dyn", what: "jobs" },
  logs: { kind: "dyn", what: "jobs" },
  stop: { kind: "dyn", what: "jobs" },
  bench: { kind: "dyn", what: "jobs" },
  "backends show": { kind: "dyn", what: "backends" },
  completion: { kind: "words", words: ["bash", "zsh"] },
};

export function optionValues(option: Option): Values | undefined {
  if (option.argChoices && option.argChoices.length > 0) return { kind: "words", words: option.argChoices };
  if (!option.required && !option.optional) return undefined; // a boolean flag takes no value
  return (option.long && OPTION_VALUES[option.long]) || { kind: "files" };
}

interface CommandWords {
  /** `deploy`, or `backends show` for a subcommand. */
  readonly path: string;
  readonly options: readonly string[];
  readonly subcommands: readonly string[];
  /** Options that take a value, with where it comes from. */
  readonly values: ReadonlyArray<readonly [string, Values]>;
  readonly argument: Values | undefined;
}

function describe(cmd: Command, path: string): CommandWords[] {
  const options = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)));
  const values = cmd.options.flatMap((o) => {
    const v = optionValues(o);
    return v ? [o.long, o.short].filter((f): f is string => Boolean(f)).map((f) => [f, v] as const) : [];
  });
  const own: CommandWords = {
    path,
    options: [...options, "--help"],
    subcommands: cmd.commands.map((s) => s.name()),
    values,
    argument: ARGUMENT_VALUES[path],
  };
  return [own, ...cmd.commands.flatMap((s) => describe(s, `${path} ${s.name()}`))];
}

function words(program: Command): CommandWords[] {
  return program.commands.filter((c) => !c.name().startsWith("__")).flatMap((c) => describe(c, c.name()));
}

const BASH_VALUES: Readonly<Record<Values["kind"], (v: Values) => string>> = {
  words: (v) => `_dyn_words ${(v as { words: readonly string[] }).words.join(" ")}`,
  // Job ids, and run directories (the other way to name a deployment).
  dyn: (v) => {
    const what = (v as { what: string }).what;
    return `_dyn_words $("\${COMP_WORDS[0]}" __values ${what} 2>/dev/null)${what === "jobs" ? "; _dyn_dirs" : ""}`;
  },
  "config-files": () => "_dyn_config_files",
  files: () => "_dyn_files",
};

/**
 * The case arms both shells' scripts share, in their own words: `complete` is how a shell offers a
 * list of words (bash `_dyn_words`, zsh `compadd --`), `values` how it offers each kind of value.
 */
function cases(
  program: Command,
  values: Readonly<Record<Values["kind"], (v: Values) => string>>,
  complete: string,
) {
  const cmds = words(program);
  const top = cmds.filter((c) => !c.path.includes(" ")).map((c) => c.path);
  const valueCases = cmds.flatMap((c) =>
    c.values.map(([flag, v]) => `    "${c.path} ${flag}") ${values[v.kind](v)}; return ;;`),
  );
  const argumentCases = cmds
    .filter((c) => c.argument !== undefined || c.subcommands.length > 0)
    .map((c) => {
      const subs = c.subcommands.length > 0 ? `${complete} ${c.subcommands.join(" ")}` : "";
      const arg = c.argument ? values[c.argument.kind](c.argument) : "";
      return `    "${c.path}") ${[subs, arg].filter(Boolean).join("; ")}; return ;;`;
    });
  const optionCases = cmds.map((c) => `    "${c.path}") ${complete} ${c.options.join(" ")} ;;`);
  return { top, valueCases, argumentCases, optionCases };
}

export function bash(program: Command): string {
  const { top, valueCases, argumentCases, optionCases } = cases(program, BASH_VALUES, "_dyn_words");
  return `# dyn bash completion: eval "$(dyn completion bash)" in ~/.bashrc
_dyn_words() { local IFS=$'\\n'; COMPREPLY+=( $(compgen -W "$*" -- "$cur") ); }
_dyn_files() { local IFS=$'\\n'; COMPREPLY+=( $(compgen -f -- "$cur") ); }
_dyn_dirs() { local IFS=$'\\n'; COMPREPLY+=( $(compgen -d -- "$cur") ); }
_dyn_config_files() {
  local IFS=$'\\n'
  COMPREPLY+=( $(compgen -d -- "$cur") $(compgen -f -- "$cur" | grep -E '\\.(ya?ml|json)$') )
}
_dyn() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} path
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then _dyn_words ${top.join(" ")} --help --version; return; fi
  # The command path (dyn backends show …): words before the cursor that are not options or values.
  path=\${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -gt 2 ] && [ "\${COMP_WORDS[1]}" = backends ] && [[ "\${COMP_WORDS[2]}" != -* ]]; then
    path="backends \${COMP_WORDS[2]}"
  fi
  case "$path $prev" in
${valueCases.join("\n")}
  esac
  if [[ "$cur" != -* ]]; then
    # The argument right after the command path.
    local at=2
    [[ $path == *" "* ]] && at=3
    if [ "$COMP_CWORD" -eq "$at" ]; then
      case "$path" in
${argumentCases.join("\n")}
      esac
    fi
  fi
  case "$path" in
${optionCases.join("\n")}
  esac
}
complete -o filenames -F _dyn dyn
`;
}

const ZSH_VALUES: Readonly<Record<Values["kind"], (v: Values) => string>> = {
  words: (v) => `compadd -- ${(v as { words: readonly string[] }).words.join(" ")}`,
  dyn: (v) => {
    const what = (v as { what: string }).what;
    return `compadd -- \${(f)"$("\${words[1]}" __values ${what} 2>/dev/null)"}${what === "jobs" ? "; _files -/" : ""}`;
  },
  "config-files": () => "_files -g '*.(yaml|yml|json)'",
  files: () => "_files",
};

export function zsh(program: Command): string {
  const { top, valueCases, argumentCases, optionCases } = cases(program, ZSH_VALUES, "compadd --");
  return `#compdef dyn
# dyn zsh completion: dyn completion zsh > "\${fpath[1]}/_dyn"
_dyn() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} path=\${words[2]}
  if (( CURRENT == 2 )); then compadd -- ${top.join(" ")} --help --version; return; fi
  if (( CURRENT > 3 )) && [[ \${words[2]} == backends && \${words[3]} != -* ]]; then path="backends \${words[3]}"; fi
  case "$path $prev" in
${valueCases.join("\n")}
  esac
  if [[ $cur != -* ]] && (( CURRENT == \${#\${(z)path}} + 2 )); then
    case "$path" in
${argumentCases.join("\n")}
    esac
  fi
  case "$path" in
${optionCases.join("\n")}
  esac
}
compdef _dyn dyn
`;
}

export function completion(program: Command): Action {
  return async (_flags, args, io) => {
    io.stdout(args[0] === "zsh" ? zsh(program) : bash(program));
    return 0;
  };
}

/** `dyn __values backends|jobs`: the values that depend on where you are, one a line. */
export function values(what: string, io: Io): string[] {
  if (what === "backends") {
    const installed = projectBackendPackages(io.cwd).map(
      (p) => p.replace(/^(@[^/]+\/)?dyn-backend-?/, "$1") || p,
    );
    return [...new Set([...Object.keys(BUILTINS), ...installed.map((n) => n.replace(/\/$/, ""))])];
  }
  if (what === "jobs")
    return entries(registryDir(io.env))
      .sort((a, b) => b.submittedAt.localeCompare(a.submittedAt))
      .map((e) => e.jobId);
  return [];
}

export const valuesCommand: Action = async (_flags, args, io) => {
  const list = args[0] === "profiles" ? await profileValues(io) : values(args[0] ?? "", io);
  for (const v of list) io.stdout(`${v}\n`);
  return 0;
};

/** The names the site and user profiles files define (none when a file cannot be read). */
async function profileValues(io: Io): Promise<string[]> {
  try {
    return profileNames(await loadProfileSources(io.env));
  } catch {
    return [];
  }
}
