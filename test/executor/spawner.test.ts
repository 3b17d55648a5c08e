import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, killLeftovers } from '../../src/executor/process-tree.ts';
import { sandboxArgv } from '../../src/executor/sandbox.ts';
import { MarkedStream, Spawner, spawnerAvailable, SpawnerPool, type SpawnerStepOptions } from '../../src/executor/spawner.ts';
import { childrenOf, readStat } from '../../src/platform/proc.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
const spawners: Spawner[] = [];
const started: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-spawner-'));
});
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await Promise.all(spawners.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function helper(): Promise<Spawner> {
  const spawner = new Spawner({ cwd: dir });
  spawners.push(spawner);
  await spawner.started();
  return spawner;
}

function step(spawner: Spawner, script: string, o: Partial<SpawnerStepOptions> = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const promise = spawner.run({
    argv: ['bash', '-c', script],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    signal: new AbortController().signal,
    onStdout: (c) => out.push(c),
    onStderr: (c) => err.push(c),
    ...o,
  });
  return { promise, stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString() };
}

const readPids = (file: string) => {
  const pids = readFileSync(file, 'utf8').trim().split('\n').map(Number);
  started.push(...pids);
  return pids;
};
const exists = (f: string) => {
  try {
    readFileSync(f);
    return true;
  } catch {
    return false;
  }
};

describe.runIf(requirement('perl', spawnerAvailable()))('Spawner', () => {
  it('runs steps one after the other with their own output, exit code, cwd, env and stdin', async () => {
    const spawner = await helper();
    const first = step(spawner, 'echo "out $FOO $PWD"; echo err >&2; read -r x || echo "stdin empty"; exit 3', {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FOO: 'multi\nline' },
    });
    const r1 = await first.promise;
    expect(r1).toMatchObject({ exitCode: 3, signal: null, timedOut: false, cancelled: false, leftovers: [] });
    expect(first.stdout()).toBe(`out multi\nline ${dir}\nstdin empty\n`);
    expect(first.stderr()).toBe('err\n');
    // Only what was given (bash adds PWD, SHLVL and _), and the step leads its own session.
    const second = step(spawner, 'printf "%s " $(env | cut -d= -f1 | sort); echo; ps -o sid= -p $$; echo $$', {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', A: '1' },
    });
    expect(await second.promise).toMatchObject({ exitCode: 0 });
    const [names, sid, pid] = second
      .stdout()
      .trim()
      .split('\n')
      .map((l) => l.trim());
    expect(names?.split(' ').filter((n) => !['PWD', 'SHLVL', '_'].includes(n))).toEqual(['A', 'PATH']);
    expect(sid).toBe(pid);
    expect(first.stdout()).not.toContain('PATH'); // the second step's output went to its own sink
  });

  it('reports a step ended by a signal, and a command that cannot start without breaking the helper', async () => {
    const spawner = await helper();
    expect(await step(spawner, 'kill -TERM $$').promise).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    await expect(
      spawner.run({
        argv: ['gantry-no-such-command'],
        cwd: dir,
        env: { PATH: '/usr/bin:/bin' },
        signal: new AbortController().signal,
        onStdout() {},
        onStderr() {},
      }),
    ).rejects.toMatchObject({ code: 'SPAWN_FAILED', message: expect.stringMatching(/^cannot start gantry-no-such-command: /) });
    await expect(step(spawner, 'true', { env: { PATH: '/usr/bin:/bin', BAD: 'a\0b' } }).promise).rejects.toMatchObject({
      code: 'SPAWN_FAILED',
    });
    const after = step(spawner, 'echo still working');
    expect(await after.promise).toMatchObject({ exitCode: 0 });
    expect(after.stdout()).toBe('still working\n');
  });

  it('writes the step files before it starts the step, and fails the start when it cannot', async () => {
    const spawner = await helper();
    const script = join(dir, 'script');
    const files = [
      { path: script, content: 'printf "%s" "$(od -An -c out.txt | tr -s " ")"\n', mode: 0o700 },
      { path: join(dir, 'out.txt'), content: 'a\0é' },
    ];
    const s = step(spawner, '', { files, argv: ['bash', script] });
    expect(await s.promise).toMatchObject({ exitCode: 0 });
    expect(s.stdout()).toBe(' a \\0 303 251');
    const missing = step(spawner, 'echo never', { files: [{ path: join(dir, 'no', 'such', 'dir'), content: '' }] });
    await expect(missing.promise).rejects.toMatchObject({
      code: 'SPAWN_FAILED',
      message: expect.stringContaining('No such file or directory'),
    });
    expect(missing.stdout()).toBe('');
    const after = step(spawner, 'stat -c %a script');
    expect(await after.promise).toMatchObject({ exitCode: 0 });
    expect(after.stdout()).toBe('700\n');
  });

  it('on cancel ends the whole tree, including a process that left the group with setsid', async () => {
    const spawner = await helper();
    const pidFile = join(dir, 'pids');
    const controller = new AbortController();
    const s = step(spawner, `sleep 1000 & echo $! >> ${pidFile}; setsid sleep 1000 & echo $! >> ${pidFile}; wait`, {
      signal: controller.signal,
      killGraceMs: 300,
    });
    await waitFor(() => exists(pidFile) && readFileSync(pidFile, 'utf8').trim().split('\n').length >= 2, { what: 'pids' });
    controller.abort();
    const result = await s.promise;
    expect(result.cancelled).toBe(true);
    expect(readPids(pidFile).some(isAlive)).toBe(false);
  });

  it('times out and SIGKILLs a step ignoring SIGTERM', async () => {
    const spawner = await helper();
    const s = step(spawner, 'trap "" TERM; echo ready; while true; do sleep 0.05; done', { timeoutMs: 200, killGraceMs: 200 });
    const result = await s.promise;
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    expect(s.stdout()).toBe('ready\n');
  });

  it('adopts what escapes a finished step, keeps its output in the job sink, and is pooled only when clean', async () => {
    const pool = new SpawnerPool();
    const spawner = await pool.acquire();
    spawners.push(spawner);
    const pidFile = join(dir, 'escapee');
    const later: string[] = [];
    spawner.attach({ onStdout: (c) => later.push(c.toString()), onStderr() {} });
    // The escapee's parent exits at once: it is re-parented to the helper (a subreaper), not to init.
    const s = step(spawner, `(setsid bash -c 'echo $$ > ${pidFile}; sleep 0.3; echo from the background; exec sleep 1000' &)`);
    expect(await s.promise).toMatchObject({ exitCode: 0 });
    await waitFor(() => exists(pidFile), { what: 'escapee pid' });
    const [pid] = readPids(pidFile);
    expect(spawner.reaper).toBe(true);
    await waitFor(() => spawner.adopted().some((r) => r.pid === pid), { what: 'adoption' });
    await waitFor(() => later.join('').includes('from the background'), { what: 'background output' });
    await killLeftovers(spawner.adopted(), 500);
    expect(isAlive(pid as number)).toBe(false);
    pool.release(spawner);
    expect(await pool.acquire()).toBe(spawner); // clean: reused
  });
});

describe.runIf(requirement('perl', spawnerAvailable()) && requirement('bubblewrap', hasBubblewrap()))('Spawner in the sandbox', () => {
  /** Host pids of processes whose command line holds `tag` (a process in the sandbox is seen from here too). */
  const tagged = (tag: string) =>
    readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(tag);
        } catch {
          return false;
        }
      });

  it("runs the job's steps in one sandbox: a background process outlives its step and ends with the sandbox", async () => {
    const spawner = await helper();
    const wrapper = sandboxArgv([], { workspaceDir: dir, privateDirs: [], hiddenPaths: [], network: false, cwd: dir });
    await spawner.enterSandbox(wrapper, dir);
    const pidFile = join(dir, 'bg');
    const tag = `gantry-bg-${process.pid}-${Date.now()}`;
    expect(await step(spawner, `(exec -a ${tag} sleep 1000) & echo $! > ${pidFile}`).promise).toMatchObject({ exitCode: 0 });
    const check = step(spawner, `kill -0 $(cat ${pidFile}) && echo alive`);
    expect(await check.promise).toMatchObject({ exitCode: 0 });
    expect(check.stdout()).toBe('alive\n');
    const timed = step(spawner, 'sleep 1000 & setsid sleep 1000 & wait', { timeoutMs: 200, killGraceMs: 300 });
    expect(await timed.promise).toMatchObject({ timedOut: true });
    expect(tagged(tag)).toHaveLength(1);
    await spawner.leaveSandbox();
    expect(tagged(tag)).toEqual([]);
    // The same helper runs on outside the sandbox: /tmp is the host's again.
    const outside = join(tmpdir(), `gantry-outside-${process.pid}-${Date.now()}`);
    expect(await step(spawner, `echo out > ${outside}`).promise).toMatchObject({ exitCode: 0 });
    expect(readFileSync(outside, 'utf8')).toBe('out\n');
    rmSync(outside);
    expect(spawner.reusable).toBe(true);
  });

  it('runs a step that is a sandbox of its own, and reports its end only once nothing of that sandbox is left', async () => {
    const spawner = await helper();
    const tag = `gantry-direct-${process.pid}-${Date.now()}`;
    const sandbox = { workspaceDir: dir, privateDirs: [], hiddenPaths: [], network: true, cwd: dir };
    // bubblewrap exits as soon as its init reports the step's end, before the init has ended the
    // rest of the sandbox; the init is then the helper's child (a subreaper) for a while.
    for (let i = 0; i < 10; i++) {
      const argv = sandboxArgv(['bash', '-c', `(exec -a ${tag} sleep 1000) & echo $$`], sandbox);
      const s = step(spawner, '', { argv, sandboxed: true });
      expect(await s.promise).toMatchObject({ exitCode: 0 });
      expect(s.stdout()).toBe('2\n');
      expect(spawner.adopted()).toEqual([]);
      expect(tagged(tag)).toEqual([]);
    }
    expect(spawner.reusable).toBe(true);
  });

  it('starts the sandbox from the helper, not from Node: the bubblewrap is its child', async () => {
    const spawner = await helper();
    const wrapper = sandboxArgv([], { workspaceDir: dir, privateDirs: [], hiddenPaths: [], network: true, cwd: dir });
    await spawner.enterSandbox(wrapper, dir);
    const bwraps = (spawner.child.pid ? childrenOf(spawner.child.pid) : []).filter((pid) => commOf(pid) === 'bwrap');
    expect(bwraps).toHaveLength(1);
    expect(childrenOf(process.pid).filter((pid) => commOf(pid) === 'bwrap')).toEqual([]);
    await spawner.leaveSandbox();
  });

  it('reports a sandbox that does not start, and is not reused', async () => {
    const spawner = await helper();
    await expect(spawner.enterSandbox(['bwrap', '--no-such-option'], dir)).rejects.toThrow(/sandbox did not start/);
    expect(spawner.reusable).toBe(false);
  });

  it('a sandbox whose helper is killed fails the running step, and the helper is not reused', async () => {
    const spawner = await helper();
    const wrapper = sandboxArgv([], { workspaceDir: dir, privateDirs: [], hiddenPaths: [], network: true, cwd: dir });
    await spawner.enterSandbox(wrapper, dir);
    await expect(step(spawner, 'kill -9 $PPID; sleep 1000').promise).rejects.toThrow(/ended unexpectedly/);
    expect(spawner.usable).toBe(false);
    await spawner.leaveSandbox();
    expect(spawner.reusable).toBe(false);
  });
});

const commOf = (pid: number) => readStat(pid)?.comm ?? '';

describe('MarkedStream', () => {
  it('splits output at markers, also when a marker is cut across chunks', async () => {
    const marker = Buffer.from('\x1e<end>\x1e');
    const got: string[] = [];
    const stream = new MarkedStream(marker, (c) => got.push(c.toString('latin1')));
    stream.push(Buffer.from('one\ntwo\x1e<e'));
    expect(got.join('')).toBe('one\ntwo');
    stream.push(Buffer.from('nd>\x1eafter\x1e'));
    await stream.until(1);
    stream.push(Buffer.from('x\x1e<end>\x1e'));
    await stream.until(2);
    expect(got.join('|')).toBe('one\ntwo|after|\x1ex');
    expect(stream.seen).toBe(2);
  });
});
