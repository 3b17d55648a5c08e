/**
 * Several servers share one runtime dir (docs/decisions/0037): the supervisor of a server paused
 * past its lease must neither start, stop nor record an instance once the new owner's supervisor
 * took the lock over with a higher lease token — its stale view would undo the new owner's work.
 * Two real supervisors on one dir, real instance processes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src/runtime/index.ts';
import { killInstances } from '../support/instances.ts';
import { spec } from './helpers.ts';

let dataDir: string;
const supervisors: Supervisor[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gantry-fence-'));
});

afterEach(async () => {
  for (const s of supervisors.splice(0)) await s.detach().catch(() => undefined);
  killInstances(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

function supervisor(token: number): Supervisor {
  const s = new Supervisor({ dataDir, pollMs: 30, backoff: { initialMs: 50 }, lockFence: () => token });
  supervisors.push(s);
  return s;
}

const record = (id: string) =>
  JSON.parse(readFileSync(join(dataDir, 'instances', `${id}.json`), 'utf8')) as { desired: string; state: string };

describe('a supervisor whose lock a newer lease holder took over', () => {
  it('starts, stops and records nothing more', async () => {
    const old = supervisor(1);
    await old.start(spec(dataDir, 'web-1'));
    await old.waitReady('web-1', 10_000);

    // The new owner adopts the instance (taking the lock over: token 2 > 1) and stops it.
    const next = supervisor(2);
    await next.adopt();
    await next.stop('web-1');
    expect(record('web-1')).toMatchObject({ desired: 'stopped', state: 'stopped' });

    // The old owner wakes with commands under way.
    await expect(old.start(spec(dataDir, 'web-2'))).rejects.toMatchObject({ code: 'SUPERVISOR_FENCED' });
    await expect(old.stop('web-1')).rejects.toMatchObject({ code: 'SUPERVISOR_FENCED' });
    // Detaching writes every record it knows: none of its stale view lands.
    await old.detach();
    expect(record('web-1')).toMatchObject({ desired: 'stopped', state: 'stopped' });
    expect(next.list().map((s) => [s.id, s.state])).toEqual([['web-1', 'stopped']]);
  });
});
