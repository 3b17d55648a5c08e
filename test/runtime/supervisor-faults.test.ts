/**
 * A supervised instance handed to chaos faults (`Supervisor.faultable`): a restart is graceful
 * (the stop signal, then started again, the restart counted) and a kill is a crash the supervisor
 * restarts from; pressure beside it ends with the instance's stop.
 */
import { describe, expect, it } from 'vitest';
import { killInstance, pressInstance } from '../../src/runtime/index.ts';
import { isSameProcess } from '../../src/platform/proc.ts';
import { spec, supervisorHarness, systemLines } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

const h = supervisorHarness();

describe('Supervisor.faultable', () => {
  it('restarts gracefully, restarts after a kill, and ends pressure with the instance', async () => {
    h.make({ backoff: { initialMs: 100 } });
    const s = await h.supervisor.start(spec(h.dataDir, 'victim'));
    const first = await h.supervisor.waitReady('victim', 30_000);

    h.supervisor.faultable('victim')?.restart('chaos experiment x1 restarts it');
    await waitFor(() => h.supervisor.status('victim')?.restarts === 1 && h.supervisor.status('victim')?.state === 'ready', {
      what: 'the graceful restart',
    });
    expect(h.supervisor.status('victim')?.pid).not.toBe(first.pid);
    expect(systemLines(s.logFile).some((t) => t.startsWith('chaos experiment x1 restarts it: restarting'))).toBe(true);
    expect(h.supervisor.status('victim')?.lastExit?.signal ?? 'SIGTERM').not.toBe('SIGKILL');

    const target = h.supervisor.faultable('victim');
    expect(target).toBeDefined();
    await killInstance(target!.ref);
    await waitFor(() => h.supervisor.status('victim')?.restarts === 2 && h.supervisor.status('victim')?.state === 'ready', {
      what: 'the restart after the kill',
    });

    const pressure = await pressInstance(h.supervisor.faultable('victim')!.ref, { kind: 'cpu', workers: 1 }, Date.now() + 60_000);
    await h.supervisor.stop('victim');
    for (const m of pressure.helpers) expect(isSameProcess(m.pid, m.startTime)).toBe(false);
    expect(h.supervisor.faultable('victim')).toBeUndefined();
  }, 60_000);
});
