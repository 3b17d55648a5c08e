/**
 * A service-log search as the user writes it (`--grep`, `--text`, `--where`, `--since`…)
 * compiled once into a `LineMatcher`: what a line's text must contain, which fields of a JSON
 * line must hold which values, and the time window. Pure; bad input is INVALID_LOG_QUERY.
 */
import { timeBackFrom } from '../../core/span.ts';
import { GantryError } from '../../core/errors.ts';
import type { StreamCode } from '../../core/log-line.ts';

export interface LogQueryInput {
  /** A JavaScript regular expression matched against each line's text (not its time or stream). */
  grep?: string;
  /** Plain text the line's text must contain (case-sensitive). */
  text?: string;
  /** `field=value` or `field!=value` on JSON lines; `a.b` reaches into objects. All must hold. */
  where?: readonly string[];
  stream?: 'stdout' | 'stderr' | 'system';
  /** Epoch ms, inclusive. */
  sinceMs?: number;
  /** Epoch ms, exclusive. */
  untilMs?: number;
}

export interface FieldFilter {
  path: string[];
  value: string;
  negate: boolean;
}

export interface LineMatcher {
  /**
   * Found in the raw chunk before a line is looked at: a hit is a candidate, a miss rules the
   * chunk's lines out. `bytes` is searched in the undecoded file (like grep's required literal):
   * only lines with a hit are decoded.
   */
  readonly scan: { kind: 'bytes'; needle: Buffer } | { kind: 'regex'; regex: RegExp } | { kind: 'every-line' };
  readonly sinceIso: string | null;
  readonly untilIso: string | null;
  readonly sinceMs: number | null;
  readonly untilMs: number | null;
  /** The whole test of one parsed line's text and stream (the time is checked by the caller). */
  accepts(stream: StreamCode, text: string): boolean;
}

const STREAM_CODES = { stdout: 'o', stderr: 'e', system: 's' } as const;
const WHERE_PATTERN = /^([A-Za-z0-9_@.$-]+)(!?=)(.*)$/s;

export function compileLogQuery(q: LogQueryInput): LineMatcher {
  const regex = q.grep === undefined || q.grep === '' ? null : compileRegex(q.grep);
  const text = q.text === undefined || q.text === '' ? null : q.text;
  const filters = (q.where ?? []).map(parseWhere);
  const stream = q.stream === undefined ? null : STREAM_CODES[q.stream];
  if (q.sinceMs !== undefined && q.untilMs !== undefined && q.sinceMs >= q.untilMs)
    throw new GantryError('INVALID_LOG_QUERY', 'since must be before until');
  const anchored = regex !== null && /\^|\$|\(\?<[=!]/.test(regex.source);
  // The chunk-wide scan looks for a piece every match must contain: the text, the regex's longest
  // required literal, a field's value; else the regex over the chunk; an anchored regex without a
  // literal must see lines one by one.
  const positive = filters.find((f) => !f.negate && f.value !== '');
  const literal = regex === null ? null : requiredLiteral(regex.source);
  const needle = text ?? (literal !== null && literal.length >= 3 ? literal : null) ?? (regex === null ? (positive?.value ?? null) : null);
  const scan: LineMatcher['scan'] =
    needle !== null
      ? { kind: 'bytes', needle: Buffer.from(needle, 'utf8') }
      : regex && !anchored
        ? { kind: 'regex', regex: new RegExp(regex.source, `${regex.flags.replace('g', '')}g`) }
        : { kind: 'every-line' };
  return {
    scan,
    sinceMs: q.sinceMs ?? null,
    untilMs: q.untilMs ?? null,
    sinceIso: q.sinceMs === undefined ? null : new Date(q.sinceMs).toISOString(),
    untilIso: q.untilMs === undefined ? null : new Date(q.untilMs).toISOString(),
    accepts(lineStream, lineText) {
      if (stream !== null && lineStream !== stream) return false;
      if (text !== null && !lineText.includes(text)) return false;
      if (regex !== null && !regex.test(lineText)) return false;
      if (filters.length === 0) return true;
      const fields = structuredFields(lineText);
      return fields !== null && filters.every((f) => fieldMatches(fields, f));
    },
  };
}

/**
 * The fields of a structured line: a JSON object on one line (pino, bunyan, zap, logrus's JSON
 * formatter, slog's JSONHandler…). Anything else is plain text: null.
 */
export function structuredFields(text: string): Record<string, unknown> | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The longest run of plain characters every match of `source` must contain, or null when the
 * regex has alternation, an optional group or a lookaround (no run is surely required then). Escaped punctuation counts as plain;
 * a character made optional by the quantifier after it is left out.
 */
export function requiredLiteral(source: string): string | null {
  // Alternation, an optional group or a lookaround: a run inside need not be in every match.
  if (source.includes('|') || /\)(\?|\*|\{0[,}])|\(\?[=!<]/.test(source)) return null;
  let best = '';
  let run = '';
  const end = () => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    const next = source[i + 1];
    const optionalNext = (at: number) =>
      source[at] === '?' || source[at] === '*' || (source[at] === '{' && /^\{0[,}]/.test(source.slice(at)));
    if (c === '\\') {
      const escaped = next ?? '';
      i++;
      if (/^[\^$.*+?()[\]{}|/\\-]$/.test(escaped)) {
        if (optionalNext(i + 1)) end();
        else run += escaped;
      } else end();
      continue;
    }
    if ('^$.*+?()[]{}'.includes(c)) {
      if (c === '[') i = skipClass(source, i);
      else if (c === '(' && next === '?') i += 2;
      else if (c === '{') i = Math.max(i, source.indexOf('}', i));
      end();
      continue;
    }
    if (optionalNext(i + 1)) {
      end();
      continue;
    }
    run += c;
    if (next === '+') end();
  }
  end();
  return best === '' ? null : best;
}

function skipClass(source: string, open: number): number {
  for (let i = open + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']' && i > open + 1) return i;
  }
  return source.length;
}

function fieldMatches(fields: Record<string, unknown>, f: FieldFilter): boolean {
  let value: unknown = fields;
  for (const key of f.path) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  const equal = value !== undefined && value !== null && typeof value !== 'object' && String(value) === f.value;
  return f.negate ? !equal : equal;
}

function parseWhere(raw: string): FieldFilter {
  const m = WHERE_PATTERN.exec(raw);
  if (!m)
    throw new GantryError(
      'INVALID_LOG_QUERY',
      `where ${JSON.stringify(raw)} is not field=value or field!=value (e.g. level=error, req.method!=GET)`,
    );
  return { path: (m[1] as string).split('.'), negate: m[2] === '!=', value: m[3] as string };
}

function compileRegex(source: string): RegExp {
  if (source.length > 1000) throw new GantryError('INVALID_LOG_QUERY', 'grep is longer than 1000 characters');
  try {
    return new RegExp(source, 'u');
  } catch (error) {
    throw new GantryError('INVALID_LOG_QUERY', `grep is not a valid regular expression: ${(error as Error).message}`);
  }
}

/** `15m`, `2h`, `7d` back from `now`, or an ISO date/time; `name` is the option, for the message. */
export function parseLogTime(raw: string, now: number, name: 'since' | 'until'): number {
  const at = timeBackFrom(raw, now);
  if (at !== null) return at;
  throw new GantryError(
    'INVALID_LOG_QUERY',
    `${name} ${JSON.stringify(raw)} is neither a duration back from now (30s, 15m, 2h, 7d) nor a date (2026-11-01, 2026-11-01T12:00:00Z)`,
  );
}
