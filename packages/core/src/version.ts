/**
 * Release versions (`MAJOR.MINOR[.PATCH]`), for backends whose launch commands change by release:
 *   if (versionAtLeast(options.dynamoVersion, "1.0.0")) argv.push("--disaggregation-mode", role);
 */
import { z } from "zod";

const VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?$/;

// Backends compare the same few versions once per process they plan: parse each string once.
const parsed = new Map<string, readonly [number, number, number]>();

/** "0.4" → [0, 4, 0]. Throws TypeError on anything else (suffixes like rc1 are not ordered). */
export function parseVersion(version: string): readonly [number, number, number] {
  const hit = parsed.get(version);
  if (hit) return hit;
  const m = VERSION.exec(version);
  if (!m) throw new TypeError(`not a version (MAJOR.MINOR[.PATCH]): ${JSON.stringify(version)}`);
  const v = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] as const;
  parsed.set(version, v);
  return v;
}

/** Negative if a < b, 0 if equal, positive if a > b ("0.4" equals "0.4.0"). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(version: string, min: string): boolean {
  return compareVersions(version, min) >= 0;
}

/** Schema for a version option such as `dynamoVersion`, validated so comparisons cannot throw. */
export function versionOption(defaultVersion: string, description: string) {
  parseVersion(defaultVersion);
  return z
    .string()
    .regex(VERSION, "must be a version like 1.1.0")
    .default(defaultVersion)
    .describe(description);
}
