// "Did you mean ...?" for misspelt keys and section names.
//
//   closestName(word: string, candidates: readonly string[]): string | null
//
// Uses the optimal-string-alignment distance (Levenshtein plus swapping two neighbours), because the
// usual typo is a swap: `intreval` is one step from `interval`, not two. Case is ignored. A candidate
// is offered only when it is close: at most 1 edit for words up to 4 letters, 2 beyond, so that a
// suggestion is a likely fix and not noise.

export function closestName(word: string, candidates: readonly string[]): string | null {
  const lower = word.toLowerCase();
  const limit = lower.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The distance is at least the difference in length: a long word is not compared letter by
    // letter with every candidate (50 000 unknown keys must not cost seconds).
    if (Math.abs(candidate.length - lower.length) > limit) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  // d[i][j] = distance between the first i letters of a and the first j letters of b.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
