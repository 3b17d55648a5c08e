/**
 * The agent protocol on a real server over loopback HTTP, the test playing the agents by hand:
 * fencing (a zombie whose lease expired cannot renew, log or finish into the job that moved on),
 * agent tokens that can do nothing else and stop at once when revoked, and blobs checked by hash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Of } from '../../../src/executor/content-addressed.ts';
import { makeRepo, type TestRepo } from '../../support/repo.ts';
import { startTestServer, type TestServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

// Long enough that a loaded machine does not end the zombie's lease before the test has it report once.
const LEASE_MS = 2000;
let server: TestServer;
let repo: TestRepo;
let scratch: string;

interface Assignment {
  runId: string;
  jobKey: string;
  fence: number;
  source: { path: string; sha256: string }[];
}

async function call(token: string, method: string, path: string, body?: unknown, type = 'application/json') {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) },
    body: body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { error?: { code: string } } };
}

async function addAgent(name: string): Promise<string> {
  const added = await server.api<{ token: string }>('POST', '/api/agents', { name, labels: ['linux'] });
  expect(added.status).toBe(201);
  return added.body.token;
}

async function pollOne(token: string): Promise<Assignment> {
  const answer = await call(token, 'POST', '/api/agents/poll', { free: 1, waitMs: 5000 });
  expect(answer.status).toBe(200);
  const [assignment] = answer.body.assignments as Assignment[];
  if (!assignment) throw new Error('no assignment');
  return assignment;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'gantry-agent-proto-'));
  server = await startTestServer({ options: { agentLeaseMs: LEASE_MS } });
  repo = await makeRepo({
    'gantry.yaml': 'pipeline:\n  jobs:\n    remote:\n      runs-on: [linux]\n      artifacts: [out.txt]\n      steps: [echo hi]\n',
    'readme.txt': 'the source\n',
  });
  expect((await server.api('POST', '/api/projects', { path: repo.dir, name: 'proto' })).status).toBe(201);
});

afterAll(async () => {
  await server?.cleanup();
  await repo?.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

describe('agent protocol', () => {
  it('fences out a zombie whose lease expired: the job moves on with a higher token and only its holder may report', async () => {
    const zombie = await addAgent('zombie');
    const other = await addAgent('other');
    const runId = (await server.api<{ run: { id: string } }>('POST', '/api/projects/proto/runs', {})).body.run.id;
    const first = await pollOne(zombie);
    expect(first).toMatchObject({ runId, jobKey: 'remote', fence: 1 });
    expect(first.source.map((f) => f.path)).toEqual(['gantry.yaml', 'readme.txt']);
    const blob = await fetch(`${server.url}/api/agents/blobs/${first.source[1]?.sha256}`, {
      headers: { authorization: `Bearer ${zombie}` },
    });
    expect(Buffer.from(await blob.arrayBuffer()).toString()).toBe('the source\n');
    const ref = { runId, jobKey: 'remote', fence: 1 };
    expect(
      (await call(zombie, 'POST', '/api/agents/log', { ...ref, offset: 0, data: Buffer.from('zombie was here\n').toString('base64') }))
        .status,
    ).toBe(200);

    // The zombie goes quiet; the other agent waits in a long poll and gets the job once the lease is over.
    const second = await pollOne(other);
    expect(second).toMatchObject({ runId, jobKey: 'remote', fence: 2 });

    const renewed = await call(zombie, 'POST', '/api/agents/renew', { leases: [ref] });
    expect(renewed.body).toEqual({ leases: [{ ...ref, held: false }] });
    const late = await call(zombie, 'POST', '/api/agents/log', { ...ref, offset: 16, data: Buffer.from('late\n').toString('base64') });
    expect([late.status, late.body.error?.code]).toEqual([409, 'LEASE_LOST']);
    const result = { status: 'success', outputs: {}, steps: [], tests: null, logTruncated: false };
    const zombieFinish = await call(zombie, 'POST', '/api/agents/finish', { ...ref, result, files: [] });
    expect([zombieFinish.status, zombieFinish.body.error?.code]).toEqual([409, 'LEASE_LOST']);

    const ref2 = { runId, jobKey: 'remote', fence: 2 };
    expect(
      (await call(other, 'POST', '/api/agents/log', { ...ref2, offset: 0, data: Buffer.from('the real one\n').toString('base64') })).status,
    ).toBe(200);
    const artifact = new TextEncoder().encode('built\n');
    const sha = sha256Of(artifact);
    const wrong = await call(other, 'PUT', `/api/agents/blobs/${'0'.repeat(64)}`, artifact, 'application/octet-stream');
    expect([wrong.status, wrong.body.error?.code]).toEqual([422, 'HASH_MISMATCH']);
    expect((await call(other, 'PUT', `/api/agents/blobs/${sha}`, artifact, 'application/octet-stream')).status).toBe(200);
    const outside = await call(other, 'POST', '/api/agents/finish', {
      ...ref2,
      result,
      files: [{ path: '../../escape.txt', sha256: sha, size: 6, executable: false }],
    });
    expect([outside.status, outside.body.error?.code]).toEqual([400, 'INVALID_INPUT']);
    const files = [{ path: 'artifacts/out.txt', sha256: sha, size: 6, executable: false }];
    expect((await call(other, 'POST', '/api/agents/finish', { ...ref2, result, files })).status).toBe(200);

    const run = await waitFor(
      async () => {
        const view = (await server.api<{ status: string }>('GET', `/api/runs/${runId}`)).body;
        return view.status === 'success' ? view : undefined;
      },
      { what: 'the run to succeed' },
    );
    expect(run.status).toBe('success');
    expect((await server.api<string>('GET', `/api/runs/${runId}/jobs/remote/log`)).body).toBe('the real one\n');
    expect((await server.api<string>('GET', `/api/runs/${runId}/jobs/remote/artifacts/out.txt`)).body).toBe('built\n');
    expect((await server.store.agents.attempts(runId)).map((a) => [a.fence, a.agentId, a.outcome])).toEqual([
      [1, 'zombie', 'lease-lost'],
      [2, 'other', 'finished'],
    ]);
  });

  it('lets an agent token do agent work only, refuses it at once when revoked, and refuses other tokens the protocol', async () => {
    const token = await addAgent('short-lived');
    expect((await call(token, 'GET', '/api/projects')).body).toEqual({ projects: [] });
    expect((await call(token, 'GET', '/api/projects/proto')).body.error?.code).toBe('FORBIDDEN');
    expect((await call(token, 'POST', '/api/projects/proto/runs', {})).body.error?.code).toBe('FORBIDDEN');
    const admin = await call(server.token, 'POST', '/api/agents/poll', { free: 1, waitMs: 0 });
    expect([admin.status, admin.body.error?.code]).toEqual([403, 'AGENT_TOKEN_REQUIRED']);
    expect((await call(token, 'POST', '/api/agents/poll', { free: 1, waitMs: 0 })).body).toEqual({ assignments: [] });
    expect((await server.api('DELETE', '/api/agents/short-lived')).status).toBe(200);
    const refused = await call(token, 'POST', '/api/agents/poll', { free: 1, waitMs: 0 });
    expect([refused.status, refused.body.error?.code]).toEqual([401, 'UNAUTHORIZED']);
  });
});
