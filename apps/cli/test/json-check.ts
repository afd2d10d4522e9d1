/**
 * Every `--json` run of the test suite is checked here (helpers.run and stubs.runWithPath call it):
 * stdout is exactly one document, it parses strictly with the schema its `format` names (src/json),
 * that format is the command's own (or dyn.error/v1), and `ok` is true exactly when the exit code is 0.
 */
import { z } from "@dyn/core";
import { DOCUMENTS, type DocumentName } from "../src/json/index.js";

/** The documents a command may print: its own and the error document. */
function documentsOf(argv: readonly string[]): DocumentName[] {
  const words = argv.filter((a) => !a.startsWith("-"));
  const [command = "", sub] = words;
  if (command === "backends")
    return sub === "show" ? ["backends-show"] : sub === "new" ? ["backends-new"] : ["backends"];
  return command in DOCUMENTS ? [command as DocumentName] : [];
}

export async function checkJson(argv: readonly string[], r: { code: number; stdout: string }): Promise<void> {
  if (!argv.includes("--json") || argv.includes("--help") || argv.includes("-h")) return;
  // Ctrl-C while waiting (130): the command stops where it is and prints nothing.
  if (r.code === 130 && r.stdout === "") return;
  let doc: { format?: unknown; ok?: unknown };
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`dyn ${argv.join(" ")} --json: stdout is not one JSON document:\n${r.stdout}`);
  }
  const name = /^dyn\.(.+)\/v1$/.exec(String(doc.format))?.[1] as DocumentName | undefined;
  const allowed = [...documentsOf(argv), "error"];
  if (!name || !allowed.includes(name))
    throw new Error(`dyn ${argv.join(" ")} --json: format ${String(doc.format)}, expected one of ${allowed}`);
  const parsed = (await DOCUMENTS[name]()).safeParse(doc);
  if (!parsed.success)
    throw new Error(
      `dyn ${argv.join(" ")} --json does not match ${name}'s schema:\n${z.prettifyError(parsed.error)}`,
    );
  if (doc.ok !== (r.code === 0))
    throw new Error(`dyn ${argv.join(" ")} --json: ok ${String(doc.ok)} with exit code ${r.code}`);
}
