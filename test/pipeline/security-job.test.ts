/** The security job the server adds to a run's pipeline: its id, its shape, and none when every scanner is off. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { compilePlan } from '../../src/pipeline/plan.ts';
import { withSecurityJob } from '../../src/pipeline/security-job.ts';

const RUNNER = { gantry: "'/usr/bin/node' '/opt/gantry/main.js'", advisories: '/srv/osv/all.zip' };
const GANTRY = {
  sha: 'abc',
  ref: 'refs/heads/main',
  ref_name: 'main',
  ref_type: 'branch' as const,
  event: 'push' as const,
  head_ref: '',
  base_ref: '',
  run_id: 'r1',
  workspace: '',
};

describe('the security job', () => {
  it('is one more job of the DAG, without network, with no needs, collecting its SARIF', () => {
    const config = parseConfig('pipeline:\n  jobs:\n    build:\n      steps: [make]\n', 'gantry.yaml');
    const plan = compilePlan(withSecurityJob(config.pipeline, config.security, RUNNER), { inputs: {}, gantry: GANTRY });
    expect(plan.jobs.map((j) => j.key).sort()).toEqual(['build', 'security']);
    const job = plan.jobs.find((j) => j.key === 'security')?.config;
    expect(job).toMatchObject({ needs: [], network: false, builtin: 'security', env: { GANTRY_ADVISORIES: '/srv/osv/all.zip' } });
    expect(job?.reports.sarif).toBe('.gantry-security/gantry.sarif');
    expect(job?.steps[0]?.run).toContain("'/usr/bin/node' '/opt/gantry/main.js' \"$@\"");
  });

  it("takes another id when the pipeline has a job called 'security'", () => {
    const config = parseConfig('pipeline:\n  jobs:\n    security:\n      steps: [audit]\n', 'gantry.yaml');
    expect(Object.keys(withSecurityJob(config.pipeline, config.security, RUNNER).jobs)).toEqual(['security', 'gantry-security']);
  });

  it('is left out when every scanner is turned off', () => {
    const config = parseConfig(
      'pipeline:\n  jobs:\n    build:\n      steps: [make]\nsecurity:\n  secrets: false\n  dependencies: false\n  dockerfile: false\n  config: false\n  shellcheck: false\n',
      'gantry.yaml',
    );
    expect(Object.keys(withSecurityJob(config.pipeline, config.security, RUNNER).jobs)).toEqual(['build']);
  });
});
