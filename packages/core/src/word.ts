/**
 * A Word is one shell word whose value is only known when the job runs: a node's IP, a job-scoped
 * port, the run directory. Backends build argv and env from Words; the renderer turns each Word into
 * shell text where literal parts are quoted by `shellQuote` and runtime parts are `"${VAR}"` or
 * `"$((DYN_PORT_BASE+N))"`. So no user value is ever interpolated unquoted.
 */
import { shellQuote } from "./quote.js";

/** A port: an offset into the job's port window (the default), or a port the user pinned. */
export type PortRef =
  | { readonly kind: "job"; readonly offset: number }
  | { readonly kind: "fixed"; readonly port: number };

export type WordPart = { readonly lit: string } | { readonly var: string } | { readonly port: PortRef };

export interface Word {
  readonly parts: readonly WordPart[];
}

/** An argument or env value: a plain string, or a Word with runtime parts. */
export type Arg = string | Word;

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isWord(value: unknown): value is Word {
  return typeof value === "object" && value !== null && Array.isArray((value as Word).parts);
}

/** A reference to a variable the rendered script defines (see docs/ARCHITECTURE.md: runtime variables). */
// Words are immutable, so one per variable name serves every process that refers to it.
const variables = new Map<string, Word>();

export function variable(name: string): Word {
  let word = variables.get(name);
  if (!word) {
    if (!VAR_NAME.test(name)) throw new TypeError(`not a shell variable name: ${JSON.stringify(name)}`);
    word = Object.freeze({ parts: Object.freeze([Object.freeze({ var: name })]) });
    variables.set(name, word);
  }
  return word;
}

export function port(ref: PortRef): Word {
  return { parts: [{ port: ref }] };
}

/** Concatenate strings and Words into one Word: `join(ip, ":", port)`. */
export function join(...pieces: Arg[]): Word {
  const parts: WordPart[] = [];
  for (const piece of pieces) appendPiece(parts, piece);
  return { parts };
}

/** Tagged template: w`--dist-init-addr=${ip}:${p}`. */
export function w(strings: TemplateStringsArray, ...values: Arg[]): Word {
  const parts: WordPart[] = [];
  for (let i = 0; i < strings.length; i++) {
    appendPiece(parts, strings[i] as string);
    if (i < values.length) appendPiece(parts, values[i] as Arg);
  }
  return { parts };
}

// Appending in place (rather than collecting pieces and merging afterwards) keeps join and w free of
// intermediate arrays: they run for every process of a plan.
function appendPiece(parts: WordPart[], piece: Arg): void {
  if (typeof piece === "string") {
    if (piece !== "") appendPart(parts, { lit: piece });
  } else {
    const from = piece.parts;
    for (let i = 0; i < from.length; i++) appendPart(parts, from[i] as WordPart);
  }
}

/** Adjacent literals merge into one part, so a Word's parts alternate literal and runtime. */
function appendPart(parts: WordPart[], part: WordPart): void {
  const last = parts[parts.length - 1];
  if ("lit" in part && last && "lit" in last) parts[parts.length - 1] = { lit: last.lit + part.lit };
  else parts.push(part);
}

/** Shell text for a port alone: what renderArg(port(ref)) renders, without building the Word. */
export function renderPort(ref: PortRef): string {
  return ref.kind === "fixed" ? String(ref.port) : renderOffset(ref.offset);
}

// The same runtime parts (node IPs and hosts, port offsets) recur in thousands of processes: each
// one's text is built once. Both tables are bounded: by the variables the script defines, and by
// the port slot size.
const offsetTexts: string[] = [];
const variableTexts = new Map<string, string>();

function renderOffset(offset: number): string {
  let text = offsetTexts[offset];
  if (text === undefined) {
    text = `"$((DYN_PORT_BASE+${offset}))"`;
    // Only offsets that can be in a port window: a plan read back from JSON could hold anything.
    if (Number.isInteger(offset) && offset >= 0 && offset < 65536) offsetTexts[offset] = text;
  }
  return text;
}

function renderVariable(name: string): string {
  let text = variableTexts.get(name);
  if (text === undefined) {
    text = `"\${${name}}"`;
    variableTexts.set(name, text);
  }
  return text;
}

/** Shell text for one argument. Literal parts are quoted; runtime parts are double-quoted expansions. */
export function renderArg(arg: Arg): string {
  if (typeof arg === "string") return shellQuote(arg);
  if (arg.parts.length === 0) return "''";
  // Indexed: renderArg runs for every word of every process, and for-of allocated iterator results.
  const parts = arg.parts;
  let text = "";
  for (let i = 0; i < parts.length; i++) text += renderPart(parts[i] as WordPart);
  return text;
}

function renderPart(part: WordPart): string {
  if ("lit" in part) return shellQuote(part.lit);
  if ("var" in part) return renderVariable(part.var);
  return renderPort(part.port);
}

/** Human-readable form for plans and tables: runtime parts shown as ${VAR} and {port+N}. */
export function showArg(arg: Arg): string {
  if (typeof arg === "string") return arg;
  return arg.parts
    .map((part) => {
      if ("lit" in part) return part.lit;
      if ("var" in part) return `\${${part.var}}`;
      return part.port.kind === "fixed" ? String(part.port.port) : `{port+${part.port.offset}}`;
    })
    .join("");
}

/** Whether two Args render to the same shell word, compared without rendering either. */
export function sameArg(a: Arg, b: Arg): boolean {
  if (a === b) return true;
  if (typeof a === "string" || typeof b === "string") return false;
  const pa = a.parts;
  const pb = b.parts;
  if (pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) if (!samePart(pa[i] as WordPart, pb[i] as WordPart)) return false;
  return true;
}

function samePart(a: WordPart, b: WordPart): boolean {
  if ("lit" in a) return "lit" in b && a.lit === b.lit;
  if ("var" in a) return "var" in b && a.var === b.var;
  if (!("port" in b)) return false;
  const x = a.port;
  const y = b.port;
  return x.kind === "job"
    ? y.kind === "job" && x.offset === y.offset
    : y.kind === "fixed" && x.port === y.port;
}
