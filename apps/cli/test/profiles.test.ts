// Site profiles from the user's side: which profile is used (--profile > DYN_PROFILE > the config's
// profile: > the user file's default > the site file's), how it layers under the config and flags,
// what errors say, what plan/deploy/render show, and dyn doctor --write-profile.
import { mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chooseInterface, interfaceProbeArgs, parseSelectType } from "../src/commands/doctor-profile.js";
import type { ProbeResult } from "../src/slurm.js";
import { FakeSlurm, run, tmp, writeConfig } from "./helpers.js";

/** A site directory and a user config home, each with a profiles.yaml when given. */
function homes(site?: string, user?: string) {
  const root = tmp("dyn-profiles-");
  const siteDir = join(root, "etc-dyn");
  const xdg = join(root, "config");
  mkdirSync(siteDir, { recursive: true });
  mkdirSync(join(xdg, "dyn"), { recursive: true });
  const siteFile = join(siteDir, "profiles.yaml");
  const userFile = join(xdg, "dyn", "profiles.yaml");
  if (site !== undefined) writeFileSync(siteFile, site);
  if (user !== undefined) writeFileSync(userFile, user);
  const cwd = join(root, "project");
  mkdirSync(cwd);
  return { root, cwd, siteFile, userFile, env: { DYN_SITE_CONFIG_DIR: siteDir, XDG_CONFIG_HOME: xdg } };
}

const SITE = `default: site
profiles:
  site:
    slurm:
      partition: batch
      account: site-acct
      gpuRequest: gres
      extraSbatch: ["--reservation=r1"]
    network: { interface: eth0 }
    container:
      mounts: ["/shared:/shared"]
  other:
    slurm: { partition: other }
`;
const USER = `default: mine
profiles:
  mine:
    extends: site
    slurm: { account: my-acct }
  site:
    slurm: { qos: high }
`;

const SG = ["--backend", "sglang"];

async function planJson(h: ReturnType<typeof homes>, args: string[] = [], env: Record<string, string> = {}) {
  const r = await run(["plan", ...SG, ...args, "--json"], { cwd: h.cwd, env: { ...h.env, ...env } });
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

describe("which profile is used", () => {
  it("--profile > DYN_PROFILE > the config's profile: > the user's default > the site's default", async () => {
    const h = homes(SITE, USER);
    expect((await planJson(h)).profile).toMatchObject({ name: "mine", from: `the default of ${h.userFile}` });
    writeConfig(h.cwd, "profile: other\n");
    expect((await planJson(h)).profile).toMatchObject({ name: "other", from: "dyn.yaml:1:10 profile" });
    expect((await planJson(h, [], { DYN_PROFILE: "site" })).profile.name).toBe("site");
    expect((await planJson(h, ["--profile", "mine"], { DYN_PROFILE: "site" })).profile.from).toBe(
      "--profile",
    );
    const none = await planJson(h, ["--no-profile"], { DYN_PROFILE: "site" });
    expect(none.profile).toBeNull();
    expect(none.spec.slurm.partition).toBeUndefined();
  });

  it("only the site file: its default; neither file: no profile at all", async () => {
    expect((await planJson(homes(SITE))).profile).toMatchObject({ name: "site", chain: ["site"] });
    expect((await planJson(homes())).profile).toBeNull();
  });
});

describe("layers: site profile < user profile < config file < DYN_* < flags", () => {
  it("each value comes from the highest layer that sets it; lists lead with the profile's", async () => {
    const h = homes(SITE, USER);
    writeConfig(h.cwd, "slurm:\n  account: cfg-acct\n  extraSbatch: [--comment=cfg]\n");
    const j = await planJson(h, ["--profile", "mine", "--qos", "flag-qos"], { DYN_PARTITION: "env-part" });
    expect(j.spec.slurm).toMatchObject({
      partition: "env-part",
      account: "cfg-acct",
      qos: "flag-qos",
      gpuRequest: "gres",
      extraSbatch: ["--reservation=r1", "--comment=cfg"],
    });
    expect(j.spec.network.interface).toBe("eth0");
    expect(j.profile).toEqual({
      name: "mine",
      from: "--profile",
      chain: ["mine", "site"],
      sources: [
        { scope: "site", file: h.siteFile, profile: "site" },
        { scope: "user", file: h.userFile, profile: "site" },
        { scope: "user", file: h.userFile, profile: "mine" },
      ],
      unused: ["container"],
    });
    // Without the higher layers the profile's values stand (the user's qos over the site's none).
    rmSync(join(h.cwd, "dyn.yaml"));
    const bare = await planJson(h, ["--profile", "mine"]);
    expect(bare.spec.slurm).toMatchObject({ partition: "batch", account: "my-acct", qos: "high" });
  });

  it("container settings apply to a pyxis deployment only", async () => {
    const h = homes(SITE);
    const pyxis = await planJson(h, ["--container", "/img/x.sqsh", "--container-mount", "/m:/m"]);
    expect(pyxis.spec.container.mounts).toEqual(["/shared:/shared", "/m:/m"]);
    expect(pyxis.profile.unused).toEqual([]);
    const bare = await planJson(h);
    expect(bare.spec.container).toEqual({ kind: "none" });
    expect(bare.profile.unused).toEqual(["container"]);
  });

  it("the script gets the profile's directives; plan and deploy name the profile", async () => {
    const h = homes(SITE);
    const r = await run(["render", ...SG], { cwd: h.cwd, env: h.env });
    expect(r.code, r.stderr).toBe(0);
    const directives = r.stdout.split("\n").filter((l) => l.startsWith("#SBATCH"));
    expect(directives).toEqual(
      expect.arrayContaining([
        "#SBATCH --partition=batch",
        "#SBATCH --account=site-acct",
        "#SBATCH --gres=gpu:8",
        "#SBATCH --reservation=r1",
      ]),
    );
    expect(directives.some((l) => l.startsWith("#SBATCH --gpus-per-node"))).toBe(false);
    const plan = await run(["plan", ...SG], { cwd: h.cwd, env: h.env });
    expect(plan.stdout.split("\n")[1]).toBe(
      `  profile site (the default of ${h.siteFile}): ${h.siteFile} (site); not used here: container (no container)`,
    );
    const slurm = new FakeSlurm();
    const d = await run(["deploy", ...SG], { cwd: h.cwd, env: h.env, slurm });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`profile site (the default of ${h.siteFile})`);
    const runDir = realpathSync(join(h.cwd, "dyn-runs", "by-job", "4242"));
    expect(JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")).profile.name).toBe("site");
  });

  it("the profile's runsDir is used below --runs-dir, DYN_RUNS_DIR and the config's, by deploy and list", async () => {
    const h = homes();
    const runs = join(h.root, "shared-runs");
    writeFileSync(h.siteFile, `default: s\nprofiles:\n  s:\n    runsDir: ${runs}\n`);
    const d = await run(["deploy", ...SG, "--json"], { cwd: h.cwd, env: h.env, slurm: new FakeSlurm() });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).runDir.startsWith(`${runs}/dynamo-`)).toBe(true);
    const list = await run(["list", "--json"], { cwd: h.cwd, env: h.env, slurm: new FakeSlurm() });
    expect(JSON.parse(list.stdout).runsDir).toBe(runs);
    const flag = await run(["deploy", ...SG, "--dry-run", "--json", "--runs-dir", "elsewhere"], {
      cwd: h.cwd,
      env: h.env,
    });
    expect(JSON.parse(flag.stdout).runDir.startsWith(join(h.cwd, "elsewhere"))).toBe(true);
  });
});

describe("errors: one line naming the profile, its file and key, exit 2, nothing written", () => {
  it("an unknown profile: did you mean, and where dyn looked", async () => {
    const h = homes(SITE);
    const r = await run(["deploy", ...SG, "--profile", "sit"], {
      cwd: h.cwd,
      env: h.env,
      slurm: new FakeSlurm(),
    });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: --profile: no profile "sit" (did you mean site?); looked in ${h.siteFile} (profiles: site, other), ${h.userFile} (no such file) (DYN_PROFILE_NOT_FOUND)`,
    );
    expect(r.stderr).toContain("hint: known profiles: other, site");
    const env = await run(["plan", ...SG, "--json"], { cwd: h.cwd, env: { ...h.env, DYN_PROFILE: "nope" } });
    expect(env.code).toBe(2);
    expect(JSON.parse(env.stdout).error.code).toBe("DYN_PROFILE_NOT_FOUND");
    expect(JSON.parse(env.stdout).error.message).toMatch(/^DYN_PROFILE: no profile "nope"/);
  });

  it("YAML syntax errors in a profiles file read like the config file's: one a line, each at file:line:col", async () => {
    const one = homes(`profiles:\n  a: { slurm: { partition: gpu }\n`);
    const r = await run(["plan", ...SG, "--profile", "a"], { cwd: one.cwd, env: one.env });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(
      new RegExp(
        `^error: ${one.siteFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+ .+ \\(DYN_CONFIG_INVALID\\)$`,
      ),
    );
    expect(r.stderr).toContain("fix the YAML syntax of the profiles file");
    const two = homes(undefined, `profiles:\n  a: 1\n  a: 2\n  b: [\n`);
    const t = await run(["plan", ...SG, "--profile", "a"], { cwd: two.cwd, env: two.env });
    expect(t.code).toBe(2);
    const lines = t.stderr.split("\n").filter((l) => l.includes(two.userFile));
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it("bad keys in a profiles file: each at file:line:col with its key path; spec keys are not profile keys", async () => {
    const h = homes(`profiles:\n  a:\n    slurm:\n      partiton: gpu\n    model: Qwen/Qwen3-0.6B\n`);
    const r = await run(["plan", ...SG, "--profile", "a"], { cwd: h.cwd, env: h.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${h.siteFile}:4:7 profiles.a.slurm.partiton: unknown key (did you mean partition?)`,
    );
    expect(r.stderr).toContain(`${h.siteFile}:5:5 profiles.a.model: model is not a profile key`);
    expect(r.stderr).toContain("(DYN_CONFIG_INVALID)");
  });

  it("the config's profile: must be a name; doctor checks with the selected profile", async () => {
    const h = homes(SITE);
    writeConfig(h.cwd, "backend: sglang\nprofile: [a]\n");
    const r = await run(["plan"], { cwd: h.cwd, env: h.env });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      "error: dyn.yaml:2:10 profile: must be a profile name (letters, digits, _ . -) (DYN_CONFIG_INVALID)",
    );
    writeConfig(h.cwd, "backend: sglang\n");
    // The site default's partition batch is not one the cluster lists: doctor says so, naming it.
    const d = await run(["doctor", "--json"], { cwd: h.cwd, env: h.env, slurm: cluster() });
    expect(d.code).toBe(1);
    expect(JSON.parse(d.stdout).checks.find((c: { name: string }) => c.name === "partitions").detail).toBe(
      `partition batch (${h.siteFile}:5:18 profiles.site.slurm.partition) is not one of debug, gpu`,
    );
    const none = await run(["doctor", "--json", "--no-profile"], {
      cwd: h.cwd,
      env: h.env,
      slurm: cluster(),
    });
    expect(none.code, none.stdout).toBe(0);
  });

  it("extends in a cycle, and extends of a profile that does not exist", async () => {
    const cycle = homes(`profiles:\n  a: { extends: b }\n  b: { extends: a }\n`);
    const r = await run(["plan", ...SG, "--profile", "a"], { cwd: cycle.cwd, env: cycle.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("profiles extend each other in a cycle: a → b → a");
    const missing = homes(`profiles:\n  a: { extends: base }\n`);
    const m = await run(["plan", ...SG, "--profile", "a"], { cwd: missing.cwd, env: missing.env });
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`${missing.siteFile}:2:17 profiles.a.extends: no profile "base"`);
  });

  it("a spec problem caused by a profile value is named at its place in the profiles file", async () => {
    const h = homes(
      `profiles:\n  p:\n    slurm:\n      gpuRequest: none\n      extraSbatch: ["--gres=gpu:2"]\n`,
    );
    writeConfig(h.cwd, "slurm: { gpuRequest: gres }\n");
    const r = await run(["plan", ...SG, "--profile", "p"], { cwd: h.cwd, env: h.env });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(
      new RegExp(
        `^error: ${h.siteFile}:5:21 profiles\\.p\\.slurm\\.extraSbatch\\.0: "--gres=gpu:2" repeats #SBATCH --gres`,
      ),
    );
  });
});

const ok = (stdout: string): ProbeResult => ({ found: true, code: 0, stdout, stderr: "" });
const IFACES = [
  "---",
  "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever",
].join("\n");

/** A cluster with a default partition of 4 nodes × 4 typed GPUs, cons_tres, pyxis, and a node with eth0. */
function cluster(): FakeSlurm {
  const slurm = new FakeSlurm();
  for (const c of ["sbatch", "srun", "squeue", "scancel"])
    slurm.probes.set(`${c} --version`, ok("slurm 23.11.4"));
  slurm.probes.set("scontrol ping", ok("Slurmctld(primary) at head1 is UP\n"));
  slurm.probes.set(
    "sinfo -h -o %P|%a|%D|%G|%l",
    ok("debug|up|1|(null)|1:00:00\ngpu*|up|4|gpu:h100:4|infinite\n"),
  );
  slurm.probes.set("srun --help", ok("  --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH\n"));
  slurm.probes.set("scontrol show config", ok("SelectType              = select/cons_tres\n"));
  slurm.probes.set(`srun ${interfaceProbeArgs(undefined, 5000).join(" ")}`, ok(IFACES));
  return slurm;
}

describe("dyn doctor --write-profile", () => {
  it("writes what it detected, atomically, sets the default, prints it; a deploy then uses it", async () => {
    const h = homes();
    const runs = join(h.root, "runs");
    const slurm = cluster();
    const r = await run(["doctor", "--write-profile", "site", "--site", "--runs-dir", runs], {
      cwd: h.cwd,
      env: h.env,
      slurm,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const file = parse(readFileSync(h.siteFile, "utf8"));
    expect(file).toEqual({
      default: "site",
      profiles: {
        site: {
          slurm: { partition: "gpu", gpusPerNode: 4, gpuRequest: "gpus-per-node", gpuType: "h100" },
          network: { interface: "eth0" },
          runsDir: runs,
        },
      },
    });
    const text = readFileSync(h.siteFile, "utf8");
    expect(text).toContain("partition: gpu # the default partition (sinfo: gpu*)");
    expect(text).toContain(
      "interface: eth0 # on a compute node: the only interface with a routable IPv4 (10.77.0.11)",
    );
    expect(text).toContain("# pyxis: srun --container-image is available");
    expect(statSync(h.siteFile).mode & 0o777).toBe(0o644);
    expect(r.stdout).toContain(`wrote profile site in ${h.siteFile} (site), now its default:`);
    expect(r.stdout).toContain("    partition: gpu");
    // The srun probe went to the partition's nodes with --immediate: it never waits in the queue.
    expect(slurm.calls.some((c) => c.cmd === "srun" && (c.args as string[]).includes("--immediate=4"))).toBe(
      true,
    );
    // A plan with no flags but the backend gets all of it.
    const j = await planJson(h, ["--gpus-per-decode", "1", "--gpus-per-prefill", "1"]);
    expect(j.profile.name).toBe("site");
    expect(j.spec.slurm).toMatchObject({
      partition: "gpu",
      gpusPerNode: 4,
      gpuRequest: "gpus-per-node",
      gpuType: "h100",
    });
    expect(j.spec.network.interface).toBe("eth0");
  });

  it("refuses to replace an existing profile unless --force, and keeps the file's other profiles", async () => {
    const h = homes(
      undefined,
      "# mine\nprofiles:\n  keep: { slurm: { qos: q } }\n  site: { slurm: { partition: old } }\n",
    );
    const before = readFileSync(h.userFile, "utf8");
    const r = await run(["doctor", "--write-profile", "site"], { cwd: h.cwd, env: h.env, slurm: cluster() });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: --write-profile: profile site already exists in ${h.userFile}:4:3 (DYN_USAGE)`,
    );
    expect(readFileSync(h.userFile, "utf8")).toBe(before);
    const f = await run(["doctor", "--write-profile", "site", "--force", "--json"], {
      cwd: h.cwd,
      env: h.env,
      slurm: cluster(),
    });
    expect(f.code, f.stdout).toBe(0);
    const j = JSON.parse(f.stdout);
    expect(j.profile).toMatchObject({
      name: "site",
      scope: "user",
      file: h.userFile,
      written: true,
      replaced: true,
      madeDefault: true,
    });
    const after = readFileSync(h.userFile, "utf8");
    expect(after).toContain("# mine");
    expect(parse(after).profiles.keep).toEqual({ slurm: { qos: "q" } });
    expect(parse(after).profiles.site.slurm.partition).toBe("gpu");
    // No runs directory given: none written, and the notes say so.
    expect(parse(after).profiles.site.runsDir).toBeUndefined();
    expect(j.profile.notes).toContain(
      "no runsDir written: give --runs-dir (a directory the compute nodes share)",
    );
  });

  it("another select plugin → --gres; a node that does not answer → no interface; no partitions → nothing written", async () => {
    const h = homes();
    const slurm = cluster();
    slurm.probes.set("scontrol show config", ok("SelectType              = select/cons_res\n"));
    slurm.probes.delete(`srun ${interfaceProbeArgs(undefined, 5000).join(" ")}`);
    const r = await run(["doctor", "--write-profile", "p", "--json"], { cwd: h.cwd, env: h.env, slurm });
    const p = JSON.parse(r.stdout).profile;
    expect(p.settings).toEqual({
      slurm: { partition: "gpu", gpusPerNode: 4, gpuRequest: "gres", gpuType: "h100" },
    });
    expect(p.notes).toContain("no network interface written: srun on a compute node did not answer");
    const down = new FakeSlurm();
    const n = await run(["doctor", "--write-profile", "q", "--user"], {
      cwd: h.cwd,
      env: h.env,
      slurm: down,
    });
    expect(n.code).toBe(1);
    expect(n.stdout).toContain("no profile written");
    expect(parse(readFileSync(h.userFile, "utf8")).profiles.q).toBeUndefined();
  });

  it("bad usage is refused before any probe runs", async () => {
    const h = homes();
    for (const [args, message] of [
      [["--write-profile", "a b"], '--write-profile: "a b" is not a profile name'],
      [["--force"], "--force: only goes with --write-profile <name>"],
      [["--write-profile", "x", "--user", "--site"], "--site: give --user or --site, not both"],
    ] as const) {
      const slurm = cluster();
      const r = await run(["doctor", ...args], { cwd: h.cwd, env: h.env, slurm });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(slurm.calls).toEqual([]);
    }
    const noHome = await run(["doctor", "--write-profile", "x"], { cwd: h.cwd, env: {}, slurm: cluster() });
    expect(noHome.stderr).toContain("no user config directory");
  });
});

describe("completion", () => {
  it("dyn __values profiles lists the names both files define; the scripts ask it for --profile", async () => {
    const h = homes(SITE, USER);
    expect((await run(["__values", "profiles"], { env: h.env })).stdout).toBe("mine\nother\nsite\n");
    const broken = homes("profiles: [");
    expect((await run(["__values", "profiles"], { env: broken.env })).stdout).toBe("");
    expect((await run(["completion", "bash"])).stdout).toContain('deploy --profile") _dyn_words $(');
  });
});

describe("detection helpers", () => {
  it("chooseInterface: the default route's device, else the only routable one, else none", () => {
    expect(
      chooseInterface(
        "default via 10.0.0.1 dev ib0 proto static\n---\n3: ib0    inet 10.1.0.5/16 brd x\n4: eth0    inet 10.2.0.5/16\n",
      ),
    ).toEqual({
      name: "ib0",
      why: "the default route's interface (10.1.0.5)",
    });
    expect(chooseInterface(IFACES).name).toBe("eth0");
    expect(chooseInterface("---\n3: a    inet 10.1.0.5/16\n4: b    inet 10.2.0.5/16\n").name).toBeUndefined();
    expect(chooseInterface("---\n1: lo    inet 127.0.0.1/8\n2: x    inet 169.254.1.1/16\n")).toEqual({
      why: "no interface with a routable IPv4",
    });
  });
  it("parseSelectType", () => {
    expect(
      parseSelectType(
        "Foo = 1\nSelectType              = select/cons_tres\nSelectTypeParameters = CR_Core\n",
      ),
    ).toBe("select/cons_tres");
    expect(parseSelectType("nothing")).toBeUndefined();
  });
});
