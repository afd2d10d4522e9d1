/**
 * Release tables and the choice of release (releases.ts): folding changelog-like rows, the guards
 * that keep a table well-formed, and resolveRelease over explicit values, image tags in their
 * real-world spellings (suffixes, enroot file names, docker://, digests) and their conflicts.
 * Facts: shared/reference/dynamo-releases.md § Releases.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  baseRelease,
  DYNAMO_RELEASES,
  DynError,
  defineReleases,
  parseImageRef,
  type ReleaseRequest,
  type ResolvedRelease,
  RUNTIME_ONLY_RELEASES,
  RUNTIME_ROWS,
  resolveRelease,
} from "../src/index.js";

describe("DYNAMO_RELEASES", () => {
  it("lists every release 0.3.2 … 1.5.1, oldest first; 1.5.1 is the newest", () => {
    // The releases whose argparse tables were captured (testbed/runtime/flags/releases.json, made by
    // scripts/gen-flag-tables.mjs from shared/reference/dynamo-flags/): one list, checked against that data.
    const captured = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../testbed/runtime/flags/releases.json"), "utf8"),
    );
    expect(DYNAMO_RELEASES).toEqual(Object.keys(captured.releases));
    expect(DYNAMO_RELEASES[0]).toBe("0.3.2");
    expect(DYNAMO_RELEASES.at(-1)).toBe("1.5.1");
    expect(DYNAMO_RELEASES).toHaveLength(18);
    expect(Object.isFrozen(DYNAMO_RELEASES)).toBe(true);
  });
});

describe("defineReleases", () => {
  interface Facts {
    readonly flag: string;
    readonly extra: readonly string[];
  }
  const table = defineReleases<Facts>({
    rows: [
      { since: "0.4.1", flag: "--old", extra: [], note: "first" },
      // Out of order on purpose: rows are sorted by release.
      { since: "1.3.0", extra: ["--x"], note: "x" },
      { since: "1.0.0", flag: "--new" },
    ],
  });

  it("knows the Dynamo releases from its first row on", () => {
    expect(table.known).toEqual(DYNAMO_RELEASES.slice(1));
    expect(table.newest).toBe("1.5.1");
    expect(table.rows.map((r) => r.since)).toEqual(["0.4.1", "1.0.0", "1.3.0"]);
  });

  it("folds every row up to a release: later rows override the fields they name", () => {
    const pick = (v: string) => {
      const f = table.facts(v);
      return { flag: f.flag, extra: f.extra };
    };
    expect(pick("0.4.1")).toEqual({ flag: "--old", extra: [] });
    expect(pick("0.9.0")).toEqual({ flag: "--old", extra: [] });
    expect(pick("1.0.0")).toEqual({ flag: "--new", extra: [] });
    expect(pick("1.2.1")).toEqual({ flag: "--new", extra: [] });
    expect(pick("1.3.0")).toEqual({ flag: "--new", extra: ["--x"] });
    expect(pick("1.5.1")).toEqual({ flag: "--new", extra: ["--x"] });
  });

  it("adds the runtime facts of each release (infrastructure, system server, lock-step)", () => {
    const runtime = (v: string) => {
      const { nats, discovery, systemServer, lockstep } = table.facts(v);
      return `${nats} [${discovery.join(",")}] ${systemServer} ${lockstep}`;
    };
    expect(runtime("0.4.1")).toBe("required [] enabled-flag false");
    expect(runtime("0.6.1")).toBe("required [] enabled-flag false");
    expect(runtime("0.9.0")).toBe("required [] port false");
    expect(runtime("1.0.0")).toBe("event-plane [file,mem,kubernetes] port false");
    expect(runtime("1.2.1")).toBe("event-plane [file,mem,kubernetes] port false");
    expect(runtime("1.3.0")).toBe("optional [file,mem,kubernetes] port false");
    expect(runtime("1.4.0")).toBe("optional [file,mem,kubernetes] port true");
    expect(RUNTIME_ONLY_RELEASES.facts("0.3.2")).toEqual({
      nats: "required",
      discovery: [],
      systemServer: "none",
      requestCounter: null,
      lockstep: false,
    });
    expect(RUNTIME_ROWS[0]?.since).toBe("0.3.2");
  });

  it("says which releases' workers count their requests on /metrics, under which name and labels", () => {
    const counter = (v: string) => {
      const c = table.facts(v).requestCounter;
      return c ? `${c.metric}{${c.endpointLabel}="${c.endpoint}"} ${c.labels.join(",")}` : "none";
    };
    expect(RUNTIME_ONLY_RELEASES.facts("0.3.2").requestCounter).toBeNull();
    const three = "dynamo_component,dynamo_endpoint,dynamo_namespace";
    for (const v of ["0.4.1", "0.6.1", "0.9.0", "1.0.0", "1.0.2"])
      expect(counter(v)).toBe(`dynamo_component_requests_total{dynamo_endpoint="generate"} ${three}`);
    for (const v of ["1.1.0", "1.3.0", "1.5.1"])
      expect(counter(v)).toBe(
        `dynamo_component_requests_total{dynamo_endpoint="generate"} ${three},worker_id`,
      );
  });

  it("facts have no since/note, are frozen, and are computed once per release", () => {
    const f = table.facts("1.3.0");
    expect(Object.keys(f)).not.toContain("since");
    expect(Object.keys(f)).not.toContain("note");
    expect(Object.isFrozen(f)).toBe(true);
    expect(table.facts("1.3.0")).toBe(f);
  });

  it("a backend row may override a runtime fact", () => {
    // (ReleaseRow<F> does not type the runtime keys, hence the cast.)
    const t = defineReleases<{ a: number }>({
      rows: [{ since: "0.9.0", a: 1 }, { since: "1.0.0", nats: "required" } as never],
    });
    expect(t.facts("1.5.1").nats).toBe("required");
    expect(t.facts("0.9.0").systemServer).toBe("port");
  });

  it("an explicit known list replaces the default one (sorted)", () => {
    const t = defineReleases<{ a: number }>({ rows: [{ since: "1.0.0", a: 1 }], known: ["1.2.0", "1.0.0"] });
    expect(t.known).toEqual(["1.0.0", "1.2.0"]);
    expect(t.newest).toBe("1.2.0");
  });

  it("an unknown release has no facts: DYN_INTERNAL", () => {
    expect(() => table.facts("0.3.2")).toThrow(expect.objectContaining({ code: "DYN_INTERNAL" }));
    expect(() => table.facts("1.6.0")).toThrow(expect.objectContaining({ code: "DYN_INTERNAL" }));
  });

  it("guards: two rows for one release, a field the first row does not name", () => {
    expect(() =>
      defineReleases<{ a: number }>({
        rows: [
          { since: "1.0.0", a: 1 },
          { since: "1.0", a: 2 },
        ],
      }),
    ).toThrow(new TypeError("release table: two rows since 1.0"));
    expect(() =>
      defineReleases<{ a: number }>({
        rows: [{ since: "1.0.0", a: 1 }, { since: "1.3.0", b: 2 } as never],
      }),
    ).toThrow(new TypeError("release table: row 1.3.0 sets b, which the first row does not"));
    // A malformed release is a TypeError from the version parser, not a silent mis-sort.
    expect(() => defineReleases<{ a: number }>({ rows: [{ since: "one", a: 1 }] })).toThrow(TypeError);
  });
});

describe("parseImageRef", () => {
  it.each([
    ["nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.5.1", "vllm-runtime", "1.5.1"],
    ["nvcr.io/nvidia/ai-dynamo/sglang-runtime:1.4.2", "sglang-runtime", "1.4.2"],
    ["docker://nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:1.2.1", "tensorrtllm-runtime", "1.2.1"],
    [
      "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.3.0-deepseek-v4-dev.1",
      "vllm-runtime",
      "1.3.0-deepseek-v4-dev.1",
    ],
    [`nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.4.2@sha256:${"a".repeat(64)}`, "vllm-runtime", "1.4.2"],
    [`nvcr.io#nvidia/ai-dynamo/vllm-runtime@sha256:${"b".repeat(64)}`, "vllm-runtime", undefined],
    ["registry.example:5000#team/dynamo:0.8.1.post1", "dynamo", "0.8.1.post1"],
    ["ubuntu", "ubuntu", undefined],
    ["/shared/images/nvidia+ai-dynamo+vllm-runtime+1.5.1.sqsh", "vllm-runtime", "1.5.1"],
    ["/shared/images/nvcr.io+nvidia+ai-dynamo+sglang-runtime+1.4.2.squashfs", "sglang-runtime", "1.4.2"],
    ["/shared/images/sglang-runtime_1.3.1.sqsh", "sglang-runtime", "1.3.1"],
    ["/shared/images/dynamo.sqsh", "dynamo", undefined],
  ])("%s → %s : %s", (image, name, tag) => {
    expect(parseImageRef(image)).toEqual({ name, tag });
  });
});

describe("baseRelease", () => {
  it.each([
    ["1.4.2", "1.4.2", ""],
    ["v1.4", "1.4.0", ""],
    ["1.3.0-deepseek-v4-dev.1", "1.3.0", "deepseek-v4-dev.1"],
    ["0.8.1.post1", "0.8.1", "post1"],
    ["0.5.1-rc0.pre3", "0.5.1", "rc0.pre3"],
  ])("%s → %s (%s)", (tag, release, suffix) => {
    expect(baseRelease(tag)).toEqual({ release, suffix });
  });
  it("names no release for latest or a bare number", () => {
    expect(baseRelease("latest")).toBeUndefined();
    expect(baseRelease("1")).toBeUndefined();
  });
});

describe("resolveRelease", () => {
  const vllm = { name: "vllm" };
  const table = { known: DYNAMO_RELEASES, newest: "1.5.1" };
  const resolve = (req: ReleaseRequest, backend = vllm): ResolvedRelease =>
    resolveRelease(backend, table, req);
  const error = (req: ReleaseRequest, backend = vllm) => {
    try {
      resolve(req, backend);
    } catch (e) {
      if (!DynError.is(e)) throw e;
      return { code: e.code, key: e.key, message: e.message, hint: e.hint };
    }
    throw new Error("expected a DynError");
  };
  const image = (tag: string) => `nvcr.io#nvidia/ai-dynamo/vllm-runtime:${tag}`;

  describe("explicit values", () => {
    it("an exact release", () => {
      expect(resolve({ version: "1.4.1" })).toEqual({
        version: "1.4.1",
        requested: undefined,
        source: "explicit",
        origin: "dynamo.version",
        notes: [],
        unknown: false,
      });
    });
    it("a series is its newest patch release", () => {
      expect(resolve({ version: "1.4" })).toMatchObject({
        version: "1.4.2",
        requested: "1.4",
        source: "explicit",
      });
      expect(resolve({ version: "1.0" }).version).toBe("1.0.2");
      expect(resolve({ version: "0.9" }).version).toBe("0.9.0");
    });
    it("latest is the newest", () => {
      expect(resolve({ version: "latest" })).toMatchObject({ version: "1.5.1", requested: "latest" });
    });
    it("a v prefix is accepted", () => {
      expect(resolve({ version: "v1.2.0" })).toMatchObject({ version: "1.2.0", requested: "v1.2.0" });
      expect(resolve({ version: "v1.3" }).version).toBe("1.3.1");
    });
    it("origin names where the value came from", () => {
      expect(resolve({ version: "1.1.1", origin: "--dynamo-version" }).origin).toBe("--dynamo-version");
    });
  });

  describe("unknown releases", () => {
    it("are DYN_UNSUPPORTED on dynamo.version, listing the known ones and the nearest", () => {
      expect(error({ version: "1.6.0" })).toEqual({
        code: "DYN_UNSUPPORTED",
        key: "dynamo.version",
        message: `dynamo.version: Dynamo 1.6.0 is not a release dyn knows; known releases of vllm: ${DYNAMO_RELEASES.join(", ")}`,
        hint: "choose one (nearest: 1.5.1), or pass --allow-unknown-dynamo-version to render it as 1.5.1",
      });
      expect(error({ version: "0.5.0" }).hint).toContain("nearest: 0.4.1");
      expect(error({ version: "1.6" }).key).toBe("dynamo.version");
      expect(error({ version: "9.9.9" }).message).toContain("Dynamo 9.9.9 is not a release dyn knows");
    });
    it("with allowUnknown render as the newest, saying so", () => {
      expect(resolve({ version: "1.6.0", allowUnknown: true })).toEqual({
        version: "1.5.1",
        requested: "1.6.0",
        source: "explicit",
        origin: "dynamo.version",
        notes: ["Dynamo 1.6.0 is not a known release: rendered as 1.5.1 (--allow-unknown-dynamo-version)"],
        unknown: true,
      });
    });
    it("only the backend's own table counts", () => {
      const narrow = { known: ["1.0.0", "1.1.0"], newest: "1.1.0" };
      expect(() => resolveRelease({ name: "x" }, narrow, { version: "1.5.1" })).toThrow(
        expect.objectContaining({
          key: "dynamo.version",
          message: expect.stringContaining("known releases of x: 1.0.0, 1.1.0"),
        }),
      );
    });
  });

  describe("image tags", () => {
    it("the tag is the release", () => {
      expect(resolve({ image: image("1.4.2") })).toEqual({
        version: "1.4.2",
        requested: undefined,
        source: "image",
        origin: "image tag 1.4.2",
        notes: [],
        unknown: false,
      });
    });
    it("a suffixed early-access build renders its base release, with a note", () => {
      expect(resolve({ image: image("1.3.0-deepseek-v4-dev.1") })).toEqual({
        version: "1.3.0",
        requested: "1.3.0-deepseek-v4-dev.1",
        source: "image",
        origin: "image tag 1.3.0-deepseek-v4-dev.1",
        notes: ["image tag 1.3.0-deepseek-v4-dev.1 is a build of 1.3.0 (deepseek-v4-dev.1); rendering 1.3.0"],
        unknown: false,
      });
    });
    it("a suffixed tag whose base is no release is refused on container.image", () => {
      const e = error({ image: image("0.8.1.post1") });
      expect(e).toMatchObject({ code: "DYN_UNSUPPORTED", key: "container.image" });
      expect(e.message).toContain(
        `Dynamo 0.8.1.post1 (the tag of ${image("0.8.1.post1")}) is not a release dyn knows`,
      );
      expect(e.hint).toContain("nearest: 0.6.1");
      expect(resolve({ image: image("0.8.1.post1"), allowUnknown: true })).toMatchObject({
        version: "1.5.1",
        source: "image",
        unknown: true,
      });
    });
    it("latest (or any tag that names no release) is the default, with a note", () => {
      expect(resolve({ image: image("latest") })).toEqual({
        version: "1.5.1",
        source: "default",
        origin: "default",
        notes: ["image tag latest names no Dynamo release; rendering the newest (1.5.1)"],
        unknown: false,
      });
      // No tag at all: just the default.
      expect(resolve({ image: "nvcr.io#nvidia/ai-dynamo/vllm-runtime" })).toMatchObject({
        source: "default",
        notes: [],
      });
    });
    it("enroot file names, docker:// references and digests", () => {
      expect(resolve({ image: "/shared/images/nvidia+ai-dynamo+vllm-runtime+1.5.1.sqsh" })).toMatchObject({
        version: "1.5.1",
        source: "image",
      });
      expect(resolve({ image: `docker://${image("1.2.1")}` }).version).toBe("1.2.1");
      expect(resolve({ image: `${image("1.1.0")}@sha256:${"c".repeat(64)}` }).version).toBe("1.1.0");
    });
    it("another backend's image is refused, naming the right backend", () => {
      const e = error({ image: "nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.4.2" });
      expect(e).toEqual({
        code: "DYN_UNSUPPORTED",
        key: "container.image",
        message:
          "container.image: nvcr.io#nvidia/ai-dynamo/sglang-runtime:1.4.2 is Dynamo's sglang image, not one for backend vllm",
        hint: "use --backend sglang, or the vllm-runtime image",
      });
      expect(error({ image: "/img/nvidia+ai-dynamo+tensorrtllm-runtime+1.4.2.sqsh" }).hint).toContain(
        "--backend trtllm",
      );
      // A third-party backend has no Dynamo image of its own.
      expect(error({ image: image("1.4.2") }, { name: "mocker" }).hint).toBe(
        "use --backend vllm, or the mocker image",
      );
    });
    it("images that are not Dynamo's (any backend may use them) only lend their tag", () => {
      expect(resolve({ image: "registry.example/team/dynamo:1.2.0" }, { name: "mocker" }).version).toBe(
        "1.2.0",
      );
    });
  });

  describe("explicit value and image together", () => {
    it("agree: the image's release, with the explicit source", () => {
      expect(resolve({ version: "1.4.2", image: image("1.4.2") })).toMatchObject({
        version: "1.4.2",
        requested: undefined,
        source: "explicit",
      });
      // A series covers the tag's release.
      expect(resolve({ version: "1.4", image: image("1.4.1") })).toMatchObject({
        version: "1.4.1",
        requested: "1.4",
        source: "explicit",
      });
      expect(resolve({ version: "1.3", image: image("1.3.0-deepseek-v4-dev.1") })).toMatchObject({
        version: "1.3.0",
        notes: ["image tag 1.3.0-deepseek-v4-dev.1 is a build of 1.3.0 (deepseek-v4-dev.1); rendering 1.3.0"],
      });
    });
    it("disagree: refused naming both", () => {
      expect(error({ version: "1.4", image: image("1.3.0"), origin: "--dynamo-version" })).toEqual({
        code: "DYN_UNSUPPORTED",
        key: "dynamo.version",
        message: `dynamo.version: 1.4 disagrees with the container image ${image("1.3.0")} (tag 1.3.0 = Dynamo 1.3.0)`,
        hint: "drop --dynamo-version to use the image's release, or use an image tagged 1.4",
      });
      expect(error({ version: "latest", image: image("1.5.0") }).key).toBe("dynamo.version");
    });
    it("an explicit value beats an image tag that names no release", () => {
      expect(resolve({ version: "1.2.0", image: image("latest") })).toMatchObject({
        version: "1.2.0",
        source: "explicit",
      });
    });
  });

  it("nothing given: the newest, by default", () => {
    expect(resolve({})).toEqual({
      version: "1.5.1",
      source: "default",
      origin: "default",
      notes: [],
      unknown: false,
    });
  });
});
