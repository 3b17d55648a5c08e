/**
 * Just enough of POSIX shell to lint `RUN` lines: words (quotes and escapes removed), split into
 * simple commands at `&&`, `||`, `;`, `&`, `|` and newlines, with whether a pipe joins a command
 * to the next. Redirections and their targets are dropped; `$(…)`, subshells and braces stay
 * words — a linter needs the commands a line runs, not an interpreter.
 */

export interface SimpleCommand {
  argv: string[];
  /** Its output goes into the next command through `|`. */
  pipesToNext: boolean;
}

const OPERATORS = ['&&', '||', ';;', '|&', '>>', '<<', '>&', '<&', '&>', ';', '&', '|', '>', '<', '\n'];

type Token = { word: string } | { op: string };

function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let word: string | null = null;
  const flush = (): void => {
    if (word !== null) tokens.push({ word });
    word = null;
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i] as string;
    if (c === '\\') {
      if (script[i + 1] === '\n') {
        i++;
        continue;
      }
      word = (word ?? '') + (script[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === "'") {
      const end = script.indexOf("'", i + 1);
      word = (word ?? '') + script.slice(i + 1, end < 0 ? script.length : end);
      i = end < 0 ? script.length : end;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < script.length && script[j] !== '"') {
        if (script[j] === '\\' && '"\\$`\n'.includes(script[j + 1] ?? '')) j++;
        value += script[j];
        j++;
      }
      word = (word ?? '') + value;
      i = j;
      continue;
    }
    if (c === '#' && word === null) {
      while (i < script.length && script[i] !== '\n') i++;
      i--;
      continue;
    }
    const op = OPERATORS.find((o) => script.startsWith(o, i));
    if (op !== undefined) {
      // `2>`: a digit glued to a redirection is its file descriptor, not a word.
      if ((op.startsWith('>') || op.startsWith('<')) && word !== null && /^\d+$/.test(word)) word = null;
      flush();
      tokens.push({ op });
      i += op.length - 1;
      continue;
    }
    if (c === ' ' || c === '\t') {
      flush();
      continue;
    }
    word = (word ?? '') + c;
  }
  flush();
  return tokens;
}

export function simpleCommands(script: string): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  let argv: string[] = [];
  let skipNext = false;
  const end = (pipes: boolean): void => {
    if (argv.length > 0) commands.push({ argv, pipesToNext: pipes });
    argv = [];
  };
  for (const token of tokenize(script)) {
    if ('word' in token) {
      if (skipNext) skipNext = false;
      else argv.push(token.word);
      continue;
    }
    if (['>', '>>', '<', '>&', '<&', '&>', '<<'].includes(token.op)) {
      skipNext = true;
      continue;
    }
    end(token.op === '|' || token.op === '|&');
  }
  end(false);
  // A leading environment assignment (`DEBIAN_FRONTEND=noninteractive apt-get …`) is not the command.
  for (const c of commands) while (c.argv.length > 1 && /^[A-Za-z_]\w*=/.test(c.argv[0] as string)) c.argv.shift();
  return commands;
}
