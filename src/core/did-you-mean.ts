/**
 * "Did you mean" for every misspelt name Gantry reports (config keys, job ids, inputs, contexts,
 * functions): the closest candidate by edit distance, case-insensitive, when it is close enough
 * to be a plausible typo — at most max(2, a third of the word) edits and fewer edits than the
 * word has letters — or when one is a prefix of the other.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const distance = editDistance(lower, other);
    const prefix = lower.length >= 2 && (other.startsWith(lower) || lower.startsWith(other));
    if (((distance <= limit && distance < word.length) || prefix) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean 'x'?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestName(word, candidates);
  return match === undefined ? '' : ` (did you mean '${match}'?)`;
}

/** Levenshtein distance, two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
