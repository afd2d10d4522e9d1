/**
 * Keep-alive (spec.lifetime.keepAlive): the batch script keeps a chain of jobs of itself, so a
 * deployment outlives the cluster's time limit without the submitting machine. Rendered only when
 * keep-alive is on; every other script is unchanged.
 *
 * SLURM facts this relies on (sbatch(1), Slurm 22.05):
 * - `--signal=[{R|B}:]<sig_num>[@sig_time]`: "When a job is within sig_time seconds of its end time,
 *   send it the signal sig_num. Due to the resolution of event handling by Slurm, the signal may be
 *   sent up to 60 seconds earlier than specified. … sig_time must have an integer value between 0
 *   and 65535. … Use the "B:" option to signal only the batch shell, none of the other processes
 *   will be signaled." B: keeps the engines from seeing USR1 (its default action ends a process).
 * - `--dependency=afterany:job_id`: "This job can begin execution after the specified jobs have
 *   terminated."
 * - sbatch's INPUT ENVIRONMENT VARIABLES (SBATCH_*, and a few SLURM_* such as SLURM_CLUSTERS) "will
 *   override any options set in a batch script": the job's own SLURM_* are removed before it calls
 *   sbatch, so the successor is the script's #SBATCH lines and nothing inherited.
 * Bash (manual, 3.7.6 Signals): "If Bash is waiting for a command to complete and receives a signal
 * for which a trap has been set, the trap will not be executed until the command completes" — the
 * supervision loop's foreground `sleep 0.2` bounds that delay — and a `wait` builtin returns at once
 * (status > 128) when a trapped signal arrives, so the trap only sets a flag the loop acts on.
 */
import type { DeploymentSpec } from "../spec.js";

type Lifetime = NonNullable<DeploymentSpec["lifetime"]>;

export function keepAliveOf(spec: DeploymentSpec): Lifetime | undefined {
  return spec.lifetime?.keepAlive ? spec.lifetime : undefined;
}

/** The #SBATCH directive: USR1 to the batch shell warnSeconds before the limit. */
export function keepAliveDirective(spec: DeploymentSpec): string[] {
  const l = keepAliveOf(spec);
  return l ? [`--signal=B:USR1@${l.warnSeconds}`] : [];
}

/**
 * Settings, right after DYN_RUN_DIR: attempt n ≥ 2 (DYN_ATTEMPT, exported by its predecessor's
 * sbatch) moves DYN_RUN_DIR to attempts/<n>/, so its status file, logs and locks are its own; the
 * run directory itself stays DYN_CHAIN_DIR.
 */
export function keepAliveSettings(spec: DeploymentSpec): string[] {
  const l = keepAliveOf(spec);
  if (!l) return [];
  return [
    "# Keep-alive: this job is attempt DYN_ATTEMPT of a chain (docs/cli.md, Keep-alive).",
    'DYN_CHAIN_DIR="$DYN_RUN_DIR"',
    'DYN_ATTEMPT="${DYN_ATTEMPT:-1}"',
    `DYN_HANDOVER=${l.handover ?? "queue"}`,
    `DYN_KEEPALIVE_MAX=${l.maxAttempts}`,
    `DYN_KEEPALIVE_FAILS=${l.maxFailures}`,
    '[ "$DYN_ATTEMPT" = 1 ] || DYN_RUN_DIR="$DYN_CHAIN_DIR/attempts/$DYN_ATTEMPT"',
  ];
}

/** After the runtime library: the chain's functions and the start of this attempt. */
export function keepAliveLibrary(spec: DeploymentSpec): string[] {
  return keepAliveOf(spec) ? [KEEPALIVE_LIBRARY] : [];
}

/** At READY (after the ready event). */
export function keepAliveReady(spec: DeploymentSpec): string[] {
  return keepAliveOf(spec) ? ["dyn_keepalive_ready"] : [];
}

/** In the supervision loop. */
export function keepAliveTick(spec: DeploymentSpec): string[] {
  return keepAliveOf(spec) ? ["  dyn_keepalive_tick"] : [];
}

export const KEEPALIVE_LIBRARY = `# ---- keep-alive: the chain of jobs that serves past the time limit ----
DYN_CHAIN="$DYN_CHAIN_DIR/chain.jsonl"
DYN_CHAIN_STOP="$DYN_CHAIN_DIR/chain.stop"
DYN_WARNED=0
DYN_NEXT_JOB=""

# dyn_chain_emit <attempt> <job> <event> [<field> <json value>]...: one line of chain.jsonl.
dyn_chain_emit() {
  local attempt=$1 job=$2 event=$3 fields="" t
  shift 3
  while [ $# -ge 2 ]; do fields+=",\\"$1\\":$2"; shift 2; done
  t=\${EPOCHREALTIME:-$(date +%s.%N)}
  t=\${t/,/.}
  printf '{"t":%s,"attempt":%s,"job":"%s","event":"%s"%s}\\n' "\${t:0:14}" "$attempt" "$job" "$event" "$fields" >>"$DYN_CHAIN"
}

# The status file of attempt <n>.
dyn_attempt_status() {
  if [ "$1" -le 1 ]; then printf '%s' "$DYN_CHAIN_DIR/status.jsonl"; else printf '%s' "$DYN_CHAIN_DIR/attempts/$1/status.jsonl"; fi
}

# dyn_submit_next [<sbatch option>...]: the successor — this same script (job.sbatch in the run
# directory) with DYN_ATTEMPT + 1 — unless dyn stop wrote its marker or maxAttempts is reached.
# Once per attempt. DYN_NEXT_JOB is its job id, or "none".
dyn_submit_next() {
  local next=$((DYN_ATTEMPT + 1)) out id
  [ -z "$DYN_NEXT_JOB" ] || return 0
  if [ -e "$DYN_CHAIN_STOP" ]; then
    DYN_NEXT_JOB=none
    dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" refused why '"stopped"'
    return 0
  fi
  if ((DYN_KEEPALIVE_MAX > 0 && next > DYN_KEEPALIVE_MAX)); then
    DYN_NEXT_JOB=none
    dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" refused why "$(dyn_json "maxAttempts $DYN_KEEPALIVE_MAX reached")"
    dyn_log "keep-alive: attempt $DYN_ATTEMPT is the last (lifetime.maxAttempts $DYN_KEEPALIVE_MAX)"
    return 0
  fi
  # shellcheck disable=SC2046 # one name per word
  if ! out=$(
    for v in $(compgen -e); do case "$v" in SLURM_CONF) ;; SLURM_* | SBATCH_*) unset "$v" ;; esac; done
    cd "$DYN_CHAIN_DIR" && sbatch --parsable --export="ALL,DYN_ATTEMPT=$next" "$@" "$DYN_CHAIN_DIR/job.sbatch" 2>&1
  ); then
    DYN_NEXT_JOB=none
    dyn_log "keep-alive: sbatch of attempt $next failed: $out" >&2
    dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" refused why "$(dyn_json "sbatch failed: $out")"
    return 0
  fi
  id=\${out##*$'\\n'}
  id=\${id%%;*}
  DYN_NEXT_JOB=$id
  dyn_chain_emit "$next" "$id" submitted by "$(dyn_json "$SLURM_JOB_ID")"
  [ ! -d "$DYN_CHAIN_DIR/../by-job" ] || ln -sfn -- "../\${DYN_CHAIN_DIR##*/}" "$DYN_CHAIN_DIR/../by-job/$id" 2>/dev/null || true
  # dyn stop writes its marker, then cancels every job chain.jsonl names: a marker written while
  # sbatch ran was followed by a read that may have missed the line above, so cancel it here.
  if [ -e "$DYN_CHAIN_STOP" ]; then
    scancel "$id" 2>/dev/null || true
    dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" refused why '"stopped"'
  fi
  dyn_emit successor job "$(dyn_json "$id")" attempt "$next"
  dyn_log "keep-alive: attempt $next is job $id\${1:+ ($1)}"
}

# At READY: current-url names this attempt's URL (temp file + mv: readers never see half a line),
# chain.jsonl records it; in queue mode the successor is queued now, after this job.
dyn_keepalive_ready() {
  local tmp="$DYN_CHAIN_DIR/.current-url.$SLURM_JOB_ID"
  printf '%s\\n' "$DYN_URL" >"$tmp" && mv -f -- "$tmp" "$DYN_CHAIN_DIR/current-url"
  dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" ready url "$(dyn_json "$DYN_URL")"
  [ "$DYN_HANDOVER" != queue ] || dyn_submit_next "--dependency=afterany:$SLURM_JOB_ID"
}

# In the supervision loop, after SLURM's warning (USR1): overlap submits the successor and, once
# its status file says READY, drains this attempt (the steps get TERM) and exits 0. A successor that
# fails leaves this attempt serving until its limit. Queue mode has nothing more to do.
dyn_keepalive_tick() {
  ((DYN_WARNED)) || return 0
  if [ "$DYN_WARNED" = 1 ]; then
    DYN_WARNED=2
    dyn_emit time-limit-near handover "$(dyn_json "$DYN_HANDOVER")"
    dyn_log "keep-alive: the time limit is near (USR1)"
    [ "$DYN_HANDOVER" != overlap ] || dyn_submit_next
  fi
  [ "$DYN_HANDOVER" = overlap ] && [ "$DYN_NEXT_JOB" != none ] || return 0
  grep -qs '"event":"ready"' "$(dyn_attempt_status "$((DYN_ATTEMPT + 1))")" || return 0
  trap - TERM INT USR1
  DYN_DONE=1
  dyn_log "keep-alive: attempt $((DYN_ATTEMPT + 1)) (job $DYN_NEXT_JOB) is READY: draining attempt $DYN_ATTEMPT"
  dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" handed-over to "$(dyn_json "$DYN_NEXT_JOB")"
  dyn_emit handed-over job "$(dyn_json "$DYN_NEXT_JOB")" attempt "$((DYN_ATTEMPT + 1))"
  dyn_stop_steps
  dyn_emit stopped signal '"HANDOVER"'
  exit 0
}

# This attempt starts: recorded; nothing runs once dyn stop ended the chain, nor after maxFailures
# attempts in a row failed (a failed event in their status files; a time-limit end is not one).
dyn_chain_emit "$DYN_ATTEMPT" "$SLURM_JOB_ID" started
[ "$DYN_ATTEMPT" != 1 ] || [ -f "$DYN_CHAIN_DIR/job.sbatch" ] || cp -- "$0" "$DYN_CHAIN_DIR/job.sbatch"
if [ -e "$DYN_CHAIN_STOP" ]; then
  DYN_DONE=1
  dyn_log "keep-alive: the chain was stopped (chain.stop): attempt $DYN_ATTEMPT does not start"
  dyn_emit stopped signal '"CHAIN_STOP"'
  exit 0
fi
DYN_FAILS=0
for ((n = DYN_ATTEMPT - 1; n >= 1; n--)); do
  grep -qs '"event":"failed"' "$(dyn_attempt_status "$n")" || break
  DYN_FAILS=$((DYN_FAILS + 1))
done
((DYN_FAILS < DYN_KEEPALIVE_FAILS)) || dyn_fail keep-alive "the last $DYN_FAILS attempts failed: not starting another (lifetime.maxFailures $DYN_KEEPALIVE_FAILS)"
trap '((DYN_WARNED)) || DYN_WARNED=1' USR1`;
