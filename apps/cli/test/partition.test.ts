/**
 * Before sbatch, a plan larger than its partition is refused when sinfo answers (#14 item 13); sinfo
 * is asked once, with a bounded time, and a missing, failing or slow sinfo leaves the decision to
 * sbatch.
 */
import { describe, expect, it } from "vitest";
import { checkPartition, parsePartitionNodes, SINFO_TIMEOUT_MS } from "../src/partition.js";
import type { ProbeResult } from "../src/slurm.js";
import { FakeSlurm, run, tmp } from "./helpers.js";

const SINFO = "sinfo -h -a -o %P|%D";
const answer = (stdout: string, extra: Partial<ProbeResult> = {}): ProbeResult => ({
  found: true,
  code: 0,
  stdout,
  stderr: "",
  ...extra,
});

/** Records the time limit each probe was given. */
class TimedSlurm extends FakeSlurm {
  timeouts: Array<number | undefined> = [];
  override async probe(command: string, args: readonly string[], options?: { timeoutMs?: number }) {
    this.timeouts.push(options?.timeoutMs);
    return super.probe(command, args);
  }
}

describe("parsePartitionNodes", () => {
  it("sums a partition's lines (one per node state) and finds the default", () => {
    const p = parsePartitionNodes("gpu*|4\ngpu|2\ndebug|1\n  big|128  \n\nnoise\n");
    expect([...p.nodes]).toEqual([
      ["gpu", 6],
      ["debug", 1],
      ["big", 128],
    ]);
    expect(p.defaultPartition).toBe("gpu");
  });
});

describe("checkPartition", () => {
  const labels = { nodes: "--nodes", partition: "--partition" };
  const slurmWith = (r: ProbeResult | undefined) => {
    const s = new TimedSlurm();
    if (r) s.probes.set(SINFO, r);
    return { s, seen: s.timeouts };
  };

  it("asks sinfo once, bounded by a few seconds", async () => {
    const { s, seen } = slurmWith(answer("gpu*|4\n"));
    await checkPartition(s, undefined, 4, labels);
    expect(s.count("sinfo")).toBe(1);
    expect(seen).toEqual([SINFO_TIMEOUT_MS]);
    expect(SINFO_TIMEOUT_MS).toBeLessThanOrEqual(5000);
  });

  it.each([
    ["sinfo missing", undefined],
    [
      "sinfo failed (no controller)",
      answer("", { code: 1, stderr: "sinfo: error: Unable to contact slurm controller" }),
    ],
    ["sinfo timed out", answer("", { code: null, timedOut: true })],
    ["sinfo printed nothing", answer("")],
  ])("%s: nothing is checked", async (_name, r) => {
    const { s } = slurmWith(r);
    await expect(checkPartition(s, "gpu", 10_000, labels)).resolves.toBeUndefined();
  });

  it("the default partition when none is given; none marked: nothing checked", async () => {
    await expect(checkPartition(slurmWith(answer("gpu*|4\n")).s, undefined, 5, labels)).rejects.toThrow(
      "--nodes: the plan needs 5 nodes, and partition gpu has 4 (sinfo); the job would never start",
    );
    await expect(
      checkPartition(slurmWith(answer("gpu|4\n")).s, undefined, 5, labels),
    ).resolves.toBeUndefined();
  });
});

describe("dyn deploy", () => {
  it("a plan that fits is submitted after one sinfo call", async () => {
    const slurm = new FakeSlurm();
    slurm.probes.set(SINFO, answer("gpu*|2\n"));
    const r = await run(["deploy", "--backend", "sglang", "--nodes", "2"], { cwd: tmp(), slurm });
    expect(r.code).toBe(0);
    expect(slurm.calls.map((c) => c.cmd)).toEqual(["sinfo", "sbatch"]);
  });

  it("a dry run does not ask sinfo", async () => {
    const slurm = new FakeSlurm();
    const r = await run(["deploy", "--dry-run", "--backend", "sglang"], { cwd: tmp(), slurm });
    expect(r.code).toBe(0);
    expect(slurm.calls).toEqual([]);
  });
});
