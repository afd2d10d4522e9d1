/** The Dynamo HTTP frontend command of the current (post-SDK) generation, shared by all backends. */
import type { Command, CommandContext } from "./backend.js";

export function frontendCommand(ctx: CommandContext<unknown>): Command {
  return {
    argv: [
      "python3",
      "-m",
      "dynamo.frontend",
      "--http-host",
      "0.0.0.0",
      "--http-port",
      ctx.frontendPort,
      ...ctx.args,
    ],
  };
}
