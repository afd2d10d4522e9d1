/**
 * `dyn plan`: the plan table (or planToJson with --json); writes nothing. A config with `matrix:`
 * (a sweep): every point's plan (dyn.sweep-plan/v1 with --json), or one with --point.
 */
import { explainPlan, planToJson } from "@dyn/core";
import { type Io, printJson } from "../io.js";
import { prepare } from "../prepare.js";
import { loadSweep, notSweepFlags, planSweep, pointName, selectPoint } from "../sweep.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const sweep = await loadSweep(flags, io);
  if (sweep && flags.point === undefined) {
    const planned = await planSweep(flags, io, sweep);
    if (flags.json)
      printJson(io, {
        schemaVersion: 1,
        format: "dyn.sweep-plan/v1",
        ok: true,
        config: sweep.config.path,
        matrix: sweep.axes.map((a) => ({ key: a.key, values: a.values })),
        points: planned.map(({ point, prepared }) => ({
          index: point.index,
          label: point.label,
          values: point.values,
          plan: planToJson(prepared.plan),
        })),
      });
    else
      io.stdout(
        `${planned.map(({ point, prepared }) => `── ${pointName(point)}\n${explainPlan(prepared.plan)}\n`).join("\n")}\n${planned.length} points; dyn plan --point <n> shows one\n`,
      );
    return 0;
  }
  notSweepFlags(flags, sweep !== undefined);
  const point = sweep && flags.point !== undefined ? selectPoint(sweep, flags.point) : undefined;
  const { plan } = await prepare(flags, io, point ? { point } : {});
  if (flags.json) {
    const { schemaVersion, format, ...rest } = planToJson(plan);
    printJson(io, { schemaVersion, format, ok: true, ...rest });
  } else io.stdout(`${explainPlan(plan)}\n`);
  return 0;
}
