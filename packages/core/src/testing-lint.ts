/**
 * `@dyn/core/testing/lint`: check a rendered script with `bash -n` and shellcheck. The one helper
 * that runs programs, so it lives apart from the pure helpers; it fails loudly when shellcheck is
 * missing rather than passing without checking.
 */
import { spawnSync } from "node:child_process";

export interface ScriptLint {
  /** bash -n's complaints; "" when the syntax is fine. */
  readonly bash: string;
  /** shellcheck's findings; "" when clean. */
  readonly shellcheck: string;
}

export function lintScript(
  script: string,
  severity: "style" | "info" | "warning" | "error" = "style",
): ScriptLint {
  const bash = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
  const sc = spawnSync("shellcheck", ["-s", "bash", "-S", severity, "-"], {
    input: script,
    encoding: "utf8",
  });
  if (sc.error)
    throw new Error(`shellcheck is not installed (${sc.error.message}): apt-get install shellcheck`);
  return { bash: bash.stderr, shellcheck: sc.stdout };
}
