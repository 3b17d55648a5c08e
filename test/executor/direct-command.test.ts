/**
 * A step that is one simple command runs without bash (direct-command.ts), with and without the
 * sandbox, as a one-step job (the sandbox's own command) and among several steps (the nested
 * helper). Which steps went through bash is seen by a `bash` earlier on the step's PATH that
 * notes its script before it execs the real one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StepConfig } from '../../src/core/types.ts';
import { directCommand, plainCommandWords } from '../../src/executor/direct-command.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { sameInSandbox } from '../../src/executor/sandbox.ts';
import { parseLogLine } from '../../src/executor/log-writer.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { jobSpecUnder } from '../support/job-spec.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';

const MODES = requirement('bubblewrap', hasBubblewrap()) ? (['off', 'auto'] as const) : (['off'] as const);
const REAL_BASH = execFileSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).trim();

describe('plainCommandWords', () => {
  it('splits one line of plain words on blanks', () => {
    expect(plainCommandWords('true')).toEqual(['true']);
    expect(plainCommandWords('  make -j2  all\tCC=gcc\n')).toEqual(['make', '-j2', 'all', 'CC=gcc']);
    expect(plainCommandWords('./build.sh --fast')).toEqual(['./build.sh', '--fast']);
    expect(plainCommandWords('echo hello')).toEqual(['echo', 'hello']);
  });

  it("leaves to bash what make leaves to the shell, and bash's own words", () => {
    for (const script of [
      'echo $HOME',
      'echo a > f',
      'a | b',
      'a; b',
      'a && b',
      'a &',
      'ls *.c',
      'ls ?',
      'ls [ab]',
      'echo {a,b}',
      'echo "a b"',
      "echo 'a'",
      'echo a\\ b',
      'ls ~',
      'echo `id`',
      'a # comment',
      '! false',
      'echo ^',
      'A=b env',
      'a\nb',
      'a\r',
      'cd sub',
      'export A',
      'source x',
      '. x',
      ':',
      'exit 3',
      'set -x',
      'alias a=b',
      'test -f x',
      'pwd',
      'printf x',
      'kill 1',
      'time sleep 1',
      'echo --help',
      'true --version',
      '',
      '  \n',
    ]) {
      expect(plainCommandWords(script), script).toBeNull();
    }
  });
});

describe('directCommand', () => {
  it('leaves a command to bash when a variable bash acts on at start is set', () => {
    const env = { PATH: '/usr/bin:/bin' };
    expect(directCommand('true', { env, cwd: '/' })?.argv).toEqual(['true']);
    for (const name of ['BASH_ENV', 'SHELLOPTS', 'BASHOPTS'])
      expect(directCommand('true', { env: { ...env, [name]: 'x' }, cwd: '/' }), name).toBeNull();
  });
});

describe('sameInSandbox', () => {
  const o = {
    workspaceDir: '/data/work/r/j',
    privateDirs: ['/data/work/r/j.tmp'],
    hiddenPaths: ['/data'],
    binds: ['--ro-bind', '/etc/ca.pem', '/tmp/ca.pem'],
  };
  it('is true for the host root and the dirs bound back, false under what the sandbox mounts or hides', () => {
    expect(sameInSandbox('/usr/bin/true', o)).toBe(true);
    expect(sameInSandbox('/data/work/r/j/bin/tool', o)).toBe(true);
    expect(sameInSandbox('/data/work/r/j.tmp/home/bin/tool', o)).toBe(true);
    expect(sameInSandbox('/data/bin/tool', o)).toBe(false);
    expect(sameInSandbox('/tmp/tools/bin/tool', o)).toBe(false);
    expect(sameInSandbox('/dev/shm/tool', o)).toBe(false);
    expect(sameInSandbox('/etc/ca.pem', o)).toBe(false);
    expect(sameInSandbox('/database/bin/tool', o)).toBe(true);
  });
});

let root: string;
let work: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-direct-'));
  const bin = join(root, 'source', 'bin');
  mkdirSync(join(root, 'source', 'sub'), { recursive: true });
  mkdirSync(bin);
  const script = (name: string, text: string, mode = 0o755) => {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), mode);
  };
  // Notes the script it runs (`-c SCRIPT`), then is bash.
  script('bash', `#!/bin/sh\nprintf '%s\\n' "$6" >> "$GANTRY_WORKSPACE/bash-ran"\nexec ${REAL_BASH} "$@"\n`);
  script('show', '#!/bin/sh\necho "argv: $0 $*"\necho "cwd: $(pwd)"\necho "env: PWD=$PWD SHLVL=$SHLVL _=$_ CI=$CI"\n');
  script('exit3', '#!/bin/sh\necho leaving >&2\nexit 3\n');
  script('noexec', '#!/bin/sh\necho never\n', 0o644);
  script('noshebang', 'echo "run by ${BASH_VERSION:+bash}"\n');
  work = join(root, 'data', 'work', 'run1', 'build');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function makeSpec(steps: Partial<StepConfig>[], sandbox: 'off' | 'auto'): JobSpec {
  return jobSpecUnder(root, steps, { sandbox, continueOnError: true, env: { PATH: `${join(work, 'bin')}:/usr/local/bin:/usr/bin:/bin` } });
}

/** The step output lines of the log, per stream, between each step's start line. */
function stepOutputs(spec: JobSpec): { o: string[]; e: string[] }[] {
  const steps: { o: string[]; e: string[] }[] = [];
  for (const raw of readFileSync(spec.logFile, 'utf8').split('\n').slice(0, -1)) {
    const line = parseLogLine(raw);
    if (line.stream === 's' && line.text.startsWith('▶ ')) steps.push({ o: [], e: [] });
    else if (line.stream === 'o' || line.stream === 'e') steps.at(-1)?.[line.stream].push(line.text);
  }
  return steps;
}

function bashRan(): string[] {
  const file = join(work, 'bash-ran');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
}

describe.each(MODES)('a step that is one simple command (sandbox %s)', (sandbox) => {
  it('a one-step job runs it without bash, finding it on the step PATH', async () => {
    const spec = makeSpec([{ run: 'show one two' }], sandbox);
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    expect(stepOutputs(spec)[0]?.o).toEqual([
      `argv: ${join(work, 'bin', 'show')} one two`,
      `cwd: ${work}`,
      `env: PWD=${work} SHLVL=0 _=${join(work, 'bin', 'show')} CI=true`,
    ]);
    expect(bashRan()).toEqual([]);
  });

  it('a one-step job whose command is not found gets bash: its message and 127', async () => {
    const spec = makeSpec([{ run: 'no-such-program a' }], sandbox);
    const result = await runJob(spec);
    expect(result.steps[0]?.exitCode).toBe(127);
    expect(stepOutputs(spec)[0]?.e).toEqual([expect.stringMatching(/: line 1: no-such-program: command not found$/)]);
    expect(bashRan()).toEqual(['no-such-program a']);
  });

  it('among several steps: the same argv, cwd, environment and exit codes as through bash; bash for the rest', async () => {
    const spec = makeSpec(
      [
        { run: 'show a  b' },
        { run: 'show a  b', shell: 'bash' },
        { run: 'show in sub', workingDirectory: 'sub' },
        { run: 'show in sub', workingDirectory: 'sub', shell: 'bash' },
        { run: './bin/exit3' },
        { run: 'noexec' },
        { run: 'noshebang' },
        { run: 'echo $CI' },
        { run: 'echo a > f' },
        { run: 'false' },
        { run: '  echo plain words\n' },
      ],
      sandbox,
    );
    const result = await runJob(spec);
    const out = stepOutputs(spec);
    expect(out[0]).toEqual(out[1]);
    expect(out[2]).toEqual(out[3]);
    expect(out[2]?.o[1]).toBe(`cwd: ${join(work, 'sub')}`);
    expect(result.steps.map((s) => s.exitCode)).toEqual([0, 0, 0, 0, 3, 126, 0, 0, 0, 1, 0]);
    expect(out[4]?.e).toEqual(['leaving']);
    expect(out[5]?.e).toEqual([expect.stringMatching(/: line 1: .*\/bin\/noexec: Permission denied$/)]);
    expect(out[6]?.o).toEqual(['run by bash']);
    expect(out[7]?.o).toEqual(['true']);
    expect(readFileSync(join(work, 'f'), 'utf8')).toBe('a\n');
    expect(out[10]?.o).toEqual(['plain words']);
    // The steps with `shell: bash`, and those only bash can run.
    expect(bashRan()).toEqual(['show a  b', 'show in sub', 'noexec', 'noshebang', 'echo $CI', 'echo a > f']);
  });
});
