/**
 * Step templates: the steps of a worker group differ in a few words (the step id, the nodes, the
 * ports, the GPU slots) and share the rest (the command, the model, the flags). Each group's shared
 * words are rendered once, as a shell function that calls dyn_step; each step is one call with its
 * id and the words that differ. Every word is rendered (quoted) as it would be written out in full,
 * and each argument is used as "$N", so a step runs exactly the argv it would run without templates.
 * This keeps the script small (about 230 bytes per process at 4096 nodes) and its rendering linear.
 */
import type { PlannedStep } from "../plan.js";
import { shellQuote } from "../quote.js";
import { type Arg, renderArg, sameArg } from "../word.js";
import { fileLines, type StepText } from "./steps.js";

/** A step and its words. */
export interface StepEntry {
  readonly step: PlannedStep;
  readonly text: StepText;
}

/** Env entries every service step has, rendered once as DYN_ENV: `K=` prefix → rendered value. */
export type SharedEnv = ReadonlyMap<string, string>;

export const NO_SHARED_ENV: SharedEnv = new Map();

/** The env entries (prefix, rendered value) that every one of `entries` has. */
export function sharedEnv(entries: readonly StepEntry[]): Map<string, string> {
  const shared = new Map<string, string>();
  const first = entries[0]?.text;
  if (!first) return shared;
  for (let i = first.entriesAt; i < first.argvAt; i++)
    shared.set(first.pres[i] as string, first.rests[i] as string);
  // The candidates as two arrays (a Map's iterator allocates per entry, per step); a step has a
  // handful of entries: a linear scan beats building a map per step.
  const pres: (string | undefined)[] = [...shared.keys()];
  const rests = pres.map((pre) => shared.get(pre as string) as string);
  let left = pres.length;
  for (let s = 1; s < entries.length && left > 0; s++) {
    const t = (entries[s] as StepEntry).text;
    for (let c = 0; c < pres.length; c++) {
      const pre = pres[c];
      if (pre === undefined) continue;
      let found = false;
      for (let i = t.entriesAt; i < t.argvAt && !found; i++)
        found = t.pres[i] === pre && t.rests[i] === rests[c];
      if (!found) {
        shared.delete(pre);
        pres[c] = undefined;
        left--;
      }
    }
  }
  return shared;
}

const isShared = (t: StepText, i: number, shared: SharedEnv) =>
  i >= t.entriesAt && i < t.argvAt && shared.get(t.pres[i] as string) === t.rests[i];

/** The setup wrapper's program is single-quoted on purpose: it is expanded by the step's bash. */
const needsSc2016 = (t: StepText) => (t.rests[t.argvAt + 2] as string).startsWith("'");

const DYN_ENV = '"${DYN_ENV[@]}"';

/** `dyn_step <id> <srun options> \ env … \ <wrapper and argv>`, written out in full. */
export function plainBlock(e: StepEntry, shared: SharedEnv): string {
  const t = e.text;
  let head = "";
  for (const line of fileLines(e.step)) head += `${line}\n`;
  if (needsSc2016(t)) head += "# shellcheck disable=SC2016\n";
  const words = (from: number, to: number) => {
    const out: string[] = [];
    for (let i = from; i < to; i++) {
      if (i === t.entriesAt && shared.size > 0) out.push(DYN_ENV);
      if (!isShared(t, i, shared)) out.push((t.pres[i] as string) + (t.rests[i] as string));
    }
    return out;
  };
  const argv = words(t.argvAt, t.rests.length);
  for (let i = 0; i < t.argv.length; i++) argv.push(renderArg(t.argv[i] as Arg));
  // Joined rather than concatenated: one flat string per step, not a rope of its pieces.
  return [
    `${head}dyn_step ${e.step.id} ${words(0, t.envAt).join(" ")}`,
    words(t.envAt, t.argvAt).join(" "),
    argv.join(" "),
  ].join(" \\\n  ");
}

/** Steps whose words line up position by position: one role, the same count in each section. */
function shapeKey(t: StepText, role: string): string {
  return `${role}/${t.envAt}/${t.entriesAt}/${t.argvAt}/${t.rests.length}/${t.argv.length}`;
}

/** How a template renders the word at one position: as it is, left out (in DYN_ENV), or "$N" after a prefix. */
const SAME = 0;
const SKIP = 1;
const HOLE = 2;
/** INDEXED[k] is slot HOLE + 1 + k. */
const INDEXED_AT = HOLE + 1;

/**
 * Words that differ only in a number: a node's host or IP variable, a port offset. The template
 * keeps the rest of the word and the call passes the number alone ("${DYN_HOST_12}" → 12). The
 * node setup sets DYN_HOST_k to DYN_NODES[k] and DYN_NODE_IP_k to DYN_IP_OF[DYN_NODES[k]].
 */
const INDEXED: readonly { prefix: string; suffix: string; template: (n: string) => string }[] = [
  { prefix: '"${DYN_HOST_', suffix: '}"', template: (n) => `"\${DYN_NODES[${n}]}"` },
  { prefix: '"${DYN_NODE_IP_', suffix: '}"', template: (n) => `"\${DYN_IP_OF[\${DYN_NODES[${n}]}]}"` },
  { prefix: '"$((DYN_PORT_BASE+', suffix: '))"', template: (n) => `"$((DYN_PORT_BASE+${n}))"` },
];

const DIGITS = /^\d+$/;

/**
 * indexedForm and the number of each word, once per distinct word of a render: the same few
 * thousand words (node and port variables, rendered once each) recur in every step of a group.
 */
class Forms {
  readonly #forms = new Map<string, number>();
  readonly #numbers = new Map<string, string>();

  form(text: string): number {
    let k = this.#forms.get(text);
    if (k === undefined) {
      k = indexedForm(text);
      this.#forms.set(text, k);
    }
    return k;
  }

  /** The number in `text`, whose form is `k`. */
  number(text: string, k: number): string {
    let n = this.#numbers.get(text);
    if (n === undefined) {
      const f = INDEXED[k] as (typeof INDEXED)[number];
      n = text.slice(f.prefix.length, -f.suffix.length);
      this.#numbers.set(text, n);
    }
    return n;
  }
}

/** Which INDEXED form `text` has (-1 for none). */
function indexedForm(text: string): number {
  for (let k = 0; k < INDEXED.length; k++) {
    const f = INDEXED[k] as (typeof INDEXED)[number];
    if (
      text.length > f.prefix.length + f.suffix.length &&
      text.startsWith(f.prefix) &&
      text.endsWith(f.suffix) &&
      DIGITS.test(text.slice(f.prefix.length, -f.suffix.length))
    )
      return k;
  }
  return -1;
}

/** What a call passes for a differing word: the rest after the template's prefix, or the whole word. */
function holeText(t: StepText, i: number, template: StepText): string {
  const h = t.rests.length;
  if (i >= h) return renderArg(t.argv[i - h] as Arg);
  return template.pres[i] === "" ? (t.pres[i] as string) + (t.rests[i] as string) : (t.rests[i] as string);
}

interface Template {
  readonly name: string;
  /** Per position (head words, then argv): SAME, SKIP or HOLE. */
  readonly slots: Uint8Array;
}

function slotsOf(group: readonly StepEntry[], shared: SharedEnv, forms: Forms): Uint8Array {
  const first = (group[0] as StepEntry).text;
  const h = first.rests.length;
  const n = first.argv.length;
  // Which positions differ from the first step: the whole word, or its prefix. Member by member
  // (each step's words read once, in order), skipping positions already known to differ.
  const differs = new Uint8Array(h + n);
  const prefixDiffers = new Uint8Array(h);
  for (let g = 1; g < group.length; g++) {
    const t = (group[g] as StepEntry).text;
    for (let i = 0; i < h; i++) {
      if (prefixDiffers[i]) continue;
      if (t.pres[i] !== first.pres[i]) {
        prefixDiffers[i] = 1;
        differs[i] = 1;
      } else if (!differs[i] && t.rests[i] !== first.rests[i]) differs[i] = 1;
    }
    for (let j = 0; j < n; j++)
      if (!differs[h + j] && !sameArg(t.argv[j] as Arg, first.argv[j] as Arg)) differs[h + j] = 1;
  }
  const slots = new Uint8Array(h + n);
  for (let i = 0; i < h; i++) {
    const same = i !== first.idAt && !differs[i];
    // A differing word keeps its prefix only when every step has the same one.
    const prefixed = !same && first.pres[i] !== "" && !prefixDiffers[i];
    if (!same && !prefixed) first.pres[i] = ""; // the whole word is the argument (first is the template's copy)
    slots[i] = same ? (isShared(first, i, shared) ? SKIP : SAME) : HOLE;
  }
  for (let j = 0; j < n; j++) slots[h + j] = differs[h + j] ? HOLE : SAME;
  for (let i = 0; i < slots.length; i++) {
    if (slots[i] !== HOLE || i === first.idAt) continue;
    const k = forms.form(holeText(first, i, first));
    let all = k >= 0;
    for (let g = 1; g < group.length && all; g++)
      all = forms.form(holeText((group[g] as StepEntry).text, i, first)) === k;
    if (all) slots[i] = INDEXED_AT + k;
  }
  return slots;
}

const positional = (n: number) => (n <= 9 ? `"$${n}"` : `"\${${n}}"`);

/** The function: dyn_step with the shared words, "$1" for the id and "$2"… for what differs. */
function definition(name: string, t: StepText, slots: Uint8Array, shared: SharedEnv): string {
  const body: string[] = [];
  const h = t.rests.length;
  let n = 1;
  for (let i = 0; i < slots.length; i++) {
    if (i === t.envAt || i === t.argvAt) body.push("\\\n   ");
    if (i === t.entriesAt && shared.size > 0) body.push(DYN_ENV);
    const slot = slots[i] as number;
    if (slot === SKIP) continue;
    const hole = () => {
      const p = positional(++n);
      return slot >= INDEXED_AT
        ? (INDEXED[slot - INDEXED_AT] as (typeof INDEXED)[number]).template(p.slice(1, -1))
        : p;
    };
    if (i === t.idAt) body.push('"$1"');
    else if (i >= h) body.push(slot === SAME ? renderArg(t.argv[i - h] as Arg) : hole());
    else body.push((t.pres[i] as string) + (slot === SAME ? (t.rests[i] as string) : hole()));
  }
  const directive = needsSc2016(t) ? "# shellcheck disable=SC2016\n" : "";
  return `${directive}${name}() {\n  dyn_step "$1" ${body.join(" ")}\n}`;
}

/** One call: the template's name, the step id and each differing word (or only its number). */
function call(tpl: Template, e: StepEntry, template: StepText, forms: Forms): string {
  const t = e.text;
  let text = `${tpl.name} ${shellQuote(e.step.id)}`;
  for (let i = 0; i < tpl.slots.length; i++) {
    const slot = tpl.slots[i] as number;
    if (slot < HOLE || i === t.idAt) continue;
    const word = holeText(t, i, template);
    if (slot >= INDEXED_AT) text += ` ${forms.number(word, slot - INDEXED_AT)}`;
    else text += ` ${word || "''"}`;
  }
  return text;
}

const sameShape = (a: StepEntry, b: StepEntry) =>
  a.step.role === b.step.role &&
  a.text.envAt === b.text.envAt &&
  a.text.entriesAt === b.text.entriesAt &&
  a.text.argvAt === b.text.argvAt &&
  a.text.rests.length === b.text.rests.length &&
  a.text.argv.length === b.text.argv.length;

/** Groups of entries (by index) of one shape; steps that write files first (nats.conf) are in none. */
function groupsOf(entries: readonly StepEntry[]): number[][] {
  const groups = new Map<string, number[]>();
  let last: { entry: StepEntry; group: number[] } | undefined;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as StepEntry;
    if (e.step.files && Object.keys(e.step.files).length > 0) continue;
    // A group's steps are mostly listed together: compare with the last one before building a key.
    if (last && sameShape(last.entry, e)) {
      last.group.push(i);
      continue;
    }
    const key = shapeKey(e.text, e.step.role);
    let group = groups.get(key);
    if (group) group.push(i);
    else {
      group = [i];
      groups.set(key, group);
    }
    last = { entry: e, group };
  }
  return [...groups.values()];
}

/**
 * The lines that start `entries` in order: template definitions first (one per group of two or
 * more steps of the same shape), then one line per step, a call or the step written out in full.
 */
export function startLines(entries: readonly StepEntry[], shared: SharedEnv): string[] {
  const lines: string[] = [];
  const templateAt: ({ tpl: Template; first: StepText } | undefined)[] = new Array(entries.length);
  let count = 0;
  const forms = new Forms();
  for (const group of groupsOf(entries)) {
    if (group.length < 2) continue;
    if (count === 0)
      lines.push(
        "# Step templates: a group's shared words once; each call passes the step id and the words that differ.",
      );
    // The template's own copy of the first step's prefixes (slotsOf clears those it does not keep).
    const e0 = entries[group[0] as number] as StepEntry;
    const first: StepText = { ...e0.text, pres: [...e0.text.pres] };
    const members = group.map((i) =>
      i === group[0] ? { step: e0.step, text: first } : (entries[i] as StepEntry),
    );
    const slots = slotsOf(members, shared, forms);
    const tpl = { name: `dyn_t${count++}`, slots };
    lines.push(definition(tpl.name, first, slots, shared));
    for (const i of group) templateAt[i] = { tpl, first };
  }
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as StepEntry;
    const t = templateAt[i];
    lines.push(t ? call(t.tpl, e, t.first, forms) : plainBlock(e, shared));
  }
  return lines;
}
