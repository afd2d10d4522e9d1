/**
 * `dyn schema [command]`: the JSON Schema (draft 2020-12) of a command's `--json` document, generated
 * from the strict zod schemas in ../json (the ones the tests check every --json output against).
 * Without an argument: every document's, keyed by name. `backends show` is also `backends-show`.
 */
import { DynError, z } from "@dyn/core";
import { type Io, printJson } from "../io.js";
import { DOCUMENT_NAMES, DOCUMENTS, type DocumentName } from "../json/index.js";

async function jsonSchema(name: DocumentName): Promise<Record<string, unknown>> {
  const schema = z.toJSONSchema(await DOCUMENTS[name](), { io: "output", unrepresentable: "any" });
  return {
    ...schema,
    $id: `https://github.com/dyn/dyn/apps/cli/schema/output/${name}.schema.json`,
    title:
      name === "error"
        ? "dyn … --json error (dyn.error/v1)"
        : `dyn ${name.replace("-", " ")} --json (dyn.${name}/v1)`,
  };
}

export async function run(_flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const name = args.join("-");
  if (name === "") {
    const all: Record<string, unknown> = {};
    for (const n of DOCUMENT_NAMES) all[n] = await jsonSchema(n);
    printJson(io, all);
    return 0;
  }
  if (!Object.hasOwn(DOCUMENTS, name))
    throw new DynError("DYN_USAGE", `<command>: no --json document named ${JSON.stringify(args.join(" "))}`, {
      key: "<command>",
      hint: `one of: ${DOCUMENT_NAMES.join(", ")}`,
    });
  printJson(io, await jsonSchema(name as DocumentName));
  return 0;
}
