/**
 * Every --json document by name, built on first use (`dyn schema`, the tests): a name → its zod
 * schema. The names are what `dyn schema <name>` takes and the `dyn.<name>/v1` of each `format`.
 */
import type { z } from "@dyn/core";

export const DOCUMENTS = {
  deploy: async () => (await import("./deploy.js")).DeployDocument,
  plan: async () => (await import("./plan.js")).PlanDocument,
  status: async () => (await import("./status.js")).StatusDocument,
  list: async () => (await import("./list.js")).ListDocument,
  stop: async () => (await import("./stop.js")).StopDocument,
  bench: async () => (await import("./bench.js")).BenchDocument,
  doctor: async () => (await import("./doctor.js")).DoctorDocument,
  backends: async () => (await import("./backends.js")).BackendsDocument,
  "backends-show": async () => (await import("./backends.js")).BackendsShowDocument,
  "backends-new": async () => (await import("./backends.js")).BackendsNewDocument,
  error: async () => (await import("./error.js")).ErrorDocument,
} as const satisfies Record<string, () => Promise<z.ZodType>>;

export type DocumentName = keyof typeof DOCUMENTS;
export const DOCUMENT_NAMES = Object.keys(DOCUMENTS) as DocumentName[];
