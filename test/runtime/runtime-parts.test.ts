import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMasker, parseLogLine } from '../../src/executor/index.ts';
import { instanceSandboxArgv } from '../../src/runtime/instance-sandbox.ts';
import { backoffDelay, canTransition, DEFAULT_BACKOFF, transition } from '../../src/runtime/instance-state.ts';
import { InstanceStore, type InstanceRecord } from '../../src/runtime/instance-store.ts';
import { pickPort, portFree } from '../../src/platform/ports.ts';
import { listProcesses, readStat } from '../../src/platform/proc.ts';
import { TreeSampler } from '../../src/runtime/process-control.ts';
import { RotatingLog } from '../../src/runtime/rotating-log.ts';
import { MAX_LINE_BYTES, SpoolPump } from '../../src/runtime/spool-pump.ts';
import { spec } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-runtime-parts-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const noMask = createMasker([]);
const fixedNow = () => Date.UTC(2024, 4, 1, 12, 0, 0, 123);
const texts = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(parseLogLine)
    .map((l) => `${l.stream} ${l.text}`);

describe('instance lifecycle', () => {
  it('allows the moves of the lifecycle and throws on others', () => {
    expect(canTransition('starting', 'ready')).toBe(true);
    expect(canTransition('ready', 'unready')).toBe(true);
    expect(canTransition('restarting', 'starting')).toBe(true);
    expect(canTransition('stopping', 'stopped')).toBe(true);
    expect(canTransition('stopped', 'ready')).toBe(false);
    expect(canTransition('stopping', 'ready')).toBe(false);
    expect(() => transition('x', 'stopped', 'ready')).toThrow(expect.objectContaining({ code: 'INVALID_INSTANCE_TRANSITION' }));
  });

  it('doubles the backoff from 1 s up to 60 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => backoffDelay(n, DEFAULT_BACKOFF))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000,
    ]);
  });
});

describe('RotatingLog', () => {
  it('writes masked, timestamped lines in the job log format and rotates at the cap', () => {
    const file = join(dir, 'instance.log');
    const log = new RotatingLog({ file, capBytes: 200, keep: 2, masker: createMasker(['hunter22']), now: fixedNow });
    log.lines('o', 'password=hunter22\nsecond\n');
    log.system('[gantry] hello');
    expect(texts(file)).toEqual(['o password=***', 'o second', 's [gantry] hello']);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe('2024-05-01T12:00:00.123Z o password=***');
    for (let i = 0; i < 20; i++) log.lines('e', `line ${i} ${'x'.repeat(40)}\n`);
    log.close();
    expect(statSync(file).size).toBeLessThanOrEqual(200);
    // Rotated files keep their number for life (readers hold on to them); only the newest `keep` remain.
    const rotated = log.rotated().map((r) => r.n);
    expect(rotated).toHaveLength(2);
    expect(rotated[1]).toBe((rotated[0] as number) + 1);
    expect(existsSync(`${file}.1`)).toBe(false);
    // Deleting the oldest output is said where it happened, never silent.
    expect(texts(file)[0]).toMatch(/^s \[gantry\] log dropped: \d+ bytes of the oldest output/);
    expect(texts(file).at(-1)).toBe(`e line 19 ${'x'.repeat(40)}`);
  });
});

describe('SpoolPump', () => {
  const setup = (offsets = { o: 0, e: 0 }) => {
    const log = new RotatingLog({ file: join(dir, 'instance.log'), capBytes: 1 << 30, keep: 1, masker: noMask, now: fixedNow });
    const pump = new SpoolPump({ out: join(dir, 'out'), err: join(dir, 'err'), log, offsets, compactBytes: 8192 });
    return { log, pump };
  };

  it('stores complete lines, keeps partial ones until their newline, and persists offsets of stored bytes', () => {
    const { log, pump } = setup();
    appendFileSync(join(dir, 'out'), 'one\r\ntw');
    appendFileSync(join(dir, 'err'), 'oops\n');
    expect(pump.pump()).toBe(true);
    expect(texts(log.file)).toEqual(['o one', 'e oops']);
    expect(pump.offsets).toEqual({ o: 5, e: 5 });
    appendFileSync(join(dir, 'out'), 'o\nthree');
    pump.pump();
    expect(texts(log.file)).toEqual(['o one', 'e oops', 'o two']);
    pump.drain();
    expect(texts(log.file).at(-1)).toBe('o three');
    pump.close();
    log.close();
  });

  it('continues from persisted offsets without repeating lines (a new supervisor)', () => {
    const first = setup();
    appendFileSync(join(dir, 'out'), 'a\nb\npartial');
    first.pump.pump();
    const offsets = first.pump.offsets;
    first.pump.close();
    first.log.close();
    appendFileSync(join(dir, 'out'), ' end\nc\n');
    const second = setup(offsets);
    second.pump.pump();
    expect(texts(second.log.file)).toEqual(['o a', 'o b', 'o partial end', 'o c']);
    second.pump.close();
    second.log.close();
  });

  it('splits overlong lines', () => {
    const { log, pump } = setup();
    appendFileSync(join(dir, 'out'), `${'y'.repeat(MAX_LINE_BYTES + 10)}\n`);
    pump.drain();
    expect(texts(log.file).map((t) => t.length)).toEqual([2 + MAX_LINE_BYTES, 2 + 10]);
    pump.close();
    log.close();
  });

  it('gives disk back: punches out what was read while the writer lives, truncates once it is gone', async () => {
    const { log, pump } = setup();
    const out = join(dir, 'out');
    appendFileSync(out, `${'z'.repeat(99)}\n`.repeat(400)); // 40 000 bytes
    pump.pump();
    await pump.compact(true);
    expect(statSync(out).size).toBe(40_000); // offsets stay valid for an O_APPEND writer …
    expect(statSync(out).blocks * 512).toBeLessThan(40_000); // … but the blocks are freed
    appendFileSync(out, 'after\n');
    pump.pump();
    expect(texts(log.file).at(-1)).toBe('o after');
    pump.drain();
    await pump.compact(false);
    expect(statSync(out).size).toBe(0);
    expect(pump.offsets.o).toBe(0);
    appendFileSync(out, 'next process\n');
    pump.pump();
    expect(texts(log.file).at(-1)).toBe('o next process');
    pump.close();
    log.close();
  });
});

describe('ports', () => {
  let squatter: Server | null = null;
  afterEach(() => {
    squatter?.close();
    squatter = null;
  });

  it('never hands out a port in use or already assigned', async () => {
    squatter = createServer();
    await new Promise<void>((r) => (squatter as Server).listen(0, '127.0.0.1', () => r()));
    const busy = (squatter.address() as { port: number }).port;
    expect(await portFree(busy)).toBe(false);
    // A range whose first port is taken by another process and whose second is assigned already.
    const picked = await pickPort(new Set([busy + 1]), { from: busy, to: busy + 3 });
    expect([busy + 2, busy + 3]).toContain(picked);
    await expect(pickPort(new Set(), { from: busy, to: busy })).rejects.toMatchObject({ code: 'NO_FREE_PORT' });
    const kernel = await pickPort(new Set([busy]));
    expect(kernel).not.toBe(busy);
    expect(await portFree(kernel)).toBe(true);
  });
});

describe('instanceSandboxArgv', () => {
  it('hides the data dir, then binds the artifacts read-only and the instance dir writable on top; no die-with-parent', () => {
    const data = join(dir, 'data');
    writeFileSync(join(dir, 'marker'), '');
    const argv = instanceSandboxArgv(['bash', '-c', 'run'], {
      workDir: join(data, 'releases', 'r1'),
      instanceDir: join(data, 'instances', 'i', 'home'),
      tmpDir: join(data, 'instances', 'i', 'tmp'),
      hiddenPaths: [dir, join(dir, 'marker'), join(dir, 'absent')],
      cwd: join(data, 'releases', 'r1', 'app'),
    });
    const text = argv.join(' ');
    expect(text).toContain(`--bind ${join(data, 'instances', 'i', 'tmp')} /tmp --tmpfs ${dir} --ro-bind /dev/null ${join(dir, 'marker')}`);
    expect(text).toContain(
      `--ro-bind ${join(data, 'releases', 'r1')} ${join(data, 'releases', 'r1')} --bind ${join(data, 'instances', 'i', 'home')}`,
    );
    expect(text).not.toContain('absent');
    expect(argv).not.toContain('--die-with-parent');
    expect(argv).toContain('--unshare-pid');
    expect(argv.slice(-5)).toEqual([join(data, 'releases', 'r1', 'app'), '--', 'bash', '-c', 'run']);
  });
});

describe('InstanceStore', () => {
  const record = (id: string): InstanceRecord => ({
    id,
    spec: spec(dir, id, { env: { TOKEN: 'top-secret' }, secrets: ['top-secret'] }),
    desired: 'running',
    state: 'ready',
    pid: 123,
    startTime: '456',
    sandboxed: false,
    port: 4000,
    restarts: 2,
    startedAt: '2024-05-01T12:00:00.000Z',
    lastExit: { code: 1, signal: null },
    logOffsets: { o: 10, e: 0 },
    envKey: `k/${id}`,
  });

  it('round-trips records and reports unreadable ones without dropping the rest', () => {
    const store = new InstanceStore(dir);
    store.save(record('a'));
    writeFileSync(join(store.dir, 'broken.json'), '{ nope');
    const { records, unreadable } = store.loadAll();
    expect(records).toEqual([record('a')]);
    expect(unreadable).toEqual([expect.objectContaining({ file: join(store.dir, 'broken.json') })]);
    expect(statSync(join(store.dir, 'a.json')).mode & 0o777).toBe(0o600);
  });

  it('allows one live owner per data dir and takes over a dead owner’s lock', () => {
    const a = new InstanceStore(dir);
    const b = new InstanceStore(dir);
    a.lock();
    expect(() => b.lock()).toThrow(expect.objectContaining({ code: 'SUPERVISOR_LOCKED' }));
    a.unlock();
    b.lock();
    b.unlock();
    // A lock left by a process that is gone (pid 2^22 is the kernel's PID_MAX_LIMIT: never a live pid).
    writeFileSync(join(a.dir, '.lock'), JSON.stringify({ pid: 4_194_304, startTime: '1', token: 't' }));
    a.lock();
    expect(JSON.parse(readFileSync(join(a.dir, '.lock'), 'utf8')).pid).toBe(process.pid);
    a.unlock();
  });

  it("takes a live owner's lock over only with a higher lease token (an owner paused past its lease)", () => {
    let paused: number | null = 3;
    const old = new InstanceStore(dir, undefined, () => paused);
    old.lock();
    const follower = new InstanceStore(dir, undefined, () => null);
    expect(() => follower.lock()).toThrow(expect.objectContaining({ code: 'SUPERVISOR_LOCKED' }));
    const same = new InstanceStore(dir, undefined, () => 3);
    expect(() => same.lock()).toThrow(expect.objectContaining({ code: 'SUPERVISOR_LOCKED' }));
    const next = new InstanceStore(dir, undefined, () => 4);
    next.lock();
    expect(JSON.parse(readFileSync(join(dir, 'instances', '.lock'), 'utf8')).fence).toBe(4);
    // The old owner's unlock leaves the new owner's lock alone.
    paused = null;
    old.unlock();
    expect(JSON.parse(readFileSync(join(dir, 'instances', '.lock'), 'utf8')).fence).toBe(4);
    next.unlock();
  });
});

describe('TreeSampler', () => {
  // A CI run measured 376 % for one busy process on two cores: the ticks came from a /proc scan
  // made before the time they were divided by. The sampler now reads them at the sample's time.
  it('divides CPU ticks read at the sample time, not those of an older /proc scan', async () => {
    const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    const pid = burner.pid as number;
    try {
      const ticks = () => readStat(pid)?.cpuTicks ?? 0;
      const sampler = new TreeSampler();
      const firstScan = listProcesses();
      const scanned = firstScan.find((p) => p.pid === pid)?.cpuTicks ?? 0;
      // 400 ms of CPU pass after the scan, as when one scan of a busy machine is slow.
      await waitFor(() => ticks() >= scanned + 40, { what: 'the burner to use 400 ms of CPU' });
      expect(sampler.sample(pid, performance.now(), firstScan).cpuPercent).toBeNull();
      const secondScan = listProcesses();
      const at = performance.now();
      await delay(100);
      const { cpuPercent } = sampler.sample(pid, performance.now(), secondScan);
      expect(cpuPercent).not.toBeNull();
      // One thread, 10 ms ticks over ~100 ms: at most ~110 %. Before, the scans' 400 ms made ~400 %.
      expect(cpuPercent as number).toBeLessThan(150);
      expect(performance.now() - at).toBeGreaterThanOrEqual(100);
    } finally {
      burner.kill('SIGKILL');
    }
  });
});
