/** Turns zod issues into DynErrors that name the key; pure, shared by the spec and backend options. */
import type { z } from "zod";
import { DynError, type DynErrorCode } from "./errors.js";

export interface Issue {
  /** Dotted path, e.g. roles.prefill.workers */
  key: string;
  message: string;
}

export function issuesOf(error: z.ZodError, prefix = ""): Issue[] {
  const dotted = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter((p) => p !== "").join(".");
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      // Name the unknown key itself (roles.prefil), not only the object that holds it.
      const [first, ...rest] = issue.keys.map((k) => dotted([...issue.path, k]));
      return {
        key: first ?? dotted(issue.path),
        message: `unknown key${rest.length ? ` (also ${rest.join(", ")})` : ""}`,
      };
    }
    if (issue.code === "invalid_key") {
      // A record key failed its own schema: that schema's message says what a key must be.
      return { key: dotted(issue.path), message: `bad key: ${issue.issues[0]?.message ?? issue.message}` };
    }
    return { key: dotted(issue.path), message: issue.message };
  });
}

/** Parse or throw one DynError naming the first bad key (the others are kept in `cause`). */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  options: { code: DynErrorCode; prefix?: string; hint?: string },
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = issuesOf(result.error, options.prefix);
  const first = issues[0] ?? { key: options.prefix ?? "", message: "is invalid" };
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw new DynError(options.code, `${first.key || "(root)"}: ${first.message}${more}`, {
    key: first.key,
    hint: options.hint,
    cause: issues,
  });
}
