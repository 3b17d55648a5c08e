/**
 * Notification channels in the platform folder, end to end: the real `gantry platform` against a
 * real server on loopback and a real webhook receiver. The folder names the project's secrets for
 * a channel's URL and signing key, never values: plan and apply say which secret, the
 * `platform.applied` event holds names only, and the server reads the value from its encrypted
 * secrets. A channel whose secret has no value applies nothing; a secret set anew shows as drift
 * and apply re-reads it; a channel the folder drops is removed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const WITH_CHANNELS = `projects:
  shop:
    members: { user:alice: maintainer }
    channels:
      oncall:
        type: slack
        url: { secret: ONCALL_WEBHOOK }
        events: [rollout.rolling-back, slo.alert.*]
        environments: [production]
      audit-hook:
        type: webhook
        url: { secret: AUDIT_URL }
        signing-key: { secret: AUDIT_KEY }
`;

describe('gantry platform: notification channels', () => {
  let server: TestServer;
  let receiver: Server;
  let hook: string;
  const received: string[] = [];
  let dir: string;
  let env: Record<string, string>;
  const gantry = (...args: string[]) => runCli(dir, ['platform', ...args], { env });
  const setSecret = (name: string, value: string) => server.api('PUT', `/api/projects/shop/secrets/${name}`, { value });
  const channels = async () =>
    (
      await server.api<{ channels: { name: string; kind: string; target: string; signed: boolean; routes: unknown }[] }>(
        'GET',
        '/api/notify/channels',
      )
    ).body.channels;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      received.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'gantry-platform-channels-'));
    await writeFile(join(dir, 'shop.yaml'), WITH_CHANNELS);
    await server.store.projects.create({ name: 'shop', source: { kind: 'local', path: '/nowhere' }, webhookSecret: 'w' });
    env = { GANTRY_URL: server.url, GANTRY_TOKEN: server.token };
  });
  afterAll(async () => {
    await server?.cleanup();
    await new Promise((resolve) => receiver?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies nothing while a channel’s secret has no value, then creates the channels from the secrets', async () => {
    const plan = await gantry('plan', '.');
    expect(plan.stdout).toContain('+ shop: channel oncall (slack, url from secret ONCALL_WEBHOOK)');
    expect(plan.stdout).toContain('+ shop: channel audit-hook (webhook, url from secret AUDIT_URL)');
    expect(plan.stdout).toContain('! shop: secret ONCALL_WEBHOOK has no value: `gantry secret set shop ONCALL_WEBHOOK`');

    const refused = await gantry('apply', '.');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('reads secret AUDIT_URL, which has no value: `gantry secret set shop AUDIT_URL`; nothing was applied');
    expect(await channels()).toEqual([]);
    expect((await server.store.access.listGrants({ project: 'shop' })).length).toBe(0);

    await setSecret('ONCALL_WEBHOOK', `${hook}/slack/T0-SECRET-PATH`);
    await setSecret('AUDIT_URL', `${hook}/audit/A1-SECRET-PATH`);
    await setSecret('AUDIT_KEY', 'k'.repeat(32));
    const apply = await gantry('apply', '.');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Applied 3 changes.');
    expect(apply.stdout).not.toContain('SECRET-PATH');
    const made = await channels();
    expect(made.map((c) => [c.name, c.kind, c.target, c.signed])).toEqual([
      ['audit-hook', 'webhook', hook, true],
      ['oncall', 'slack', hook, false],
    ]);
    expect(made.find((c) => c.name === 'oncall')?.routes).toEqual({
      events: ['rollout.rolling-back', 'slo.alert.*'],
      environments: ['production'],
    });
    const [event] = await server.store.events.list({ type: 'platform.applied' });
    expect(JSON.stringify(event?.data)).not.toContain('SECRET-PATH');
    expect(JSON.stringify(event?.data)).toContain('ONCALL_WEBHOOK');

    // The channel delivers to the secret's URL.
    expect((await server.api<{ delivered: boolean }>('POST', '/api/notify/channels/oncall/test')).body.delivered).toBe(true);
    await waitFor(() => received.includes('/slack/T0-SECRET-PATH'), { what: 'the test notification at the secret URL' });
    expect((await gantry('plan', '.', '--detailed-exitcode')).code).toBe(0);
  });

  it('shows a secret set anew as drift and re-reads it on apply; removes a channel the folder drops', async () => {
    await setSecret('ONCALL_WEBHOOK', `${hook}/slack/T2-ROTATED-PATH`);
    const drift = await gantry('plan', '.');
    expect(drift.stdout).toContain('~ shop: channel oncall (slack)   (drift: changed on the server since the last apply)');
    expect(drift.stdout).toContain(
      'url: a value that no secret of shop holds (set by hand, or the secret was set anew) → secret ONCALL_WEBHOOK',
    );
    expect(drift.stdout).not.toContain('ROTATED');
    expect((await gantry('apply', '.')).stdout).toContain('Applied 1 change.');
    expect((await server.api<{ delivered: boolean }>('POST', '/api/notify/channels/oncall/test')).body.delivered).toBe(true);
    await waitFor(() => received.includes('/slack/T2-ROTATED-PATH'), { what: 'the test notification at the new URL' });

    await writeFile(join(dir, 'shop.yaml'), WITH_CHANNELS.replace(/ {6}audit-hook:[\s\S]*$/, ''));
    const removal = await gantry('apply', '.');
    expect(removal.stdout).toContain('- shop: channel audit-hook (webhook, url from secret AUDIT_URL)');
    expect((await channels()).map((c) => c.name)).toEqual(['oncall']);
  });
});
