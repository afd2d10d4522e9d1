/**
 * `--remote` (#17 item 3) on the testbed through a real sshd: Debian's openssh-server on 127.0.0.1
 * (a free port, its own host key and config, key-only auth for a generated key), started and killed
 * here. The login node's environment (sshd SetEnv) has the stand-in Dynamo on PATH, as a cluster's
 * login node has Dynamo's tools; sbatch exports it to the job.
 *
 * dyn itself runs as another user (nobody) with its own state directory, and the remote runs
 * directory sits under a directory only root (the ssh user) can enter: whatever dyn reads or writes
 * there went over ssh. sshd's log counts the TCP connections: the whole doctor + deploy --wait +
 * status + logs + stop sequence must use one (the multiplexed master, kept by ControlPersist between
 * the commands). A counting wrapper around ssh (DYN_SSH_COMMAND) measures the ssh invocations.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dyn, inQueue, type Run, repo, SMALL, waitFor } from "./harness.js";

const NOBODY = 65534;
const runtime = join(repo, "testbed/runtime");

let sshd: ChildProcess | undefined;
let sshdLog = "";
let port = 0;
let local = ""; // the user's side: state, ssh config, key, sockets (owned by nobody)
let remoteRuns = ""; // on the "login node": under a root-only directory
const submitted: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const accepted = () => (sshdLog.match(/^Accepted publickey for root from 127\.0\.0\.1/gm) ?? []).length;
const sshCalls = () => {
  try {
    return readFileSync(join(local, "ssh-calls.log"), "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
};

/** The CLI as the user nobody, with the ssh config in DYN_SSH_COMMAND and its own state directory. */
function dynAsUser(args: string[], timeoutMs = 180_000): Promise<Run> {
  return dyn(args, {
    wrap: ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"],
    cwd: join(local, "project"),
    env: {
      PATH: process.env.PATH,
      HOME: local,
      NO_COLOR: "1",
      XDG_STATE_HOME: join(local, "state"),
      XDG_RUNTIME_DIR: join(local, "run"),
      DYN_SSH_COMMAND: join(local, "ssh-counting"),
    },
    timeoutMs,
  });
}

beforeAll(async () => {
  port = await freePort();
  const server = mkdtempSync("/tmp/dynr-sshd-");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(server, "host_key")]);
  local = mkdtempSync("/tmp/dynr-");
  for (const d of ["project", "state", "run"]) mkdirSync(join(local, d));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(local, "id")]);
  writeFileSync(join(server, "authorized_keys"), readFileSync(join(local, "id.pub")));
  const root = mkdtempSync("/tmp/dynr-login-");
  chmodSync(root, 0o700); // only root, the ssh user, enters it; dyn runs as nobody
  remoteRuns = join(root, "shared", "dyn-runs");
  writeFileSync(
    join(server, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(server, "host_key")}`,
      `AuthorizedKeysFile ${join(server, "authorized_keys")}`,
      "AuthenticationMethods publickey",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "PidFile none",
      "LogLevel INFO",
      // the login node's environment: the stand-in Dynamo installed there
      `SetEnv PATH=${join(runtime, "bin")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PYTHONPATH=${join(runtime, "python")}`,
      "",
    ].join("\n"),
  );
  const hostKey = readFileSync(join(server, "host_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  writeFileSync(join(local, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);
  writeFileSync(join(local, "empty_known_hosts"), "");
  // The user's own ssh config: an alias, its port, key and known hosts. dyn adds nothing but its
  // BatchMode/Control* options.
  writeFileSync(
    join(local, "ssh_config"),
    [
      "Host login",
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      "  User root",
      `  IdentityFile ${join(local, "id")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(local, "known_hosts")}`,
      // another user: another %C, so not the master of "login" (which would be reused: one host)
      "Host login-unknown-key",
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      "  User daemon",
      `  IdentityFile ${join(local, "id")}`,
      `  UserKnownHostsFile ${join(local, "empty_known_hosts")}`,
      "Host *",
      `  IdentityFile ${join(local, "id")}`,
      `  UserKnownHostsFile ${join(local, "known_hosts")}`,
      "",
    ].join("\n"),
  );
  // counts every ssh dyn runs, then is the user's ssh with their config
  writeFileSync(
    join(local, "ssh-counting"),
    `#!/bin/sh\necho x >> ${join(local, "ssh-calls.log")}\nexec ssh -F ${join(local, "ssh_config")} "$@"\n`,
    { mode: 0o755 },
  );
  for (const f of [
    "",
    "project",
    "state",
    "run",
    "id",
    "id.pub",
    "known_hosts",
    "empty_known_hosts",
    "ssh_config",
    "ssh-counting",
  ])
    chownSync(join(local, f), NOBODY, NOBODY);
  mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation directory
  sshd = spawn("/usr/sbin/sshd", ["-f", join(server, "sshd_config"), "-D", "-e"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  sshd.stderr?.setEncoding("utf8").on("data", (d: string) => {
    sshdLog += d;
  });
  await waitFor(
    "sshd listening",
    () => (/Server listening on 127\.0\.0\.1/.test(sshdLog) ? true : undefined),
    15_000,
  );
});

afterAll(async () => {
  for (const id of submitted) if (inQueue(id)) execFileSync("scancel", [id]);
  // end the master dyn left for ControlPersist, then sshd
  const controlPath = `ControlPath=${join(local, "run", "dyn-ssh", "%C")}`;
  const exit = ["ssh", "-F", join(local, "ssh_config"), "-o", controlPath, "-O", "exit", "login"];
  try {
    execFileSync("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...exit], {
      stdio: "ignore",
    });
  } catch {
    // no master left
  }
  sshd?.kill("SIGTERM");
});

describe("dyn --remote through a real sshd to the testbed", () => {
  it("doctor, deploy --wait to READY, status, logs and stop, all over one ssh connection", async () => {
    const doctor = await dynAsUser(["doctor", "--remote", "login", "--runs-dir", remoteRuns, "--json"]);
    const doc = JSON.parse(doctor.stdout);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doc.remote).toBe("login");
    expect(doc.checks.find((c: { name: string }) => c.name === "ssh")).toMatchObject({ state: "ok" });
    // the runs directory was checked there: here (as nobody) its parent cannot even be entered
    expect(doc.checks.find((c: { name: string }) => c.name === "runs directory")).toMatchObject({
      state: "ok",
    });
    const afterDoctor = sshCalls();

    const dep = await dynAsUser([
      "deploy",
      "--remote",
      "login",
      "--backend",
      "sglang",
      ...SMALL,
      "--runs-dir",
      remoteRuns,
      "--wait",
      "--timeout",
      "150",
      "--json",
    ]);
    const d = JSON.parse(dep.stdout);
    if (d.jobId) submitted.push(d.jobId);
    expect(dep.code, dep.stderr).toBe(0);
    expect(d).toMatchObject({ remote: "login", wait: { outcome: "ready" } });
    expect(d.runDir.startsWith(`${remoteRuns}/`)).toBe(true);
    const afterDeploy = sshCalls();
    // the files are on the login node's filesystem, written there over ssh; nothing here
    expect(readdirSync(d.runDir).sort()).toEqual(
      expect.arrayContaining(["job.json", "job.sbatch", "logs", "plan.json", "spec.json", "status.jsonl"]),
    );
    expect(JSON.parse(readFileSync(join(d.runDir, "job.json"), "utf8")).jobId).toBe(d.jobId);
    expect(readdirSync(join(local, "project"))).toEqual([]);
    const entry = JSON.parse(
      readFileSync(join(local, "state", "dyn", "deployments", `${d.jobId}.json`), "utf8"),
    );
    expect(entry).toMatchObject({ jobId: d.jobId, runDir: d.runDir, remote: "login" });

    // from the registry, without --remote
    const st = await dynAsUser(["status", d.jobId, "--json"]);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).deployments[0]).toMatchObject({
      jobId: d.jobId,
      remote: "login",
      state: "ready",
      url: d.wait.url,
    });
    const afterStatus = sshCalls();

    const logs = await dynAsUser(["logs", d.jobId, "--role", "frontend", "-n", "5"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout.trim()).not.toBe("");
    expect(logs.stdout).toBe(
      `${readFileSync(join(d.runDir, "logs", "frontend-0.log"), "utf8")
        .trimEnd()
        .split("\n")
        .slice(-5)
        .join("\n")}\n`,
    );
    const batch = await dynAsUser(["logs", d.jobId, "--remote", "login"]);
    expect(batch.code, batch.stderr).toBe(0);
    const batchLog = readFileSync(join(d.runDir, `slurm-${d.jobId}.out`), "utf8")
      .trimEnd()
      .split("\n");
    expect(batch.stdout).toBe(`${batchLog.slice(-50).join("\n")}\n`);
    const afterLogs = sshCalls();

    const stop = await dynAsUser(["stop", d.jobId, "--json"]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ jobId: d.jobId, cancelled: true });
    expect(inQueue(d.jobId)).toBe(false);
    const afterStop = sshCalls();

    // one TCP connection for the whole sequence: every ssh after the first rode on its master
    expect(accepted()).toBe(1);
    console.log(
      `remote: 1 ssh connection for doctor+deploy --wait+status+logs×2+stop; ssh invocations: doctor ${afterDoctor}, deploy --wait ${afterDeploy - afterDoctor}, status ${afterStatus - afterDeploy}, logs×2 ${afterLogs - afterStatus}, stop ${afterStop - afterLogs}`,
    );
  });

  it("an unreachable login node, or one whose host key is unknown: one line naming --remote and ssh's error, exit 1", async () => {
    const closed = await freePort();
    const r = await dynAsUser(["status", "1", "--remote", `root@127.0.0.1:${closed}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: --remote root@127.0.0.1:${closed}: ssh: connect to host 127.0.0.1 port ${closed}: Connection refused (DYN_REMOTE_FAILED)`,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const key = await dynAsUser([
      "deploy",
      "--remote",
      "login-unknown-key",
      "--backend",
      "sglang",
      ...SMALL,
      "--dry-run",
    ]);
    expect(key.code).toBe(1);
    expect(key.stderr.split("\n")[0]).toMatch(
      /^error: --remote login-unknown-key: ssh: Host key verification failed\. \(DYN_REMOTE_FAILED\)$/,
    );
    expect(key.stderr).toMatch(/hint: ssh login-unknown-key once by hand/);
  });
});
