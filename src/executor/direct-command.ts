/**
 * A step's script that is one simple command runs without a shell, as GNU make runs a recipe
 * line (job.c, `construct_command_argv_internal`): when the line has none of the shell's special
 * characters and its first word is no shell builtin or keyword, make splits it on blanks and
 * execs it. Starting bash only to have it exec the command costs a job ~1–2 ms of CPU (bash's own
 * exec, dynamic linking and start-up), as much as the rest of a one-step job's overhead: in the
 * 1,000-job DAG benchmark bash was a sixth of all CPU (docs/decisions/0047).
 *
 * What the program then sees is what bash gave it: the same argv, environment (bash's own `PWD`,
 * `SHLVL` and `_` included), cwd, process group and output. Whenever the answer could differ the
 * script goes through bash as before: quotes, `$`, globs, redirections, separators, backslashes,
 * `~`, assignments, several lines, a builtin or keyword first, a program that is not found, not
 * executable or not a binary or `#!` script (bash's own message and exit code 127/126 then), and
 * inside the sandbox a program the sandbox shows differently from the host.
 */
import { accessSync, closeSync, constants, openSync, readSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * make's POSIX `sh_chars` (`#;"*?[]&|<>(){}$\`^~!`), plus what make itself would parse and we
 * leave to bash (`'`, `\`), plus line ends (a script of several lines is a script).
 */
const SHELL_CHARS = /[#;"*?[\]&|<>(){}$`^~!'\\\r\n]/;

/**
 * make's `sh_cmds` and bash's builtins and reserved words: a first word that bash would run
 * itself. `echo`, `true` and `false` are not here: they have /usr/bin twins that behave alike
 * (bar `--help` and `--version`, see `TWIN_OPTIONS`). `test`, `printf`, `kill` and `pwd` have twins
 * that differ (`pwd` prints the physical path, `printf -v` sets a variable), so they stay bash's.
 */
const SHELL_WORDS = new Set([
  // make
  '.',
  ':',
  'alias',
  'bg',
  'break',
  'case',
  'cd',
  'command',
  'continue',
  'eval',
  'exec',
  'exit',
  'export',
  'fc',
  'fg',
  'for',
  'getopts',
  'hash',
  'if',
  'jobs',
  'login',
  'logout',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'test',
  'times',
  'trap',
  'type',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'wait',
  'while',
  // bash
  'bind',
  'builtin',
  'caller',
  'compgen',
  'complete',
  'compopt',
  'coproc',
  'declare',
  'dirs',
  'disown',
  'do',
  'done',
  'elif',
  'else',
  'enable',
  'esac',
  'fi',
  'function',
  'help',
  'history',
  'in',
  'kill',
  'let',
  'local',
  'mapfile',
  'popd',
  'printf',
  'pushd',
  'pwd',
  'readarray',
  'select',
  'shopt',
  'source',
  'suspend',
  'then',
  'time',
  'typeset',
  'until',
]);

/** The builtins with a program twin: their twin answers these options, bash's builtin does not. */
const TWINS = new Set(['echo', 'true', 'false']);
const TWIN_OPTIONS = new Set(['--help', '--version']);

/**
 * The words of a script that is one simple command, or null when only a shell can run it. Blanks
 * around the line (a block scalar's final newline) are bash's to ignore too.
 */
export function plainCommandWords(script: string): string[] | null {
  const line = script.replace(/^[ \t\n]+|[ \t\n]+$/g, '');
  if (line === '' || SHELL_CHARS.test(line)) return null;
  const words = line.split(/[ \t]+/);
  const first = words[0] as string;
  // `A=b cmd` sets a variable for the command: bash's to do.
  if (first.includes('=') || SHELL_WORDS.has(first)) return null;
  if (TWINS.has(first) && words.some((w) => TWIN_OPTIONS.has(w))) return null;
  return words;
}

/**
 * Variables a non-interactive bash acts on before the command: `BASH_ENV` names a file it sources
 * (GitHub Actions users set it for every step), `SHELLOPTS`/`BASHOPTS` turn options on (`xtrace`).
 */
const BASH_STARTUP = ['BASH_ENV', 'SHELLOPTS', 'BASHOPTS'];

/** The program a command runs and the variables bash would have added for it. */
export interface DirectCommand {
  argv: string[];
  /** The file exec will run (bash's `_`). */
  program: string;
  /** The step's environment plus bash's `PWD`, `SHLVL` and `_`. */
  env: Record<string, string>;
}

export interface DirectCommandOptions {
  env: Record<string, string>;
  cwd: string;
  /** Inside a sandbox: whether the sandbox shows this host file as it is (see sandbox.ts). */
  sameInSandbox?: (file: string) => boolean;
}

/** How `script` runs without a shell, or null when it must go through bash (see the module comment). */
export function directCommand(script: string, o: DirectCommandOptions): DirectCommand | null {
  const argv = plainCommandWords(script);
  if (!argv || BASH_STARTUP.some((name) => o.env[name])) return null;
  const word = argv[0] as string;
  const program = findProgram(word, o.env.PATH ?? '', o.cwd);
  if (!program || (o.sameInSandbox && !o.sameInSandbox(program))) return null;
  // bash's `_` is the word itself when it names a path, else where PATH found it; `SHLVL` is 0
  // when unset (bash counts itself, then uncounts itself as it execs the command).
  const env = { ...o.env, PWD: o.cwd, SHLVL: o.env.SHLVL ?? '0', _: word.includes('/') ? word : program };
  return { argv, program, env };
}

/**
 * The file bash would exec for `word`: a path (with a `/`) from cwd, else the first file of that
 * name in PATH's directories (an empty entry is cwd). Null when bash would fail or search on:
 * the first such file is not executable by us, or is neither ELF nor `#!` (bash runs those itself).
 */
export function findProgram(word: string, searchPath: string, cwd: string): string | null {
  if (word.includes('/')) return runnable(path.resolve(cwd, word));
  for (const dir of searchPath.split(':')) {
    const candidate = path.resolve(cwd, dir, word);
    const stats = statOrNull(candidate);
    if (!stats || stats.isDirectory()) continue;
    return runnable(candidate, stats);
  }
  return null;
}

function runnable(file: string, known?: Stats): string | null {
  const stats = known ?? statOrNull(file);
  if (!stats?.isFile()) return null;
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return null;
  }
  return execFormatKnown(file, stats) ? file : null;
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    // ENOTDIR (a PATH entry that is a file), ELOOP, EACCES: nothing bash could run there either.
    return null;
  }
}

/** Whether a file starts like something the kernel execs (ELF, `#!`), by its identity: a step's tools rarely change. */
const formats = new Map<string, boolean>();
const FORMATS_KEPT = 4096;

function execFormatKnown(file: string, stats: Stats): boolean {
  const key = `${file}\0${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  let known = formats.get(key);
  if (known === undefined) {
    known = readsAsExecutable(file);
    if (formats.size >= FORMATS_KEPT) formats.clear();
    formats.set(key, known);
  }
  return known;
}

function readsAsExecutable(file: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const n = readSync(fd, head, 0, 4, 0);
    return (n >= 2 && head[0] === 0x23 && head[1] === 0x21) || (n === 4 && head.readUInt32BE(0) === 0x7f454c46);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
