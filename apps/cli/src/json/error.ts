/** Any command's error with --json: `dyn.error/v1` (the exit code is the error's: 1 or 2). */
import { z } from "@dyn/core";
import { SCHEMA_VERSION, str } from "./common.js";

export const ErrorDocument = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  format: z.literal("dyn.error/v1"),
  ok: z.literal(false),
  error: z.strictObject({
    /** DYN_USAGE, DYN_SPEC_INVALID, … (docs/cli.md, Errors and exit codes). */
    code: z.string().regex(/^DYN_[A-Z_]+$/),
    message: str,
    hint: str.nullable(),
    /** An input with several problems: each one ({key, where, message}); null otherwise. */
    problems: z.array(z.strictObject({ key: str, where: str.nullable(), message: str })).nullable(),
  }),
});
