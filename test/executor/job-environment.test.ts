/**
 * What of the host's environment a job step sees (docs/job-environment.md): PATH, LANG, LC_ALL,
 * TZ, the proxy and CA settings, the names of `passEnv`, and nothing else; with the CA files those
 * settings name readable inside the sandbox even under /tmp. The end-to-end case is a
 * TLS-intercepting network: an HTTPS server whose certificate comes from a private CA, trusted by
 * the host through NODE_EXTRA_CA_CERTS, fetched by the Node that runs the tests (the npm `node`
 * package, which uses its own bundled CA list, like Node from nvm).
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StepConfig } from '../../src/core/types.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { parseLogLine } from '../../src/executor/log-writer.ts';
import type { JobSpec } from '../../src/executor/ports.ts';
import { INHERITED_ENV, NETWORK_ENV } from '../../src/platform/child-env.ts';
import { jobSpecUnder } from '../support/job-spec.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';

const MODES = requirement('bubblewrap', hasBubblewrap()) ? (['off', 'auto'] as const) : (['off'] as const);

/** What the host (the server's environment) holds for this file's tests. */
const HOST_VARS = {
  HTTPS_PROXY: 'http://proxy.example:3128',
  NO_PROXY: '127.0.0.1,localhost',
  // NODE_EXTRA_CA_CERTS and SSL_CERT_FILE: the CA file, set in beforeAll.
  EXTRA_NAME: 'passed on because the operator named it',
  UNLISTED_HOST_VAR: 'never seen by a step',
  GANTRY_TOKEN: 'the admin token',
};

let tls: string;
let caFile: string;
let https: Server;
let port: number;
const saved = new Map<string, string | undefined>();

/** A private CA and a certificate for 127.0.0.1 signed by it: what a TLS-intercepting proxy presents. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Gantry test intercepting CA');
  openssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '1',
    '-extfile',
    'leaf.ext',
  );
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  return { ca, key: readFileSync(join(dir, 'leaf.key'), 'utf8'), cert: readFileSync(join(dir, 'leaf.pem'), 'utf8') + ca };
}

beforeAll(async () => {
  // Under /tmp on purpose: the sandbox covers /tmp, so the CA must be bound back to be read.
  tls = mkdtempSync(join(tmpdir(), 'gantry-tls-'));
  const { key, cert } = makeCertificates(tls);
  caFile = join(tls, 'ca.pem');
  https = createServer({ key, cert }, (_req, res) => res.end('fetched through TLS'));
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  port = (https.address() as { port: number }).port;
  for (const [name, value] of Object.entries({ ...HOST_VARS, NODE_EXTRA_CA_CERTS: caFile, SSL_CERT_FILE: caFile })) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
});
afterAll(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await new Promise((resolve) => https.close(resolve));
  rmSync(tls, { recursive: true, force: true });
});

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-jobenv-'));
  mkdirSync(join(root, 'source'));
  writeFileSync(
    join(root, 'source', 'fetch.mjs'),
    'try { console.log(await (await fetch(process.argv[2])).text()); } catch (e) { console.log(`failed: ${e.cause?.code ?? e.message}`); }\n',
  );
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function makeSpec(steps: Partial<StepConfig>[], o: Partial<JobSpec> & { env?: Record<string, string> } = {}): JobSpec {
  return jobSpecUnder(root, steps, o);
}

function stdoutOf(spec: JobSpec): string[] {
  return readFileSync(spec.logFile, 'utf8')
    .split('\n')
    .slice(0, -1)
    .map(parseLogLine)
    .filter((l) => l.stream === 'o')
    .map((l) => l.text);
}

/** The variables Gantry sets for every step, and those bash adds itself. */
const GANTRY_SET = [
  'CI',
  'GANTRY',
  'GANTRY_BASE_REF',
  'GANTRY_ENV',
  'GANTRY_EVENT',
  'GANTRY_HEAD_REF',
  'GANTRY_JOB',
  'GANTRY_OUTPUT',
  'GANTRY_REF',
  'GANTRY_REF_NAME',
  'GANTRY_REF_TYPE',
  'GANTRY_RUN_ID',
];
const MORE_SET = ['GANTRY_SHA', 'GANTRY_WORKSPACE', 'HOME', 'TMPDIR', 'PWD', 'SHLVL', '_'];

describe.each(MODES)('the job environment (sandbox %s)', (sandbox) => {
  it("is the host's base, network and named variables, the job's own, and nothing else; the CA file is readable", async () => {
    const spec = makeSpec(
      [{ run: 'env | cut -d= -f1 | sort | tr "\\n" " "; echo; echo "NO_PROXY=$NO_PROXY"; head -n1 "$NODE_EXTRA_CA_CERTS"' }],
      { sandbox, passEnv: ['EXTRA_NAME'], env: { JOB_VAR: 'from env:', NO_PROXY: 'the job wins' } },
    );
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    const [names, noProxy, caLine] = stdoutOf(spec);
    const fromHost = [...INHERITED_ENV, ...NETWORK_ENV, 'EXTRA_NAME'].filter((name) => process.env[name] !== undefined);
    const expected = [...new Set([...fromHost, ...GANTRY_SET, ...MORE_SET, 'JOB_VAR'])].sort();
    expect(names?.trim().split(' ')).toEqual(expected);
    expect(names).toContain('HTTPS_PROXY');
    expect(noProxy).toBe('NO_PROXY=the job wins');
    expect(caLine).toBe('-----BEGIN CERTIFICATE-----');
  });

  it('reaches an HTTPS server behind a private CA the host trusts, with a Node that bundles its own CA list', async () => {
    // The sandbox mounts its own /tmp: a checkout of Gantry under /tmp (a CI clone) has its pinned
    // Node there, so the job gets a hard link of it in its source (same filesystem as tmpdir()).
    let node = process.execPath;
    if (sandbox !== 'off' && node.startsWith(`${tmpdir()}/`)) {
      linkSync(node, join(root, 'source', 'node'));
      node = './node';
    }
    const spec = makeSpec([{ run: `"${node}" fetch.mjs https://127.0.0.1:${port}/` }], { sandbox });
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    expect(stdoutOf(spec)).toEqual(['fetched through TLS']);
  });
});
