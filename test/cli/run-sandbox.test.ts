/** `gantry run` without --no-sandbox: jobs run in bubblewrap where it works. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { parseReport, runCli } from '../support/cli.ts';
import { jobLog, makeRepo, type TestRepo } from '../support/repo.ts';

const repos: TestRepo[] = [];
const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
  await Promise.all(scratch.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe.runIf(requirement('bubblewrap', hasBubblewrap()))('gantry run in the sandbox', () => {
  it('sees the working tree, but a fresh /tmp, a read-only host and none of the data dir', async () => {
    const marker = `/tmp/gantry-sandbox-${randomUUID()}`;
    // A host directory outside /tmp (the sandbox's /tmp is its own, so a path there proves nothing).
    const hostDir = await mkdtemp('/var/tmp/gantry-sandbox-');
    scratch.push(hostDir);
    const repo = await makeRepo({ 'gantry.yaml': 'placeholder' });
    repos.push(repo);
    await repo.write({
      '.gantry/admin.token': 'a server token beside the local runs\n',
      'input.txt': 'uncommitted input\n',
      'gantry.yaml': `
pipeline:
  jobs:
    probe:
      steps:
        - run: |
            cat input.txt
            echo written > ${marker} && echo "tmp-write-ok"
            if touch ${hostDir}/escaped 2>/dev/null; then echo "host-writable"; else echo "host-read-only"; fi
            if ls ${repo.dir}/.gantry/local/runs/*/jobs 2>/dev/null | grep -q probe; then echo "data-visible"; else echo "data-hidden"; fi
            if test -e ${repo.dir}/.gantry/admin.token; then echo "server-data-visible"; else echo "server-data-hidden"; fi
`,
    });
    const result = await runCli(repo.dir, ['run', '--json']);

    expect(result.code).toBe(0);
    const report = parseReport(result.stdout);
    const log = await jobLog(repo, report.id, 'probe');
    expect(log).toContain('uncommitted input');
    expect(log).toContain('tmp-write-ok');
    expect(log).toContain('server-data-hidden'); // a server's data dir in the same repo is hidden too
    expect(existsSync(marker)).toBe(false); // its /tmp was its own
    expect(log).toContain('host-read-only');
    expect(existsSync(path.join(hostDir, 'escaped'))).toBe(false);
    expect(log).toContain('data-hidden');
  });
});
