/**
 * The key of a refusal (`check()`'s `key`, a DynError's `key`) is a dotted path into the deployment
 * spec — `backend.options.<option>`, `roles.prefill.gpusPerWorker`, `dynamo.version` — so the CLI can
 * name the flag or the dyn.yaml line the user wrote it on. This says whether a key is one.
 */

import { z } from "zod";
import type { Backend } from "../backend.js";
import { DeploymentSpec } from "../spec.js";

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
}

let specSchema: JsonSchema | undefined;

/** True when `key` names something a user can set: a spec key, or one of the backend's options. */
export function isSpecKey(key: string, backend: Backend): boolean {
  const parts = key.split(".");
  if (parts[0] === "backend" && parts[1] === "options") {
    if (parts.length === 2) return true;
    const options = toJson(backend.options);
    return parts.length >= 3 && resolves(options, parts.slice(2));
  }
  specSchema ??= toJson(DeploymentSpec);
  return resolves(specSchema, parts);
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

function resolves(schema: JsonSchema | undefined, path: readonly string[]): boolean {
  if (!schema) return false;
  if (path.length === 0) return true;
  const [head, ...rest] = path as [string, ...string[]];
  const alternatives = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  if (alternatives.length > 0) return alternatives.some((s) => resolves(s, path));
  const own = schema.properties?.[head];
  if (own) return resolves(own, rest);
  if (typeof schema.additionalProperties === "object") return resolves(schema.additionalProperties, rest);
  if (schema.items && /^\d+$/.test(head)) return resolves(schema.items, rest);
  return false;
}
