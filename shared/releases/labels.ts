/**
 * Tenant labels as people type them, `ring=early, region=eu` (the CLI's
 * `--labels`, the Release settings field): pure, so the CLI and the pages
 * share it. The API checks the keys and values themselves.
 */
export function parseLabels(text: string): { labels: Record<string, string> } | { badPair: string } {
  const labels: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) return { badPair: pair };
    labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return { labels };
}
