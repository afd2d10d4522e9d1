/** `dyn deploy --json` (also --dry-run and --wait): `dyn.deploy/v1`. */
import { z } from "@dyn/core";
import { Attribution, DEPLOYMENT_STATES, End, envelope, Failed, str, WaitOutcome } from "./common.js";
import { PlanFile } from "./plan.js";

export const DeployDocument = envelope("dyn.deploy/v1", {
  /** not_submitted (dry run), submitted (no --wait), else the job's state when --wait returned. */
  state: z.enum(["submitted", ...DEPLOYMENT_STATES]),
  dryRun: z.boolean(),
  jobId: str.nullable(),
  cluster: str.nullable(),
  remote: str.nullable(),
  runDir: str,
  files: z.strictObject({ script: str, plan: str, spec: str }),
  /** Commands to run next (empty for a dry run). */
  next: z.array(str),
  /** With --wait: how it went; null otherwise. */
  wait: z
    .strictObject({
      outcome: WaitOutcome,
      url: str.nullable(),
      failed: Failed.nullable(),
      attribution: Attribution.nullable(),
      end: End.nullable(),
    })
    .nullable(),
  plan: PlanFile,
});
