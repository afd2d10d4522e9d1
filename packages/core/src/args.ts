/**
 * Engine arguments written the way a shell line is: `--max-model-len 8192 --chat-template 'a b'`.
 * `splitArgs` turns such a string into words with POSIX shell quoting rules, and nothing else: no
 * variable, command or glob expansion happens (the words reach the engine through `Word` and
 * `shellQuote`, literally). Shell syntax that would mean something else in a shell — `$VAR`, `$(…)`,
 * backquotes, `|`, `;`, `&`, `<`, `>`, `(`, `)`, a `#` comment, a leading `~` — is refused with a hint,
 * so a line copied from a shell script never silently loses its meaning. Globs (`*`, `?`, `[…]`) stay
 * literal, as bash leaves a pattern that matches nothing.
 *
 * Rules (bash's, for what is accepted): blanks (space, tab, newline) separate words; '…' keeps every
 * character; "…" keeps every character except that \ escapes " \ $ ` and a newline; outside quotes \
 * escapes the next character and \<newline> is removed; quotes join with what touches them
 * (`--x='a b'` is one word); '' and "" are an empty word.
 */
import { DynError } from "./errors.js";

export type SplitResult =
  | { readonly ok: true; readonly words: string[] }
  | { readonly ok: false; readonly message: string; readonly column: number };

const BLANK = /[ \t\n\r]/;
/** Characters that are operators to a shell outside quotes. */
const OPERATORS = new Set(["|", ";", "&", "<", ">", "`", "(", ")"]);
/** In "…", \ escapes only these (POSIX). */
const DQ_ESCAPES = new Set(['"', "\\", "$", "`", "\n"]);

const fail = (message: string, index: number): SplitResult => ({ ok: false, message, column: index + 1 });

/**
 * `$X`, `${X}`, `$(…)`, `$((…))`, `$'…'` (ANSI-C quoting), `$"…"` start an expansion in a shell; a `$`
 * before anything else (a blank, the end, `/`) is literal.
 */
function expandsAt(text: string, i: number): boolean {
  return /^\$[A-Za-z_{(0-9@*#?$!'"-]/.test(text.slice(i, i + 2));
}

const expansionError = (text: string, i: number) =>
  fail(
    `${JSON.stringify(text.slice(i, i + 2))} would be expanded by a shell, and dyn passes words literally: quote it ('${text.slice(i, i + 2)}…') to pass it as it is`,
    i,
  );

/** Split a shell-like argument string into words, or say what is wrong and at which column (1-based). */
export function trySplitArgs(text: string): SplitResult {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\0") return fail("contains a NUL byte, which no argument can hold", i);
    if (BLANK.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return fail("unbalanced ': this quote is never closed", i);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) return fail('unbalanced ": this quote is never closed', start);
        const d = text[i] as string;
        if (d === '"') break;
        if (d === "\0") return fail("contains a NUL byte, which no argument can hold", i);
        if (d === "\\" && DQ_ESCAPES.has(text[i + 1] ?? "")) {
          if (text[i + 1] !== "\n") word += text[i + 1];
          i += 2;
        } else if (d === "$" && expandsAt(text, i)) return expansionError(text, i);
        else if (d === "`")
          return fail("` would run a command in a shell: quote it with '…' or escape it (\\`)", i);
        else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === "\\") {
      if (i + 1 >= text.length) return fail("ends with a lone \\ (escape the backslash: \\\\)", i);
      if (text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (c === "$" && expandsAt(text, i)) return expansionError(text, i);
    else if (OPERATORS.has(c))
      return fail(
        `${JSON.stringify(c)} is shell syntax, and no shell reads these words: quote it ('${c}') if it is part of an argument`,
        i,
      );
    else if (c === "#" && !inWord)
      return fail("# starts a comment in a shell: quote it ('#…') if it is part of an argument", i);
    else if (c === "~" && !inWord)
      return fail(
        "~ would be your home directory in a shell, and nothing expands it here: write the path out",
        i,
      );
    else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

/**
 * `splitArgs("--max-model-len 8192 --chat-template 'a b'")` → ["--max-model-len", "8192",
 * "--chat-template", "a b"]. Throws a DYN_USAGE DynError saying what is wrong and at which column;
 * `label` (a flag or key) starts its message.
 */
export function splitArgs(text: string, label = "arguments"): string[] {
  const r = trySplitArgs(text);
  if (r.ok) return r.words;
  throw new DynError("DYN_USAGE", `${label}: column ${r.column}: ${r.message}`, {
    key: label,
    hint: "write the arguments as in a shell: quote a word that has spaces ('a b'), nothing is expanded",
  });
}
