/**
 * The step helper's child execs with syscalls only (spawner.ts): it must start what Perl's exec
 * (glibc's execvp) started, search PATH the same way and report the same failures.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spawner, type SpawnerStepOptions } from '../../src/executor/spawner.ts';

let dir: string;
let spawner: Spawner;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-spawner-exec-'));
  spawner = new Spawner({ cwd: dir });
  await spawner.started();
});
afterEach(async () => {
  await spawner.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(relative: string, text: string, mode: number): void {
  mkdirSync(join(dir, relative, '..'), { recursive: true });
  writeFileSync(join(dir, relative), text);
  chmodSync(join(dir, relative), mode);
}

async function run(argv: string[], o: Partial<SpawnerStepOptions> = {}) {
  const out: Buffer[] = [];
  const exit = await spawner.run({
    argv,
    cwd: dir,
    env: { PATH: `${join(dir, 'a')}:${join(dir, 'b')}:/usr/bin:/bin` },
    signal: new AbortController().signal,
    onStdout: (c) => out.push(c),
    onStderr: () => undefined,
    ...o,
  });
  return { exitCode: exit.exitCode, stdout: Buffer.concat(out).toString() };
}

describe('the step helper child', () => {
  it('searches PATH as execvp does: past a directory, a missing file and a file it may not run', async () => {
    mkdirSync(join(dir, 'a', 'tool'), { recursive: true });
    file('b/tool', '#!/bin/sh\necho "from b: $0 $*"\n', 0o755);
    expect(await run(['tool', 'x'])).toEqual({ exitCode: 0, stdout: `from b: ${join(dir, 'b', 'tool')} x\n` });
    rmSync(join(dir, 'a', 'tool'), { recursive: true });
    file('a/tool', '#!/bin/sh\necho never\n', 0o644);
    expect(await run(['tool', 'y'])).toEqual({ exitCode: 0, stdout: `from b: ${join(dir, 'b', 'tool')} y\n` });
  });

  it('runs a file with no known format under /bin/sh, as glibc does', async () => {
    file('b/plain', 'echo "plain $1"\n', 0o755);
    expect(await run(['plain', 'z'])).toEqual({ exitCode: 0, stdout: 'plain z\n' });
  });

  it('passes exactly the environment given, and runs in cwd', async () => {
    mkdirSync(join(dir, 'sub'));
    const { stdout } = await run(['/usr/bin/env'], { cwd: join(dir, 'sub'), env: { ONLY: 'this', PATH: '/usr/bin' } });
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['ONLY=this', 'PATH=/usr/bin']);
    expect((await run(['pwd'], { cwd: join(dir, 'sub') })).stdout).toBe(`${join(dir, 'sub')}\n`);
  });

  it('reports a file it may not run, one that is nowhere, and a missing cwd, and keeps working', async () => {
    file('a/denied', '#!/bin/sh\n', 0o644);
    await expect(run(['denied'])).rejects.toMatchObject({
      code: 'SPAWN_FAILED',
      message: 'cannot start denied: denied: Permission denied',
    });
    await expect(run(['nowhere'])).rejects.toMatchObject({ message: 'cannot start nowhere: nowhere: No such file or directory' });
    await expect(run(['true'], { cwd: join(dir, 'gone') })).rejects.toMatchObject({
      message: expect.stringMatching(/^cannot start true: chdir .*gone: No such file or directory$/),
    });
    expect(await run(['echo', 'still working'])).toEqual({ exitCode: 0, stdout: 'still working\n' });
  });
});
