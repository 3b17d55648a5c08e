/**
 * SLOs end to end: a real server, a service deployed with an `slos` section, real requests
 * through its proxy, an outage and a recovery. The period is 1 h, so the workbook's fast page
 * rule watches 5 s and 0.4 s windows (and the slow one 30 s and 2.5 s; the ticket rules' long
 * windows, 2 and 6 min, are never measured here): real alerts in seconds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/server/notifications/index.ts';
import { runCli } from '../support/cli.ts';
import { OUTAGE_SERVICE, outageServiceYaml } from '../support/outage-service.ts';
import { makeRepo } from '../support/repo.ts';
import { startTestServer, waitForRunEnd, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

interface SloView {
  environment: string;
  slo: { name: string };
  budget: { total: number; bad: number; remaining: number };
  alerts: Record<string, { status: string }>;
}

describe('SLOs end to end', () => {
  let server: TestServer;
  let repo: Awaited<ReturnType<typeof makeRepo>>;
  let port = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let load: NodeJS.Timeout | undefined;
  /** A webhook receiver: what the notifications channel was sent. */
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.end();
    });
  });
  let secret = '';

  const send = (method: string, path: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });

  beforeAll(async () => {
    server = await startTestServer();
    repo = await makeRepo({ 'server.js': OUTAGE_SERVICE, 'gantry.yaml': outageServiceYaml('99.9%') });
    await server.api('POST', '/api/projects', { path: repo.dir, name: 'shop' });
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    const made = await server.api<{ release: { id: string } }>('POST', '/api/projects/shop/releases', { run });
    expect(made.body).toHaveProperty('release');
    const release = made.body.release.id;
    await server.api('POST', '/api/projects/shop/environments/production/deploy', { release });
    port = await waitFor(
      async () => {
        const view = (
          await server.api<{ rollout: { phase: string } | null; live: { port: number | null } }>(
            'GET',
            '/api/projects/shop/environments/production/rollout',
          )
        ).body;
        return view.rollout?.phase === 'succeeded' ? view.live.port : undefined;
      },
      { what: 'the deploy to finish', timeoutMs: 30_000 },
    );
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const added = await runCli(repo.dir, ['notify', 'channel', 'add', 'oncall', hookUrl, '--events', 'slo.alert.*', '--severity', 'page'], {
      env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token },
    });
    expect(added.code).toBe(0);
    secret = /signing secret \(shown once; verify X-Gantry-Signature with it\): ([0-9a-f]{64})/.exec(added.stdout)?.[1] ?? '';
    expect(secret).not.toBe('');
    // 50 requests a second, for the whole test.
    load = setInterval(() => void send('GET', '/'), 20);
  }, 60_000);

  afterAll(async () => {
    clearInterval(load);
    agent.destroy();
    receiver.closeAllConnections();
    receiver.close();
    await server?.cleanup();
    await repo?.cleanup();
  });

  const slos = async () => (await server.api<{ slos: SloView[] }>('GET', '/api/projects/shop/slos')).body.slos;
  const alertEvents = async () =>
    (
      await server.api<{ events: { type: string; at: string; data: { severity: string; slo: string } }[] }>(
        'GET',
        '/api/events?type=slo.alert.*',
      )
    ).body.events;

  it('measures the budget, pages on an outage within seconds, and resolves after recovery', async () => {
    // The fast rule's long window (5 s) must be measured before it may page.
    await waitFor(async () => ((await slos())[0]?.budget.total ?? 0) > 300, { what: '6 s of measured traffic', timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a little past the long window
    expect(await alertEvents()).toEqual([]);

    const outageAt = Date.now();
    expect(await send('POST', '/outage/on')).toBe(200);
    const fired = await waitFor(async () => (await alertEvents()).find((e) => e.type === 'slo.alert.fired' && e.data.severity === 'page'), {
      what: 'the page alert',
      timeoutMs: 20_000,
    });
    expect(Date.parse(fired.at) - outageAt).toBeLessThanOrEqual(15_000);
    expect(fired.data.slo).toBe('availability');

    const cli = { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } };
    // Two reads, side by side: each CLI start costs about a second of a loaded machine's CPU.
    const [status, firing] = await Promise.all([
      runCli(repo.dir, ['slo', 'status', 'shop'], cli),
      runCli(repo.dir, ['alerts', 'list', 'shop'], cli),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('production availability  99.9% over 1h');
    expect(status.stdout).toContain('PAGE FIRING');
    expect(firing.stdout).toMatch(/^PAGE production availability since /m);

    // An incident opens for the page, once.
    const incident = await waitFor(
      async () =>
        (await server.api<{ incidents: { number: number; openedAt: number; title: string }[] }>('GET', '/api/incidents?project=shop')).body
          .incidents[0],
      { what: 'the incident', timeoutMs: 20_000 },
    );
    expect(incident.title).toBe("SLO 'availability' of production is burning its error budget");
    const listed = await runCli(repo.dir, ['incident', 'list', 'shop'], cli);
    expect(listed.stdout).toContain("#1    open         sev2  production  SLO 'availability' of production is burning its error budget");
    expect((await runCli(repo.dir, ['incident', 'ack', 'shop', '1'], cli)).code).toBe(0);

    // The on-call channel hears of it, signed.
    const notified = await waitFor(() => received.find((r) => r.body.includes('"slo.alert.fired"')), {
      what: 'the page notification',
      timeoutMs: 10_000,
    });
    expect(verifyWebhook(secret, String(notified.headers['x-gantry-signature']), notified.body, Date.now() / 1000)).toBe(true);
    expect(JSON.parse(notified.body)).toMatchObject({
      event: { project: 'shop', environment: 'production', data: { slo: 'availability', severity: 'page' } },
    });

    expect(await send('POST', '/outage/off')).toBe(200);
    await waitFor(async () => (await alertEvents()).some((e) => e.type === 'slo.alert.resolved' && e.data.severity === 'page'), {
      what: 'the page alert to resolve',
      timeoutMs: 30_000,
    });
    const [after] = await slos();
    expect(after?.alerts.page?.status).toBe('inactive');
    expect(after?.budget.bad).toBeGreaterThan(0);

    const [resolvedAlerts, mitigated] = await Promise.all([
      runCli(repo.dir, ['alerts', 'list', 'shop', '--state', 'resolved', '--json'], cli),
      runCli(repo.dir, ['incident', 'mitigate', 'shop', '1'], cli),
    ]);
    expect(JSON.parse(resolvedAlerts.stdout)).toEqual([
      expect.objectContaining({ environment: 'production', data: expect.objectContaining({ slo: 'availability', severity: 'page' }) }),
    ]);
    expect(mitigated.code).toBe(0);
    const postmortem = await runCli(repo.dir, ['incident', 'postmortem', 'shop', '1'], cli);
    expect(postmortem.code).toBe(0);
    expect(postmortem.stdout).toContain('## Timeline (UTC)');
    expect(postmortem.stdout).toMatch(/- Requests failed while it was open: [1-9]\d* of \d+/);
    expect(postmortem.stdout).toContain("page alert: SLO 'availability' burning fast");
  }, 120_000);

  it('refuses deploys while the budget is spent, unless overridden with a reason; rollbacks pass', async () => {
    // The outage above spent far more than 0.1 % of the requests so far.
    const [spent] = await slos();
    expect(spent?.budget.remaining).toBeLessThan(0);
    const run = (await server.api<{ run: { id: string } }>('POST', '/api/projects/shop/runs', {})).body.run.id;
    expect((await waitForRunEnd(server, run)).status).toBe('success');
    const release = (await server.api<{ release: { id: string; number: number } }>('POST', '/api/projects/shop/releases', { run })).body
      .release;

    const refused = await server.api<{ error: { code: string; message: string } }>(
      'POST',
      '/api/projects/shop/environments/production/deploy',
      {
        release: release.id,
      },
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('ERROR_BUDGET_EXHAUSTED');
    expect(refused.body.error.message).toContain('the error budget of production is spent: availability');

    const cliEnv = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
    const noReason = await runCli(repo.dir, ['deploy', 'shop', String(release.number), '--env', 'production', '--override'], {
      env: cliEnv,
    });
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toContain('--override needs --reason');
    const overridden = await runCli(
      repo.dir,
      ['deploy', 'shop', String(release.number), '--env', 'production', '--override', '--reason', 'hotfix for the outage'],
      {
        env: cliEnv,
      },
    );
    expect(overridden.code).toBe(0);
    const events = (
      await server.api<{ events: { type: string; actor: string; data: Record<string, unknown> }[] }>('GET', '/api/events?type=deploy.*')
    ).body.events;
    expect(events).toEqual([
      expect.objectContaining({
        type: 'deploy.budget-override',
        data: expect.objectContaining({ reason: 'hotfix for the outage', policy: 'block' }),
      }),
    ]);
    await waitFor(
      async () =>
        (await server.api<{ rollout: { phase: string } | null }>('GET', '/api/projects/shop/environments/production/rollout')).body.rollout
          ?.phase === 'succeeded',
      { what: 'the overriding deploy', timeoutMs: 30_000 },
    );
    const rolledBack = await server.api<{ rollout: { id: string } }>('POST', '/api/projects/shop/environments/production/rollback');
    expect(rolledBack.status).toBe(201);
  }, 90_000);

  it('writes Prometheus rules for the project that promtool accepts', async () => {
    const rules = await runCli(repo.dir, ['slo', 'rules', 'shop'], { env: { GANTRY_URL: server.url, GANTRY_TOKEN: server.token } });
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain('gantry_slo:sli_error:ratio_rate5s');
    const dir = await mkdtemp(join(tmpdir(), 'gantry-slo-rules-'));
    try {
      await writeFile(join(dir, 'rules.yaml'), rules.stdout);
      const checked = await promisify(execFile)('promtool', ['check', 'rules', join(dir, 'rules.yaml')]).catch(
        (error: { stdout: string }) => error,
      );
      expect(checked.stdout).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
