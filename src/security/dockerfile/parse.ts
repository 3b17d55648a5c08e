/**
 * A Dockerfile as a list of instructions, the way BuildKit's parser reads it: parser directives
 * (`# escapeChar=`), comments, line continuations with the escapeChar character (comment lines inside a
 * continuation are dropped), heredocs (`RUN <<EOF`), JSON (exec) form. Also hadolint's inline
 * pragma `# hadolint ignore=DL3008,DL3015`, which silences those rules for the next instruction.
 */

export interface Instruction {
  /** Upper-cased: `FROM`, `RUN`, … */
  keyword: string;
  /** The arguments after the keyword, continuations joined (escapeChar and newline removed). */
  args: string;
  /** The arguments as a JSON array of strings when written in exec form, else null. */
  json: string[] | null;
  /** `--name=value` flags before the arguments (`--from`, `--mount`, `--platform`, `--chown`…). */
  flags: Map<string, string[]>;
  /** The arguments with the leading flags removed. */
  rest: string;
  /** Heredoc bodies, in order (`RUN <<EOF …`). */
  heredocs: string[];
  line: number;
  endLine: number;
  /** Rule codes silenced by a `# hadolint ignore=` pragma just before it. */
  ignored: Set<string>;
}

function parseJsonArray(text: string): string[] | null {
  if (!text.trimStart().startsWith('[')) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
  } catch {
    return null;
  }
}

function splitFlags(args: string): { flags: Map<string, string[]>; rest: string } {
  const flags = new Map<string, string[]>();
  let rest = args;
  for (;;) {
    const m = /^--([a-zA-Z][\w-]*)(?:=((?:"[^"]*"|[^\s])*))?\s*/.exec(rest);
    if (!m) break;
    const name = (m[1] as string).toLowerCase();
    flags.set(name, [...(flags.get(name) ?? []), m[2] ?? '']);
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  let escapeChar = '\\';
  let i = 0;
  // Parser directives: `# key=value` lines at the very top.
  for (; i < lines.length; i++) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i] as string);
    if (!directive) break;
    if ((directive[1] as string).toLowerCase() === 'escape') escapeChar = directive[2] as string;
  }
  const instructions: Instruction[] = [];
  let pendingIgnore = new Set<string>();
  while (i < lines.length) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (trimmed === '') {
      i++;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const pragma = /^#\s*hadolint\s+ignore=([\w,\s]+)$/i.exec(trimmed);
      if (pragma) for (const code of (pragma[1] as string).split(',')) pendingIgnore.add(code.trim().toUpperCase());
      i++;
      continue;
    }
    const start = i;
    let logical = trimmed;
    // Continuations: a line ending with the escapeChar character goes on; comment and empty lines inside are skipped.
    while (logical.endsWith(escapeChar) && i + 1 < lines.length) {
      logical = logical.slice(0, -escapeChar.length);
      i++;
      while (i < lines.length && /^\s*(#.*)?$/.test(lines[i] as string) && i + 1 < lines.length) i++;
      logical += (lines[i] as string).trimStart().length > 0 ? (lines[i] as string) : '';
    }
    if (logical.endsWith(escapeChar)) logical = logical.slice(0, -escapeChar.length);
    const m = /^(\S+)\s*([\s\S]*)$/.exec(logical.trim()) as RegExpExecArray;
    const keyword = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    const heredocs: string[] = [];
    for (const h of args.matchAll(/<<(-?)(["']?)([A-Za-z_][\w]*)\2/g)) {
      const delimiter = h[3] as string;
      const body: string[] = [];
      i++;
      while (i < lines.length && (h[1] ? (lines[i] as string).replace(/^\t+/, '') : (lines[i] as string)) !== delimiter)
        body.push(lines[i++] as string);
      heredocs.push(body.join('\n'));
    }
    const { flags, rest } = splitFlags(args);
    instructions.push({
      keyword,
      args,
      json: parseJsonArray(rest),
      flags,
      rest,
      heredocs,
      line: start + 1,
      endLine: i + 1,
      ignored: pendingIgnore,
    });
    pendingIgnore = new Set();
    i++;
  }
  return instructions;
}
