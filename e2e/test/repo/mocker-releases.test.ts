/**
 * The example third-party backend (dyn-backend-mocker) × every release it declares × its shapes:
 * every argv it renders is accepted by that release's captured `dynamo.mocker` parser, and the
 * releases without the module (or without a role) are refused with one line naming the release.
 */
import { type Backend, DynError, isInfraStep, showArg } from "@dyn/core";
import { planForTest, type TestSpec, thrownBy } from "@dyn/core/testing";
import mocker from "dyn-backend-mocker";
import { describe, expect, it } from "vitest";
import { argvProblems, tables } from "./flag-tables.js";

const backend = mocker as unknown as Backend;
const SHAPES: Record<string, TestSpec> = {
  disaggregated: { roles: { prefill: { workers: 2 }, decode: { workers: 2 } } },
  aggregated: { roles: { aggregated: { workers: 3 } }, options: { numGpuBlocks: 4096 } },
  "speed-up": { roles: { aggregated: { workers: 1 } }, options: { speedupRatio: 0 } },
};

/** 0.4.1's mocker is aggregated only and takes engine settings only from an --extra-engine-args file. */
const REFUSED = new Set(["0.4.1 disaggregated", "0.4.1 aggregated", "0.4.1 speed-up"]);

describe("dyn-backend-mocker against the captured mocker parsers", () => {
  it("declares exactly the releases whose tables have the mocker", () => {
    const withMocker = Object.entries(tables.releases)
      .filter(([, r]) => (r.components.mocker as { flags?: unknown } | undefined)?.flags)
      .map(([v]) => v);
    expect([...(backend.releases?.known ?? [])]).toEqual(withMocker);
  });

  for (const version of backend.releases?.known ?? []) {
    for (const [shape, spec] of Object.entries(SHAPES)) {
      it(`${version} ${shape}: accepted by the ${version} parsers, or refused naming the release`, () => {
        let plan: ReturnType<typeof planForTest>;
        try {
          plan = planForTest(backend, { ...spec, dynamo: { version } });
        } catch (err) {
          expect(DynError.is(err), String(err)).toBe(true);
          expect(REFUSED.has(`${version} ${shape}`), String(err)).toBe(true);
          expect((err as Error).message).toContain(`Dynamo ${version}`);
          return;
        }
        expect(REFUSED.has(`${version} ${shape}`)).toBe(false);
        expect(plan.release.version).toBe(version);
        for (const step of plan.steps.filter((s) => !isInfraStep(s))) {
          const argv = step.argv.map(showArg);
          expect(argvProblems(version, argv), `${step.id}: ${argv.join(" ")}`).toEqual([]);
        }
      });
    }
  }

  it("refuses 0.3.2, which has no python3 -m dynamo.mocker", () => {
    expect(
      thrownBy(() => planForTest(backend, { ...SHAPES.aggregated, dynamo: { version: "0.3.2" } })),
    ).toMatchObject({
      code: "DYN_UNSUPPORTED",
      key: "dynamo.version",
    });
  });
});
