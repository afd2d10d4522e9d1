/**
 * The commander program. Only commander is imported here: each command's module (and with it
 * @dyn/core, zod, yaml, the backends) is imported inside its action, so `dyn --help` stays fast.
 */
import { Argument, Command, Option } from "commander";
import type { Io } from "./io.js";

export type Action = (flags: Record<string, unknown>, args: string[], io: Io) => Promise<number>;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Values the user typed (commander's defaults are left out so the config file can supply them). */
function typedValues(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values = cmd.opts();
  for (const [k, v] of Object.entries(values)) {
    const source = cmd.getOptionValueSource(k);
    if (source === "cli" || source === "implied") out[k] = v;
  }
  return out;
}

function common(cmd: Command, json = true): Command {
  if (json) cmd.option("--json", "print one JSON document on stdout (stable field names)");
  return cmd.option("--debug", "show stack traces for errors");
}

function specOptions(cmd: Command): Command {
  return cmd
    .option("--backend <name>", "backend: vllm, sglang, trtllm, a dyn-backend-* package or a path")
    .option(
      "-f, --config <file>",
      "config file (default: dyn.yaml, dyn.yml or dyn.json found upward from cwd); one with matrix: is a sweep",
    )
    .option("--point <n>", "a sweep: only point n (0-based, as dyn plan lists them)")
    .option(
      "--profile <name>",
      "site profile (default: DYN_PROFILE, the config's profile:, the files' default)",
    )
    .option("--no-profile", "use no site profile, not even a default")
    .option("--model <id|path>", "HF model id or a path visible on the nodes")
    .option("--served-model-name <name>", "model name the API serves (default: the model)")
    .option("--job-name <name>", "SLURM job name (default: dynamo)")
    .option("--nodes <n|auto>", "nodes to allocate (default: what the plan needs)")
    .option("--gpus-per-node <n>", "GPUs per node (default 8)")
    .addOption(
      new Option("--gpu-request <how>", "how GPUs are requested").choices(["gpus-per-node", "gres", "none"]),
    )
    .option("--gpu-type <type>", "GPU type for the request (e.g. a100)")
    .option("--partition <name>", "SLURM partition")
    .option("--account <name>", "SLURM account")
    .option("--qos <name>", "SLURM QOS")
    .option("--time <limit>", "time limit: MM, HH:MM:SS or D-HH:MM:SS")
    .option("--exclusive", "request whole nodes exclusively")
    .addOption(
      new Option(
        "--launch <how>",
        "how the services start: one srun step per node (per-node, default) or per process",
      ).choices(["per-node", "per-process"]),
    )
    .option(
      "--sbatch-arg <arg>",
      "extra #SBATCH option, e.g. --sbatch-arg=--reservation=r1 (repeatable)",
      collect,
    )
    .option("--output <pattern>", "batch log pattern, relative to the run directory (default slurm-%j.out)")
    .option("--mpi <type>", "srun --mpi value for MPI steps (e.g. pmix)")
    .option("--num-prefill-workers <n>", "prefill workers (alone: decode takes the remaining capacity)")
    .option("--prefill-workers <n>", "same as --num-prefill-workers")
    .option("--num-decode-workers <n>", "decode workers (alone: prefill takes the remaining capacity)")
    .option("--decode-workers <n>", "same as --num-decode-workers")
    .option("--gpus-per-prefill <n>", "GPUs per prefill worker")
    .option("--gpus-per-decode <n>", "GPUs per decode worker")
    .option("--aggregated-workers <n>", "aggregated workers (instead of prefill/decode)")
    .option("--gpus-per-aggregated <n>", "GPUs per aggregated worker")
    .option("--colocate", "let prefill and decode workers share a node")
    .option("--frontend-count <n>", "frontend instances (default 1)")
    .addOption(new Option("--frontend-placement <where>", "frontend node").choices(["shared", "dedicated"]))
    .option("--http-port <port>", "pin the frontend HTTP port (default: job-scoped)")
    .option("--container <image>", "container image or .sqsh (runs with pyxis)")
    .option("--container-mount <SRC:DST[:FLAGS]>", "container mount (repeatable)", collect)
    .option("--container-workdir <dir>", "working directory in the container")
    .option("--container-env <NAME>", "host variable passed into the container (repeatable)", collect)
    .option(
      "--no-container-preload",
      "do not import the image on every node before starting (every step imports its own)",
    )
    .option("--container-writable", "writable container rootfs (engines that write into the image)")
    .option("--container-remap-root", "be root (uid 0) inside the container")
    .addOption(
      new Option(
        "--container-infra <where>",
        "run etcd/nats-server from the image (default) or the host",
      ).choices(["image", "host"]),
    )
    .option(
      "--setup <line>",
      "bare metal: shell line run before each process (e.g. source venv/bin/activate)",
    )
    .option("--etcd <managed|off|url>", "etcd: started by the job, off, or an external http://host:2379")
    .option("--nats <managed|off|url>", "NATS: started by the job, off, or an external nats://host:4222")
    .option("--nats-max-payload-mb <n>", "NATS max_payload in MB (default 16)")
    .option("--network-interface <if>", "interface whose IPv4 address is the node's (e.g. ib0)")
    .option(
      "--requeue",
      "let SLURM requeue the job (logs appended, a new attempt in the status file); default --no-requeue",
    )
    .option("--ready-timeout <s>", "seconds to wait for every worker to register (default 1800)")
    .option(
      "--lost-grace <s>",
      "after ready: seconds a registered instance may be missing before the job fails (default 10)",
    )
    .option(
      "--no-preflight",
      "skip the network preflight (every node reaches etcd/NATS and its worker's leader; InfiniBand devices up)",
    )
    .option(
      "--no-smoke",
      "ready once every instance registered, without the first chat request that must return tokens",
    )
    .option(
      "--no-smoke-counters",
      "with the first chat request, do not check that a worker of every role (prefill, decode) handled it",
    )
    .option(
      "--keep-alive",
      "serve past the time limit: the job resubmits itself before --time ends (a chain of jobs; dyn stop ends it)",
    )
    .option(
      "--handover <mode>",
      "with --keep-alive: queue (successor queued after this job) or overlap (successor runs alongside until READY)",
    )
    .option(
      "--warn-seconds <s>",
      "with --keep-alive: SLURM's warning this many seconds before the limit (default 600)",
    )
    .option("--hf-cache <dir>", "host directory for the model cache (HF_HOME)")
    .option("--env <NAME=VALUE>", "environment for every process (repeatable)", collect)
    .option("--secret <NAME>", "secret passed by name from your shell at run time (repeatable)", collect)
    .option(
      "-o, --option <key=value>",
      "backend option, value parsed as JSON when possible (repeatable)",
      collect,
    )
    .option(
      "--prefill-arg <args>",
      'engine arguments for prefill workers, split like a shell line: "--max-model-len 8192" (repeatable)',
      collect,
    )
    .option("--decode-arg <args>", "engine arguments for decode workers (repeatable)", collect)
    .option("--worker-arg <args>", "engine arguments for aggregated workers (repeatable)", collect)
    .option("--frontend-arg <args>", "arguments for the frontend (repeatable)", collect)
    .option(
      "--dynamo-version <release>",
      "Dynamo release in the container: 1.5.1, a series (1.5 = newest 1.5.x) or latest (default: the image tag, else the newest)",
    )
    .option("--allow-unknown-dynamo-version", "render a release dyn does not know as the newest known one")
    .option("--legacy", "the oldest generation, Dynamo 0.3.2 (= --dynamo-version 0.3.2)")
    .option("--runs-dir <dir>", "where run directories live (default ./dyn-runs, env DYN_RUNS_DIR)");
}

export function createProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command("dyn");
  program
    .description(
      "Deploy NVIDIA Dynamo inference graphs (frontend, prefill/decode workers, etcd, NATS) on SLURM",
    )
    .version("0.1.0", "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: io.stdout,
      // One line per error: commander puts its "(Did you mean …?)" on a line of its own.
      writeErr: (text) => io.stderr(text.replace(/\n\(Did you mean (.*?)\?\)/, " (did you mean $1?)")),
    })
    .showHelpAfterError("hint: add --help for usage")
    .showSuggestionAfterError(true)
    // Options belong to the command they follow: `dyn backends show x --json` is show's --json.
    .enablePositionalOptions()
    .allowExcessArguments(false);

  const act =
    (load: () => Promise<{ run: Action }>) =>
    async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const { run } = await load();
      setExit(await run(typedValues(cmd), cmd.args, io));
    };

  specOptions(common(program.command("deploy")))
    .description("plan, render, write a run directory and submit with sbatch")
    .option("--dry-run", "stop before sbatch: print the plan and where the files are")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .option("--wait", "follow the job until it is ready (prints the URL) or fails")
    .option("--timeout <s>", "with --wait: give up after this many seconds (the job keeps running)")
    .option(
      "--sweep-concurrency <n>",
      "a sweep: at most n points at once (point i starts after point i-n ends: --dependency=afterany)",
    )
    .option(
      "-q, --quiet",
      "print only the URL (--wait), the job id, or the dry run's directory; the rest to stderr",
    )
    .action(act(() => import("./commands/deploy.js")));

  specOptions(common(program.command("plan")))
    .description("print the plan (which process runs where); writes nothing")
    .action(act(() => import("./commands/plan.js")));

  specOptions(common(program.command("render"), false))
    .description("print the sbatch script (or write it with --out)")
    .option("--out <file>", "write the script to a file (atomically) instead of stdout")
    .option("--run-dir <dir>", "absolute run directory the script uses (default: what deploy would use)")
    .action(act(() => import("./commands/render.js")));

  common(program.command("status"))
    .description("queue state, readiness per role and URL of deployments (default: all known)")
    .argument("[targets...]", "job ids or run directories")
    .option("--watch", "keep refreshing (2 s, backing off to 10 s) until no job is in the queue")
    .option("--timeline", "time to ready phase by phase (queue, node setup, infra, processes, READY)")
    .option("--sweep <id>", "every point of a sweep (dyn list shows the ids)")
    .option("--runs-dir <dir>", "where run directories live")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .action(act(() => import("./commands/status.js")));

  common(program.command("logs"), false)
    .description("print a deployment's logs (the batch log, or a role's process logs)")
    .argument("<target>", "job id or run directory")
    .option("--role <role>", "frontend, prefill, decode, aggregated, etcd or nats")
    .option("--worker <n>", "worker index within the role")
    .option("--node <n>", "node index (0-based) within the allocation")
    .option("-n, --lines <n>", "lines from the end (default 50; 0 = all)")
    .option("-f, --follow", "keep printing new lines until the job leaves the queue")
    .option("--attempt <n>", "keep-alive: the logs of attempt n of the chain (default: the newest)")
    .option("--runs-dir <dir>", "where run directories live")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .action(act(() => import("./commands/logs.js")));

  common(program.command("stop"))
    .description("scancel a job and wait until it has left the queue")
    .argument("[target]", "job id or run directory")
    .option("--sweep <id>", "stop every point of a sweep (dyn list shows the ids)")
    .option("--timeout <s>", "how long to wait for the job to leave the queue (default 120)")
    .option("--force", "cancel a job dyn did not deploy (not in the runs directory nor the registry)")
    .option("--runs-dir <dir>", "where run directories live")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .action(act(() => import("./commands/stop.js")));

  common(program.command("list"))
    .description("deployments dyn knows (runs directory and per-user registry), with their queue state")
    .option("--runs-dir <dir>", "where run directories live")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .action(act(() => import("./commands/list.js")));

  common(program.command("bench"))
    .description("load a running deployment: a concurrency sweep of streamed requests, TTFT/ITL/throughput")
    .argument("[target]", "job id or run directory (or --url)")
    .option("--url <url>", "the frontend's base URL (default: the deployment's, from its status)")
    .option("--model <name>", "served model to request (default: the one the frontend lists)")
    .addOption(new Option("--api <api>", "OpenAI API (default chat)").choices(["chat", "completions"]))
    .option("--concurrency <list>", "requests in flight per step, comma-separated (default 1,4,16,64)")
    .option("--input-tokens <n>", "prompt length in words, about one token each (default 1024)")
    .option("--output-tokens <n>", "tokens generated per request: max_tokens with ignore_eos (default 128)")
    .option("--requests <n>", "requests per step (default 4 per concurrent request, at least 16)")
    .option("--duration <s>", "seconds each step sends requests (instead of --requests)")
    .option("--seed <n>", "prompt seed: the same seed sends the same prompts (default 0)")
    .option("--timeout <s>", "seconds one request may take (default 300)")
    .option("--out <dir>", "where the results directory is made (default <run dir>/bench)")
    .option(
      "--sweep <id>",
      "bench every READY point of a sweep in turn; one table (default <runs>/sweeps/<id>/bench)",
    )
    .option("--runs-dir <dir>", "where run directories live")
    .action(act(() => import("./commands/bench.js")));

  const backends = common(program.command("backends"))
    .description("list built-in and installed backends")
    .option("-f, --config <file>", "config file (its backends: list is included)")
    .enablePositionalOptions()
    .action(act(() => import("./commands/backends.js")));
  common(backends.command("show"))
    .description("a backend's components, defaults and options")
    .argument("<backend>", "backend name, package or path")
    .option("-f, --config <file>", "config file")
    .option("-o, --option <key=value>", "backend option to show components for (repeatable)", collect)
    .option("--dynamo-version <release>", "show the components of this release (default: the newest)")
    .option("--legacy", "show Dynamo 0.3.2's components")
    .action(act(async () => ({ run: (await import("./commands/backends.js")).show })));
  common(backends.command("new"))
    .description("write a ready-to-build backend plugin package (dyn-backend-<name>)")
    .argument("<name>", "the backend's name, lowercase letters, digits and -")
    .option("--dir <dir>", "directory to write, new or empty (default ./dyn-backend-<name>)")
    .action(act(async () => ({ run: (await import("./commands/backends.js")).create })));

  common(program.command("init"), false)
    .description("write a commented dyn.yaml for a backend")
    .option("--backend <name>", "backend (default vllm)")
    .option("--dynamo-version <release>", "the Dynamo release to write the config for (default: the newest)")
    .option("--legacy", "write it for Dynamo 0.3.2 (= --dynamo-version 0.3.2)")
    .option("--force", "overwrite an existing dyn.yaml")
    .option("--file <path>", "file to write (default dyn.yaml)")
    .action(act(() => import("./commands/init.js")));

  common(program.command("doctor"))
    .description(
      "check the cluster before a first deploy (SLURM, controller, partitions, GPUs, pyxis, runs directory)",
    )
    .option("--runs-dir <dir>", "run directory root to check for writing (nothing is written)")
    .option("-f, --config <file>", "config file")
    .option("--timeout <s>", "seconds each probe may take (default 5)")
    .option(
      "--remote <[user@]host[:port]>",
      "run on this login node over ssh (env DYN_REMOTE, config remote:)",
    )
    .option(
      "--profile <name>",
      "check with this site profile (default: DYN_PROFILE, the config's, the default)",
    )
    .option("--no-profile", "check without a site profile")
    .option(
      "--write-profile <name>",
      "write a site profile from what doctor detects (partition, GPUs, GPU request, interface, runs dir)",
    )
    .option("--user", "with --write-profile: into $XDG_CONFIG_HOME/dyn/profiles.yaml (the default)")
    .option("--site", "with --write-profile: into /etc/dyn/profiles.yaml (DYN_SITE_CONFIG_DIR)")
    .option("--force", "with --write-profile: replace a profile of that name")
    .action(act(() => import("./commands/doctor.js")));

  common(program.command("schema"), false)
    .description("print the JSON Schema of a command's --json output (no argument: every one, by name)")
    .argument(
      "[command...]",
      "deploy, plan, status, list, stop, bench, doctor, backends, backends show, backends new or error",
    )
    .action(act(() => import("./commands/schema.js")));

  common(program.command("completion"), false)
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .action(act(async () => ({ run: (await import("./commands/completion.js")).completion(program) })));

  // What the completion scripts ask at TAB time: installed backends, the registry's job ids.
  program
    .command("__values", { hidden: true })
    .argument("<what>", "backends or jobs")
    .action(act(async () => ({ run: (await import("./commands/completion.js")).valuesCommand })));

  return program;
}
