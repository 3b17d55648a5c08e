import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const JUNIT = `<?xml version="1.0"?>
<testsuite name="math" tests="2" failures="1">
  <testcase classname="math" name="adds"/>
  <testcase classname="math" name="divides by zero"><failure message="boom"/></testcase>
</testsuite>`;

describe('gantry run on failure', () => {
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await repo?.cleanup();
  });

  it('names the failing tests and shows the end of the log, not its start', async () => {
    repo = await makeRepo({
      'gantry.yaml': `
pipeline:
  jobs:
    test:
      reports: { junit: "reports/*.xml" }
      steps:
        - run: |
            mkdir -p reports && cp junit.xml reports/
            for i in $(seq 1 3000); do echo "noise line $i"; done
            echo "the real reason"; exit 3
`,
      'junit.xml': JUNIT,
    });
    const result = await runCli(repo.dir, ['run', '--no-sandbox']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('✘ math › divides by zero');
    expect(result.stderr).not.toContain('math › adds');
    expect(result.stderr).toContain('the real reason');
    expect(result.stderr).toContain('noise line 3000');
    expect(result.stderr).not.toContain('noise line 1\n');
  });
});
