import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { type GreetingServer, greetingServer } from '../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxArgv, sandboxAvailable, type SandboxOptions } from '../../src/executor/sandbox.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';

describe('sandboxArgv', () => {
  it('hides first, then binds the workspace and private dirs back, then runs argv', () => {
    const root = mkdtempSync(join(tmpdir(), 'gantry-sbx-argv-'));
    try {
      const data = join(root, 'data');
      mkdirSync(data);
      writeFileSync(join(root, 'file'), 'x');
      const argv = sandboxArgv(['bash', 'script'], {
        workspaceDir: join(data, 'ws'),
        privateDirs: [join(data, 'ws.tmp')],
        hiddenPaths: [data, join(root, 'file'), join(root, 'missing')],
        network: false,
        cwd: join(data, 'ws'),
      });
      expect(argv).toEqual([
        'bwrap',
        '--ro-bind',
        '/',
        '/',
        '--dev',
        '/dev',
        '--proc',
        '/proc',
        '--tmpfs',
        '/tmp',
        '--tmpfs',
        data,
        '--ro-bind',
        '/dev/null',
        join(root, 'file'),
        '--bind',
        join(data, 'ws'),
        join(data, 'ws'),
        '--bind',
        join(data, 'ws.tmp'),
        join(data, 'ws.tmp'),
        '--unshare-pid',
        '--unshare-ipc',
        '--unshare-uts',
        '--die-with-parent',
        '--new-session',
        '--unshare-net',
        '--chdir',
        join(data, 'ws'),
        '--',
        'bash',
        'script',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.runIf(requirement('bubblewrap', hasBubblewrap()))('inside the sandbox', () => {
  let root: string;
  let opts: SandboxOptions;
  let server: GreetingServer;
  let port: number;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'gantry-sbx-'));
    const data = join(root, 'data');
    const ws = join(data, 'work', 'run1', 'job-a');
    mkdirSync(ws, { recursive: true });
    mkdirSync(`${ws}.tmp`);
    mkdirSync(join(data, 'work', 'run1', 'job-b'));
    writeFileSync(join(data, 'work', 'run1', 'job-b', 'other.txt'), 'other job');
    writeFileSync(join(data, 'secret.key'), 'top secret');
    opts = { workspaceDir: ws, privateDirs: [`${ws}.tmp`], hiddenPaths: [data], network: false, cwd: ws };
    server = await greetingServer('hi\n');
    port = server.port;
  });
  afterAll(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Asynchronous, so that the test's own TCP server keeps answering meanwhile. */
  const sh = (script: string, o: Partial<SandboxOptions> = {}) => {
    const argv = sandboxArgv(['bash', '-c', script], { ...opts, ...o });
    return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      execFile(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 20_000 }, (error, out, err) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out, err });
      });
    });
  };

  it('is reported available', () => {
    expect(sandboxAvailable()).toBe(true);
  });

  it('keeps the host read-only and the workspace and private dirs writable', async () => {
    expect((await sh('touch /usr/gantry-test')).code).not.toBe(0);
    expect((await sh('touch /etc/gantry-test')).code).not.toBe(0);
    const r = await sh(`echo made > made.txt && echo tmp > ${opts.privateDirs[0]}/t && pwd`);
    expect(r).toMatchObject({ code: 0, out: `${opts.workspaceDir}\n` });
    expect(readFileSync(join(opts.workspaceDir, 'made.txt'), 'utf8')).toBe('made\n');
  });

  it('hides the data dir: other workspaces and secret files are invisible', async () => {
    const data = join(root, 'data');
    const r = await sh(`ls ${data}/work/run1; cat ${data}/secret.key; cat ${data}/work/run1/job-b/other.txt; true`);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual(['job-a', 'job-a.tmp']);
    expect(r.out).not.toContain('secret');
    expect(r.out).not.toContain('other job');
  });

  it('cuts the network when network is false, and not otherwise', async () => {
    const connect = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -n1 <&3`;
    expect((await sh(connect, { network: false })).code).not.toBe(0);
    expect(await sh(connect, { network: true })).toMatchObject({ code: 0, out: 'hi\n' });
  });
});
