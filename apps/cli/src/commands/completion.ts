/** `dyn completion bash|zsh`: a static completion script generated from the commander program. */
import type { Command } from "commander";
import type { Action } from "../program.js";

function words(program: Command) {
  return program.commands.map((c) => ({
    name: c.name(),
    options: c.options
      .flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)))
      .concat("--help"),
    subcommands: c.commands.map((s) => s.name()),
  }));
}

export function bash(program: Command): string {
  const cmds = words(program);
  const cases = cmds
    .map((c) => `    ${c.name}) opts="${[...c.subcommands, ...c.options].join(" ")}" ;;`)
    .join("\n");
  return `# dyn bash completion: eval "$(dyn completion bash)" in ~/.bashrc
_dyn() {
  local cur=\${COMP_WORDS[COMP_CWORD]} opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${cmds.map((c) => c.name).join(" ")} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  [ \${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -F _dyn dyn
`;
}

export function zsh(program: Command): string {
  const cmds = words(program);
  const cases = cmds
    .map((c) => `    ${c.name}) opts=(${[...c.subcommands, ...c.options].join(" ")}) ;;`)
    .join("\n");
  return `#compdef dyn
# dyn zsh completion: dyn completion zsh > "\${fpath[1]}/_dyn"
_dyn() {
  local -a opts
  if (( CURRENT == 2 )); then
    opts=(${cmds.map((c) => c.name).join(" ")} --help --version)
    compadd -a opts
    return
  fi
  case "\${words[2]}" in
${cases}
    *) opts=() ;;
  esac
  compadd -a opts
  _files
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
