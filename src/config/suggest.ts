/** "Did you mean …?" for a mistyped config key. */

/** Lower case without `_` and `-`: `dataDir`, `DATA-DIR` and `data_dir` are one spelling. */
const fold = (s: string) => s.toLowerCase().replace(/[_-]/g, '');

/** Edit distance with transpositions (optimal string alignment): `lsiten` is one edit from `listen`. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key closest to `word`, if one is close enough to be what was meant. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const w = fold(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = distance(w, fold(k));
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(w.length / 3)) ? best : undefined;
}

/** `unknown key "listn" (did you mean "listen"?)` */
export function unknownKey(word: string, known: Iterable<string>): string {
  const guess = closest(word, known);
  return `unknown key ${JSON.stringify(word)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`;
}
