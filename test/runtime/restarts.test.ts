import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLive, readStat } from '../../src/platform/proc.ts';
import { check, httpGet, readLog, service, spec, supervisorHarness, systemLines } from './helpers.ts';
import { afterTimersDue, waitFor } from '../support/wait.ts';

const h = supervisorHarness();
const alive = (pid: number) => isLive(readStat(pid));

describe('Supervisor restarts', () => {
  it('restarts on liveness failure, with a growing backoff', async () => {
    h.make({ backoff: { initialMs: 150 } });
    // Liveness is a command that fails only once the file exists: an HTTP check also fails while a
    // slowed machine has not yet started the process listening, and so (as in Kubernetes without a
    // startup probe) killed it before it was ever ready, in a loop, on a loaded CI run.
    const sick = join(h.dataDir, 'sick');
    const liveness = check({
      path: undefined,
      command: `test ! -e '${sick}'`,
      timeoutMs: 10_000,
      failureThreshold: 2,
      initialDelayMs: 200,
    });
    const s = await h.supervisor.start(spec(h.dataDir, 'sick', { service: service({ health: { readiness: check(), liveness } }) }));
    // Healthy until it is ready (so its SIGTERM handler is installed, however slow the machine), then sick.
    await h.supervisor.waitReady('sick', 30_000);
    writeFileSync(sick, '');
    await waitFor(() => (h.supervisor.status('sick')?.restarts ?? 0) >= 2 && h.supervisor.status('sick')?.state === 'starting', {
      what: 'two restarts',
    });

    const lines = systemLines(s.logFile);
    expect(lines.filter((t) => t.startsWith('liveness failed 2 times in a row')).length).toBeGreaterThanOrEqual(2);
    expect(lines.filter((t) => t.startsWith('restarting in')).slice(0, 2)).toEqual([
      'restarting in 150 ms (restart 1, 1 in a row)',
      'restarting in 300 ms (restart 2, 2 in a row)',
    ]);
    // Each wait (from the process gone to the next one starting) lasted at least its backoff.
    const gaps: number[] = [];
    for (let i = 1; i < h.changes.length; i++) {
      const prev = h.changes[i - 1] as (typeof h.changes)[number];
      const cur = h.changes[i] as (typeof h.changes)[number];
      if (cur.state === 'starting' && prev.state === 'restarting' && prev.pid === null) gaps.push(cur.at - prev.at);
    }
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    expect(gaps[0]).toBeGreaterThanOrEqual(140);
    expect(gaps[1]).toBeGreaterThanOrEqual(290);
    // The liveness kill is a graceful stop: SIGTERM, not the SIGKILL that follows a missed drain
    // deadline. The fixture normally exits 0 from its handler; once (a loaded CI run) Node died of
    // the SIGTERM itself, so either ending proves the signal, and neither is a SIGKILL.
    const firstRestart = h.changes.find((c) => c.state === 'restarting' && c.pid === null);
    expect([
      { code: 0, signal: null },
      { code: null, signal: 'SIGTERM' },
    ]).toContainEqual(firstRestart?.lastExit);
    expect(alive(s.pid as number)).toBe(false);
  });

  it('backs off a crash loop exponentially and never reports it ready', async () => {
    h.make({ backoff: { initialMs: 50 } });
    const s = await h.supervisor.start(spec(h.dataDir, 'crashy', { env: { EXIT_AT_START: '3' } }));
    await waitFor(() => (h.supervisor.status('crashy')?.restarts ?? 0) >= 3, { what: 'three restarts' });
    expect(h.supervisor.status('crashy')?.lastExit).toEqual({ code: 3, signal: null });
    const delays = systemLines(s.logFile)
      .filter((t) => t.startsWith('restarting in'))
      .map((t) => Number(/in (\d+) ms/.exec(t)?.[1]));
    expect(delays.slice(0, 3)).toEqual([50, 100, 200]);
    await expect(h.supervisor.waitReady('crashy', 100)).rejects.toMatchObject({ code: 'INSTANCE_NOT_READY' });
    expect(h.changes.some((c) => c.state === 'ready')).toBe(false);
    expect(readLog(s.logFile)).toContain(' e exiting at start with 3');
    // A stop during the backoff wait ends the loop for good.
    await waitFor(() => h.supervisor.status('crashy')?.state === 'restarting', { what: 'a backoff wait' });
    await h.supervisor.stop('crashy');
    const restarts = h.supervisor.status('crashy')?.restarts;
    expect(h.supervisor.status('crashy')).toMatchObject({ state: 'stopped', pid: null });
    const pending = Number(
      /in (\d+) ms/.exec(
        systemLines(s.logFile)
          .filter((t) => t.startsWith('restarting in'))
          .at(-1) ?? '',
      )?.[1],
    );
    await afterTimersDue(pending); // the cancelled restart's timer was set before this one, for no longer
    expect(h.supervisor.status('crashy')).toMatchObject({ state: 'stopped', restarts });
  });

  it('resets the backoff after a healthy period', async () => {
    let clock = 1_000_000;
    h.make({ now: () => clock, backoff: { initialMs: 50, resetAfterMs: 60_000 } });
    const s = await h.supervisor.start(spec(h.dataDir, 'once', { env: { CRASH_AFTER_REQUESTS: '1' } }));
    const crashAndRestart = async (restarts: number) => {
      const ready = await h.supervisor.waitReady('once', 10_000);
      await httpGet(ready.port);
      await waitFor(() => h.supervisor.status('once')?.restarts === restarts && h.supervisor.status('once')?.state === 'starting', {
        what: `restart ${restarts}`,
      });
    };
    await crashAndRestart(1);
    await crashAndRestart(2);
    await h.supervisor.waitReady('once', 10_000);
    clock += 61_000; // ready for longer than resetAfterMs
    await crashAndRestart(3);
    const delays = systemLines(s.logFile).filter((t) => t.startsWith('restarting in'));
    expect(delays).toEqual([
      'restarting in 50 ms (restart 1, 1 in a row)',
      'restarting in 100 ms (restart 2, 2 in a row)',
      'restarting in 50 ms (restart 3, 1 in a row)',
    ]);
  });

  it('restarts an instance killed with kill -9', async () => {
    const first = await h.supervisor.start(spec(h.dataDir, 'victim'));
    await h.supervisor.waitReady('victim', 10_000);
    process.kill(first.pid as number, 'SIGKILL');
    const again = await waitFor(
      () => {
        const s = h.supervisor.status('victim');
        return s?.state === 'ready' && s.pid !== first.pid ? s : null;
      },
      { what: 'a new ready process' },
    );
    expect(again.restarts).toBe(1);
    expect(again.lastExit).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await httpGet(again.port)).body).toBe(`hello from victim pid ${again.pid}\n`);
  });

  it('moves to a new port when another process takes its port before it binds (EADDRINUSE)', async () => {
    const gate = join(h.dataDir, 'bind-now');
    const s = await h.supervisor.start(spec(h.dataDir, 'racer', { env: { WAIT_FOR_FILE: gate } }));
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(s.port, '127.0.0.1', () => r()));
    try {
      writeFileSync(gate, '');
      const ready = await h.supervisor.waitReady('racer', 10_000);
      expect(ready.port).not.toBe(s.port);
      expect(ready.restarts).toBe(1);
      expect(systemLines(s.logFile).some((t) => t.includes(`port ${s.port} was taken by another process`))).toBe(true);
      expect((await httpGet(ready.port)).status).toBe(200);
    } finally {
      squatter.close();
    }
  });
});
