/**
 * The path from a commit to its run, counted in git processes: each one the server starts is a
 * fork of the server's process on the way to the first step. A real server, a real repository
 * with Gantry's hook, and a `git` on the server's PATH that notes its arguments, then execs the
 * real one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForRunEnd, type TestServer } from '../../support/server.ts';
import { GIT_VARS, makeRepo, type TestRepo } from '../../support/repo.ts';
import { waitFor } from '../../support/wait.ts';

interface RunList {
  runs: { id: string; event: { sha: string } }[];
}

const config = (schedule: string) =>
  `pipeline:\n  on:\n    push:\n    schedule: ['${schedule}']\n  jobs:\n    hello: { steps: [echo hi] }\n`;

describe('a commit through the git hook', () => {
  const originalPath = process.env.PATH ?? '';
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  let shimDir: string;
  let gitLog: string;
  let server: TestServer;
  let repo: TestRepo;

  beforeAll(async () => {
    shimDir = await mkdtemp(join(tmpdir(), 'gantry-git-shim-'));
    gitLog = join(shimDir, 'calls.log');
    await writeFile(gitLog, '');
    await writeFile(join(shimDir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${gitLog}'\nexec '${realGit}' "$@"\n`, { mode: 0o755 });
    process.env.PATH = `${shimDir}:${originalPath}`;
    server = await startTestServer();
    repo = await makeRepo({ 'gantry.yaml': config('0 3 * * *') });
    const added = await server.api('POST', '/api/projects', { path: repo.dir, name: 'hooked' });
    expect(added.status).toBe(201);
  });

  afterAll(async () => {
    process.env.PATH = originalPath;
    await server?.cleanup();
    await repo?.cleanup();
    await rm(shimDir, { recursive: true, force: true });
  });

  /** Commits a new schedule with the real git (not counted), waits for its run to end and for the server to read the schedule. */
  async function commitSchedule(schedule: string): Promise<void> {
    await writeFile(join(repo.dir, 'gantry.yaml'), config(schedule));
    const env = { ...process.env, ...GIT_VARS, PATH: originalPath };
    execFileSync(realGit, ['commit', '-q', '-am', schedule], { cwd: repo.dir, env });
    const sha = execFileSync(realGit, ['rev-parse', 'HEAD'], { cwd: repo.dir, env, encoding: 'utf8' }).trim();
    const run = await waitFor(
      async () => (await server.api<RunList>('GET', '/api/runs?project=hooked')).body.runs.find((r) => r.event.sha === sha),
      { what: `the run of ${sha}` },
    );
    expect((await waitForRunEnd(server, run.id)).status).toBe('success');
    // The schedule refresh is the last git work of the hook's request.
    await waitFor(
      async () => {
        const { body } = await server.api<{ schedules: { schedule: string }[] }>('GET', '/api/projects/hooked');
        return body.schedules.some((s) => s.schedule === schedule);
      },
      { what: `the schedule ${schedule}` },
    );
  }

  it('costs the server four git processes: the diff, the config, the checkout and the schedules', async () => {
    await commitSchedule('0 4 * * *'); // the first trigger also resolves where the repository keeps its objects
    const before = (await readFile(gitLog, 'utf8')).split('\n').filter(Boolean).length;
    await commitSchedule('0 5 * * *');
    const calls = (await readFile(gitLog, 'utf8')).split('\n').filter(Boolean).slice(before);
    const commands = calls.map((args) => args.split(' ').find((word) => ['diff', 'show', 'read-tree', 'rev-parse'].includes(word)));
    expect(commands.sort(), calls.join('\n')).toEqual(['diff', 'read-tree', 'show', 'show']);
    expect(calls.filter((args) => args.includes('HEAD:gantry.yaml'))).toHaveLength(1);
  });
});
