import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to a misspelt word, or undefined when none is close
 * enough to be a plausible typo (a suggestion that is far off confuses more than
 * it helps). Case differences alone always count as close, and so does a word
 * cut short ("opc" for "opcua").
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const list = [...candidates];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of list) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Short words are all close to each other ("qos" is two edits from "tls").
  const allowed = word.length <= 4 ? 1 : Math.max(2, Math.floor(word.length / 3));
  if (bestDistance <= allowed) return best;
  if (lower.length < 3) return undefined;
  const prefixed = list.filter((c) => c.toLowerCase().startsWith(lower)).sort((a, b) => a.length - b.length);
  return prefixed[0];
}

/** `; did you mean "x"?` or nothing, to append to a message. */
export function didYouMeanSuffix(word: string, candidates: Iterable<string>): string {
  const guess = didYouMean(word, candidates);
  return guess === undefined ? '' : `; did you mean "${guess}"?`;
}
