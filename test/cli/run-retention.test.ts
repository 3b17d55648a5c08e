import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_RUNS_KEPT } from '../../src/engine/local-run.ts';
import { parseReport, runCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

describe('gantry run keeps .gantry/ small', () => {
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await repo?.cleanup();
  });

  it("keeps the newest local runs only and drops each run's source copy", async () => {
    repo = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    a: { steps: [echo a] }\n' });
    const old = Array.from({ length: LOCAL_RUNS_KEPT + 5 }, (_, i) => `01AAAAAAAAAAAAAAAAAAAAAA${String(i).padStart(2, '0')}`);
    for (const id of old) await mkdir(join(repo.dir, '.gantry', 'local', 'runs', id, 'jobs'), { recursive: true });
    const result = await runCli(repo.dir, ['run', '--no-sandbox', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const { id } = parseReport(result.stdout);
    const left = (await readdir(join(repo.dir, '.gantry', 'local', 'runs'))).sort();
    expect(left).toHaveLength(LOCAL_RUNS_KEPT);
    expect(left).toContain(id);
    expect(left).not.toContain(old[0]);
    expect(await readdir(join(repo.dir, '.gantry', 'local', 'runs', id))).toEqual(['jobs']);
  });
});
