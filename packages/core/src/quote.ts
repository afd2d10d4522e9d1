/**
 * The one shell-quoting function. Every value that reaches a shell in a rendered script goes through
 * here (or through `renderArg`, which calls it for every literal part).
 */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(value: string): string {
  if (value.includes("\0")) {
    // A NUL byte cannot be passed through argv or the environment; the schema rejects it earlier.
    throw new TypeError("a NUL byte cannot be passed to a shell");
  }
  if (value === "") return "''";
  if (SAFE.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
