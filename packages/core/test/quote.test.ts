/**
 * shellQuote / renderArg: whatever the text, bash turns the rendered word back into exactly the
 * intended bytes (checked by running bash, not by inspecting the quoting).
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Arg,
  join,
  port,
  renderArg,
  shellQuote,
  showArg,
  variable,
  type Word,
  w,
} from "../src/index.js";
import { hostile } from "./helpers/hostile.js";
import { type Runtime, resolveArg } from "./helpers/resolve.js";

/** bash prints each word NUL-terminated; returns the words bash saw. */
function bashWords(rendered: readonly string[], env: Record<string, string> = {}): string[] {
  const r = spawnSync("bash", ["-c", `printf '%s\\0' ${rendered.join(" ")}`], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    encoding: "utf8",
    // stdin must not be a socket: bash then assumes it runs under sshd and sources ~/.bashrc.
    stdio: ["ignore", "pipe", "pipe"],
  });
  expect(r.stderr).toBe("");
  const words = r.stdout.split("\0");
  words.pop();
  return words;
}

const VARS = ["DYN_NODE_IP_0", "DYN_RUN_DIR", "SLURM_JOB_ID", "DYN_HF_CACHE"];
const portBase = 10400;

const part = fc.oneof(
  hostile().map((s): Arg => s),
  fc.constantFrom(...VARS).map((v) => variable(v)),
  fc.integer({ min: 0, max: 99 }).map((offset) => port({ kind: "job", offset })),
  fc.integer({ min: 1, max: 65535 }).map((p) => port({ kind: "fixed", port: p })),
);
const arg: fc.Arbitrary<Arg> = fc.oneof(
  hostile(),
  fc.constant(""),
  fc.array(part, { minLength: 1, maxLength: 4 }).map((pieces) => join(...pieces)),
);

describe("shellQuote", () => {
  it("round-trips any text through bash byte-exact", () => {
    fc.assert(
      fc.property(fc.array(hostile(), { minLength: 1, maxLength: 8 }), (texts) => {
        expect(bashWords(texts.map(shellQuote))).toEqual(texts);
      }),
      { numRuns: 100 },
    );
  });

  it("leaves plain words bare, quotes everything else, and refuses NUL", () => {
    expect(shellQuote("--port=8000")).toBe("--port=8000");
    expect(shellQuote("nvcr.io/a/b:1,x@y%z+q")).toBe("nvcr.io/a/b:1,x@y%z+q");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("~")).toBe("'~'");
    expect(shellQuote("a=~/x")).toBe("'a=~/x'");
    expect(() => shellQuote("a\0b")).toThrow(TypeError);
  });
});

describe("renderArg", () => {
  it("with the runtime variables defined, bash sees exactly the resolved words", () => {
    fc.assert(
      fc.property(
        fc.array(arg, { minLength: 1, maxLength: 6 }),
        fc.tuple(...VARS.map(() => hostile())),
        (args, values) => {
          const vars = Object.fromEntries(VARS.map((v, i) => [v, values[i] as string]));
          const rt: Runtime = { vars, portBase };
          const env = { ...vars, DYN_PORT_BASE: String(portBase) };
          expect(bashWords(args.map(renderArg), env)).toEqual(args.map((a) => resolveArg(a, rt)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("renders runtime parts as double-quoted expansions next to quoted literals", () => {
    const ip = variable("DYN_NODE_IP_1");
    expect(renderArg(w`--dist-init-addr=${ip}:${port({ kind: "job", offset: 7 })}`)).toBe(
      '--dist-init-addr="${DYN_NODE_IP_1}":"$((DYN_PORT_BASE+7))"',
    );
    expect(renderArg(join("a b", port({ kind: "fixed", port: 8000 })))).toBe("'a b'8000");
    expect(renderArg({ parts: [] })).toBe("''");
  });
});

describe("words", () => {
  it("join merges adjacent literals and drops empty ones", () => {
    const word: Word = join("a", "", "b", variable("X"), "c", join("d", "e"));
    expect(word.parts).toEqual([{ lit: "ab" }, { var: "X" }, { lit: "cde" }]);
    expect(showArg(word)).toBe("ab${X}cde");
  });

  it("w is a template for join", () => {
    const p = port({ kind: "job", offset: 3 });
    expect(w`x=${variable("Y")}:${p}/${"lit"}`).toEqual(join("x=", variable("Y"), ":", p, "/", "lit"));
    expect(showArg(w`${p}`)).toBe("{port+3}");
  });

  it("variable refuses anything but a shell variable name", () => {
    for (const bad of ["1X", "A-B", "A B", "$(x)", ""]) expect(() => variable(bad)).toThrow(TypeError);
  });
});
