import { describe, expect, it } from "vitest";
import { type Io, progressLine } from "../src/io.js";

function fakeIo(isTTY: boolean) {
  const err: string[] = [];
  const io = { isTTY, stderr: (s: string) => err.push(s) } as unknown as Io;
  return { io, err };
}

describe("progress line", () => {
  it("in a log (no TTY) writes a line only when the state changes, not every clock tick", () => {
    const { io, err } = fakeIo(false);
    const line = progressLine(io);
    line.update("job 7 starting · 1 s", "job 7 starting");
    line.update("job 7 starting · 2 s", "job 7 starting");
    line.update("job 7 starting · prefill 1/1 · 3 s", "job 7 starting · prefill 1/1");
    line.done();
    expect(err).toEqual(["job 7 starting · 1 s\n", "job 7 starting · prefill 1/1 · 3 s\n"]);
  });

  it("on a TTY redraws the same line as the clock ticks and ends it with a newline", () => {
    const { io, err } = fakeIo(true);
    const line = progressLine(io);
    line.update("job 7 starting · 1 s", "job 7 starting");
    line.update("job 7 starting · 2 s", "job 7 starting");
    line.done();
    expect(err).toEqual(["\r\u001b[2Kjob 7 starting · 1 s", "\r\u001b[2Kjob 7 starting · 2 s", "\n"]);
  });
});
