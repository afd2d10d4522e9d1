/**
 * How layers of raw (unparsed) spec input merge, lowest first: a profile, the config file, DYN_*
 * variables, flags. Scalars are replaced by the higher layer; maps (env, backend options) merge key by
 * key; lists are appended without duplicates, engine args (`args`) appended as they are (words in
 * order); choosing another container kind replaces the lower layer's container section.
 */

export const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Higher layer `over` on top of `base` (see above). Neither input is modified. */
export function mergeLayers(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (k === "container" && isPlain(b) && isPlain(v) && v.kind !== undefined && b.kind !== v.kind)
      out[k] = v;
    else if (isPlain(b) && isPlain(v)) out[k] = mergeLayers(b, v);
    // Engine args are words in order (`--a 1 --b 1`): appended as they are, never deduplicated.
    else if (k === "args" && Array.isArray(b) && Array.isArray(v)) out[k] = [...b, ...v];
    else if (Array.isArray(b) && Array.isArray(v)) out[k] = [...new Set([...b, ...v])];
    else out[k] = v;
  }
  return out;
}

/** The value at `path` (undefined when any step is missing). */
export function valueIn(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (!isPlain(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

/**
 * Every leaf of a raw layer as a dotted key: scalars and lists by their key, map entries each
 * (`env.NCCL_DEBUG`), so an origin can be recorded for each value the layer sets.
 */
export function leafKeys(obj: Record<string, unknown>, prefix: readonly string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (isPlain(v)) out.push(...leafKeys(v, [...prefix, k]));
    else out.push([...prefix, k]);
  }
  return out;
}
