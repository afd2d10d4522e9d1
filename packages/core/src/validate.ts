/** Turns zod issues into DynErrors that name the key; pure, shared by the spec and backend options. */
import type { z } from "zod";
import { DynError, type DynErrorCode } from "./errors.js";

export interface Issue {
  /** Dotted path, e.g. roles.prefill.workers */
  key: string;
  message: string;
}

export function issuesOf(error: z.ZodError, prefix = ""): Issue[] {
  return error.issues.map((issue) => {
    const key = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".");
    const message =
      issue.code === "unrecognized_keys"
        ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`
        : issue.message;
    return { key, message };
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
