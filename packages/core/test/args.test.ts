/**
 * splitArgs: shell-like engine arguments. What it accepts it splits exactly as bash does (checked by
 * running bash on the same text); what a shell would expand or treat as syntax it refuses, naming the
 * column.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitArgs, trySplitArgs } from "../src/args.js";
import { DynError } from "../src/errors.js";
import { shellQuote } from "../src/quote.js";

/** The words bash makes of `text` as the elements of an array (where newlines are blanks too). */
function bashWords(text: string): string[] {
  const r = spawnSync("bash", ["-f", "-c", `a=( ${text}\n); printf '%s\\0' "\${a[@]}"`], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  expect(r.stderr).toBe("");
  const words = r.stdout.split("\0");
  words.pop();
  return words.length === 1 && words[0] === "" && !/['"]/.test(text) ? [] : words;
}

describe("splitArgs", () => {
  it.each([
    [
      "--max-model-len 8192 --gpu-memory-utilization 0.9",
      ["--max-model-len", "8192", "--gpu-memory-utilization", "0.9"],
    ],
    ["", []],
    ["   \t\n ", []],
    ["--chat-template 'a b'", ["--chat-template", "a b"]],
    ['--x="a \\"b\\" c"', ['--x=a "b" c']],
    ["--json '{\"a\": [1, 2]}'", ["--json", '{"a": [1, 2]}']],
    ["a\\ b", ["a b"]],
    ["a\\\nb", ["ab"]],
    ["'' \"\"", ["", ""]],
    ["--name モデル ünïcödé", ["--name", "モデル", "ünïcödé"]],
    ["--glob * --set [1,2]", ["--glob", "*", "--set", "[1,2]"]],
    ["--price $ 5 --a#b", ["--price", "$", "5", "--a#b"]],
    ["'$HOME' \\$HOME \"\\$HOME\"", ["$HOME", "$HOME", "$HOME"]],
    ['"a\\nb"', ["a\\nb"]],
  ])("%j → %j", (text, words) => {
    expect(splitArgs(text)).toEqual(words);
    expect(bashWords(text)).toEqual(words);
  });

  it.each([
    ["--chat-template 'a b", 17, "unbalanced ': this quote is never closed"],
    ['--x "a', 5, 'unbalanced ": this quote is never closed'],
    ["--x a\\", 6, "ends with a lone \\"],
    ["--dir $HOME/m", 7, '"$H" would be expanded by a shell'],
    ["--dir ${HOME}", 7, '"${" would be expanded by a shell'],
    ['--dir "$HOME"', 8, '"$H" would be expanded by a shell'],
    ["--x $(id)", 5, '"$(" would be expanded by a shell'],
    ["--x `id`", 5, '"`" is shell syntax'],
    ["--x $'a'", 5, "would be expanded by a shell"],
    ['--x "`id`"', 6, "` would run a command"],
    ["--a 1 | tee", 7, '"|" is shell syntax'],
    ["--a 1; rm", 6, '";" is shell syntax'],
    ["--a 1 > out", 7, '">" is shell syntax'],
    ["--a 1 & ", 7, '"&" is shell syntax'],
    ["--a (1)", 5, '"(" is shell syntax'],
    ["--a 1 # note", 7, "# starts a comment"],
    ["--dir ~/models", 7, "~ would be your home directory"],
    ["--a \0", 5, "contains a NUL byte"],
  ])("%j is refused at column %i", (text, column, message) => {
    const r = trySplitArgs(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.column).toBe(column);
    expect(r.message).toContain(message);
  });

  it("throws a DYN_USAGE error that names the label and the column", () => {
    try {
      splitArgs("--x 'a", "--decode-arg");
      expect.unreachable();
    } catch (err) {
      expect(DynError.is(err)).toBe(true);
      const e = err as DynError;
      expect(e.code).toBe("DYN_USAGE");
      expect(e.exitCode).toBe(2);
      expect(e.message).toBe("--decode-arg: column 5: unbalanced ': this quote is never closed");
      expect(e.hint).toMatch(/quote a word that has spaces/);
    }
  });

  it("splits what shellQuote renders back into the same words", () => {
    const word = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 6 }), (words) => {
        expect(splitArgs(words.map(shellQuote).join(" "))).toEqual(words);
      }),
    );
  });

  it("whatever it accepts, bash splits the same way", () => {
    const piece = fc.constantFrom(
      "a",
      "b",
      "-",
      "=",
      " ",
      "\t",
      "\n",
      "'",
      '"',
      "\\",
      "$",
      "x y",
      "*",
      "#",
      "é",
    );
    const text = fc.array(piece, { maxLength: 14 }).map((p) => p.join(""));
    let accepted = 0;
    fc.assert(
      fc.property(text, (t) => {
        const r = trySplitArgs(t);
        if (!r.ok) return;
        accepted++;
        expect(r.words).toEqual(bashWords(t));
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(50);
  });
});
