// Builds the proposed file shown on the right of a `vscode.diff` editor from a `fileChange` item's
// unified diff.

/**
 * Apply a unified diff to `original` (for showing the proposed file in a diff editor). Returns null
 * when a hunk does not match, so the caller can fall back to showing the raw diff.
 */
export function applyUnifiedDiff(original: string, diff: string): string | null {
  const source = original.split("\n");
  const out: string[] = [];
  let at = 0; // next unread line of `source`
  const lines = diff.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const header = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(lines[i]);
    if (!header) continue;
    const start = Math.max(0, Number(header[1]) - 1);
    if (start < at) return null;
    out.push(...source.slice(at, start));
    at = start;
    for (i = i + 1; i < lines.length && !lines[i].startsWith("@@"); i++) {
      const line = lines[i];
      if (line.startsWith("\\")) continue; // "\ No newline at end of file"
      const body = line.slice(1);
      if (line.startsWith("+")) out.push(body);
      else if (line.startsWith("-") || line.startsWith(" ") || line === "") {
        if (line === "" && i === lines.length - 1) break;
        if (source[at] !== body) return null;
        if (!line.startsWith("-")) out.push(body);
        at += 1;
      }
    }
    i -= 1;
  }
  out.push(...source.slice(at));
  return out.join("\n");
}
