/**
 * `line=1 area=north` (spaces or commas between pairs) → `{line: '1', area: 'north'}`;
 * a message naming the pair that is not `key=value`.
 */
export function parseLabels(text: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  for (const pair of text.split(/[\s,]+/).filter((p) => p !== '')) {
    const at = pair.indexOf('=');
    if (at <= 0) return { error: `labels: "${pair}" is not key=value (e.g. line=1)` };
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { labels };
}
