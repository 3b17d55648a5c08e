import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor, type InstanceStatus, type SecretCodec } from '../../src/runtime/index.ts';
import { isLive, processesWithEnv, readStat } from '../../src/platform/proc.ts';
import { httpGet, readLog, spec, SUPERVISOR_CHILD } from './helpers.ts';
import { killInstances } from '../support/instances.ts';
import { waitFor } from '../support/wait.ts';

let dataDir: string;
const supervisors: Supervisor[] = [];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gantry-adopt-'));
});

afterEach(async () => {
  for (const s of supervisors.splice(0)) {
    for (const i of s.list()) await s.stop(i.id).catch(() => {});
    await s.detach();
  }
  killInstances(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

function supervisor(): Supervisor {
  const s = new Supervisor({ dataDir, pollMs: 30, backoff: { initialMs: 100 } });
  supervisors.push(s);
  return s;
}

const alive = (pid: number) => isLive(readStat(pid));
const keyOf = (id: string) => (JSON.parse(readFileSync(join(dataDir, 'instances', `${id}.json`), 'utf8')) as { envKey: string }).envKey;

/** Runs a supervisor in a child process (a stand-in for the server), returns it once its instances are ready. */
async function serverWithInstances(ids: string[]): Promise<{ pid: number; statuses: InstanceStatus[] }> {
  const specs = ids.map((id) => spec(dataDir, id, { env: { PRINT_TOKEN: '1', API_TOKEN: 'adopt-secret' }, secrets: ['adopt-secret'] }));
  const child = spawn(process.execPath, [SUPERVISOR_CHILD, JSON.stringify({ dataDir, specs })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the supervisor child exited with ${code}`)));
  });
  return { pid: child.pid as number, statuses: JSON.parse(firstLine) as InstanceStatus[] };
}

describe('adoption', () => {
  it('adopts live instances of a killed server (same pid, still answering, no duplicate) and restarts dead ones', async () => {
    const server = await serverWithInstances(['keep', 'lost']);
    const [keep, lost] = server.statuses as [InstanceStatus, InstanceStatus];
    expect(keep.state).toBe('ready');

    process.kill(server.pid, 'SIGKILL');
    await waitFor(() => !alive(server.pid), { what: 'the server to die' });
    process.kill(lost.pid as number, 'SIGKILL');
    await waitFor(() => !alive(lost.pid as number), { what: 'the lost instance to die' });
    // The survivor keeps serving with no server at all.
    expect((await httpGet(keep.port)).body).toBe(`hello from keep pid ${keep.pid}\n`);

    const s = supervisor();
    const adopted = await s.adopt();
    expect(adopted.map((a) => a.id).sort()).toEqual(['keep', 'lost']);
    expect(s.status('keep')).toMatchObject({ state: 'ready', pid: keep.pid, port: keep.port, restarts: 0 });
    expect((await httpGet(keep.port)).body).toBe(`hello from keep pid ${keep.pid}\n`);
    expect(processesWithEnv('GANTRY_INSTANCE_KEY', keyOf('keep'))).toEqual([keep.pid]);

    const revived = await s.waitReady('lost', 10_000);
    expect(revived.pid).not.toBe(lost.pid);
    expect(revived.restarts).toBe(1);
    expect((await httpGet(revived.port)).body).toBe(`hello from lost pid ${revived.pid}\n`);
    expect(processesWithEnv('GANTRY_INSTANCE_KEY', keyOf('lost'))).toEqual([revived.pid]);

    // Supervision really is back: a crash of the adopted instance is noticed (through /proc) and restarted.
    process.kill(keep.pid as number, 'SIGKILL');
    const restarted = await waitFor(
      () => {
        const st = s.status('keep');
        return st?.state === 'ready' && st.pid !== keep.pid ? st : null;
      },
      { what: 'the adopted instance to be restarted' },
    );
    expect(restarted.restarts).toBe(1);

    // The log continues in the same file, still masked, with the re-attachment marked.
    const log = readLog(keep.logFile);
    expect(log).toContain('token=*** b64=***');
    expect(log).not.toContain('adopt-secret');
    expect(log).toMatch(/s \[gantry\] supervisor \d+ attached/);
    expect(log).toContain(`s [gantry] adopted process ${keep.pid} on port ${keep.port} (ready)`);
  });

  it('hands instances over after detach() (a graceful server restart), and one supervisor owns a data dir', async () => {
    const first = supervisor();
    const started = await first.start(spec(dataDir, 'web'));
    await first.waitReady('web', 10_000);
    await expect(supervisor().adopt()).rejects.toMatchObject({ code: 'SUPERVISOR_LOCKED' });
    await first.detach();
    expect(alive(started.pid as number)).toBe(true);
    await expect(first.start(spec(dataDir, 'other'))).rejects.toMatchObject({ code: 'SUPERVISOR_DETACHED' });

    const second = supervisor();
    const [adopted] = await second.adopt();
    expect(adopted).toMatchObject({ id: 'web', pid: started.pid, state: 'ready' });
    // A second start of the same id would be a duplicate.
    await expect(second.start(spec(dataDir, 'web'))).rejects.toMatchObject({ code: 'CONFLICT' });
    await second.stop('web');
    expect(alive(started.pid as number)).toBe(false);

    // A stopped instance stays stopped across adoption.
    await second.detach();
    const third = supervisor();
    expect(await third.adopt()).toEqual([expect.objectContaining({ id: 'web', state: 'stopped', pid: null })]);
  });

  it('refuses a start for an id whose running record was not adopted yet', async () => {
    const first = supervisor();
    await first.start(spec(dataDir, 'web'));
    await first.detach();
    await expect(supervisor().start(spec(dataDir, 'web'))).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('encrypts env and secrets in the records when given a codec', async () => {
    const codec: SecretCodec = {
      encrypt: (p) => `rot13:${Buffer.from(p).toString('base64').split('').reverse().join('')}`,
      decrypt: (c) => Buffer.from(c.slice(6).split('').reverse().join(''), 'base64').toString(),
    };
    const first = new Supervisor({ dataDir, pollMs: 30, secretCodec: codec });
    supervisors.push(first);
    await first.start(spec(dataDir, 'enc', { env: { API_TOKEN: 'plain-text-secret' }, secrets: ['plain-text-secret'] }));
    await first.waitReady('enc', 10_000);
    await first.detach();
    expect(readFileSync(join(dataDir, 'instances', 'enc.json'), 'utf8')).not.toContain('plain-text-secret');
    const second = new Supervisor({ dataDir, pollMs: 30, secretCodec: codec });
    supervisors.push(second);
    const [adopted] = await second.adopt();
    expect(adopted?.state).toBe('ready');
  });
});
