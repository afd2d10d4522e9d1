/**
 * Where text sits in a bash script, without running it: a small lexer that follows quoting (single,
 * double, `$'…'`, backslash), command and arithmetic substitution, backticks, comments and here-documents
 * well enough for the scripts dyn renders. The kit uses it to prove that a value given to a backend
 * (a model name with quotes, a newline and `$(…)`) reaches the script only as literal text.
 */

export interface ShellScan {
  /** 1-based lines where `needle` occurs with at least one character the shell would interpret. */
  readonly exposed: readonly number[];
  /** False when quotes or substitutions were still open at the end (the scan cannot be trusted). */
  readonly balanced: boolean;
}

type Context = { kind: "dq" } | { kind: "cmd"; depth: number } | { kind: "bt" };

/** Every occurrence of `needle` in `script` must be literal: inside single quotes, a quoted heredoc or a comment. */
export function scanShell(script: string, needle: string): ShellScan {
  const literal = literalMask(script);
  const exposed = new Set<number>();
  for (let at = script.indexOf(needle); at >= 0; at = script.indexOf(needle, at + 1)) {
    for (let i = at; i < at + needle.length; i++) {
      if (literal.mask[i] !== 1) {
        exposed.add(lineOf(script, at));
        break;
      }
    }
  }
  return { exposed: [...exposed].sort((a, b) => a - b), balanced: literal.balanced };
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const WORD_START = /[\s;&|()]/;

/** 1 for each character the shell takes literally (never expanded, never a command). */
function literalMask(s: string): { mask: Uint8Array; balanced: boolean } {
  const mask = new Uint8Array(s.length);
  const stack: Context[] = [];
  const heredocs: Array<{ delimiter: string; quoted: boolean; strip: boolean }> = [];
  const top = () => stack[stack.length - 1];
  const mark = (from: number, to: number) => mask.fill(1, from, to);
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    const ctx = top();
    if (c === "\\") {
      mark(i, Math.min(i + 2, s.length));
      i += 2;
      continue;
    }
    if (ctx?.kind === "dq") {
      if (c === '"') stack.pop();
      else if (c === "$" && s[i + 1] === "(") {
        stack.push({ kind: "cmd", depth: 1 });
        i++;
      } else if (c === "`") stack.push({ kind: "bt" });
      i++;
      continue;
    }
    // Unquoted text: at top level, in $( ) or in backticks.
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return { mask, balanced: false };
      mark(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === "$" && s[i + 1] === "'") {
      let j = i + 2;
      while (j < s.length && s[j] !== "'") j += s[j] === "\\" ? 2 : 1;
      if (j >= s.length) return { mask, balanced: false };
      mark(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '"') {
      stack.push({ kind: "dq" });
      i++;
      continue;
    }
    if (c === "$" && s[i + 1] === "(") {
      stack.push({ kind: "cmd", depth: 1 });
      i += 2;
      continue;
    }
    if (c === "`") {
      if (ctx?.kind === "bt") stack.pop();
      else stack.push({ kind: "bt" });
      i++;
      continue;
    }
    if (ctx?.kind === "cmd" && c === "(") ctx.depth++;
    if (ctx?.kind === "cmd" && c === ")" && --ctx.depth === 0) stack.pop();
    if (c === "#" && (i === 0 || WORD_START.test(s[i - 1] as string))) {
      const end = s.indexOf("\n", i);
      const stop = end < 0 ? s.length : end;
      mark(i, stop);
      i = stop;
      continue;
    }
    if (c === "<" && s[i + 1] === "<" && s[i + 2] !== "<" && s[i - 1] !== "<") {
      const h = heredocStart(s, i + 2);
      if (h) {
        heredocs.push(h.doc);
        i = h.next;
        continue;
      }
    }
    if (c === "\n" && heredocs.length > 0) {
      i = heredocBodies(s, i + 1, heredocs.splice(0), mark);
      continue;
    }
    i++;
  }
  return { mask, balanced: stack.length === 0 && heredocs.length === 0 };
}

function heredocStart(
  s: string,
  from: number,
): { doc: { delimiter: string; quoted: boolean; strip: boolean }; next: number } | undefined {
  let j = from;
  const strip = s[j] === "-";
  if (strip) j++;
  while (s[j] === " " || s[j] === "\t") j++;
  const q = s[j];
  if (q === "'" || q === '"') {
    const end = s.indexOf(q, j + 1);
    if (end < 0) return undefined;
    return { doc: { delimiter: s.slice(j + 1, end), quoted: true, strip }, next: end + 1 };
  }
  const m = /^[^\s;&|<>()]+/.exec(s.slice(j));
  if (!m) return undefined;
  const word = m[0];
  return {
    doc: { delimiter: word.replaceAll("\\", ""), quoted: word.includes("\\"), strip },
    next: j + word.length,
  };
}

/** Skip the bodies of the here-documents opened on the line that just ended; quoted ones are literal. */
function heredocBodies(
  s: string,
  from: number,
  docs: ReadonlyArray<{ delimiter: string; quoted: boolean; strip: boolean }>,
  mark: (from: number, to: number) => void,
): number {
  let at = from;
  for (const doc of docs) {
    const start = at;
    for (;;) {
      const end = s.indexOf("\n", at);
      const stop = end < 0 ? s.length : end;
      const line = s.slice(at, stop);
      if ((doc.strip ? line.replace(/^\t+/, "") : line) === doc.delimiter || stop === s.length) {
        if (doc.quoted) mark(start, at);
        at = stop + 1;
        break;
      }
      at = stop + 1;
    }
  }
  return at;
}
