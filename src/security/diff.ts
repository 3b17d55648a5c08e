/**
 * The lines a change adds, per file, with their line numbers in the new file: read from
 * `git diff --unified=0` output. Secrets are looked for in these only (gitleaks' `protect`), so a
 * pre-commit check costs what the change costs, not what the repository does.
 */

export interface AddedLines {
  path: string;
  lines: { number: number; text: string }[];
}

/** Unquotes git's C-style quoted paths (`"a\\tb"`, octal escapes for non-ASCII bytes). */
function gitPath(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c));
      continue;
    }
    const next = body[i + 1] as string;
    const octal = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
      continue;
    }
    const map: Record<string, string> = { n: '\n', t: '\t', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', r: '\r', v: '\v' };
    bytes.push(...Buffer.from(map[next] ?? next));
    i++;
  }
  return Buffer.from(bytes).toString('utf8');
}

export function addedLines(diff: string): AddedLines[] {
  const files: AddedLines[] = [];
  let current: AddedLines | null = null;
  let next = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('diff --git ')) {
      current = null;
      continue;
    }
    if (line.startsWith('+++ ')) {
      const target = line.slice(4);
      current = target === '/dev/null' ? null : { path: gitPath(target).replace(/^b\//, ''), lines: [] };
      if (current) files.push(current);
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      next = Number(hunk[1]);
      continue;
    }
    if (current === null) continue;
    if (line.startsWith('+')) current.lines.push({ number: next++, text: line.slice(1) });
    else if (line.startsWith(' ')) next++;
  }
  return files.filter((f) => f.lines.length > 0);
}
