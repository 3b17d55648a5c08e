/**
 * Branch, tag and path filters (`on.push.branches`, `tags`, `paths`) with GitHub Actions' filter
 * pattern syntax, as its cheat sheet defines it: `*` any characters but `/`, `**` any characters,
 * `?` zero or one of the preceding character, `+` one or more of it, `[…]` one character listed
 * or in a range, `\` escapes, a leading `!` excludes, the last matching pattern decides. Not glob
 * syntax: `v[0-9]+.*` and `*.jsx?` mean what they mean on GitHub. Pure; patterns compiled once.
 *
 * `filterPatternProblem` refuses what GitHub cannot mean (actionlint's rules): a pattern that is
 * empty or only `!`, a `?` or `+` with nothing to repeat, an empty or unclosed `[…]`, a descending
 * range, a trailing `\`; paths with surrounding spaces or a leading `./`; branch and tag names
 * with characters git refuses in a ref (`man git-check-ref-format`).
 */

export type FilterKind = 'branch' | 'tag' | 'path';

export interface PatternProblem {
  /** Where in the pattern (0-based). */
  offset: number;
  message: string;
}

/** Characters a `\` may escape in a branch or tag pattern (elsewhere a `\` is a plain character of a path). */
const ESCAPABLE = new Set(['[', '?', '*', '+', '\\', '!']);

export function filterPatternProblem(pattern: string, kind: FilterKind): PatternProblem | undefined {
  if (pattern === '') return { offset: 0, message: 'a pattern cannot be empty' };
  if (kind === 'path') {
    if (pattern.trim() !== pattern)
      return { offset: 0, message: 'a path pattern cannot start or end with spaces (no file path in a push has them there)' };
    const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
    if (body === '.' || body === '..' || body.startsWith('./') || body.startsWith('../'))
      return { offset: pattern.length - body.length, message: "paths are relative to the repository's root: leave out './'" };
  }
  let at = 0;
  if (pattern.startsWith('!')) {
    if (pattern.length === 1) return { offset: 0, message: "'!' must be followed by the pattern it excludes" };
    at = 1;
  }
  if (kind !== 'path' && pattern[at] === '/') return refProblem(kind, at, "'/'", 'start with /');
  /** Whether the character before can be repeated by `?` or `+`. */
  let repeatable = false;
  while (at < pattern.length) {
    const char = pattern[at] as string;
    switch (char) {
      case '\\': {
        const next = pattern[at + 1];
        if (next === undefined) return { offset: at, message: "a '\\' at the end escapes nothing" };
        if (kind !== 'path' && !ESCAPABLE.has(next))
          return refProblem(kind, at, "'\\'", 'contain \\ (in a pattern it escapes one of [ ? * + \\ !)');
        if (kind !== 'path' && (next === '[' || next === '?' || next === '*'))
          return refProblem(kind, at + 1, `'${next}'`, 'contain [, ? or *');
        at += 2;
        repeatable = true;
        continue;
      }
      case '?':
      case '+':
        if (!repeatable) {
          const previous = at === 0 || (at === 1 && pattern[0] === '!') ? undefined : pattern[at - 1];
          const times = char === '?' ? 'zero or one' : 'one or more';
          const but = previous === undefined ? 'there is none' : `'${previous}' cannot be repeated`;
          return {
            offset: at,
            message: `'${char}' repeats the character before it (${times} times), but ${but}: write \\${char} for the character itself`,
          };
        }
        repeatable = false;
        at++;
        continue;
      case '*':
        repeatable = false;
        at++;
        continue;
      case '[': {
        const close = classEnd(pattern, at);
        if (typeof close !== 'number') return close;
        at = close + 1;
        repeatable = true;
        continue;
      }
      case '\n':
      case '\r':
        return { offset: at, message: 'a pattern cannot hold a line break' };
      default:
        if (kind !== 'path' && (char === ' ' || char === '\t' || char === '~' || char === '^' || char === ':'))
          return refProblem(kind, at, char === ' ' ? 'a space' : char === '\t' ? 'a tab' : `'${char}'`, 'contain spaces, ~, ^ or :');
        repeatable = true;
        at++;
    }
  }
  const last = pattern.at(-1);
  if (kind !== 'path' && (last === '/' || last === '.') && pattern.at(-2) !== '\\')
    return refProblem(kind, pattern.length - 1, `'${last}'`, 'end with / or .');
  return undefined;
}

function refProblem(kind: FilterKind, offset: number, what: string, rule: string): PatternProblem {
  return { offset, message: `${what} can never match: a ${kind} name cannot ${rule} (git check-ref-format)` };
}

/** The index of the `]` closing the class opened at `open`, or why it cannot be read. */
function classEnd(pattern: string, open: number): number | PatternProblem {
  let at = open + 1;
  if (pattern[at] === ']') return { offset: open, message: "'[]' lists no character: put the characters to match between the brackets" };
  while (at < pattern.length && pattern[at] !== ']') {
    if (pattern[at + 1] === '-' && pattern[at + 2] !== undefined && pattern[at + 2] !== ']') {
      const from = pattern[at] as string;
      const to = pattern[at + 2] as string;
      if (from > to) return { offset: at, message: `the range '${from}-${to}' runs backwards: write '${to}-${from}'` };
      at += 3;
    } else if (pattern[at + 1] === '-' && pattern[at + 2] === ']') {
      return { offset: at + 1, message: `the range '${pattern[at]}-' has no end` };
    } else {
      at++;
    }
  }
  if (at >= pattern.length) return { offset: open, message: "'[' is never closed: add ']' (or write \\[ for the character itself)" };
  return at;
}

const compiled = new Map<string, RegExp>();

/** The regular expression for one pattern (without its leading `!`), cached. */
function regexOf(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(`^${translate(pattern)}$`, 'u');
    if (compiled.size >= 1024) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex;
}

function translate(pattern: string): string {
  let out = '';
  let at = 0;
  // As in the validator: `?` and `+` repeat a character or a class, else they are the character itself
  // (so a pattern gantry validate refuses still compiles, and is read literally there).
  let repeatable = false;
  while (at < pattern.length) {
    const char = pattern[at] as string;
    if (char === '*') {
      if (pattern[at + 1] !== '*') {
        out += '[^/]*';
        at++;
      } else if (pattern[at + 2] === '/') {
        // `**/` matches zero or more whole directories, so `**/README.md` matches README.md too.
        out += '(?:.*/)?';
        at += 3;
      } else {
        out += '.*';
        at += 2;
      }
      repeatable = false;
      continue;
    }
    if ((char === '?' || char === '+') && repeatable) {
      out += char;
      at++;
      repeatable = false;
      continue;
    }
    const close = char === '[' ? classEnd(pattern, at) : undefined;
    if (typeof close === 'number') {
      out += `[${classBody(pattern.slice(at + 1, close))}]`;
      at = close + 1;
    } else if (char === '\\' && at + 1 < pattern.length) {
      out += escapeRegex(pattern[at + 1] as string);
      at += 2;
    } else {
      out += escapeRegex(char);
      at++;
    }
    repeatable = true;
  }
  return out;
}

/** A class's characters and ranges, every character but the ranges' `-` taken literally. */
function classBody(body: string): string {
  let out = '';
  for (let at = 0; at < body.length; at++) {
    if (body[at + 1] === '-' && at + 2 < body.length) {
      out += `${escapeInClass(body[at] as string)}-${escapeInClass(body[at + 2] as string)}`;
      at += 2;
    } else {
      out += escapeInClass(body[at] as string);
    }
  }
  return out;
}

function escapeRegex(char: string): string {
  return /[\\^$.*+?()[\]{}|]/.test(char) ? `\\${char}` : char;
}

function escapeInClass(char: string): string {
  return /[\\\]^-]/.test(char) ? `\\${char}` : char;
}

/**
 * GitHub's rule for a list: the last pattern that matches decides (`!` excludes). With only
 * negative patterns everything not excluded matches, which is what such a list means.
 */
export function lastMatchWins(subject: string, patterns: readonly string[]): boolean {
  let matched = !patterns.some((p) => !p.startsWith('!'));
  for (const pattern of patterns) {
    const negative = pattern.startsWith('!');
    if (regexOf(negative ? pattern.slice(1) : pattern).test(subject)) matched = !negative;
  }
  return matched;
}
