/** What a rendered Word becomes at run time, given the runtime variables' values. */
import type { Arg, PlannedStep } from "../../src/index.js";

export interface Runtime {
  readonly vars: Readonly<Record<string, string>>;
  readonly portBase: number;
}

export function resolveArg(arg: Arg, rt: Runtime): string {
  if (typeof arg === "string") return arg;
  return arg.parts
    .map((part) => {
      if ("lit" in part) return part.lit;
      if ("var" in part) {
        const value = rt.vars[part.var];
        if (value === undefined) throw new Error(`test runtime has no value for ${part.var}`);
        return value;
      }
      return String(part.port.kind === "fixed" ? part.port.port : rt.portBase + part.port.offset);
    })
    .join("");
}

export function resolveEnv(env: PlannedStep["env"], rt: Runtime): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolveArg(v, rt)]));
}
