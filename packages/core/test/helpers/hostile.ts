/** fast-check arbitraries for user text that tries to break out of shell quoting. */
import fc from "fast-check";

/** No lone surrogate: such a string has no UTF-8 form, so it cannot be a shell word byte-exact. */
const wellFormed = (s: string) => !/\p{Cs}/u.test(s);

/** Fragments that mean something to bash, sbatch, srun or env. */
const NASTY = [
  "'",
  '"',
  "$(touch /tmp/pwned)",
  "`id`",
  "${HOME}",
  "$HOME",
  "$((1+1))",
  "\n",
  "\r",
  "\t",
  "\\",
  "\\'",
  "-",
  "--help",
  "-rf",
  "*",
  "?",
  "[a]",
  "~",
  "~root",
  " ",
  "  ",
  ";",
  "|",
  "&",
  "&&",
  ">",
  "<",
  "#",
  "!",
  "{a,b}",
  "=",
  "K=V",
  "%s",
  "%(%s)T",
  "é",
  "日本",
  "😀",
  "\u00a0",
  "\u200b",
  "\u001b[31m",
  "'\"'\"'",
];

/** One hostile string: NASTY fragments interleaved with arbitrary well-formed text; never NUL. */
export const hostile = (maxFragments = 6): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
        { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) },
        { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 3 }) },
      ),
      { minLength: 1, maxLength: maxFragments },
    )
    .map((parts) => parts.join("").replaceAll("\0", ""))
    .filter((s) => s.length > 0 && wellFormed(s));

/** Within the schema's rules for a pyxis mount part: no ':' or ','. */
export const mountPart = hostile(4)
  .map((s) => s.replaceAll(":", "").replaceAll(",", ""))
  .filter((s) => s.length > 0);

/** A path component that mkdir can create: no '/', bounded length, not '.' or '..'. */
export const dirName = hostile(4)
  .map((s) => s.replaceAll("/", "_").replaceAll(":", "_").replaceAll(",", "_").slice(0, 40))
  .filter((s) => s.length > 0 && s !== "." && s !== ".." && Buffer.byteLength(s) < 200 && wellFormed(s));
