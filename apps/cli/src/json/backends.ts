/** `dyn backends --json`, `dyn backends show --json`, `dyn backends new --json`. */
import { z } from "@dyn/core";
import { envelope, nonNegative, str } from "./common.js";

export const BackendsDocument = envelope("dyn.backends/v1", {
  backends: z.array(
    z.strictObject({
      name: str,
      source: str,
      kind: z.enum(["built-in", "dependency", "config"]),
      description: str.nullable(),
      /** Why it cannot be used (it failed to load), null when it can. */
      error: str.nullable(),
    }),
  ),
});

const Component = z.strictObject({ alias: str, dynamo: str, health: str });

export const BackendsShowDocument = envelope("dyn.backends-show/v1", {
  name: str,
  description: str,
  source: str,
  /** The release shown. */
  release: str,
  /** Every release the backend knows. */
  releases: z.array(str),
  /** The release table's rows (since, note, and the backend's own facts), null without one. */
  releaseTable: z.array(z.looseObject({ since: str, note: str.optional() })).nullable(),
  components: z.strictObject({
    prefill: Component.optional(),
    decode: Component.optional(),
    aggregated: Component.optional(),
  }),
  defaults: z.strictObject({
    model: str.nullable(),
    gpusPerWorker: z.strictObject({
      prefill: nonNegative().optional(),
      decode: nonNegative().optional(),
      aggregated: nonNegative().optional(),
    }),
  }),
  /** The backend's options with their defaults, as the backend defines them. */
  options: z.record(str, z.unknown()),
  /** JSON Schema of the options (input form). */
  schema: z.record(str, z.unknown()),
});

export const BackendsNewDocument = envelope("dyn.backends-new/v1", {
  name: str,
  package: str,
  dir: str,
  files: z.array(str),
});
