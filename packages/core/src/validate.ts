/**
 * Turns zod issues into problems that name the key; pure, shared by the spec and backend options.
 * Every issue is kept (a config file with four mistakes gets four lines), a union's issue is the one
 * of the form the value was evidently written in, a missing key "is required", and an unknown key
 * comes with the known key it most likely meant (`partiton` → partition, `gpus_per_node` → gpusPerNode).
 */
import type { z } from "zod";
import { DynError, type DynErrorCode, type Problem } from "./errors.js";

export interface Issue {
  /** Dotted path, e.g. roles.prefill.workers (with the prefix). */
  key: string;
  /** The path inside the parsed value (without the prefix). */
  path: readonly (string | number)[];
  message: string;
  /** For an unknown key: the known key it most likely meant. */
  suggestion?: string | undefined;
}

type ZodIssue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** The value at `path` in `input` (undefined when any step is missing). */
function valueAt(input: unknown, path: Path): unknown {
  let cur = input;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/**
 * A union's issues: when exactly one of its forms got past the type check (its issues are below the
 * union's path, or about its keys), those are the ones that explain the mistake; else the union's own.
 */
function flatten(issue: ZodIssue): ZodIssue[] {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return [issue];
  const written = issue.errors.filter((errs) =>
    errs.some((e) => e.path.length > 0 || e.code === "unrecognized_keys"),
  );
  if (written.length !== 1) return [issue];
  return (written[0] as ZodIssue[]).flatMap((e) =>
    flatten({ ...e, path: [...issue.path, ...e.path] } as ZodIssue),
  );
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (prev2[j - 2] as number) + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] as number;
}

const folded = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "");

/**
 * The candidate a mistyped name most likely meant: the same name in another case or separator style
 * (`gpus_per_node` → gpusPerNode), else the nearest within a third of its length in edits.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  return sameName(name, candidates) ?? nearest(name, candidates);
}

function sameName(name: string, candidates: readonly string[]): string | undefined {
  return candidates.find((c) => folded(c) === folded(name));
}

function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = editDistance(folded(name), folded(c));
    const limit = Math.max(1, Math.floor(c.length / 3));
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name: c, distance };
  }
  return best?.name;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: readonly z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas an input at `schema` may be, through wrappers, pipes (their input side) and unions. */
function forms(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return forms(def.innerType);
  if (def.type === "pipe" && def.in) return forms(def.in);
  if (def.type === "lazy" && def.getter) return forms(def.getter());
  if (def.type === "union" && def.options) return def.options.flatMap(forms);
  return [schema];
}

/** The keys an object at `path` of `schema` may have (empty when it is no object or any key goes). */
export function keysAt(schema: z.ZodType, path: Path): string[] {
  let current = forms(schema);
  for (const seg of path) {
    current = current.flatMap((s) => {
      const def = defOf(s);
      if (def.type === "object" && def.shape) {
        const child = def.shape[String(seg)];
        return child ? forms(child) : [];
      }
      if (def.type === "array" && def.element) return forms(def.element);
      if (def.type === "record" && def.valueType) return forms(def.valueType);
      return [];
    });
  }
  return [...new Set(current.flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}

/**
 * Whether a dotted key path (`roles.decode.workers`) names something in `schema`: undefined when it
 * does (any key below a record, e.g. `env.NAME`, goes), else the index of the first segment that
 * does not and why, with the key it most likely meant (the whole dotted key) for an unknown one.
 */
export function keyPathProblem(
  schema: z.ZodType,
  segments: readonly string[],
): { at: number; message: string; suggestion?: string | undefined } | undefined {
  let current = forms(schema);
  for (const [i, seg] of segments.entries()) {
    const objects = current.filter((s) => defOf(s).type === "object" && defOf(s).shape);
    const records = current.filter((s) => defOf(s).type === "record" && defOf(s).valueType);
    const hit = objects.flatMap((s) => {
      const child = defOf(s).shape?.[seg];
      return child ? forms(child) : [];
    });
    if (hit.length > 0) {
      current = hit;
      continue;
    }
    if (records.length > 0) {
      current = records.flatMap((s) => forms(defOf(s).valueType as z.ZodType));
      continue;
    }
    const prefix = segments.slice(0, i);
    if (objects.length === 0)
      return {
        at: i,
        message: `${prefix.join(".") || "(spec)"} is a value, it has no key ${JSON.stringify(seg)}`,
      };
    const known = [...new Set(objects.flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
    const guess = sameName(seg, known) ?? oneLevelDown(schema, prefix, known, seg) ?? nearest(seg, known);
    const suggestion = guess === undefined ? undefined : [...prefix, guess].join(".");
    return { at: i, message: `unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ""}`, suggestion };
  }
  return undefined;
}

/** A key written one level too high (`partition:` at the top for slurm.partition): `slurm.partition`. */
function oneLevelDown(
  schema: z.ZodType,
  path: Path,
  known: readonly string[],
  key: string,
): string | undefined {
  for (const child of known) {
    const hit = keysAt(schema, [...path, child]).find((k) => folded(k) === folded(key));
    if (hit) return `${child}.${hit}`;
  }
  return undefined;
}

/** Every problem of a failed parse, in order, each naming its key. */
export function issuesOf(
  error: z.ZodError,
  prefix = "",
  context: { schema?: z.ZodType; input?: unknown } = {},
): Issue[] {
  const dotted = (path: Path) => [prefix, ...path.map(String)].filter((p) => p !== "").join(".");
  const out: Issue[] = [];
  const seen = new Set<string>();
  const push = (issue: Issue) => {
    const id = `${issue.key}\0${issue.message}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push(issue);
  };
  for (const issue of error.issues.flatMap(flatten)) {
    const path = issue.path as (string | number)[];
    if (issue.code === "unrecognized_keys") {
      // One problem per unknown key (roles.prefil), each with the key it most likely meant.
      const known = context.schema ? keysAt(context.schema, path) : [];
      for (const k of issue.keys) {
        const suggestion =
          sameName(k, known) ??
          (context.schema && oneLevelDown(context.schema, path, known, k)) ??
          nearest(k, known);
        push({
          key: dotted([...path, k]),
          path: [...path, k],
          message: `unknown key${suggestion ? ` (did you mean ${suggestion}?)` : ""}`,
          suggestion,
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      // A record key failed its own schema: that schema's message says what a key must be.
      push({ key: dotted(path), path, message: `bad key: ${issue.issues[0]?.message ?? issue.message}` });
      continue;
    }
    const missing =
      "input" in context &&
      (issue.code === "invalid_type" || issue.code === "invalid_union") &&
      valueAt(context.input, path) === undefined;
    push({ key: dotted(path), path, message: missing ? "is required" : issue.message });
  }
  return out;
}

/**
 * One problem as a line: `label: message`, or `dyn.yaml:3:1 message` for one that is about no key
 * (a YAML syntax error).
 */
export function problemLine(p: Problem): string {
  if (p.key === "" && p.label) return `${p.label} ${p.message}`;
  return `${p.label ?? (p.key || "(root)")}: ${p.message}`;
}

/** Problems as one DynError: one line for one problem, every one listed for several. */
export function problemsError(
  code: DynErrorCode,
  problems: readonly Problem[],
  hint: string | undefined,
  cause?: unknown,
): DynError {
  const line = problemLine;
  const first = problems[0] ?? { key: "", message: "is invalid" };
  const message =
    problems.length > 1 ? `${problems.length} problems: ${problems.map(line).join("; ")}` : line(first);
  return new DynError(code, message, { key: first.key, hint, problems, cause });
}

/** Parse or throw one DynError naming every bad key (each also in `problems`). */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  options: { code: DynErrorCode; prefix?: string; hint?: string },
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = issuesOf(result.error, options.prefix, { schema, input: value });
  const problems = issues.map((i) => ({ key: i.key, message: i.message }));
  throw problemsError(options.code, problems, options.hint, issues);
}
