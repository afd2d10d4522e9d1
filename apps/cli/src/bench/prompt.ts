/**
 * Synthetic prompts: `words` words drawn from a table of common English words by a seeded PRNG.
 * Lengths are counted in words, not tokens: dyn has no tokenizer, and the BPE tokenizers of the
 * usual models (Llama 3, Qwen, Mistral) encode each of these words, with its leading space, as one
 * token, so a prompt of N words is about N tokens plus the chat template's few. The server's own
 * count (usage.prompt_tokens) is reported next to it. Prompt i of a sweep depends only on (seed, i):
 * every request of a sweep gets a different prompt (no step is helped by the prefix cache of an
 * earlier one), and the same seed gives the same prompts on every run.
 */

/** Common, short English words: one token each in the tokenizers above. */
export const WORDS: readonly string[] = (
  "the of and to in is was for on with as by at from that this it be are or an not have had but " +
  "they which one all there their can more when time new first other some were what about into than " +
  "its only over also after most such year two work world people city state water music light river " +
  "house school small large high long early open book road field north south west east game team " +
  "story market power car line color red green blue black white stone tree sea sun night day " +
  "morning table door window"
).split(" ");

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 32-bit seed per (sweep seed, request index), well mixed (the finalizer of MurmurHash3). */
export function requestSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ (index >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Prompt `index` of a sweep with `seed`: exactly `words` words separated by single spaces. */
export function synthPrompt(seed: number, index: number, words: number): string {
  const next = mulberry32(requestSeed(seed, index));
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(next() * WORDS.length)] as string);
  return out.join(" ");
}
