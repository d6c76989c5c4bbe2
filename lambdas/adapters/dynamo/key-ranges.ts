/**
 * Cuts the sort keys from `first` to `last` (both inclusive) into up to `parts` ranges of about the
 * same width, so that one partition can be read by several queries at once. Width is measured on
 * the characters after the keys' common prefix, as numbers in base 128 (ASCII; anything above
 * counts as the highest), so addresses spread by their first letters, or by the digits of numbered
 * addresses, fall into ranges of similar size. Returns the boundaries between ranges: range i runs
 * from boundary i - 1 (or `first`) inclusive to boundary i exclusive; the last range ends at `last`
 * inclusive. Fewer boundaries come back when the keys are too close to cut further.
 */
export function keyBoundaries(first: string, last: string, parts: number): string[] {
  if (parts < 2 || first >= last) return [];
  let prefix = 0;
  while (prefix < first.length && prefix < last.length && first[prefix] === last[prefix]) prefix++;
  const value = (key: string) => {
    let n = 0;
    for (let i = 0; i < DIGITS; i++) n = n * BASE + Math.min(BASE - 1, key.charCodeAt(prefix + i) || 0);
    return n;
  };
  const low = value(first);
  const high = value(last);
  const boundaries: string[] = [];
  for (let i = 1; i < parts; i++) {
    let n = Math.floor(low + ((high - low) * i) / parts);
    let suffix = "";
    for (let d = 0; d < DIGITS; d++) {
      suffix = String.fromCharCode(n % BASE) + suffix;
      n = Math.floor(n / BASE);
    }
    const boundary = first.slice(0, prefix) + suffix.replace(/\0+$/, "");
    if (boundary > first && boundary <= last && boundary !== boundaries.at(-1)) boundaries.push(boundary);
  }
  return boundaries;
}

const BASE = 128;
/** Characters after the common prefix that set a key's place: 128^7 stays an exact double. */
const DIGITS = 7;
