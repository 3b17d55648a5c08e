/**
 * Pull request runs through a real server (ADR 0054): a URL project whose "forge" is a bare
 * repository holding each pull request's head under refs/pull/N/head, as GitHub's do (GitHub
 * itself cannot run here: its webhook is the payload GitHub documents, signed with the project's
 * secret). The mirror fetches those refs with the branches; the run is of the head commit, with
 * the pull request's own gantry.yaml.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo, type TestRepo } from '../../support/repo.ts';
import { startTestServer, type TestServer, waitForRunEnd } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

const CONFIG = [
  'pipeline:',
  '  on:',
  '    pull_request:',
  '      branches: [main]',
  "      paths-ignore: ['docs/**']",
  '  jobs:',
  '    check:',
  '      steps:',
  '        - run: echo "pr ${{ gantry.event }} ${{ gantry.head_ref }} into ${{ gantry.base_ref }} as $GANTRY_REF_NAME, token of ${#TOKEN} characters"',
  "          env: { TOKEN: '${{ secrets.TOKEN }}' }",
  '    deps:',
  '      cache: { key: deps-1, paths: [deps] }',
  '      steps:',
  '        - run: cat deps/out 2>/dev/null || (mkdir -p deps && echo "saved by $GANTRY_EVENT $GANTRY_REF_NAME" | tee deps/out)',
].join('\n');

describe('pull request runs', () => {
  let server: TestServer;
  let work: TestRepo;
  let bare = '';
  let secret = '';
  let projectId = '';
  const cleanups: (() => Promise<unknown>)[] = [];
  /** Stands in for GitHub's statuses API (GitHub cannot run here): records what it is sent; answers 502 when told to. */
  const forge = {
    url: '',
    received: [] as { path: string; authorization: string | undefined; body: Record<string, string> }[],
    failNext: 0,
    /** A state the forge refuses once with 403 (not tried again), as if the server had died before sending it. */
    refuseState: '',
  };
  /** The head of the pull request whose statuses reached the forge. */
  let reportedSha = '';

  beforeAll(async () => {
    const forgeServer = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        if (forge.failNext > 0) {
          forge.failNext -= 1;
          res.writeHead(502).end();
          return;
        }
        if (forge.refuseState !== '' && (JSON.parse(body) as { state: string }).state === forge.refuseState) {
          forge.refuseState = '';
          res.writeHead(403).end();
          return;
        }
        forge.received.push({ path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(body) });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => forgeServer.listen(0, '127.0.0.1', resolve));
    forge.url = `http://127.0.0.1:${(forgeServer.address() as AddressInfo).port}`;
    cleanups.push(() => new Promise((resolve) => forgeServer.close(resolve)));
    // No polling during the test: what starts runs here is the webhook.
    server = await startTestServer({ options: { pollIntervalMs: 3_600_000 } });
    cleanups.push(() => server.cleanup());
    work = await makeRepo({ 'gantry.yaml': CONFIG, 'src/app.txt': 'v1' });
    cleanups.push(() => work.cleanup());
    const parent = await mkdtemp(join(tmpdir(), 'gantry-forge-'));
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    bare = join(parent, 'shop.git');
    execFileSync('git', ['clone', '-q', '--bare', work.dir, bare]);
    const added = await server.api<{ project: { id: string }; webhook: { secret: string } }>('POST', '/api/projects', {
      url: `file://${bare}`,
      name: 'shop',
    });
    expect(added.status).toBe(201);
    projectId = added.body.project.id;
    secret = added.body.webhook.secret;
    expect((await server.api('PUT', '/api/projects/shop/secrets/TOKEN', { value: 'hunter2' })).status).toBe(200);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A branch of `main` with these files, published as pull request `number`'s head, as the forge does. */
  async function openPullRequest(number: number, branch: string, files: Record<string, string>): Promise<string> {
    work.git('checkout', '-q', '-b', branch, 'main');
    const sha = await work.commit(files, `change for #${number}`);
    work.git('checkout', '-q', 'main');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, `${sha}:refs/pull/${number}/head`]);
    return sha;
  }

  /** GitHub's pull_request delivery (the fields its documentation shows, trimmed), signed with the project's secret. */
  async function deliver(
    action: string,
    number: number,
    o: { sha: string; head: string; base?: string; fromRepo?: string },
  ): Promise<{ status: number; body: { runId?: string; skipped?: string } }> {
    const payload = JSON.stringify({
      action,
      number,
      pull_request: {
        number,
        title: `Pull request ${number}`,
        head: { ref: o.head, sha: o.sha, repo: { full_name: o.fromRepo ?? 'acme/shop' } },
        base: { ref: o.base ?? 'main', repo: { full_name: 'acme/shop' } },
      },
      repository: { full_name: 'acme/shop', statuses_url: `${forge.url}/repos/acme/shop/statuses/{sha}` },
    });
    const response = await fetch(`${server.url}/api/webhooks/${projectId}`, {
      method: 'POST',
      body: payload,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`,
      },
    });
    return { status: response.status, body: (await response.json()) as { runId?: string; skipped?: string } };
  }

  async function logOf(runId: string, job = 'check'): Promise<string> {
    expect((await waitForRunEnd(server, runId)).status).toBe('success');
    return (await server.api<string>('GET', `/api/runs/${runId}/jobs/${job}/log`)).body;
  }

  it("runs a pull request's head commit with its branches in the context, and the project's secrets when it comes from the repository itself", async () => {
    const sha = await openPullRequest(7, 'feature/fast', { 'src/app.txt': 'v2' });
    const delivered = await deliver('opened', 7, { sha, head: 'feature/fast' });
    expect(delivered.status).toBe(202);
    expect(await logOf(delivered.body.runId as string)).toContain(
      'pr pull_request feature/fast into main as 7/head, token of 7 characters',
    );
    const run = await server.api<{ run: { event: Record<string, unknown> } }>('GET', `/api/runs/${delivered.body.runId}`);
    expect(run.body.run.event).toMatchObject({
      kind: 'pull_request',
      ref: 'refs/pull/7/head',
      sha,
      changedFiles: ['src/app.txt'],
      pullRequest: { number: 7, action: 'opened', baseRef: 'main', headRef: 'feature/fast', fork: false },
    });
  });

  it('gives a pull request from a fork no secrets: its code and its gantry.yaml come from outside', async () => {
    const sha = await openPullRequest(8, 'fork-change', {
      'src/app.txt': 'v3',
      // The fork's own gantry.yaml is what runs: here it tries to print the secret.
      'gantry.yaml': CONFIG.replace('token of ${#TOKEN} characters', 'token [$TOKEN]'),
    });
    const delivered = await deliver('synchronize', 8, { sha, head: 'fork-change', fromRepo: 'mallory/shop' });
    expect(delivered.status).toBe(202);
    const log = await logOf(delivered.body.runId as string);
    expect(log).toContain('as 8/head, token []');
    expect(log).not.toContain('hunter2');
  });

  it('filters on the files changed since the pull request left its base branch, as GitHub compares them', async () => {
    const sha = await openPullRequest(9, 'docs-only', { 'docs/guide.md': 'how to' });
    // The base branch moves on after the branch point: its change to src/ is not the pull request's.
    await work.commit({ 'src/app.txt': 'main moved on' }, 'main moves on');
    execFileSync('git', ['-C', work.dir, 'push', '-q', bare, 'main']);
    const delivered = await deliver('opened', 9, { sha, head: 'docs-only' });
    expect(delivered.body.skipped).toBe(
      "pull request #9 (docs-only into main) was opened; base branch 'main' matches branches (main), but all 1 changed files match paths-ignore (docs/**)",
    );
  });

  it('starts nothing for another base branch, a closed pull request or an action no trigger takes, and says why', async () => {
    const sha = await openPullRequest(10, 'to-dev', { 'src/app.txt': 'for dev' });
    expect((await deliver('opened', 10, { sha, head: 'to-dev', base: 'dev' })).body.skipped).toBe(
      "pull request #10 (to-dev into dev) was opened, but base branch 'dev' does not match branches (main)",
    );
    expect((await deliver('closed', 10, { sha, head: 'to-dev' })).body.skipped).toBe(
      'pull request #10 (to-dev into main) was closed, and only opened, synchronize, reopened pull requests trigger this pipeline (the default types)',
    );
    expect(await deliver('labeled', 10, { sha, head: 'to-dev' })).toEqual({
      status: 202,
      body: { skipped: "pull request #10: 'labeled' starts nothing" },
    });
    const ignored = await server.api<{ events: { data: { reason: string; kind: string; ref: string } }[] }>(
      'GET',
      '/api/events?type=trigger.ignored&project=shop',
    );
    expect(ignored.body.events.map((e) => e.data)).toContainEqual(
      expect.objectContaining({ kind: 'pull_request', ref: 'refs/pull/10/head', reason: expect.stringContaining("base branch 'dev'") }),
    );
  });

  it("saves a pull request's caches for it alone, and restores its base's: what a fork saved never reaches the default branch", async () => {
    const sha = await openPullRequest(11, 'cached', { 'src/app.txt': 'cached' });
    const first = await deliver('opened', 11, { sha, head: 'cached' });
    const prLog = await logOf(first.body.runId as string, 'deps');
    expect(prLog).toContain('cache miss: deps-1');
    expect(prLog).toContain('saved by pull_request 11/head');
    expect(prLog).toContain('cache saved: deps-1');
    // The default branch misses: the pull request's entry is its own.
    const manual = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    const mainLog = await logOf(manual.body.run.id, 'deps');
    expect(mainLog).toContain('cache miss: deps-1');
    expect(mainLog).toContain('saved by manual main');
    // The pull request gets its own back; another pull request gets the project's.
    const again = await deliver('synchronize', 11, { sha, head: 'cached' });
    const againLog = await logOf(again.body.runId as string, 'deps');
    expect(againLog).toContain('cache restored (exact hit): deps-1');
    expect(againLog).toContain('saved by pull_request 11/head');
    const otherSha = await openPullRequest(14, 'other-change', { 'src/app.txt': 'other' });
    const other = await deliver('opened', 14, { sha: otherSha, head: 'other-change' });
    const otherLog = await logOf(other.body.runId as string, 'deps');
    expect(otherLog).toContain('cache restored (exact hit): deps-1');
    expect(otherLog).toContain('saved by manual main');
  });

  it("keeps each project's cache to itself: another project's job with the same key misses", async () => {
    // shop's default branch saved deps-1 in the test above.
    const other = await makeRepo({
      'gantry.yaml':
        'pipeline:\n  jobs:\n    deps:\n      cache: { key: deps-1, paths: [deps] }\n      steps:\n        - run: ls deps || true\n',
    });
    cleanups.push(() => other.cleanup());
    expect((await server.api('POST', '/api/projects', { path: other.dir, name: 'other' })).status).toBe(201);
    const run = await server.api<{ run: { id: string } }>('POST', '/api/projects/other/runs', {});
    const log = await logOf(run.body.run.id, 'deps');
    expect(log).toContain('cache miss: deps-1');
    expect(log).not.toContain('out');
    // shop still has its own.
    const again = await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {});
    expect(await logOf(again.body.run.id, 'deps')).toContain('cache restored (exact hit): deps-1');
  });

  it("reports the run to the forge as commit statuses, pending then its end, with the project's FORGE_TOKEN, trying again after a 502", async () => {
    // Without a token nothing was sent for the runs above.
    expect(forge.received).toEqual([]);
    expect((await server.api('PUT', '/api/projects/shop/secrets/FORGE_TOKEN', { value: 'ghp_forge' })).status).toBe(200);
    const sha = await openPullRequest(12, 'reported', { 'src/app.txt': 'reported' });
    reportedSha = sha;
    forge.failNext = 1;
    const delivered = await deliver('opened', 12, { sha, head: 'reported' });
    const runId = delivered.body.runId as string;
    expect((await waitForRunEnd(server, runId)).status).toBe('success');
    const statuses = await waitFor(() => (forge.received.length >= 2 ? forge.received : undefined), {
      what: 'the pending and the final status',
    });
    expect(statuses).toEqual([
      {
        path: `/repos/acme/shop/statuses/${sha}`,
        authorization: 'Bearer ghp_forge',
        body: {
          state: 'pending',
          context: 'gantry',
          target_url: `${server.url}/runs/${runId}`,
          description: 'Gantry is running the pipeline',
        },
      },
      {
        path: `/repos/acme/shop/statuses/${sha}`,
        authorization: 'Bearer ghp_forge',
        body: { state: 'success', context: 'gantry', target_url: `${server.url}/runs/${runId}`, description: 'The pipeline passed' },
      },
    ]);
  });

  it('sends a final status that never reached the forge when the server starts again', async () => {
    await server.api('PUT', '/api/projects/shop/secrets/FORGE_TOKEN', { value: 'ghp_forge' });
    const sha = await openPullRequest(13, 'lost', { 'src/app.txt': 'lost' });
    forge.refuseState = 'success';
    const runId = (await deliver('opened', 13, { sha, head: 'lost' })).body.runId as string;
    expect((await waitForRunEnd(server, runId)).status).toBe('success');
    await waitFor(() => forge.refuseState === '', { what: 'the forge to refuse the final status' });
    await server.close();
    const again = await startTestServer({ dataDir: server.dataDir, options: { pollIntervalMs: 3_600_000 } });
    cleanups.push(() => again.cleanup());
    const resent = await waitFor(() => forge.received.find((r) => r.path.endsWith(sha) && r.body.state === 'success'), {
      what: 'the final status sent again',
    });
    expect(resent.body.target_url).toBe(`${again.url}/runs/${runId}`);
    const recorded = await again.api<{ events: { data: { runId: string; state: string } }[] }>('GET', '/api/events?type=forge.status.sent');
    expect(recorded.body.events.map((e) => e.data)).toContainEqual({ runId, state: 'success' });
    // A run whose final status did reach the forge is not sent again.
    expect(forge.received.filter((r) => r.path.endsWith(reportedSha) && r.body.state === 'success')).toHaveLength(1);
  });
});
