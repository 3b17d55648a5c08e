/**
 * Go (RE2) regular expressions, as gitleaks rules are written, turned into JavaScript ones with
 * the same meaning. Both engines are leftmost-first (Perl-like), so matches agree once the syntax
 * does; what differs is translated:
 * - flag directives `(?i)` in the middle of a pattern, which in Go hold to the end of the
 *   enclosing group *including later alternatives*: each affected branch is wrapped in a
 *   modifier group `(?i:…)` (V8 supports modifiers since Node 23);
 * - `(?P<name>` → `(?<name>`; POSIX classes `[[:alnum:]]`; `\z` → `$` (without the `m` flag
 *   JavaScript's `$` is the end of input, as Go's `\z`); `\A` → `^`.
 * What cannot be translated (`(?U)`, `\Q…\E`, `\C`) is refused with the reason.
 */

const POSIX_CLASSES: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '\\w',
  xdigit: '0-9A-Fa-f',
};

export class GoRegexError extends Error {}

interface Group {
  /** Flags set by directives so far in this group: applied to each later branch. */
  flags: string;
  /** Modifier groups opened in the current branch, to close at its end. */
  open: number;
}

/** Translates a Go regular expression's source to a JavaScript one's (no flags needed). */
export function goRegexSource(source: string): string {
  let out = '';
  const stack: Group[] = [{ flags: '', open: 0 }];
  const closeBranch = (g: Group): void => {
    out += ')'.repeat(g.open);
    g.open = 0;
  };
  const openBranch = (g: Group): void => {
    if (g.flags !== '') {
      out += `(?${g.flags}:`;
      g.open = 1;
    }
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    const group = stack.at(-1) as Group;
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) throw new GoRegexError('the pattern ends with a lone backslash');
      if (next === 'z') out += '$';
      else if (next === 'A') out += '^';
      else if (next === 'Q' || next === 'C') throw new GoRegexError(`\\${next} has no JavaScript equivalent`);
      else out += `\\${next}`;
      i += 2;
      continue;
    }
    if (c === '[') {
      // Copy the class through, translating POSIX classes; `]` first in the class is literal.
      let j = i + 1;
      let body = '';
      if (source[j] === '^') {
        body += '^';
        j++;
      }
      if (source[j] === ']') {
        body += '\\]';
        j++;
      }
      while (j < source.length && source[j] !== ']') {
        if (source[j] === '\\') {
          body += source.slice(j, j + 2);
          j += 2;
          continue;
        }
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(j));
        if (posix) {
          const cls = POSIX_CLASSES[posix[2] as string];
          if (cls === undefined || posix[1] === '^') throw new GoRegexError(`the class [:${posix[1]}${posix[2]}:] is not supported`);
          body += cls;
          j += posix[0].length;
          continue;
        }
        body += source[j] === '[' ? '\\[' : source[j];
        j++;
      }
      if (j >= source.length) throw new GoRegexError('a character class is not closed');
      out += `[${body}]`;
      i = j + 1;
      continue;
    }
    if (c === '(') {
      const directive = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)/.exec(source.slice(i));
      if (directive) {
        const on = directive[1] ?? '';
        const off = directive[2] ?? '';
        if (/[^ims]/.test(on + off)) throw new GoRegexError(`the flag directive ${directive[0]} has no JavaScript equivalent`);
        group.flags = mergeFlags(group.flags, on, off);
        out += `(?${on}${off ? `-${off}` : ''}:`;
        group.open += 1;
        i += directive[0].length;
        continue;
      }
      const named = /^\(\?P</.exec(source.slice(i));
      if (named) {
        out += '(?<';
        i += 4;
      } else {
        const modifier = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?:/.exec(source.slice(i));
        if (modifier && /[^ims]/.test((modifier[1] ?? '') + (modifier[2] ?? '')))
          throw new GoRegexError(`the flags in ${modifier[0]} have no JavaScript equivalent`);
        out += '(';
        i += 1;
      }
      // A new group starts with no directives of its own but inherits the enclosing flags
      // through the modifier group it sits in.
      stack.push({ flags: '', open: 0 });
      continue;
    }
    if (c === ')') {
      if (stack.length === 1) throw new GoRegexError('unbalanced )');
      closeBranch(group);
      stack.pop();
      out += ')';
      i += 1;
      continue;
    }
    if (c === '|') {
      closeBranch(group);
      out += '|';
      openBranch(group);
      i += 1;
      continue;
    }
    out += c;
    i += 1;
  }
  if (stack.length !== 1) throw new GoRegexError('a group is not closed');
  closeBranch(stack[0] as Group);
  return out;
}

/** Flags after a directive: `(?i)` then `(?-i)` leaves none; the result is what later branches need. */
function mergeFlags(current: string, on: string, off: string): string {
  const set = new Set(current.split('-')[0]?.split('').filter(Boolean));
  const unset = new Set(current.split('-')[1]?.split('').filter(Boolean));
  for (const f of on) {
    set.add(f);
    unset.delete(f);
  }
  for (const f of off) {
    unset.add(f);
    set.delete(f);
  }
  const onPart = [...set].join('');
  const offPart = [...unset].join('');
  return offPart === '' ? onPart : `${onPart}-${offPart}`;
}

/** A JavaScript RegExp with the Go pattern's meaning; `global` for finding every match. */
export function goRegex(source: string, global = false): RegExp {
  return new RegExp(goRegexSource(source), global ? 'g' : '');
}
