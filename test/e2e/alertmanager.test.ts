/**
 * Debian's prometheus-alertmanager routing to Gantry: an alert posted to Alertmanager reaches
 * Gantry's webhook receiver (with the admin token as its bearer credential) and opens an
 * incident; its resolution resolves it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { makeRepo } from '../support/repo.ts';
import { requirement } from '../support/requirements.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const BINARY = 'prometheus-alertmanager';

function hasAlertmanager(): boolean {
  try {
    execFileSync(BINARY, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface IncidentRow {
  number: number;
  state: string;
  title: string;
  severity: string;
  environment: string | null;
  openedBy: string;
}

describe.runIf(requirement('Alertmanager', hasAlertmanager()))('Alertmanager routing to Gantry', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let dir = '';
  let alertmanager: ChildProcess | undefined;
  let amUrl = '';

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'gantry.yaml': 'pipeline:\n  jobs:\n    build: { steps: ["true"] }\n' });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' });
    dir = await mkdtemp(join(tmpdir(), 'gantry-alertmanager-'));
    const config = `
route:
  receiver: gantry
  group_by: [alertname, environment]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: gantry
    webhook_configs:
      - url: ${server.url}/api/alertmanager/webhook?project=shop
        send_resolved: true
        http_config:
          authorization: { type: Bearer, credentials: ${server.token} }
`;
    await writeFile(join(dir, 'alertmanager.yml'), config);
    const port = await freePort();
    const cluster = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    alertmanager = spawn(
      BINARY,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--cluster.listen-address=127.0.0.1:${cluster}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    await waitFor(async () => (await fetch(`${amUrl}/-/ready`).catch(() => null))?.ok, {
      what: 'Alertmanager to be ready',
      timeoutMs: 20_000,
    });
  }, 60_000);

  afterAll(async () => {
    if (alertmanager?.pid !== undefined && alertmanager.exitCode === null) {
      const exited = new Promise((resolve) => alertmanager?.once('exit', resolve));
      alertmanager.kill('SIGTERM');
      await exited;
    }
    await server?.cleanup();
    await repo?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = (alert: Record<string, unknown>) =>
    fetch(`${amUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([alert]) });
  const incidents = async () => (await server.api<{ incidents: IncidentRow[] }>('GET', '/api/incidents?project=shop')).body.incidents;

  it('opens one incident for a firing group and resolves it when Alertmanager says resolved', async () => {
    const startsAt = new Date().toISOString();
    const alert = {
      labels: { alertname: 'CheckoutErrors', environment: 'production', severity: 'critical' },
      annotations: { summary: 'checkout is failing for 5% of users' },
      startsAt,
    };
    expect((await post(alert)).ok).toBe(true);
    const opened = await waitFor(async () => (await incidents())[0], { what: 'the incident from Alertmanager', timeoutMs: 20_000 });
    expect(opened).toMatchObject({
      number: 1,
      state: 'open',
      title: 'checkout is failing for 5% of users',
      severity: 'sev1',
      environment: 'production',
      openedBy: 'alertmanager',
    });

    expect((await post({ ...alert, endsAt: new Date().toISOString() })).ok).toBe(true);
    await waitFor(async () => (await incidents())[0]?.state === 'resolved', { what: 'the incident to be resolved', timeoutMs: 20_000 });
    expect(await incidents()).toHaveLength(1);
  });

  it('refuses a payload without a project or with another shape', async () => {
    const noProject = await fetch(`${server.url}/api/alertmanager/webhook`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        version: '4',
        groupKey: 'g',
        status: 'firing',
        receiver: 'r',
        groupLabels: {},
        commonLabels: {},
        commonAnnotations: {},
        alerts: [],
      }),
    });
    expect(noProject.status).toBe(400);
    const wrong = await fetch(`${server.url}/api/alertmanager/webhook?project=shop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: '3' }),
    });
    expect(wrong.status).toBe(400);
    const unauthenticated = await fetch(`${server.url}/api/alertmanager/webhook?project=shop`, { method: 'POST', body: '{}' });
    expect(unauthenticated.status).toBe(401);
  });
});
