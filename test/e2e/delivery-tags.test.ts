/**
 * Releases by tag: staging follows the default branch (`auto: true`), production follows `v*`
 * tags (`auto: { tags }`), on a repository Gantry polls by URL whose default branch is `trunk`
 * (the default branch is the remote's HEAD, not a name Gantry assumes).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo, type TestRepo } from '../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const SERVICE = readFileSync(join(import.meta.dirname, 'fixtures', 'service.js'), 'utf8');
const GANTRY_YAML = `
pipeline:
  on: { push: { branches: [trunk], tags: ['v*'] } }
  jobs:
    build: { steps: ["node --check server.js"] }
service:
  run: node server.js
  health: { path: /healthz, readiness: { interval: 100ms } }
environments:
  staging: { auto: true, strategy: { recreate: {} } }
  production: { auto: { tags: ['v*', '!v*-rc*'] }, strategy: { recreate: {} } }
`;

interface Release {
  id: string;
  number: number;
  ref: string;
  sha: string;
}
interface EnvironmentView {
  environment: { currentReleaseId: string | null } | null;
  live: { port: number | null };
}

describe('releases by tag', () => {
  let server: TestServer;
  let work: TestRepo;
  let bare = '';
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    server = await startTestServer({ options: { pollIntervalMs: 200 } });
    cleanups.push(() => server.cleanup());
    work = await makeRepo({ 'server.js': SERVICE, 'gantry.yaml': GANTRY_YAML }, { branch: 'trunk' });
    cleanups.push(() => work.cleanup());
    const parent = await mkdtemp(join(tmpdir(), 'gantry-bare-'));
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    bare = join(parent, 'shop.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    expect((await server.api('POST', '/api/projects', { url: `file://${bare}`, name: 'shop' })).status).toBe(201);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const releases = async () => (await server.api<{ releases: Release[] }>('GET', '/api/projects/shop/releases')).body.releases;
  const environment = async (name: string) =>
    (await server.api<EnvironmentView>('GET', `/api/projects/shop/environments/${name}/rollout`)).body;
  const serving = (name: string, releaseId: string) =>
    waitFor(
      async () => {
        const view = await environment(name);
        return view.environment?.currentReleaseId === releaseId && view.live.port ? view.live.port : undefined;
      },
      { what: `${name} to serve release ${releaseId}`, timeoutMs: 30_000 },
    );
  /** The release the instance behind the environment's port says it runs. */
  const answering = async (port: number) => {
    const env = JSON.parse(await (await fetch(`http://127.0.0.1:${port}/gantry-env`)).text()) as Record<string, string>;
    const release = (await releases()).find((r) => r.id === env.GANTRY_RELEASE_ID);
    // It knows its release's number, ref and commit.
    expect(env).toMatchObject({
      GANTRY_RELEASE_NUMBER: String(release?.number),
      GANTRY_RELEASE_REF: release?.ref,
      GANTRY_RELEASE_SHA: release?.sha,
    });
    return env.GANTRY_RELEASE_ID;
  };
  const push = (...refs: string[]) => execFileSync('git', ['-C', work.dir, 'push', '-q', bare, ...refs]);

  it('deploys the default branch to staging and v* tags to production, each by itself', async () => {
    const trunk = await work.commit({ 'README.md': 'one\n' }, 'one');
    push('trunk');
    const first = await waitFor(async () => (await releases()).find((r) => r.sha === trunk), {
      what: 'a release of trunk',
      timeoutMs: 30_000,
    });
    expect(first.ref).toBe('refs/heads/trunk');
    expect(await answering(await serving('staging', first.id))).toBe(first.id);

    work.git('tag', '-a', 'v1.0.0', '-m', 'first release');
    push('v1.0.0');
    const tagged = await waitFor(async () => (await releases()).find((r) => r.ref === 'refs/tags/v1.0.0'), {
      what: 'a release of v1.0.0',
      timeoutMs: 30_000,
    });
    // The release is of the commit the annotated tag points to.
    expect(tagged.sha).toBe(trunk);
    expect(await answering(await serving('production', tagged.id))).toBe(tagged.id);
    // Staging follows trunk only: it still serves the first release.
    expect((await environment('staging')).environment?.currentReleaseId).toBe(first.id);

    // A release candidate runs, but no environment takes it: no release; the next tag is the next release.
    work.git('tag', 'v1.1.0-rc1');
    push('v1.1.0-rc1');
    const runs = async () =>
      (await server.api<{ runs: { id: string; event: { ref: string } }[] }>('GET', '/api/runs?project=shop')).body.runs;
    const candidate = await waitFor(async () => (await runs()).find((r) => r.event.ref === 'refs/tags/v1.1.0-rc1'), {
      what: 'a run of v1.1.0-rc1',
      timeoutMs: 30_000,
    });
    expect((await waitForRunEnd(server, candidate.id)).status).toBe('success');
    work.git('tag', 'v1.1.0');
    push('v1.1.0');
    const next = await waitFor(async () => (await releases()).find((r) => r.ref === 'refs/tags/v1.1.0'), {
      what: 'a release of v1.1.0',
      timeoutMs: 30_000,
    });
    expect(next.number).toBe(tagged.number + 1);
    expect((await releases()).map((r) => r.ref)).toEqual(['refs/tags/v1.1.0', 'refs/tags/v1.0.0', 'refs/heads/trunk']);
    expect(await answering(await serving('production', next.id))).toBe(next.id);

    // The project's environments say what deploys there by itself (the dashboard's project page shows it).
    const listed = await server.api<{ environments: { name: string; auto: unknown }[] }>('GET', '/api/projects/shop/environments');
    expect(Object.fromEntries(listed.body.environments.map((e) => [e.name, e.auto]))).toEqual({
      staging: true,
      production: { tags: ['v*', '!v*-rc*'] },
    });

    // A release can be named by the tag it was made from.
    const byTag = await server.api<{ rollout: { releaseId: string } }>('POST', '/api/projects/shop/environments/staging/deploy', {
      release: 'v1.0.0',
    });
    expect(byTag.status).toBe(201);
    expect(await answering(await serving('staging', tagged.id))).toBe(tagged.id);
    const unknown = await server.api<{ error: { message: string } }>('POST', '/api/projects/shop/environments/staging/deploy', {
      release: 'v9.9.9',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/release v9\.9\.9 of shop does not exist: name it by number, id or tag/);
  });
});
