/**
 * What of the host's environment a service instance sees: as for job steps (see
 * test/executor/job-environment.test.ts), PATH, LANG, LC_ALL, TZ, the proxy and CA settings and
 * the names of `passEnv`, nothing else; in the sandbox the CA file those settings name is
 * readable even under /tmp (the instance's /tmp is its own).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INHERITED_ENV, NETWORK_ENV } from '../../src/platform/child-env.ts';
import { INSTANCE_KEY_VAR } from '../../src/runtime/process-control.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { boxedService, spec, supervisorHarness } from './helpers.ts';

const MODES = requirement('bubblewrap', hasBubblewrap()) ? (['off', 'auto'] as const) : (['off'] as const);
const h = supervisorHarness();

let caDir: string;
const saved = new Map<string, string | undefined>();
beforeAll(() => {
  caDir = mkdtempSync(join(tmpdir(), 'gantry-instance-ca-'));
  const caFile = join(caDir, 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n(the proxy CA)\n-----END CERTIFICATE-----\n');
  const host = {
    HTTPS_PROXY: 'http://proxy.example:3128',
    NODE_EXTRA_CA_CERTS: caFile,
    EXTRA_NAME: 'passed on because the operator named it',
    UNLISTED_HOST_VAR: 'never seen by an instance',
    GANTRY_TOKEN: 'the admin token',
  };
  for (const [name, value] of Object.entries(host)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
});
afterAll(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(caDir, { recursive: true, force: true });
});

/** What the supervisor sets for every instance, and what bash adds itself. */
const INSTANCE_SET = ['GANTRY_ENVIRONMENT', 'PORT', 'HOME', 'TMPDIR', 'GANTRY_INSTANCE_ID', 'GANTRY_RELEASE_ID', INSTANCE_KEY_VAR];
const BASH_SET = ['PWD', 'SHLVL', '_'];

describe.each(MODES)('the instance environment (sandbox %s)', (sandbox) => {
  it("is the host's base, network and named variables, the instance's own, and nothing else; the CA file is readable", async () => {
    // Made after the host variables are set: the supervisor reads them once.
    await h.supervisor.detach();
    const supervisor = h.make({ passEnv: ['EXTRA_NAME'] });
    const service = boxedService(join(h.dataDir, 'releases', 'r1'));
    service.run = `{ env | cut -d= -f1 | sort | tr "\\n" " "; echo; head -n1 "$NODE_EXTRA_CA_CERTS"; } > "$HOME/seen.txt"; ${service.run}`;
    await supervisor.start(spec(h.dataDir, 'web', { sandbox, service, env: { OWN_VAR: 'from the environment config' } }));
    const ready = await supervisor.waitReady('web', 20_000);
    expect(ready.sandboxed).toBe(sandbox === 'auto');

    const [names, caLine] = readFileSync(join(h.dataDir, 'instances', 'web', 'home', 'seen.txt'), 'utf8').split('\n');
    const fromHost = [...INHERITED_ENV, ...NETWORK_ENV, 'EXTRA_NAME'].filter((name) => process.env[name] !== undefined);
    const expected = [...new Set([...fromHost, ...INSTANCE_SET, ...BASH_SET, 'OWN_VAR'])].sort();
    expect(names?.trim().split(' ')).toEqual(expected);
    expect(names).toContain('HTTPS_PROXY');
    expect(caLine).toBe('-----BEGIN CERTIFICATE-----');
  });
});
