import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONTRACT_VERSION } from "../src/index.js";

describe("contract version", () => {
  it("package.json declares the contract version the code implements", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../package.json"), "utf8"));
    expect(pkg.dyn.contract).toBe(CONTRACT_VERSION);
  });

  it("the contract's major is the package's major, so ^major peer ranges match the contract", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../package.json"), "utf8"));
    expect(Number(pkg.version.split(".")[0])).toBe(CONTRACT_VERSION);
  });
});
