/** `dyn doctor --json`: `dyn.doctor/v1`. */
import { z } from "@dyn/core";
import { CHECK_NAMES } from "../commands/doctor.js";
import { envelope, nonNegative, str } from "./common.js";

export const CheckState = z.enum(["ok", "warn", "fail", "skip"]);
/** The checks, in the order doctor prints them (commands/doctor.ts CHECK_NAMES: one list). */
const CheckName = z.enum(CHECK_NAMES);

export const Check = z.strictObject({
  name: CheckName,
  state: CheckState,
  /** A failure of this check means dyn deploy will not work here. */
  critical: z.boolean(),
  detail: str,
  fix: str.nullable(),
});

export const DoctorDocument = envelope("dyn.doctor/v1", {
  remote: str.nullable(),
  slurm: z.strictObject({ version: str.nullable(), controller: z.enum(["up", "unreachable"]) }),
  runsDir: str,
  checks: z.array(Check),
  partitions: z.array(
    z.strictObject({
      name: str,
      default: z.boolean(),
      /** sinfo's availability, verbatim: up, down, drain, inact. */
      available: str,
      nodes: nonNegative(),
      gpusPerNode: nonNegative(),
      gpuTypes: z.array(str),
      gres: z.enum(["typed", "untyped", "none"]),
      timeLimit: str,
    }),
  ),
  /** The checks that warned or failed. */
  problems: z.array(Check),
  /** --write-profile: what was detected and written; null without it. */
  profile: z
    .strictObject({
      name: str,
      scope: z.enum(["site", "user"]),
      file: str,
      written: z.boolean(),
      replaced: z.boolean(),
      madeDefault: z.boolean(),
      /** The profile's settings (profiles.schema.json describes them). */
      settings: z.record(str, z.unknown()),
      notes: z.array(str),
      text: str,
    })
    .nullable(),
});
