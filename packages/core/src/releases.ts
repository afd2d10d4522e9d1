/**
 * Dynamo releases as data. A backend declares what changes from release to release as rows of a
 * table that reads like a changelog (`since` = the first release a row applies to; later rows
 * override the fields they name); the core folds the rows into the facts of one release, chooses
 * the release (explicit value, container image tag, or the newest), and says where the choice came
 * from.
 *
 * Facts: shared/reference/dynamo-releases.md (release list, infrastructure, environment) and the
 * argparse tables captured at each release commit (shared/reference/dynamo-flags/).
 */
import { DynError } from "./errors.js";
import { compareVersions } from "./version.js";

/** Every Dynamo release dyn knows, oldest first (dynamo-releases.md § Releases). 1.5.1 is the newest. */
export const DYNAMO_RELEASES: readonly string[] = Object.freeze([
  "0.3.2",
  "0.4.1",
  "0.6.1",
  "0.9.0",
  "1.0.0",
  "1.0.1",
  "1.0.2",
  "1.1.0",
  "1.1.1",
  "1.2.0",
  "1.2.1",
  "1.3.0",
  "1.3.1",
  "1.4.0",
  "1.4.1",
  "1.4.2",
  "1.5.0",
  "1.5.1",
]);

/**
 * What the Dynamo runtime itself (not an engine) needs from a launcher, per release. Every backend's
 * table starts from these; a backend row may override them.
 */
export interface RuntimeFacts {
  /**
   * NATS: `required` (0.3.2–0.9.x), `event-plane` (1.0–1.2: the event plane defaults to NATS; without
   * NATS every process must be told DYN_EVENT_PLANE=zmq), `optional` (1.3.0+: zmq by default).
   */
  readonly nats: "required" | "event-plane" | "optional";
  /**
   * Discovery backends other than etcd that every component accepts (`--discovery-backend` /
   * DYN_DISCOVERY_BACKEND; in the frontend's table from 1.0.0). Dynamo documents `file` as
   * single-machine only; `mem` is in-process and `kubernetes` needs a cluster API, so on SLURM only
   * `file` on one node can replace etcd.
   */
  readonly discovery: readonly string[];
  /**
   * How a worker's system server (/health, /live, /metrics) is turned on: `enabled-flag` =
   * DYN_SYSTEM_ENABLED=true plus DYN_SYSTEM_PORT (0.4.1, 0.6.1; default port 9090 collides between
   * workers on a node); `port` = DYN_SYSTEM_PORT ≥ 0 (0.9.0+); `none` = SDK era.
   */
  readonly systemServer: "none" | "enabled-flag" | "port";
  /**
   * The per-worker request counter that system server exports on /metrics (Prometheus text), or null
   * where there is none. The token gate reads it on every worker before and after its request to
   * prove each role handled it (docs/reliability.md § The token gate).
   */
  readonly requestCounter: RequestCounter | null;
  /** Frontend and workers must run the same release (1.4.0+: event subjects changed). */
  readonly lockstep: boolean;
}

/**
 * A counter every endpoint a worker serves carries (lib/runtime/src/pipeline/network/ingress/
 * push_handler.rs WorkHandlerMetrics::from_endpoint: work_handler::REQUESTS_TOTAL, incremented per
 * request the endpoint handles), named with the component prefix and auto-labelled with the
 * endpoint's place in the hierarchy (lib/runtime/src/metrics.rs create_metric).
 */
export interface RequestCounter {
  /** The metric name: `dynamo_component_` + `requests_total`. */
  readonly metric: string;
  /** The label naming the endpoint, and the endpoint a worker serves requests on. */
  readonly endpointLabel: string;
  readonly endpoint: string;
  /** The labels every series carries (alphabetical, as the prometheus crate prints them). */
  readonly labels: readonly string[];
}

/**
 * The counter as 0.4.1 introduced it (prometheus_names.rs: name_prefix::COMPONENT "dynamo_component_",
 * labels dynamo_namespace/dynamo_component/dynamo_endpoint; system_status_server.rs serves the
 * runtime's registry on /metrics). Checked at the release commits of
 * shared/reference/dynamo-flags/releases-*.json in the ai-dynamo/dynamo history (mirror wxsms/dynamo):
 * 0.4.1 46175f5df0b8, 0.6.1 5f9d20251667, 0.9.0 4d9e64a2c1f0, 1.0.0 8381e28a3e4a, 1.1.0 01a4b6d6ddd5,
 * 1.2.0 976dc4d068d3, 1.3.0 4cba833f0161, 1.4.0 5a638087d82c, 1.5.0 2a6da14c8361. 0.3.2 (c4935b34979b)
 * has no lib/runtime metrics module and no system server. A disaggregated request reaches the prefill
 * worker's generate endpoint too, so both roles count it: at 0.4.1 the SGLang decode worker calls it
 * (components/backends/sglang/src/dynamo/sglang/main.py prefill_client = ….endpoint("generate"),
 * request_handlers/decode_handler.py), at 1.5.0 the frontend's PrefillRouter does
 * (lib/llm/src/kv_router/prefill_router, lib/llm/src/discovery/watcher.rs).
 */
const REQUEST_COUNTER: RequestCounter = Object.freeze({
  metric: "dynamo_component_requests_total",
  endpointLabel: "dynamo_endpoint",
  endpoint: "generate",
  labels: Object.freeze(["dynamo_component", "dynamo_endpoint", "dynamo_namespace"]),
});

/** Rows of the runtime facts (dynamo-releases.md § Infrastructure, § Environment). */
export const RUNTIME_ROWS: readonly ReleaseRow<RuntimeFacts>[] = Object.freeze([
  {
    since: "0.3.2",
    nats: "required",
    discovery: [],
    systemServer: "none",
    requestCounter: null,
    lockstep: false,
  },
  { since: "0.4.1", systemServer: "enabled-flag", requestCounter: REQUEST_COUNTER },
  { since: "0.9.0", systemServer: "port" },
  { since: "1.0.0", nats: "event-plane", discovery: ["file", "mem", "kubernetes"] },
  {
    since: "1.1.0",
    requestCounter: { ...REQUEST_COUNTER, labels: [...REQUEST_COUNTER.labels, "worker_id"] },
    note: "metrics carry worker_id, the instance id in hex (#8089)",
  },
  { since: "1.3.0", nats: "optional", note: "event plane defaults to zmq (#10902)" },
  { since: "1.4.0", lockstep: true, note: "frontend and workers must run the same release" },
]);

/** One row: the first release it applies to, then only the facts that change there. */
export type ReleaseRow<F> = { readonly since: string; readonly note?: string } & Partial<F & RuntimeFacts>;

export interface ReleaseTable<F> {
  /** Supported releases, oldest first. */
  readonly known: readonly string[];
  readonly newest: string;
  /** The rows as declared (for `dyn backends show` and docs). */
  readonly rows: readonly ReleaseRow<F & RuntimeFacts>[];
  /** The folded facts of a known release (throws DYN_INTERNAL for an unknown one). */
  facts(version: string): F & RuntimeFacts;
}

/**
 * A backend's release table. The first row must name every fact (it is the oldest supported
 * release); each later row names what changes. `known` defaults to the Dynamo releases from the
 * first row on.
 */
export function defineReleases<F extends object>(def: {
  readonly rows: readonly [{ readonly since: string; readonly note?: string } & F, ...ReleaseRow<F>[]];
  readonly known?: readonly string[];
}): ReleaseTable<F> {
  const first = def.rows[0].since;
  const known = Object.freeze(
    [...(def.known ?? DYNAMO_RELEASES.filter((r) => compareVersions(r, first) >= 0))].sort(compareVersions),
  );
  const rows = [...def.rows].sort((a, b) => compareVersions(a.since, b.since));
  for (let i = 1; i < rows.length; i++) {
    if (compareVersions((rows[i - 1] as ReleaseRow<F>).since, (rows[i] as ReleaseRow<F>).since) === 0)
      throw new TypeError(`release table: two rows since ${(rows[i] as ReleaseRow<F>).since}`);
  }
  const keys = new Set(Object.keys(def.rows[0]));
  for (const row of rows) {
    for (const k of Object.keys(row)) {
      if (!keys.has(k) && !RUNTIME_KEYS.has(k))
        throw new TypeError(`release table: row ${row.since} sets ${k}, which the first row does not`);
    }
  }
  const cache = new Map<string, F & RuntimeFacts>();
  const fold = (version: string): F & RuntimeFacts => {
    let facts = {} as Record<string, unknown>;
    for (const row of RUNTIME_ROWS)
      if (compareVersions(row.since, version) <= 0) facts = { ...facts, ...row };
    for (const row of rows) if (compareVersions(row.since, version) <= 0) facts = { ...facts, ...row };
    delete facts.since;
    delete facts.note;
    return Object.freeze(facts) as F & RuntimeFacts;
  };
  return Object.freeze({
    known,
    newest: known[known.length - 1] as string,
    rows: Object.freeze(rows) as readonly ReleaseRow<F & RuntimeFacts>[],
    facts(version: string) {
      if (!known.includes(version))
        throw new DynError("DYN_INTERNAL", `release table has no release ${version}`);
      let hit = cache.get(version);
      if (!hit) {
        hit = fold(version);
        cache.set(version, hit);
      }
      return hit;
    },
  });
}

/** The runtime facts' names, as the first runtime row names them all. */
const RUNTIME_KEYS = new Set(Object.keys(RUNTIME_ROWS[0] as object));

/** Dynamo's release images and the backend each one runs (nvcr.io/nvidia/ai-dynamo/<name>:<release>). */
export const DYNAMO_IMAGES: Readonly<Record<string, string>> = Object.freeze({
  "vllm-runtime": "vllm",
  "sglang-runtime": "sglang",
  "tensorrtllm-runtime": "trtllm",
});

export interface ImageRef {
  /** Last path component of the repository, e.g. `sglang-runtime`. */
  readonly name: string;
  /** The tag, e.g. `1.4.2` or `1.3.0-deepseek-v4-dev.1`; undefined without one. */
  readonly tag: string | undefined;
}

/**
 * The repository name and tag of a container image reference: a registry reference
 * (`nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.4.2`, `docker://…`, `…@sha256:…`) or an enroot
 * squashfs whose file name `enroot import` derived from one (`nvidia+ai-dynamo+sglang-runtime+1.4.2.sqsh`).
 */
export function parseImageRef(image: string): ImageRef {
  const base = image.replace(/^[a-z]+:\/\//, "");
  if (/\.(sqsh|squashfs)$/.test(base)) {
    const file = (base.split("/").pop() as string).replace(/\.(sqsh|squashfs)$/, "");
    const parts = file.split("+");
    if (parts.length >= 2) return { name: parts[parts.length - 2] as string, tag: parts[parts.length - 1] };
    const m = /^(.*?)[_-](\d+\.\d+(?:\.\d+)?(?:[.-][A-Za-z0-9.-]*)?)$/.exec(file);
    return m ? { name: m[1] as string, tag: m[2] } : { name: file, tag: undefined };
  }
  const path = base.split("@")[0] as string;
  const last = (path.split(/[/#]/).pop() ?? path) as string;
  const colon = last.indexOf(":");
  return colon < 0
    ? { name: last, tag: undefined }
    : { name: last.slice(0, colon), tag: last.slice(colon + 1) };
}

/** A tag's base release: `1.3.0-deepseek-v4-dev.1` → 1.3.0, `0.8.1.post1` → 0.8.1, `v1.4` → 1.4.0. */
export function baseRelease(tag: string): { release: string; suffix: string } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(tag);
  if (!m) return undefined;
  return { release: `${m[1]}.${m[2]}.${m[3] ?? "0"}`, suffix: (m[4] ?? "").replace(/^[.-]/, "") };
}

export type ReleaseSource = "explicit" | "image" | "default";

export interface ResolvedRelease {
  /** The release the commands are rendered for (always a known one). */
  readonly version: string;
  /** What the user or the image asked for, when it differs from `version` (a series, a suffix, an unknown release). */
  readonly requested?: string | undefined;
  readonly source: ReleaseSource;
  /** Human words for the source: `--dynamo-version`, `image tag 1.4.2`, `default`. */
  readonly origin: string;
  /** Lines the plan shows: suffix mapping, unknown release rendered as the newest. */
  readonly notes: readonly string[];
  readonly unknown: boolean;
}

export interface ReleaseRequest {
  /** `1.4.2`, `1.4` (newest 1.4.x), `latest`; undefined = infer. */
  readonly version?: string | undefined;
  /** Where `version` came from, for messages (default `dynamo.version`). */
  readonly origin?: string | undefined;
  readonly image?: string | undefined;
  /** Render an unknown release as the newest known one instead of refusing it. */
  readonly allowUnknown?: boolean | undefined;
}

const KEY = "dynamo.version";

/** Choose the release: explicit value > image tag > newest known. Errors are DYN_UNSUPPORTED (exit 2). */
export function resolveRelease(
  backend: { readonly name: string },
  table: Pick<ReleaseTable<unknown>, "known" | "newest">,
  req: ReleaseRequest,
): ResolvedRelease {
  const origin = req.origin ?? KEY;
  const knownList = () => `known releases of ${backend.name}: ${table.known.join(", ")}`;
  const fromImage = req.image ? imageRelease(backend, req.image) : undefined;
  const notes: string[] = [];

  if (req.version !== undefined) {
    const want = req.version.trim();
    const match = matchRelease(table, want);
    if (fromImage?.release) {
      // An explicit value must agree with the image: a series covers the tag's release.
      if (!match.covers(fromImage.release)) {
        throw new DynError(
          "DYN_UNSUPPORTED",
          `${KEY}: ${want} disagrees with the container image ${req.image} (tag ${fromImage.tag} = Dynamo ${fromImage.release})`,
          { key: KEY, hint: `drop ${origin} to use the image's release, or use an image tagged ${want}` },
        );
      }
      if (!table.known.includes(fromImage.release))
        return unknownRelease(want, "explicit", fromImage.release);
      if (fromImage.suffix)
        notes.push(buildNote(`image tag ${fromImage.tag}`, fromImage.release, fromImage.suffix));
      return {
        version: fromImage.release,
        requested: want === fromImage.release ? undefined : want,
        source: "explicit",
        origin,
        notes,
        unknown: false,
      };
    }
    if (match.version) {
      const suffix = baseRelease(want)?.suffix;
      if (suffix && want !== "latest") notes.push(buildNote(want, match.version, suffix));
      return {
        version: match.version,
        requested: match.version === want ? undefined : want,
        source: "explicit",
        origin,
        notes,
        unknown: false,
      };
    }
    return unknownRelease(want, "explicit");
  }

  if (fromImage?.release) {
    const { release, tag } = fromImage;
    const imageOrigin = `image tag ${tag}`;
    if (fromImage.suffix) notes.push(buildNote(`image tag ${tag}`, release, fromImage.suffix));
    if (table.known.includes(release))
      return {
        version: release,
        requested: tag === release ? undefined : tag,
        source: "image",
        origin: imageOrigin,
        notes,
        unknown: false,
      };
    return unknownRelease(tag as string, "image", release);
  }
  if (fromImage && !fromImage.release && fromImage.tag)
    notes.push(`image tag ${fromImage.tag} names no Dynamo release; rendering the newest (${table.newest})`);
  return { version: table.newest, source: "default", origin: "default", notes, unknown: false };

  function unknownRelease(asked: string, source: ReleaseSource, base?: string): ResolvedRelease {
    const near = nearest(table.known, base ?? asked);
    if (!req.allowUnknown) {
      const key = source === "image" ? "container.image" : KEY;
      throw new DynError(
        "DYN_UNSUPPORTED",
        `${key}: Dynamo ${asked}${source === "image" ? ` (the tag of ${req.image})` : ""} is not a release dyn knows; ${knownList()}`,
        {
          key,
          hint: `choose one${near ? ` (nearest: ${near})` : ""}, or pass --allow-unknown-dynamo-version to render it as ${table.newest}`,
        },
      );
    }
    return {
      version: table.newest,
      requested: asked,
      source,
      origin: source === "image" ? `image tag ${asked}` : origin,
      notes: [
        ...notes,
        `Dynamo ${asked} is not a known release: rendered as ${table.newest} (--allow-unknown-dynamo-version)`,
      ],
      unknown: true,
    };
  }
}

/** `1.3.0-deepseek-v4-dev.1 is a build of 1.3.0 (deepseek-v4-dev.1); rendering 1.3.0`. */
function buildNote(what: string, release: string, suffix: string): string {
  return `${what} is a build of ${release} (${suffix}); rendering ${release}`;
}

function imageRelease(
  backend: { readonly name: string },
  image: string,
): { release: string | undefined; tag: string | undefined; suffix: string } {
  const ref = parseImageRef(image);
  const owner = DYNAMO_IMAGES[ref.name];
  if (owner && owner !== backend.name) {
    throw new DynError(
      "DYN_UNSUPPORTED",
      `container.image: ${image} is Dynamo's ${owner} image, not one for backend ${backend.name}`,
      {
        key: "container.image",
        hint: `use --backend ${owner}, or the ${Object.entries(DYNAMO_IMAGES).find(([, b]) => b === backend.name)?.[0] ?? `${backend.name}`} image`,
      },
    );
  }
  const base = ref.tag ? baseRelease(ref.tag) : undefined;
  return {
    release: base?.release,
    tag: ref.tag,
    suffix: base?.suffix ?? "",
  };
}

/** `latest`, a release, or a series (`1.4` → newest 1.4.x). */
function matchRelease(
  table: Pick<ReleaseTable<unknown>, "known" | "newest">,
  want: string,
): { version: string | undefined; covers(release: string): boolean } {
  if (want === "latest") return { version: table.newest, covers: (r) => r === table.newest };
  const series = /^v?(\d+)\.(\d+)$/.exec(want);
  if (series) {
    const prefix = `${series[1]}.${series[2]}.`;
    const inSeries = table.known.filter((r) => r.startsWith(prefix));
    return { version: inSeries[inSeries.length - 1], covers: (r) => r.startsWith(prefix) };
  }
  // A release, also with a build suffix (`1.3.0-deepseek-v4-dev.1` is a build of 1.3.0).
  const exact = baseRelease(want)?.release;
  return {
    version: exact && table.known.includes(exact) ? exact : undefined,
    covers: (r) => r === exact,
  };
}

function nearest(known: readonly string[], asked: string): string | undefined {
  const base = baseRelease(asked)?.release;
  if (!base) return undefined;
  const below = known.filter((r) => compareVersions(r, base) <= 0);
  return below[below.length - 1] ?? known[0];
}
