/**
 * The forms people write in a config file, accepted by the spec and normalised to one output type:
 * a whole number also as a numeral string (`nodes: "4"`), engine arguments as one shell-like string or
 * a list of words, numbers and booleans, env values as numbers and booleans (`NCCL_DEBUG: 1`), a time
 * limit as minutes (`time: 240`). Each schema's input side stays a plain union, so the generated JSON
 * Schema documents every accepted form.
 */
import { z } from "zod";
import { trySplitArgs } from "./args.js";

/** Any user text that may reach a shell: NUL cannot be passed through argv or env. */
export const text = z.string().refine((s) => !s.includes("\0"), "must not contain a NUL byte");

const WHOLE = "must be a whole number";

/**
 * A whole number in [min, max]: a number, or a string of digits (YAML users quote numbers). Above
 * Number.MAX_SAFE_INTEGER it is refused as not whole (it would not be exact).
 */
export function whole(min: number, max?: number) {
  // One schema per range: the spec uses a dozen, several alike, and building each (a union, a
  // transform, a pipe, two bounded ints) is most of the spec's construction at start-up. zod schemas
  // are immutable (.optional(), .default() wrap them), so sharing one is safe.
  const key = `${min}:${max}`;
  let schema = wholes.get(key);
  if (!schema) {
    schema = wholeSchema(min, max);
    wholes.set(key, schema);
  }
  return schema;
}

function wholeSchema(min: number, max?: number) {
  // The bounds on the number form too, so the JSON Schema (the input side) carries them.
  const n = int(min, max);
  return z
    .union([n, digits(WHOLE)], { error: WHOLE })
    .transform(Number)
    .pipe(n);
}
const wholes = new Map<string, ReturnType<typeof wholeSchema>>();

/** A whole number ≥ min, or `auto` (slurm.nodes). One flat union, so a bound's message comes through. */
export function wholeOrAuto(min: number) {
  const message = "must be a whole number or auto";
  return z
    .union([z.literal("auto"), int(min), digits(message)], { error: message })
    .transform((v) => (v === "auto" ? ("auto" as const) : Number(v)))
    .pipe(z.union([z.literal("auto"), int(min)]));
}

function int(min: number, max?: number) {
  const n = z
    .number()
    .int({ error: (iss) => (iss.code === "too_big" ? "is too large to be exact" : WHOLE) })
    .min(min);
  return max === undefined ? n : n.max(max);
}

const digits = (message: string) => z.string().regex(/^\s*\d+\s*$/, message);

/** One engine argument word as written in a list: text, or a number or boolean written as a word. */
const argWord = z.union([text, z.number(), z.boolean()], {
  error: "must be a word (text), a number or a boolean",
});

/**
 * Engine arguments: one string split like a shell line (see args.ts), or a list of words. A list item
 * that is an option name followed by a blank is almost always two words written as one
 * (`[--max-model-len 8192]` is YAML for one item): refused, naming both ways to write it.
 */
export const engineArgs = z
  .union([text, z.array(argWord)], {
    error: 'must be a string of arguments ("--max-model-len 8192") or a list of words',
  })
  .transform((value, ctx): string[] => {
    if (typeof value === "string") {
      const r = trySplitArgs(value);
      if (r.ok) return r.words;
      ctx.issues.push({ code: "custom", input: value, message: `column ${r.column}: ${r.message}` });
      return z.NEVER;
    }
    const words = value.map(String);
    words.forEach((word, i) => {
      // `--name value` (an option name, then a blank): a quoted `--x=a b` is a deliberate word.
      if (/^--?[A-Za-z][A-Za-z0-9_.-]*\s/.test(word)) {
        const split = trySplitArgs(word);
        const items = split.ok ? `[${split.words.join(", ")}]` : "one item per word";
        ctx.issues.push({
          code: "custom",
          input: word,
          path: [i],
          message: `${JSON.stringify(word)} is one word with a blank in it: list the words as separate items (${items}) or give args as one string`,
        });
      }
    });
    return words;
  });

/** An environment value: text, or a number or boolean written as its word (`NCCL_DEBUG: 1` → "1"). */
export const envValue = z
  .union([text, z.number(), z.boolean()], { error: "must be text, a number or a boolean" })
  .transform(String);

/** SLURM's time formats, or a number of minutes (SLURM reads a bare number as minutes). */
export const slurmTime = z
  .union(
    [
      z.string().regex(/^(\d+-)?\d+(:\d+){0,2}$/, "must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS"),
      z.number().int({ error: "must be whole minutes" }).min(1),
    ],
    { error: "must be a SLURM time: MM, HH:MM:SS or D-HH:MM:SS, or a number of minutes" },
  )
  .transform(String);

/** One name, or a list of names (`secrets: HF_TOKEN`). */
export function oneOrMany<T extends z.ZodType<string>>(item: T) {
  return z
    .union([item, z.array(item)])
    .transform((v): string[] => (typeof v === "string" ? [v] : (v as string[])));
}
