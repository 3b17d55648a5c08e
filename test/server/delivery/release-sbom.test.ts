/**
 * Each release gets its SBOM when it is made: CycloneDX 1.6 JSON of the lockfiles in the
 * release's tree, stored with it and downloaded from the API; valid by the CycloneDX project's
 * own validator (strict), with every package of both lockfiles as a component.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purlOf, readLockfile } from '../../../src/security/index.ts';
import { makeRepo } from '../../support/repo.ts';
import { type TestServer, startTestServer, waitForRunEnd } from '../../support/server.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'security', 'fixtures');
const NPM_LOCK = readFileSync(join(FIXTURES, 'npm-v3', 'package-lock.json'), 'utf8');
const CARGO_LOCK = readFileSync(join(FIXTURES, 'cargo', 'Cargo.lock'), 'utf8');

const YAML = `
pipeline:
  jobs:
    build: { steps: ["true"] }
service:
  run: node server.js
`;

describe('the SBOM of a release', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let release: { id: string; number: number };

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'gantry.yaml': YAML, 'package-lock.json': NPM_LOCK, 'native/Cargo.lock': CARGO_LOCK });
    expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' })).status).toBe(201);
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    const made = await server.api<{ release: { id: string; number: number } }>('POST', '/api/projects/shop/releases', { run });
    expect(made.status).toBe(201);
    release = made.body.release;
  }, 60_000);
  afterAll(async () => {
    await server?.cleanup();
    await repo?.cleanup();
  });

  it('is valid CycloneDX 1.6 with every package of the release tree, downloaded as a file', async () => {
    const response = await fetch(`${server.url}/api/projects/shop/releases/${release.number}/sbom`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.cyclonedx+json');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="shop-release-${release.number}.cdx.json"`);
    const text = await response.text();
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(text)).toBeNull();
    const bom = JSON.parse(text) as { specVersion: string; metadata: { component: { name: string } }; components: { purl: string }[] };
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component.name).toBe('shop');
    const expected = new Set(
      [readLockfile('package-lock.json', NPM_LOCK), readLockfile('native/Cargo.lock', CARGO_LOCK)].flatMap((g) => g.packages.map(purlOf)),
    );
    expect(new Set(bom.components.map((c) => c.purl))).toEqual(expected);
  });

  it('is the same document by id, and a clear 404 for a release that does not exist', async () => {
    const byNumber = await server.api<{ serialNumber: string }>('GET', `/api/projects/shop/releases/${release.number}/sbom`);
    const byId = await server.api<{ serialNumber: string }>('GET', `/api/projects/shop/releases/${release.id}/sbom`);
    expect(byId.body.serialNumber).toBe(byNumber.body.serialNumber);
    const missing = await server.api<{ error: { code: string } }>('GET', '/api/projects/shop/releases/99/sbom');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });
});
