/** `dyn plan`: the plan table (or planToJson with --json); writes nothing. */
import { explainPlan, planToJson } from "@dyn/core";
import { type Io, printJson } from "../io.js";
import { prepare } from "../prepare.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const { plan } = await prepare(flags, io);
  if (flags.json) {
    const { schemaVersion, format, ...rest } = planToJson(plan);
    printJson(io, { schemaVersion, format, ok: true, ...rest });
  } else io.stdout(`${explainPlan(plan)}\n`);
  return 0;
}
