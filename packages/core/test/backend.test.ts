/** The plugin contract: defineBackend's brand, assertBackend's checks, option resolution. */
import { describe, expect, it } from "vitest";
import {
  assertBackend,
  CONTRACT_VERSION,
  DynError,
  defineBackend,
  isBackend,
  resolveOptions,
  z,
} from "../src/index.js";
import { legacy, perNode } from "./fixtures/backends.js";

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return DynError.is(e) ? e.code : String(e);
  }
  return "no error";
};

describe("backend contract", () => {
  it("defineBackend freezes and brands with the contract version", () => {
    expect(Object.isFrozen(perNode)).toBe(true);
    expect(isBackend(perNode)).toBe(true);
    expect(assertBackend(perNode, "test")).toBe(perNode);
    expect(perNode[Symbol.for("dyn.backend") as never]).toBe(CONTRACT_VERSION);
  });

  it("assertBackend refuses plain objects, other contract versions and missing functions", () => {
    expect(code(() => assertBackend({ name: "x" }, "pkg"))).toBe("DYN_BACKEND_INVALID");
    expect(code(() => assertBackend({ ...perNode, [Symbol.for("dyn.backend")]: 99 }, "pkg"))).toBe(
      "DYN_BACKEND_INCOMPATIBLE",
    );
    const broken = defineBackend({ ...perNode, command: undefined as never });
    expect(code(() => assertBackend(broken, "pkg"))).toBe("DYN_BACKEND_INVALID");
    const badName = defineBackend({ ...perNode, name: "Bad Name" });
    expect(code(() => assertBackend(badName, "pkg"))).toBe("DYN_BACKEND_INVALID");
  });

  it("resolveOptions applies defaults and names bad keys under backend.options", () => {
    expect(resolveOptions(legacy, undefined)).toEqual({
      hosted: "decode",
      graphDir: "/workspace/examples/llm",
    });
    try {
      resolveOptions(legacy, { hosted: "aggregated" });
      expect.unreachable();
    } catch (e) {
      expect(DynError.is(e) && [e.code, e.key, e.exitCode]).toEqual([
        "DYN_OPTIONS_INVALID",
        "backend.options.hosted",
        2,
      ]);
    }
  });

  it("DynError.is is a brand check that works across copies", () => {
    const foreign = Object.assign(new Error("x"), { [Symbol.for("dyn.error")]: true });
    expect(DynError.is(foreign)).toBe(true);
    expect(DynError.is(new Error("x"))).toBe(false);
    expect(new DynError("DYN_TIMEOUT", "slow").exitCode).toBe(1);
    expect(z).toBeDefined();
  });
});
