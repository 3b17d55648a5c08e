import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../../src/executor/index.ts';
import { isLive, readStat } from '../../src/platform/proc.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { boxedService, check, httpGet, readLog, service, spec, supervisorHarness, systemLines } from './helpers.ts';
import { afterTimersDue, waitFor } from '../support/wait.ts';

const h = supervisorHarness();
const alive = (pid: number) => isLive(readStat(pid));

describe('Supervisor', () => {
  it('starts an instance on a free port; it becomes ready and answers HTTP there', async () => {
    const started = await h.supervisor.start(spec(h.dataDir, 'web-1'));
    expect(started.state).toBe('starting');
    expect(started.pid).toBeGreaterThan(0);
    expect(started.port).toBeGreaterThan(0);

    const ready = await h.supervisor.waitReady('web-1', 10_000);
    expect(ready).toMatchObject({ id: 'web-1', state: 'ready', pid: started.pid, port: started.port, restarts: 0, sandboxed: false });
    expect(ready.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const res = await httpGet(ready.port);
    expect(res.body).toBe(`hello from web-1 pid ${started.pid}\n`);
    expect(h.changes.map((c) => c.state)).toEqual(['starting', 'ready']);

    // CPU and RSS of the tree are sampled from /proc.
    const sampled = await waitFor(
      () => {
        const s = h.supervisor.status('web-1');
        return s && s.rssBytes !== null && s.rssBytes > 1_000_000 && s.cpuPercent !== null ? s : null;
      },
      { what: 'a CPU/RSS sample' },
    );
    expect(sampled.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(systemLines(ready.logFile).some((t) => t.includes(`process ${started.pid} started on port ${started.port}`))).toBe(true);
  });

  it('samples the CPU of the instance', async () => {
    await h.supervisor.start(spec(h.dataDir, 'busy', { env: { BURN_CPU: '1' } }));
    const busy = await waitFor(
      () => {
        const s = h.supervisor.status('busy');
        return s && s.cpuPercent !== null && s.cpuPercent > 20 ? s : null;
      },
      { what: 'a busy CPU sample' },
    );
    expect(busy.cpuPercent).toBeLessThan(250);
  });

  it('is not ready until its readiness check passes', async () => {
    // Readiness waits for a file the test writes: a time-based one could pass before a loaded
    // machine let the test see it fail.
    const flag = join(h.dataDir, 'slow-ready');
    const started = await h.supervisor.start(spec(h.dataDir, 'slow', { env: { READY_FILE: flag } }));
    // While /healthz fails, the instance is up (it answers /) but not ready.
    await waitFor(async () => (await httpGet(started.port, '/').catch(() => null))?.status === 200, { what: 'it to answer /' });
    expect((await httpGet(started.port, '/healthz')).status).toBe(503);
    expect(h.supervisor.status('slow')?.state).toBe('starting');
    const flagAt = performance.now();
    writeFileSync(flag, '');
    await h.supervisor.waitReady('slow', 10_000);
    const readyAt = h.changes.find((c) => c.state === 'ready')?.at ?? 0;
    expect(readyAt).toBeGreaterThanOrEqual(flagAt);
    await expect(h.supervisor.waitReady('nope', 10)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('becomes unready when readiness fails after it was ready, and ready again', async () => {
    // A command probe: ready while a flag file exists in the instance's HOME.
    const readiness = check({ path: undefined, command: 'test -f "$HOME/ready" && exec 3<>/dev/tcp/127.0.0.1/$PORT', failureThreshold: 2 });
    const s = await h.supervisor.start(spec(h.dataDir, 'flaky', { service: service({ health: { readiness } }) }));
    const home = join(h.dataDir, 'instances', 'flaky', 'home');
    writeFileSync(join(home, 'ready'), '');
    await h.supervisor.waitReady('flaky', 10_000);
    rmSync(join(home, 'ready'));
    await waitFor(() => h.supervisor.status('flaky')?.state === 'unready', { what: 'unready' });
    writeFileSync(join(home, 'ready'), '');
    await h.supervisor.waitReady('flaky', 10_000);
    expect(h.changes.map((c) => c.state)).toEqual(['starting', 'ready', 'unready', 'ready']);
    expect(h.supervisor.status('flaky')?.pid).toBe(s.pid);
  });

  it('stops with the stop signal, then SIGKILL after the drain timeout; no restart afterwards', async () => {
    const stubborn = service({ stop: { signal: 'SIGTERM', drainTimeoutMs: 500 } });
    const s = await h.supervisor.start(spec(h.dataDir, 'stubborn', { env: { IGNORE_TERM: '1' }, service: stubborn }));
    await h.supervisor.waitReady('stubborn', 10_000);
    const t0 = performance.now();
    await h.supervisor.stop('stubborn');
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(480); // it waited for the drain timeout, then killed
    expect(h.supervisor.status('stubborn')).toMatchObject({ state: 'stopped', pid: null, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(alive(s.pid as number)).toBe(false);
    expect(readLog(s.logFile)).toContain(' o got SIGTERM, ignoring it');
    await expect(h.supervisor.waitReady('stubborn', 1000)).rejects.toMatchObject({ code: 'INSTANCE_NOT_READY' });
    // A restart would be scheduled at the exit, one backoff (100 ms here) ahead: its timer is due
    // before this one.
    await afterTimersDue(100);
    expect(h.supervisor.status('stubborn')?.state).toBe('stopped');
    expect(h.changes.at(-1)?.state).toBe('stopped');
  });

  it('stops a well-behaved instance gracefully, well before the drain timeout', async () => {
    const s = await h.supervisor.start(spec(h.dataDir, 'polite'));
    await h.supervisor.waitReady('polite', 10_000);
    await h.supervisor.stop('polite');
    // It exited by itself on SIGTERM (code 0): not killed at the drain timeout.
    expect(h.supervisor.status('polite')?.lastExit).toEqual({ code: 0, signal: null });
    expect(readLog(s.logFile)).toContain(' o got SIGTERM, closing');
    await h.supervisor.stop('polite'); // idempotent
    h.supervisor.forget('polite');
    expect(h.supervisor.status('polite')).toBeUndefined();
  });

  it('stops an instance that is still starting, and a waitReady on it rejects', async () => {
    const s = await h.supervisor.start(spec(h.dataDir, 'early', { env: { READY_AFTER_MS: '60000' } }));
    const waiting = h.supervisor.waitReady('early', 10_000).catch((error: unknown) => error);
    await h.supervisor.stop('early');
    expect(await waiting).toMatchObject({ code: 'INSTANCE_NOT_READY' });
    expect(h.supervisor.status('early')).toMatchObject({ state: 'stopped', pid: null });
    expect(alive(s.pid as number)).toBe(false);
    expect(h.changes.map((c) => c.state)).toEqual(['starting', 'stopping', 'stopped']);
  });

  it('masks secrets (and their base64) in the instance log', async () => {
    const secret = 's3cr3t-Value-42';
    const s = await h.supervisor.start(spec(h.dataDir, 'leaky', { env: { API_TOKEN: secret, PRINT_TOKEN: '1' }, secrets: [secret] }));
    await h.supervisor.waitReady('leaky', 10_000);
    const log = await waitFor(
      () => {
        const text = readLog(s.logFile);
        return text.includes('stderr token=') && text.includes('b64=') ? text : null;
      },
      { what: 'the token lines' },
    );
    expect(log).not.toContain(secret);
    expect(log).not.toContain(Buffer.from(secret).toString('base64'));
    const lines = log.split('\n').filter(Boolean).map(parseLogLine);
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'o', text: 'token=*** b64=***' }));
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'e', text: 'stderr token=***' }));
    for (const l of lines) expect(l.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('refuses bad specs and duplicate ids', async () => {
    await expect(h.supervisor.start(spec(h.dataDir, '../evil'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.supervisor.start(spec(h.dataDir, 'x', { workDir: join(h.dataDir, 'missing') }))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    const noProbe = service({ health: { readiness: check({ path: undefined }) } });
    await expect(h.supervisor.start(spec(h.dataDir, 'y', { service: noProbe }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await h.supervisor.start(spec(h.dataDir, 'dup'));
    await expect(h.supervisor.start(spec(h.dataDir, 'dup'))).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('gives two instances different ports', async () => {
    const a = await h.supervisor.start(spec(h.dataDir, 'a'));
    const b = await h.supervisor.start(spec(h.dataDir, 'b'));
    expect(a.port).not.toBe(b.port);
    await Promise.all([h.supervisor.waitReady('a', 10_000), h.supervisor.waitReady('b', 10_000)]);
    expect(h.supervisor.list().map((s) => s.state)).toEqual(['ready', 'ready']);
  });

  it('runs the instance in bubblewrap: artifacts read-only, its dirs writable, the data dir hidden', async (ctx) => {
    if (!requirement('bubblewrap', hasBubblewrap())) return ctx.skip();
    const hidden = [
      join(h.dataDir, 'instances', 'boxed.json'),
      join(h.dataDir, 'instances', 'boxed', 'instance.log'),
      join(h.dataDir, 'instances', 'boxed', 'stdout.spool'),
    ];
    const service = boxedService(join(h.dataDir, 'releases', 'r1'));
    const s = await h.supervisor.start(spec(h.dataDir, 'boxed', { sandbox: 'auto', service, env: { SECRET_PATHS: hidden.join(':') } }));
    const ready = await h.supervisor.waitReady('boxed', 10_000);
    expect(ready.sandboxed).toBe(true);
    const who = JSON.parse((await httpGet(ready.port, '/whoami')).body) as Record<string, unknown>;
    expect(who).toMatchObject({ cwd: join(h.dataDir, 'releases', 'r1'), writesCwd: false, writesHome: true, writesTmp: true, sees: [] });
    // The soft stop reaches the service inside (bwrap does not forward signals) and its exit status comes back.
    await h.supervisor.stop('boxed');
    expect(h.supervisor.status('boxed')?.lastExit).toEqual({ code: 0, signal: null });
    expect(readLog(s.logFile)).toContain(' o got SIGTERM, closing');
    expect(alive(s.pid as number)).toBe(false);
  });
});
