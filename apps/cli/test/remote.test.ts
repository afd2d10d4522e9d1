// --remote: the ssh command lines dyn builds (options, quoting of every remote word), the run
// directory sent as one tar stream and renamed into place, ssh failures as one-line errors, and the
// registry remembering the login node. The ssh here is test/fixtures/fake-ssh, which runs the remote
// command line with sh on this machine (unit tests only; e2e/test/cluster/remote.test.ts goes through
// a real sshd to the testbed).
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DynError } from "@dyn/core";
import { describe, expect, it } from "vitest";
import { chainOf, currentUrl, writeStopMarker } from "../src/chain.js";
import { resultsParent } from "../src/commands/bench.js";
import { parseRunsDirFacts, REMOTE_RUNS_DIR_SCRIPT, runsDirCheck } from "../src/commands/doctor.js";
import { useHost } from "../src/host.js";
import { lookup } from "../src/registry.js";
import {
  CONTROL_PERSIST_S,
  chooseRemote,
  createSshHost,
  parseRemote,
  remoteCommand,
  sshArgv,
  sshMessage,
} from "../src/remote.js";
import type { Deployment } from "../src/run-dir.js";
import { tarFiles } from "../src/tar.js";
import { FakeSlurm, run, tmp } from "./helpers.js";

const FAKE_SSH = join(import.meta.dirname, "fixtures", "fake-ssh");
/** Words a remote shell must receive as they are: blanks, quotes, expansions, separators. */
const HOSTILE = ["a b", "it's", '"dq"', "$(touch PWNED)", "`touch PWNED`", "x;touch PWNED", "$HOME", "*", ""];

function fakeEnv(extra: Record<string, string> = {}) {
  const dir = tmp("dyn-fake-ssh-");
  return {
    dir,
    log: join(dir, "ssh.log"),
    env: {
      PATH: process.env.PATH,
      DYN_SSH_COMMAND: FAKE_SSH,
      FAKE_SSH_LOG: join(dir, "ssh.log"),
      FAKE_SSH_MASTER: join(dir, "master"),
      FAKE_SSH_HOME: dir,
      XDG_RUNTIME_DIR: dir,
      ...extra,
    } as Record<string, string>,
  };
}

const calls = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);

describe("--remote: parsing where it came from", () => {
  it("[user@]host[:port], IPv6 in brackets, an ssh config alias", () => {
    expect(parseRemote("alice@login1:2222", "--remote")).toMatchObject({
      user: "alice",
      host: "login1",
      port: 2222,
    });
    expect(parseRemote("login.cluster.org", "--remote")).toMatchObject({ user: undefined, port: undefined });
    expect(parseRemote("bob@[fe80::1]:22", "DYN_REMOTE")).toMatchObject({ host: "fe80::1", port: 22 });
  });

  it.each(["-oProxyCommand=x", "alice@-p", "a b", "al'ce@x", "x:0", "x:99999", "x:22:33", "", "$(id)@x"])(
    "refuses %j naming the flag (exit 2)",
    async (bad) => {
      expect(() => parseRemote(bad, "--remote")).toThrow(DynError);
      const r = await run(["status", "123", "--remote", bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toMatch(/^error: --remote: .* \(DYN_USAGE\)$/);
    },
  );

  it("flag > DYN_REMOTE > config remote:, each named in errors", () => {
    const config = { value: "c@cfg", label: "dyn.yaml:2:9 remote" };
    expect(chooseRemote("f@flag", { DYN_REMOTE: "e@env" }, config)?.host).toBe("flag");
    expect(chooseRemote(undefined, { DYN_REMOTE: "e@env" }, config)?.label).toBe("DYN_REMOTE");
    expect(chooseRemote(undefined, {}, config)?.label).toBe("dyn.yaml:2:9 remote");
    expect(chooseRemote(undefined, {}, undefined)).toBeUndefined();
    expect(() => chooseRemote(undefined, { DYN_REMOTE: "a b" }, undefined)).toThrow(/^DYN_REMOTE: /);
  });
});

describe("--remote: the ssh command lines", () => {
  it("BatchMode, one control socket per destination (%C), the master persists, clients never become one", () => {
    const t = parseRemote("alice@login1:2222", "--remote");
    const master = sshArgv(t, {}, "/run/d", "master");
    const client = sshArgv(t, { DYN_SSH_COMMAND: "ssh -F /etc/my config" }, "/run/d", "client");
    expect(master).toEqual([
      "ssh",
      "-o",
      "BatchMode=yes",
      "-o",
      "ControlPath=/run/d/%C",
      "-o",
      "ControlMaster=yes",
      "-o",
      `ControlPersist=${CONTROL_PERSIST_S}`,
      "-N",
      "-f",
      "-p",
      "2222",
      "alice@login1",
    ]);
    expect(client.slice(0, 3)).toEqual(["ssh", "-F", "/etc/my"]);
    expect(client).toContain("ControlMaster=no");
    expect(client.at(-1)).toBe("alice@login1");
    expect(sshArgv(t, {}, "/run/d", "check")).toContain("-O");
  });

  it("every remote word is quoted once: a shell gets the hostile values back unchanged, nothing runs", () => {
    const dir = tmp("dyn-quote-");
    const cwd = join(dir, "it's a $(dir)");
    mkdirSync(cwd);
    const line = remoteCommand("printf", ["%s\\n", ...HOSTILE], cwd);
    const out = execFileSync("sh", ["-c", line], { cwd: dir, encoding: "utf8" });
    expect(out).toBe(`${HOSTILE.join("\n")}\n`);
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
    expect(existsSync(join(cwd, "PWNED"))).toBe(false);
  });

  it("host.run: SLURM-style commands through ssh with hostile arguments and a cwd with blanks", async () => {
    const { env, dir, log } = fakeEnv();
    const cwd = join(dir, "run dir 'x'");
    mkdirSync(cwd);
    const host = createSshHost(parseRemote("alice@login1", "--remote"), env);
    const r = await host.run("sh", ["-c", 'pwd; printf "%s\\n" "$@"', "sh", ...HOSTILE], { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${cwd}\n${HOSTILE.join("\n")}\n`);
    expect(existsSync(join(cwd, "PWNED"))).toBe(false);
    expect((await host.run("no-such-command-dyn", [])).missing).toBe(true);
    // one master start, then clients of its socket
    const lines = calls(log);
    expect(lines.filter((l) => l.includes("ControlMaster=yes"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("ControlMaster=no"))).toHaveLength(2);
  });
});

describe("--remote: the run directory in one round trip", () => {
  it("tarFiles is a tar that tar reads: names, contents, modes, the empty logs/", () => {
    const dir = tmp("dyn-tar-");
    const big = "x".repeat(1000);
    const archive = tarFiles({ "job.sbatch": "#!/bin/bash\n", "plan.json": big, "a b'c.txt": "" }, ["logs"]);
    execFileSync("tar", ["-x", "-f", "-", "-C", dir], { input: archive });
    expect(readFileSync(join(dir, "plan.json"), "utf8")).toBe(big);
    expect(readFileSync(join(dir, "a b'c.txt"), "utf8")).toBe("");
    expect(statSync(join(dir, "job.sbatch")).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, "plan.json")).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, "logs")).isDirectory()).toBe(true);
  });

  it("writeDir: one ssh call, renamed into place; a failure leaves nothing, not even the temporary directory", () => {
    const { env, dir, log } = fakeEnv();
    const host = createSshHost(parseRemote("login1", "--remote"), env);
    const target = join(dir, "runs", "dynamo-1");
    const before = calls(log).length;
    host.fs.writeDir(target, { "job.sbatch": "echo $(hostname) 'q'\n", "plan.json": "{}\n" });
    // is a master up (-O check, the local socket only), start it, then one transfer
    const made = calls(log).slice(before);
    expect(made).toHaveLength(3);
    expect(made.filter((l) => l.includes("tar -x"))).toHaveLength(1);
    expect(readFileSync(join(target, "job.sbatch"), "utf8")).toBe("echo $(hostname) 'q'\n");
    expect(readdirSync(target).sort()).toEqual(["job.sbatch", "logs", "plan.json"]);
    // the target exists now: mv -T refuses, and the temporary directory is removed
    expect(() => host.fs.writeDir(target, { "x.json": "{}" })).toThrow(/DYN_IO_FAILED|cannot write/);
    expect(readdirSync(join(dir, "runs"))).toEqual(["dynamo-1"]);
    // reads through the same connection
    expect(host.fs.readText(join(target, "plan.json"))).toBe("{}\n");
    expect(host.fs.exists(join(target, "nope"))).toBe(false);
    expect(host.fs.stat(target).isDirectory).toBe(true);
    expect(host.fs.stat(join(target, "plan.json")).size).toBe(3);
    expect(host.fs.list(target).sort()).toEqual(["job.sbatch", "logs", "plan.json"]);
    expect(host.fs.readRange(join(target, "job.sbatch"), 5, 16)).toBe("$(hostname)");
    expect(() => host.fs.readText(join(target, "nope"))).toThrow();
    host.fs.writeFile(join(target, "job.json"), '{"jobId":"7"}\n');
    host.fs.link(join(dir, "runs", "by-job", "7"), target);
    expect(host.fs.realpath(join(dir, "runs", "by-job", "7"))).toBe(target);
  });
});

describe("--remote with keep-alive: the chain's files are read and written on the cluster", () => {
  it("chainOf reads chain.jsonl, currentUrl current-url, and writeStopMarker writes chain.stop, all over ssh", () => {
    const { env, dir, log } = fakeEnv();
    const runDir = join(dir, "runs", "dynamo-1");
    mkdirSync(runDir, { recursive: true });
    writeFileSync(
      join(runDir, "chain.jsonl"),
      '{"attempt":1,"job":"41","event":"started"}\n{"attempt":2,"job":"42","event":"submitted"}\n',
    );
    writeFileSync(join(runDir, "current-url"), "http://10.0.0.2:8000\n");
    const deployment = { runDir, plan: { spec: { lifetime: { keepAlive: true } } }, job: { jobId: "41" } };
    useHost(createSshHost(parseRemote("login1", "--remote"), env));
    try {
      const before = calls(log).length;
      const chain = chainOf(deployment as unknown as Deployment);
      expect(chain?.map((a) => [a.attempt, a.jobId])).toEqual([
        [1, "41"],
        [2, "42"],
      ]);
      expect(currentUrl(runDir)).toBe("http://10.0.0.2:8000");
      writeStopMarker(runDir, new Date("2026-12-03T00:00:00Z"));
      expect(readFileSync(join(runDir, "chain.stop"), "utf8")).toBe("2026-12-03T00:00:00.000Z\n");
      const made = calls(log).slice(before);
      expect(made.some((l) => l.includes("chain.jsonl"))).toBe(true);
      expect(made.some((l) => l.includes("chain.stop"))).toBe(true);
    } finally {
      useHost(undefined);
    }
  });
});

describe("--remote with bench: the load generator runs here, so do its results", () => {
  it("results go under ./dyn-bench/<run name>/ on this machine, not a local copy of the cluster's path", () => {
    const { env } = fakeEnv();
    const io = { cwd: "/home/me/project" };
    expect(resultsParent("/shared/runs/dynamo-20261203-070000", io)).toBe(
      "/shared/runs/dynamo-20261203-070000/bench",
    );
    useHost(createSshHost(parseRemote("login1", "--remote"), env));
    try {
      expect(resultsParent("/shared/runs/dynamo-20261203-070000", io)).toBe(
        "/home/me/project/dyn-bench/dynamo-20261203-070000",
      );
    } finally {
      useHost(undefined);
    }
  });
});

describe("--remote: ssh failures are one line naming where the remote came from", () => {
  it.each([
    ["ssh: connect to host login1 port 22: Connection refused", /check that ssh alice@login1 works/],
    ["alice@login1: Permission denied (publickey).", /never asks for a password/],
    ["Host key verification failed.", /accept its host key/],
  ])("%s → DYN_REMOTE_FAILED, exit 1, no stack", async (message, hint) => {
    const { env } = fakeEnv({ FAKE_SSH_FAIL: message });
    const r = await run(["status", "123", "--remote", "alice@login1"], { env });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe(
      `error: --remote alice@login1: ssh: ${message.replace(/^ssh: /, "")} (DYN_REMOTE_FAILED)`,
    );
    expect(lines[1]).toMatch(hint);
    expect(lines).toHaveLength(2);
  });

  it("DYN_REMOTE is named when it is the source; --json carries the code", async () => {
    const { env } = fakeEnv({
      FAKE_SSH_FAIL: "ssh: Could not resolve hostname nowhere: Name or service not known",
    });
    const r = await run(["list", "--json"], { env: { ...env, DYN_REMOTE: "nowhere" } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "DYN_REMOTE_FAILED",
      message: "DYN_REMOTE nowhere: ssh: Could not resolve hostname nowhere: Name or service not known",
    });
  });

  it("sshMessage keeps ssh's last line, not the known-hosts chatter", () => {
    expect(
      sshMessage("Warning: Permanently added 'x' (ED25519) to the list of known hosts.\r\nfoo: refused\n"),
    ).toBe("foo: refused");
  });
});

describe("--remote: deploy writes there, and the registry remembers the login node", () => {
  it("deploy --remote: run directory under the remote runs dir, remote in --json and the registry; status finds it without --remote", async () => {
    const { env, dir, log } = fakeEnv();
    const state = join(dir, "state");
    const project = tmp("dyn-project-");
    const slurm = new FakeSlurm();
    slurm.nextJobId = "812";
    const remoteRuns = join(dir, "remote runs");
    const r = await run(
      ["deploy", "--backend", "sglang", "--remote", "alice@login1", "--runs-dir", "remote-runs", "--json"],
      { cwd: project, env: { ...env, XDG_STATE_HOME: state }, slurm },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    // a relative --runs-dir is under the login directory (here FAKE_SSH_HOME)
    expect(doc.runDir.startsWith(join(dir, "remote-runs/"))).toBe(true);
    expect(doc.remote).toBe("alice@login1");
    expect(existsSync(join(project, "dyn-runs"))).toBe(false);
    expect(JSON.parse(readFileSync(join(doc.runDir, "job.json"), "utf8")).jobId).toBe("812");
    expect(lookup(join(state, "dyn"), "812")).toMatchObject({ runDir: doc.runDir, remote: "alice@login1" });
    expect(existsSync(remoteRuns)).toBe(false);

    // later, from another directory, without --remote: the registry entry says where to look
    const before = calls(log).length;
    const s = await run(["status", "812", "--json"], {
      cwd: tmp(),
      env: { ...env, XDG_STATE_HOME: state },
      slurm: Object.assign(new FakeSlurm(), {}),
    });
    expect(s.code, s.stderr).toBe(0);
    const entry = JSON.parse(s.stdout).deployments[0];
    expect(entry).toMatchObject({ jobId: "812", runDir: doc.runDir, remote: "alice@login1" });
    expect(calls(log).length).toBeGreaterThan(before);
    useHost(undefined);
  });

  it("a remote that is not writable: exit 2 naming --runs-dir, nothing written", async () => {
    const { env, dir } = fakeEnv();
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const r = await run(
      ["deploy", "--backend", "sglang", "--remote", "login1", "--runs-dir", join(file, "runs")],
      {
        env,
        slurm: new FakeSlurm(),
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(
      /^error: --runs-dir: cannot create .*a-file\/runs: .*\(on login1\) \(DYN_USAGE\)$/,
    );
  });
});

describe("doctor --remote: the runs directory facts in one round trip", () => {
  it("the script finds the nearest existing ancestor, its kind, access and filesystem type", () => {
    const dir = tmp("dyn-facts-");
    const out = execFileSync("sh", ["-c", REMOTE_RUNS_DIR_SCRIPT, "sh", join(dir, "a b", "c")], {
      encoding: "utf8",
    });
    const facts = parseRunsDirFacts(out);
    expect(facts).toMatchObject({ existing: dir, isDirectory: true, notWritable: null });
    expect(facts?.magic).toBe(Number(statfsSync(dir).type));
    expect(runsDirCheck(join(dir, "a b", "c"), facts)).toMatchObject({ state: "ok" });
    const file = join(dir, "f");
    writeFileSync(file, "");
    const onFile = parseRunsDirFacts(
      execFileSync("sh", ["-c", REMOTE_RUNS_DIR_SCRIPT, "sh", join(file, "x")], { encoding: "utf8" }),
    );
    expect(runsDirCheck(join(file, "x"), onFile)).toMatchObject({
      state: "fail",
      detail: `${file} is not a directory`,
    });
    expect(runsDirCheck("/x", "cannot check /x: no answer")).toMatchObject({ state: "fail" });
  });
});
