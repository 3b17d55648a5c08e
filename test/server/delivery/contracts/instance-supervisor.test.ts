/**
 * The `InstanceSupervisor` port's contract (src/server/delivery/ports.ts), run against the
 * in-memory fake and the real supervisor (a tiny real child process: test/runtime/fixtures/
 * service.mjs). What differs between them is only how a test makes an instance slow to get ready
 * and how time passes; the harness hides both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.ts';
import type { InstanceSpec, InstanceStatus } from '../../../../src/runtime/index.ts';
import { type InstanceSupervisor, SupervisedInstances } from '../../../../src/server/delivery/index.ts';
import { FakeSupervisor } from '../../../support/fakes/fake-supervisor.ts';
import { killLeftovers } from '../../../support/instances.ts';
import { spec as fixtureSpec } from '../../../runtime/helpers.ts';

interface Harness {
  supervisor: InstanceSupervisor;
  /** A spec of the fixture service; `slow` never gets ready within the test. */
  spec(id: string, o?: { slow?: boolean; releaseId?: string }): InstanceSpec;
  /** Lets `ms` pass for the supervisor's timers. */
  elapse(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

const implementations: [string, () => Harness][] = [
  [
    'fake',
    () => {
      const clock = new ManualClock();
      const supervisor = new FakeSupervisor(clock);
      const dataDir = '/nonexistent';
      return {
        supervisor,
        spec: (id, o = {}) => {
          const releaseId = o.releaseId ?? 'r1';
          if (o.slow) supervisor.host.neverReady(releaseId);
          return { ...fixtureSpecData(dataDir, id), releaseId };
        },
        elapse: async (ms) => {
          clock.advance(ms);
          await Promise.resolve();
        },
        cleanup: () => supervisor.detach(),
      };
    },
  ],
  [
    'real',
    () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'gantry-contract-'));
      const supervisor = new SupervisedInstances({ dataDir, pollMs: 30, statsIntervalMs: 100, backoff: { initialMs: 100 } });
      return {
        supervisor,
        spec: (id, o = {}) => {
          const base = fixtureSpec(dataDir, id, { releaseId: o.releaseId ?? 'r1' });
          return o.slow ? { ...base, env: { READY_AFTER_MS: '600000' } } : base;
        },
        elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        cleanup: async () => {
          for (const s of supervisor.list()) await supervisor.stop(s.id).catch(() => undefined);
          await supervisor.detach();
          killLeftovers(dataDir);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  ],
];

/** The fake needs no files: a spec with the fixture's service but no directories made. */
function fixtureSpecData(_dataDir: string, id: string): InstanceSpec {
  return {
    id,
    environment: 'staging',
    releaseId: 'r1',
    pool: 'stable',
    service: {
      run: 'true',
      env: {},
      instances: 1,
      health: { readiness: { intervalMs: 40, timeoutMs: 1000, successThreshold: 1, failureThreshold: 2, initialDelayMs: 0 } },
      stop: { signal: 'SIGTERM', drainTimeoutMs: 2000 },
    },
    env: {},
    secrets: [],
    workDir: '/nonexistent',
    sandbox: 'off',
  };
}

describe.each(implementations)('InstanceSupervisor contract: %s', (_name, make) => {
  let h: Harness;
  let changes: InstanceStatus[];
  beforeEach(() => {
    h = make();
    changes = [];
    h.supervisor.onChange((status) => changes.push(status));
  });
  afterEach(() => h.cleanup());

  it('start registers the instance with its labels; readiness follows and is reported', async () => {
    const started = await h.supervisor.start({ ...h.spec('a1'), pool: 'canary' });
    expect(started.id).toBe('a1');
    expect(h.supervisor.list().map((s) => s.id)).toEqual(['a1']);
    expect(h.supervisor.labels('a1')).toEqual({ environment: 'staging', releaseId: 'r1', pool: 'canary' });
    const ready = await h.supervisor.waitReady('a1', 10_000);
    expect(ready.state).toBe('ready');
    expect(h.supervisor.list()[0]?.state).toBe('ready');
    expect(changes.filter((c) => c.id === 'a1').map((c) => c.state)).toContain('ready');
    expect(h.supervisor.labels('unknown')).toBeUndefined();
  });

  it('stop ends in stopped, reports it after what came before, and is idempotent', async () => {
    await h.supervisor.start(h.spec('a2'));
    await h.supervisor.waitReady('a2', 10_000);
    await h.supervisor.stop('a2');
    expect(h.supervisor.list().find((s) => s.id === 'a2')?.state).toBe('stopped');
    const states = changes.filter((c) => c.id === 'a2').map((c) => c.state);
    expect(states.indexOf('ready')).toBeLessThan(states.indexOf('stopped'));
    expect(states.at(-1)).toBe('stopped');
    await h.supervisor.stop('a2');
    expect(h.supervisor.list().find((s) => s.id === 'a2')?.state).toBe('stopped');
  });

  it('rejects a start of a running id (ConflictError) and a stop of an unknown one (NotFoundError)', async () => {
    await h.supervisor.start(h.spec('a3'));
    await expect(h.supervisor.start(h.spec('a3'))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(h.supervisor.stop('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('waitReady rejects with INSTANCE_NOT_READY after its timeout, and for a stopped instance', async () => {
    await h.supervisor.start(h.spec('a4', { slow: true, releaseId: 'slow' }));
    const waiting = h.supervisor.waitReady('a4', 200);
    const outcome = expect(waiting).rejects.toMatchObject({ code: 'INSTANCE_NOT_READY' });
    await h.elapse(300);
    await outcome;
    await h.supervisor.stop('a4');
    await expect(h.supervisor.waitReady('a4', 200)).rejects.toMatchObject({ code: 'INSTANCE_NOT_READY' });
  });

  it('a removed listener hears nothing more', async () => {
    const heard: string[] = [];
    const remove = h.supervisor.onChange((s) => heard.push(s.state));
    remove();
    await h.supervisor.start(h.spec('a5'));
    await h.supervisor.waitReady('a5', 10_000);
    expect(heard).toEqual([]);
  });
});
