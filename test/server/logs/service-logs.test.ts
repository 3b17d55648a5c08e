/**
 * Service logs over real files laid out as the supervisor writes them (RotatingLog in
 * instanceLogDir): search filters, the time index, JSON fields, the budget and its drop
 * markers, the follow across a rotation, and the global search's shape.
 */
import { lineKey } from '../../../src/core/line-key.ts';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMasker } from '../../../src/executor/index.ts';
import { RotatingLog } from '../../../src/runtime/rotating-log.ts';
import {
  enforceLogBudget,
  instanceLogDir,
  LogBudgetKeeper,
  type LogDrop,
  LOGS_DROPPED_MARKER,
  ServiceLogs,
} from '../../../src/server/logs/index.ts';
import { ManualClock } from '../../../src/core/clock.ts';
import { followServiceLogs, type FollowedLine } from '../../../src/server/logs/log-follow.ts';
import { compileLogQuery, requiredLiteral } from '../../../src/server/logs/log-query.ts';
import { environmentLogDir } from '../../../src/server/logs/log-segments.ts';
import type { Project, ReleaseRecord } from '../../../src/store/ports.ts';
import { waitFor } from '../../support/wait.ts';

const T0 = Date.parse('2026-11-01T12:00:00.000Z');
const project = { id: 'P1', name: 'shop' } as Project;
const releases: Record<string, number> = { R1: 1, R2: 2 };

let dataDir: string;
let clock: number;
let logs: ServiceLogs;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'gantry-service-logs-'));
  clock = T0;
  logs = new ServiceLogs({
    dataDir,
    projects: { get: async (p) => (p === 'shop' || p === 'P1' ? project : undefined), list: async () => [project] },
    releases: { get: async (id) => (releases[id] ? ({ id, number: releases[id] } as ReleaseRecord) : undefined) },
  });
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function instanceLog(release: string, instance: string, capBytes = 1 << 30, environment = 'production'): RotatingLog {
  return new RotatingLog({
    file: join(instanceLogDir(dataDir, 'P1', environment, release, instance), 'instance.log'),
    capBytes,
    keep: Number.POSITIVE_INFINITY,
    masker: createMasker(['hunter22']),
    now: () => clock,
  });
}

const search = (q: Partial<Parameters<ServiceLogs['search']>[0]> = {}) =>
  logs.search({ project, environment: 'production', limit: 100, ...q });

describe('service log search', () => {
  it('merges instances in time order and filters by regex, text, JSON fields, stream, release and instance', async () => {
    const a = instanceLog('R1', 'shop.production.r1.a');
    const b = instanceLog('R2', 'shop.production.r2.b');
    a.lines('o', '{"level":"info","msg":"started","req":{"method":"GET"}}\n');
    clock += 1000;
    b.lines('e', 'plain failure on order 42 with password hunter22\n');
    clock += 1000;
    a.lines('o', '{"level":"error","msg":"order 42 failed","req":{"method":"POST"}}\n');
    clock += 1000;
    b.system('[gantry] ready');

    const all = await search();
    expect(all.lines.map((l) => [l.instance, l.release, l.stream, l.text])).toEqual([
      ['shop.production.r1.a', 1, 'stdout', '{"level":"info","msg":"started","req":{"method":"GET"}}'],
      ['shop.production.r2.b', 2, 'stderr', 'plain failure on order 42 with password ***'],
      ['shop.production.r1.a', 1, 'stdout', '{"level":"error","msg":"order 42 failed","req":{"method":"POST"}}'],
      ['shop.production.r2.b', 2, 'system', '[gantry] ready'],
    ]);
    expect(all.lines[0]?.fields).toEqual({ level: 'info', msg: 'started', req: { method: 'GET' } });
    expect(all.lines[1]?.fields).toBeUndefined();
    expect(all.lines[0]?.time).toBe('2026-11-01T12:00:00.000Z');
    expect(all.lines[0]?.link).toBe(
      `/projects/shop/environments/production/logs?instance=shop.production.r1.a&at=2026-11-01T12%3A00%3A00.000Z&line=${lineKey(all.lines[0]?.text ?? '')}`,
    );

    const texts = async (q: Partial<Parameters<ServiceLogs['search']>[0]>) => (await search(q)).lines.map((l) => l.text);
    expect(await texts({ grep: 'order \\d+ (failed|with)' })).toHaveLength(2);
    expect(await texts({ grep: '^plain' })).toEqual(['plain failure on order 42 with password ***']);
    expect(await texts({ text: 'hunter22' })).toEqual([]);
    expect(await texts({ where: ['level=error'] })).toEqual(['{"level":"error","msg":"order 42 failed","req":{"method":"POST"}}']);
    expect(await texts({ where: ['req.method!=POST', 'level=info'] })).toHaveLength(1);
    expect(await texts({ grep: 'order', where: ['level=error'] })).toHaveLength(1);
    expect(await texts({ stream: 'stderr' })).toEqual(['plain failure on order 42 with password ***']);
    expect(await texts({ releaseId: 'R2' })).toHaveLength(2);
    expect(await texts({ instance: 'shop.production.r1.a' })).toHaveLength(2);
    expect(await texts({ sinceMs: T0 + 1000, untilMs: T0 + 3000 })).toHaveLength(2);

    const newest = await search({ limit: 1 });
    expect(newest.matched).toBe(4);
    expect(newest.lines.map((l) => l.text)).toEqual(['[gantry] ready']);
  });

  it('skips rotated segments outside the window without reading them (the time index)', async () => {
    const log = instanceLog('R1', 'i1', 4096);
    for (let minute = 0; minute < 10; minute++) {
      clock = T0 + minute * 60_000;
      for (let i = 0; i < 60; i++) log.lines('o', `minute ${minute} line ${i} ${'x'.repeat(40)}\n`);
    }
    log.close();
    expect(log.rotated().length).toBeGreaterThan(5);
    const everything = await search({ grep: 'line 7 ' });
    const lastMinute = await search({ grep: 'line 7 ', sinceMs: T0 + 9 * 60_000 });
    expect(everything.matched).toBe(10);
    expect(lastMinute.lines.map((l) => l.text)).toEqual([`minute 9 line 7 ${'x'.repeat(40)}`]);
    expect(lastMinute.scannedBytes).toBeLessThan(everything.scannedBytes / 3);
  });

  it('searches the raw bytes for the literal every regex match must contain, and only where one surely is', () => {
    const cases: [string, string | null][] = [
      ['payment failed for order \\d+', 'payment failed for order '],
      ['^plain', 'plain'],
      ['colou?r name', 'r name'],
      ['a\\.b\\.c', 'a.b.c'],
      ['[abc]xyz+', 'xyz'],
      ['(?:abc)+de', 'abc'],
      ['order \\d+ (failed|with)', null],
      ['(abc)?def', null],
      ['(?!abc)defg', null],
    ];
    expect(cases.map(([source]) => [source, requiredLiteral(source)])).toEqual(cases);
  });

  it('rejects a malformed query with INVALID_LOG_QUERY', async () => {
    await expect(search({ grep: 'order (' })).rejects.toMatchObject({ code: 'INVALID_LOG_QUERY', httpStatus: 400 });
    await expect(search({ where: ['level'] })).rejects.toMatchObject({ code: 'INVALID_LOG_QUERY' });
    await expect(search({ sinceMs: T0, untilMs: T0 })).rejects.toMatchObject({ code: 'INVALID_LOG_QUERY' });
  });

  it('answers the global search in exactly its shape', async () => {
    instanceLog('R1', 'i1').lines('o', 'payment declined\n');
    instanceLog('R1', 'i2', 1 << 30, 'staging').lines('o', 'payment accepted\n');
    const found = await logs.searchServiceLogs({ text: 'payment', limit: 10 });
    expect(found).toEqual([
      {
        project: 'shop',
        environment: 'production',
        release: 1,
        instance: 'i1',
        stream: 'stdout',
        time: '2026-11-01T12:00:00.000Z',
        text: 'payment declined',
        link: `/projects/shop/environments/production/logs?instance=i1&at=2026-11-01T12%3A00%3A00.000Z&line=${lineKey('payment declined')}`,
      },
      expect.objectContaining({ environment: 'staging', instance: 'i2', text: 'payment accepted' }),
    ]);
    expect(await logs.searchServiceLogs({ project: 'nope', limit: 10 })).toEqual([]);
    expect(await logs.searchServiceLogs({ environment: 'staging', regex: 'pay.*ed$', limit: 10 })).toHaveLength(1);
  });
});

describe('service log budget', () => {
  it('deletes the oldest segments past the size budget, never a live file, and says so in a line', async () => {
    const old = instanceLog('R1', 'gone', 2000);
    for (let i = 0; i < 40; i++) old.lines('o', `old line ${i} ${'x'.repeat(60)}\n`);
    old.close();
    clock += 60_000;
    const live = instanceLog('R2', 'live', 2000);
    for (let i = 0; i < 40; i++) live.lines('o', `new line ${i} ${'y'.repeat(60)}\n`);
    const before = (await search({ limit: 1000 })).matched;

    const drop = await enforceLogBudget(
      dataDir,
      { projectId: 'P1', environment: 'production' },
      { maxBytes: 3000, maxAgeMs: 86_400_000 },
      clock,
      (i) => i === 'live',
    );
    expect(drop).toMatchObject({ projectId: 'P1', environment: 'production', reason: 'size' });
    expect(drop?.bytes).toBeGreaterThan(0);
    expect(existsSync(live.file)).toBe(true);
    expect(existsSync(old.file)).toBe(false);

    const after = await search({ limit: 1000 });
    expect(after.matched).toBeLessThan(before);
    const marker = after.lines.find((l) => l.stream === 'system' && l.text.startsWith(LOGS_DROPPED_MARKER));
    expect(marker).toMatchObject({ instance: 'gantry', release: null });
    expect(marker?.text).toContain(`${drop?.bytes} bytes in ${drop?.files} files`);
    // The newest lines survive.
    expect(after.lines.at(-1)?.text).toBe(`new line 39 ${'y'.repeat(60)}`);
    expect(
      await enforceLogBudget(
        dataDir,
        { projectId: 'P1', environment: 'production' },
        { maxBytes: 3000, maxAgeMs: 86_400_000 },
        clock,
        (i) => i === 'live',
      ),
    ).toBeNull();
  });

  it('deletes segments older than the age budget', async () => {
    const log = instanceLog('R1', 'quiet');
    log.lines('o', 'ancient\n');
    log.close();
    clock = T0 + 15 * 86_400_000;
    const drop = await enforceLogBudget(
      dataDir,
      { projectId: 'P1', environment: 'production' },
      { maxBytes: 1 << 30, maxAgeMs: 14 * 86_400_000 },
      clock,
      () => false,
    );
    expect(drop).toMatchObject({ reason: 'age', files: 1 });
    expect((await search()).lines.map((l) => l.text)).toEqual([
      expect.stringMatching(/^\[gantry\] logs dropped: \d+ bytes in 1 files.*older than 336 h/),
    ]);
  });
});

describe('the budget keeper', () => {
  it("holds each environment to its own budget where it has one, and to the server's elsewhere", async () => {
    for (const environment of ['production', 'staging']) {
      const log = instanceLog('R1', `quiet-${environment}`, 1 << 30, environment);
      log.lines('o', 'two hours old\n');
      log.close();
    }
    clock = T0 + 2 * 3_600_000;
    const drops: LogDrop[] = [];
    const keeper = new LogBudgetKeeper({
      dataDir,
      budget: { maxBytes: 1 << 30, maxAgeMs: 14 * 86_400_000 },
      budgetOf: async ({ environment }) => (environment === 'production' ? { maxAgeMs: 3_600_000 } : {}),
      clock: new ManualClock(clock),
      isLive: () => false,
      onDrop: async (drop) => {
        drops.push(drop);
      },
      onError: (error) => {
        throw error;
      },
    });
    await keeper.enforce();
    expect(drops.map((d) => [d.environment, d.reason])).toEqual([['production', 'age']]);
    expect(existsSync(environmentLogDir(dataDir, 'P1', 'staging'))).toBe(true);
    expect((await logs.search({ project, environment: 'staging', limit: 10 })).lines.map((l) => l.text)).toEqual(['two hours old']);
  });
});

describe('service log follow', () => {
  it('hands on every new line across a rotation and new instances, in order', async () => {
    const log = instanceLog('R1', 'f1', 400);
    log.lines('o', 'before following\n');
    const got: FollowedLine[] = [];
    const controller = new AbortController();
    const following = followServiceLogs({
      envDir: environmentLogDir(dataDir, 'P1', 'production'),
      matcher: compileLogQuery({ grep: 'n\\d+' }),
      onLines: (lines) => got.push(...lines),
      signal: controller.signal,
      pollMs: 20,
      fromStart: true,
    });
    // The first line seen means the follower is under way: what follows rotates the file under it.
    log.lines('o', `n0 ${'z'.repeat(30)}\n`);
    await waitFor(() => got.length === 1, { what: 'the first followed line', timeoutMs: 10_000 });
    for (let i = 1; i < 30; i++) log.lines('o', `n${i} ${'z'.repeat(30)}\n`);
    log.lines('o', 'not matching\n');
    instanceLog('R2', 'f2').lines('e', 'n999 from a new instance\n');
    try {
      await waitFor(() => got.length === 31, { what: 'every followed line', timeoutMs: 10_000 });
    } finally {
      controller.abort();
      await following;
    }
    expect(log.rotated().length).toBeGreaterThan(0);
    expect(got.filter((l) => l.instance === 'f1').map((l) => l.text.split(' ')[0])).toEqual(Array.from({ length: 30 }, (_, i) => `n${i}`));
    expect(got.find((l) => l.instance === 'f2')).toMatchObject({ releaseId: 'R2', stream: 'e', text: 'n999 from a new instance' });
  });

  it('hands on every line exactly once, in order, while the file rotates between any two of its reads', async () => {
    // The writer yields after each line, so rotations land between the follower's steps (a file
    // looked at and then opened by its name could be the next one: its lines read at the old
    // one's offset, skipped or handed on twice).
    const log = instanceLog('R1', 'busy', 120);
    const got: FollowedLine[] = [];
    const controller = new AbortController();
    const following = followServiceLogs({
      envDir: environmentLogDir(dataDir, 'P1', 'production'),
      matcher: compileLogQuery({}),
      onLines: (lines) => got.push(...lines),
      signal: controller.signal,
      pollMs: 0,
      fromStart: true,
    });
    const count = 600;
    log.lines('o', `n0 ${'z'.repeat(20)}\n`);
    await waitFor(() => got.length === 1, { what: 'the first followed line' });
    for (let i = 1; i < count; i++) {
      log.lines('o', `n${i} ${'z'.repeat(20)}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    try {
      await waitFor(() => got.length >= count, { what: 'every line', timeoutMs: 30_000 });
    } finally {
      controller.abort();
      await following;
    }
    expect(got.map((l) => l.text.split(' ')[0])).toEqual(Array.from({ length: count }, (_, i) => `n${i}`));
  });
});
