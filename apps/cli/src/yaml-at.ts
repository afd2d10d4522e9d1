/**
 * YAML with positions, for the config file and the profiles files: one parse that keeps every node's
 * offset (so an error names `file:line:col`), `yaml` loaded on first use (a dry run without a config
 * file never loads it), and every syntax error at once.
 */
import { DynError, problemsError } from "@dyn/core";
import type { Document } from "yaml";

export type Yaml = typeof import("yaml");
let Y: Yaml | undefined;

/** The `yaml` module, imported once. */
export async function loadYaml(): Promise<Yaml> {
  Y ??= await import("yaml");
  return Y;
}

export interface ParsedYaml {
  readonly doc: Document;
  /** `<display>:<line>:<col>` of a source offset. */
  readonly at: (offset: number) => string;
}

/**
 * Parse `text` (named `display` in messages), unique keys enforced. Syntax errors throw
 * DYN_CONFIG_INVALID with all of them, each at its line and column; one alone reads
 * `<file>:<line>:<col> <message>`.
 */
export async function parseYamlAt(text: string, display: string, hint: string): Promise<ParsedYaml> {
  const { LineCounter, parseDocument } = await loadYaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${display}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({
      key: "",
      label: at(e.pos[0]),
      where: at(e.pos[0]),
      message: e.message.split("\n")[0] ?? e.message,
    }));
    const error = problemsError("DYN_CONFIG_INVALID", problems, hint);
    if (problems.length === 1)
      throw new DynError("DYN_CONFIG_INVALID", `${problems[0]?.label} ${problems[0]?.message}`, {
        hint: error.hint,
      });
    throw error;
  }
  return { doc, at };
}
