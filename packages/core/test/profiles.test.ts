/** Site profiles: validation, selection, extends, site/user merging and the layer under the config. */
import { describe, expect, it } from "vitest";
import {
  checkProfilesFile,
  DeploymentSpec,
  layerProfile,
  type ProfilesSource,
  planProfile,
  profileLine,
  resolveProfile,
  selectProfile,
} from "../src/index.js";
import { thrownDynError } from "../src/testing.js";

/** A source from plain data (validated like a file), positions faked as `file:<dotted key>`. */
function source(scope: "site" | "user", data: unknown, file = `/${scope}/profiles.yaml`): ProfilesSource {
  const checked = checkProfilesFile(data);
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return { scope, file, value: checked.value, locate: (p) => `${file}:${p.join("/")}` };
}
const missing = (scope: "site" | "user"): ProfilesSource => ({ scope, file: `/${scope}/profiles.yaml` });

const thrown = thrownDynError;

describe("checkProfilesFile", () => {
  it("accepts the cluster conventions and normalises their forms", () => {
    const r = checkProfilesFile({
      default: "gpu",
      profiles: {
        gpu: {
          slurm: { partition: "gpu", gpuRequest: "gres", gpusPerNode: "4", time: 240, exclusive: true },
          network: { interface: "ib0" },
          container: { mounts: ["/shared:/shared"] },
          env: { NCCL_DEBUG: 1 },
          runsDir: "/shared/runs",
        },
      },
    });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.profiles.gpu?.slurm).toMatchObject({ gpusPerNode: 4, time: "240" });
    if (r.ok) expect(r.value.profiles.gpu?.env).toEqual({ NCCL_DEBUG: "1" });
  });

  it("names every bad key with its path, a did-you-mean, and says model/roles are no profile keys", () => {
    const r = checkProfilesFile({
      defualt: "x",
      profiles: {
        a: {
          slurm: { partiton: "gpu", nodes: 2, gpuRequest: "gpus" },
          model: "Qwen/Qwen3-0.6B",
          roles: {},
          runsDir: "relative/dir",
        },
      },
    });
    expect(r.ok).toBe(false);
    const issues = r.ok ? [] : r.issues.map((i) => `${i.key}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        "defualt: unknown key (did you mean default?)",
        "profiles.a.slurm.partiton: unknown key (did you mean partition?)",
        expect.stringMatching(/^profiles\.a\.slurm\.nodes: slurm\.nodes is not a profile key: .*dyn\.yaml/),
        expect.stringMatching(/^profiles\.a\.model: model is not a profile key/),
        expect.stringMatching(/^profiles\.a\.roles: roles is not a profile key/),
        expect.stringMatching(/^profiles\.a\.slurm\.gpuRequest: /),
        "profiles.a.runsDir: must be an absolute path",
      ]),
    );
    expect(issues).toHaveLength(7);
  });

  it("refuses an extra #SBATCH option dyn writes itself, like --sbatch-arg", () => {
    const r = checkProfilesFile({
      profiles: { a: { slurm: { extraSbatch: ["--reservation=r1", "-pgpu"] } } },
    });
    expect(r.ok ? [] : r.issues.map((i) => i.key)).toEqual(["profiles.a.slurm.extraSbatch.1"]);
    // With --gpu-request none dyn writes no GPU request, so a GPU --gres is the profile's to add.
    const none = checkProfilesFile({
      profiles: { a: { slurm: { gpuRequest: "none", extraSbatch: ["--gres=gpu:4"] } } },
    });
    expect(none.ok).toBe(true);
    const gres = checkProfilesFile({ profiles: { a: { slurm: { extraSbatch: ["--gres=gpu:4"] } } } });
    expect(gres.ok).toBe(false);
  });
});

describe("selectProfile: --profile > DYN_PROFILE > the config's profile: > user default > site default", () => {
  const sources = [
    source("site", { default: "s", profiles: { s: {} } }),
    source("user", { default: "u", profiles: { u: {} } }),
  ];
  const config = { name: "c", from: "dyn.yaml:1:10 profile" };
  it("takes the highest that is set", () => {
    expect(selectProfile({ flag: "f", env: "e", config, sources })).toEqual({ name: "f", from: "--profile" });
    expect(selectProfile({ env: "e", config, sources })).toEqual({ name: "e", from: "DYN_PROFILE" });
    expect(selectProfile({ config, sources })).toEqual(config);
    expect(selectProfile({ sources })).toEqual({ name: "u", from: "the default of /user/profiles.yaml" });
    expect(selectProfile({ sources: [sources[0] as ProfilesSource] })?.name).toBe("s");
    expect(selectProfile({ sources: [missing("site")] })).toBeUndefined();
  });
  it("--no-profile selects none, even a default; an empty DYN_PROFILE is not set", () => {
    expect(selectProfile({ flag: false, env: "e", sources })).toBeUndefined();
    expect(selectProfile({ env: "", sources })?.name).toBe("u");
  });
});

describe("resolveProfile", () => {
  const site = source("site", {
    profiles: {
      base: {
        slurm: { partition: "batch", exclusive: true, extraSbatch: ["--reservation=r1"] },
        env: { A: "1" },
      },
      gpu: {
        extends: "base",
        slurm: { gpuRequest: "gres", partition: "gpu" },
        container: { mounts: ["/a:/a"] },
      },
    },
  });
  const user = source("user", {
    profiles: { gpu: { slurm: { account: "me", partition: "gpu-long" }, container: { mounts: ["/b:/b"] } } },
  });

  it("merges the chain root first, site then user for each name, and keeps each value's origin", () => {
    const p = resolveProfile([site, user], { name: "gpu", from: "--profile" });
    expect(p.chain).toEqual(["gpu", "base"]);
    expect(p.sources).toEqual([
      { scope: "site", file: "/site/profiles.yaml", profile: "base" },
      { scope: "site", file: "/site/profiles.yaml", profile: "gpu" },
      { scope: "user", file: "/user/profiles.yaml", profile: "gpu" },
    ]);
    expect(p.raw).toEqual({
      slurm: {
        partition: "gpu-long",
        exclusive: true,
        extraSbatch: ["--reservation=r1"],
        gpuRequest: "gres",
        account: "me",
      },
      env: { A: "1" },
      container: { mounts: ["/a:/a", "/b:/b"] },
    });
    expect(p.origins.get("slurm.partition")).toBe(
      "/user/profiles.yaml:profiles/gpu/slurm/partition profiles.gpu.slurm.partition",
    );
    expect(p.origins.get("slurm.exclusive")).toMatch(
      /^\/site\/profiles\.yaml:profiles\/base\/slurm\/exclusive /,
    );
    expect(p.origins.get("container.mounts.0")).toMatch(/^\/site\/.* profiles\.gpu\.container\.mounts\.0$/);
    expect(p.origins.get("container.mounts.1")).toMatch(/^\/user\/.* profiles\.gpu\.container\.mounts\.0$/);
  });

  it("an unknown name is DYN_PROFILE_NOT_FOUND with a did-you-mean and where it looked", () => {
    const e = thrown(() =>
      resolveProfile([site, user, missing("user")], { name: "gpus", from: "--profile" }),
    );
    expect(e.code).toBe("DYN_PROFILE_NOT_FOUND");
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      '--profile: no profile "gpus" (did you mean gpu?); looked in /site/profiles.yaml (profiles: base, gpu), /user/profiles.yaml (profiles: gpu), /user/profiles.yaml (no such file)',
    );
    expect(e.hint).toContain("known profiles: base, gpu");
  });

  it("extends of an unknown profile names the extends key; a cycle is refused naming it", () => {
    const bad = source("site", { profiles: { a: { extends: "nope" } } });
    expect(thrown(() => resolveProfile([bad], { name: "a", from: "DYN_PROFILE" })).message).toMatch(
      /^\/site\/profiles\.yaml:profiles\/a\/extends profiles\.a\.extends: no profile "nope"/,
    );
    const cycle = source("site", {
      profiles: { a: { extends: "b" }, b: { extends: "c" }, c: { extends: "a" } },
    });
    const e = thrown(() => resolveProfile([cycle], { name: "a", from: "--profile" }));
    expect(e.code).toBe("DYN_CONFIG_INVALID");
    expect(e.message).toContain("profiles extend each other in a cycle: a → b → c → a");
    const self = source("user", { profiles: { a: { extends: "a" } } });
    expect(thrown(() => resolveProfile([self], { name: "a", from: "--profile" })).message).toContain("a → a");
  });
});

describe("layerProfile: under the config file, DYN_* and flags", () => {
  const p = resolveProfile(
    [
      source("site", {
        profiles: {
          s: {
            slurm: { partition: "gpu", gpuRequest: "gres", extraSbatch: ["--reservation=r1"] },
            network: { interface: "ib0" },
            container: { mounts: ["/shared:/shared"], infra: "host" },
            runsDir: "/shared/runs",
          },
        },
      }),
    ],
    { name: "s", from: "--profile" },
  );

  it("higher layers win scalars; lists lead with the profile's items; origins only for what the profile kept", () => {
    const upper = {
      backend: { name: "vllm" },
      slurm: { partition: "debug", extraSbatch: ["--comment=x"] },
      container: { kind: "pyxis", image: "/i.sqsh", mounts: ["/m:/m"] },
    };
    const l = layerProfile(p, upper);
    expect(l.raw).toEqual({
      backend: { name: "vllm" },
      slurm: { partition: "debug", gpuRequest: "gres", extraSbatch: ["--reservation=r1", "--comment=x"] },
      network: { interface: "ib0" },
      container: { kind: "pyxis", image: "/i.sqsh", mounts: ["/shared:/shared", "/m:/m"], infra: "host" },
    });
    expect([...l.origins.keys()].sort()).toEqual([
      "container.infra",
      "container.mounts.0",
      "network.interface",
      "slurm.extraSbatch.0",
      "slurm.gpuRequest",
    ]);
    expect(l.prepended.get("slurm.extraSbatch")).toBe(1);
    expect(l.unused).toEqual([]);
    // The result parses as a spec: the profile writes spec keys only.
    expect(DeploymentSpec.parse(l.raw).slurm.gpuRequest).toBe("gres");
  });

  it("leaves container settings out of a bare-metal deployment, and says so", () => {
    const l = layerProfile(p, { backend: { name: "vllm" } });
    expect(l.raw.container).toBeUndefined();
    expect(l.unused).toEqual(["container"]);
    expect([...l.origins.keys()].some((k) => k.startsWith("container"))).toBe(false);
    const recorded = planProfile(p, l);
    expect(recorded).toEqual({
      name: "s",
      from: "--profile",
      chain: ["s"],
      sources: [{ scope: "site", file: "/site/profiles.yaml", profile: "s" }],
      unused: ["container"],
    });
    expect(profileLine(recorded)).toBe(
      "profile s (--profile): /site/profiles.yaml (site); not used here: container (no container)",
    );
  });
});
