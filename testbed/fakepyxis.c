/*
 * fakepyxis.c — a SPANK plugin that stands in for NVIDIA pyxis on the testbed.
 *
 * Why: `dyn` renders srun/sbatch lines with pyxis' --container-* options. Without pyxis, Slurm
 * rejects them ("unrecognized option"). This plugin registers the same options, runs the step on the
 * "node" itself (no container, no image pull) and RECORDS what was asked for, so tests can assert it:
 *
 *   1. every option given is exported to the tasks as FAKE_PYXIS_<OPTION>=<value or 1>
 *      (e.g. FAKE_PYXIS_CONTAINER_IMAGE=nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.3.2);
 *   2. one JSON line per step and node is appended to the request log (plugin argument log=PATH,
 *      up.sh uses $TB_ROOT/pyxis-requests.log):
 *        {"job":"12","step":"0","node":"node2","options":{"container-image":"...","container-env":"A,B"}}
 *      step is a number, or "batch" / "extern" / "interactive"; steps without any --container-*
 *      option are not logged;
 *   3. if --container-workdir names a directory that exists on the host, tasks start there (pyxis
 *      would chdir inside the container); otherwise the cwd is left alone.
 *
 * Build: gcc -shared -fPIC -o fakepyxis.so fakepyxis.c      (needs libslurm-dev for <slurm/spank.h>)
 * Load:  echo "optional /path/fakepyxis.so log=/path/requests.log" > /etc/slurm/plugstack.conf.d/x.conf
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <slurm/spank.h>

SPANK_PLUGIN(fakepyxis, 1);

/* pyxis' options (pyxis 0.20: README "Usage"); flags without an argument have has_arg = 0 */
static struct spank_option opts[] = {
  { "container-image", "[USER@][REGISTRY#]IMAGE[:TAG]|PATH", "(fake pyxis) recorded, not run", 1, 0, NULL },
  { "container-mounts", "SRC:DST[:FLAGS][,...]", "(fake pyxis) recorded", 1, 1, NULL },
  { "container-workdir", "PATH", "(fake pyxis) recorded; chdir if PATH exists on the host", 1, 2, NULL },
  { "container-name", "NAME", "(fake pyxis) recorded", 1, 3, NULL },
  { "container-save", "PATH", "(fake pyxis) recorded", 1, 4, NULL },
  { "container-mount-home", NULL, "(fake pyxis) recorded", 0, 5, NULL },
  { "no-container-mount-home", NULL, "(fake pyxis) recorded", 0, 6, NULL },
  { "container-remap-root", NULL, "(fake pyxis) recorded", 0, 7, NULL },
  { "no-container-remap-root", NULL, "(fake pyxis) recorded", 0, 8, NULL },
  { "container-entrypoint", NULL, "(fake pyxis) recorded", 0, 9, NULL },
  { "no-container-entrypoint", NULL, "(fake pyxis) recorded", 0, 10, NULL },
  { "container-entrypoint-log", NULL, "(fake pyxis) recorded", 0, 11, NULL },
  { "container-writable", NULL, "(fake pyxis) recorded", 0, 12, NULL },
  { "container-readonly", NULL, "(fake pyxis) recorded", 0, 13, NULL },
  { "container-env", "NAME[,NAME...]", "(fake pyxis) recorded", 1, 14, NULL },
  SPANK_OPTIONS_TABLE_END
};
#define NOPT ((int)(sizeof(opts) / sizeof(opts[0]) - 1))
static char *val[NOPT];
static const char *log_path;

static int cb(int v, const char *optarg, int remote)
{
  (void)remote;
  if (v < 0 || v >= NOPT) return -1;
  free(val[v]);
  val[v] = strdup(optarg && *optarg ? optarg : "1");
  return val[v] ? 0 : -1;
}

/* Register explicitly in every context: with only a global "spank_options" table, srun and salloc
 * accept the options but sbatch (22.05) says "unrecognized option". */
int slurm_spank_init(spank_t sp, int ac, char **av)
{
  for (int i = 0; i < ac; i++)
    if (strncmp(av[i], "log=", 4) == 0) log_path = av[i] + 4;
  for (int i = 0; i < NOPT; i++) {
    opts[i].cb = cb;
    if (spank_option_register(sp, &opts[i]) != ESPANK_SUCCESS) return -1;
  }
  return 0;
}

/* append s to the JSON buffer as a string body (escape quotes, backslashes, control characters) */
static void json_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void log_request(spank_t sp)
{
  int any = 0;
  for (int i = 0; i < NOPT; i++) any |= val[i] != NULL;
  if (!any || !log_path) return;

  uint32_t job = 0, step = 0;
  char stepbuf[32], host[256] = "?";
  spank_get_item(sp, S_JOB_ID, &job);
  spank_get_item(sp, S_JOB_STEPID, &step);
  if (step == 0xfffffffb) strcpy(stepbuf, "batch");              /* SLURM_BATCH_SCRIPT */
  else if (step == 0xfffffffc) strcpy(stepbuf, "extern");        /* SLURM_EXTERN_CONT */
  else if (step == 0xfffffffa) strcpy(stepbuf, "interactive");   /* SLURM_INTERACTIVE_STEP */
  else snprintf(stepbuf, sizeof stepbuf, "%u", step);
  gethostname(host, sizeof host - 1);

  /* build the whole line in memory, then write it with one write() under flock, so lines from
   * concurrent steps on several nodes never interleave */
  char *buf = NULL; size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return;
  fprintf(m, "{\"job\":\"%u\",\"step\":\"%s\",\"node\":", job, stepbuf);
  json_str(m, host);
  fputs(",\"options\":{", m);
  for (int i = 0, n = 0; i < NOPT; i++) {
    if (!val[i]) continue;
    if (n++) fputc(',', m);
    json_str(m, opts[i].name);
    fputc(':', m);
    json_str(m, val[i]);
  }
  fputs("}}\n", m);
  fclose(m);

  int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd >= 0) {
    flock(fd, LOCK_EX);
    ssize_t w = write(fd, buf, len);
    (void)w;
    flock(fd, LOCK_UN);
    close(fd);
  } else {
    slurm_error("fakepyxis: cannot open %s", log_path);
  }
  free(buf);
}

/* remote side (slurmstepd, once per step and node): options were forwarded and cb() ran here too */
int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
  (void)ac; (void)av;
  if (!spank_remote(sp)) return 0;
  for (int i = 0; i < NOPT; i++) {
    if (!val[i]) continue;
    char name[64] = "FAKE_PYXIS_";
    size_t n = strlen(name);
    for (const char *p = opts[i].name; *p && n < sizeof name - 1; p++, n++)
      name[n] = (*p == '-') ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    name[n] = 0;
    spank_setenv(sp, name, val[i], 1);
  }
  log_request(sp);
  return 0;
}

/* in each task, after slurmstepd's own chdir(cwd) and before exec: like pyxis, start in the workdir */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
  (void)ac; (void)av;
  struct stat st;
  const char *wd = val[2];
  if (wd && stat(wd, &st) == 0 && S_ISDIR(st.st_mode)) {
    if (chdir(wd) != 0) slurm_error("fakepyxis: chdir(%s) failed", wd);
    else spank_setenv(sp, "PWD", wd, 1);   /* keep $PWD consistent with the real cwd */
  }
  return 0;
}
