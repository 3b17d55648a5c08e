import { describe, expect, it } from 'vitest';
import { SecretSet } from '../../src/executor/index.ts';
import { createLogger, type LogDestination } from '../../src/platform/logger.ts';

/** A destination that keeps what it is given; `isTTY` fakes a terminal. */
function memory(isTTY = false): LogDestination & { text(): string; entries(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    isTTY,
    write: (line: string) => lines.push(line),
    text: () => lines.join(''),
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRET = 's3cr3t/value+with=chars';

describe('logger', () => {
  it('writes JSON lines with level, time, component, message and context', () => {
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink, level: 'debug' });
    log.info('run started', { runId: 'R1', jobs: 3 });
    log.debug('details');
    const [first, second] = sink.entries();
    expect(first).toEqual({ level: 'info', time: expect.any(String), component: 'server', runId: 'R1', jobs: 3, msg: 'run started' });
    expect(Number.isNaN(Date.parse(first?.time as string))).toBe(false);
    expect(second).toMatchObject({ level: 'debug', msg: 'details' });
    expect(sink.text().endsWith('\n')).toBe(true);
    expect(sink.text().split('\n')).toHaveLength(3);
  });

  it('drops lines below its level', () => {
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink, level: 'warn' });
    log.info('quiet');
    log.warn('loud');
    expect(sink.entries().map((e) => e.msg)).toEqual(['loud']);
  });

  it('gives children the parent context, their own component replacing the parent one', () => {
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink, base: { pid: 42 } });
    const runs = log.child({ component: 'runs', runId: 'R1' });
    runs.child({ jobId: 'build' }).warn('job retried', { attempt: 2 });
    const [entry] = sink.entries();
    expect(entry).toEqual({
      level: 'warn',
      time: expect.any(String),
      pid: 42,
      component: 'runs',
      runId: 'R1',
      jobId: 'build',
      attempt: 2,
      msg: 'job retried',
    });
    // Once, not twice: the raw line carries a single component key.
    expect(sink.text().match(/"component"/g)).toHaveLength(1);
  });

  it('serialises an error under err with its message and stack', () => {
    const sink = memory();
    createLogger({ component: 'server', destination: sink }).error('internal error', { err: new TypeError('boom') });
    const [entry] = sink.entries();
    expect(entry?.err).toMatchObject({ type: 'TypeError', message: 'boom', stack: expect.stringContaining('TypeError: boom') });
  });

  it('never lets a registered secret reach the sink: plain, base64 or URL-encoded, in the message or a nested field', () => {
    const secrets = new SecretSet();
    secrets.add(SECRET);
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink, mask: secrets.mask }).child({
      component: 'runs',
      note: `ctx ${SECRET}`,
    });
    const b64 = Buffer.from(SECRET).toString('base64');
    const url = encodeURIComponent(SECRET);
    log.warn(`bad value ${SECRET}`, {
      nested: { deeper: [`a ${b64} b`, { url: `https://x/?p=${url}` }] },
      [`key-${SECRET}`]: 1,
      err: new Error(`failed with ${SECRET}`),
    });
    const text = sink.text();
    for (const form of [SECRET, b64, b64.replace(/=+$/, ''), url, JSON.stringify(SECRET).slice(1, -1)]) expect(text).not.toContain(form);
    const [entry] = sink.entries();
    expect(entry?.msg).toBe('bad value ***');
    expect(entry?.note).toBe('ctx ***');
    expect(entry?.nested).toEqual({ deeper: ['a *** b', { url: 'https://x/?p=***' }] });
    expect((entry as { err: { message: string } }).err.message).toBe('failed with ***');
  });

  it('masks a secret registered after the logger was made, and one holding JSON-escaped characters', () => {
    const secrets = new SecretSet();
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink, mask: secrets.mask });
    const quoted = 'pa"ss\\word';
    secrets.add(quoted);
    log.info('value', { v: quoted });
    expect(sink.entries()[0]?.v).toBe('***');
  });

  it('blanks credential fields by path whatever their value', () => {
    const sink = memory();
    const log = createLogger({ component: 'server', destination: sink });
    log.info('request', { req: { headers: { authorization: 'Bearer abc', cookie: 'gantry_session=x', host: 'h' } }, token: 't0k' });
    const [entry] = sink.entries();
    expect(entry?.req).toEqual({ headers: { authorization: '***', cookie: '***', host: 'h' } });
    expect(entry?.token).toBe('***');
  });

  it('writes one compact human line on a terminal: HH:MM:SS level component message key=value', () => {
    const sink = memory(true);
    const log = createLogger({ component: 'server', destination: sink, color: false, base: { pid: 7 } }).child({
      component: 'runs',
      runId: 'R1',
    });
    log.warn('automatic release failed', { reason: 'no artifacts here', count: 2 });
    expect(sink.text()).toMatch(/^\d\d:\d\d:\d\d warn {2}runs automatic release failed runId=R1 reason="no artifacts here" count=2\n$/);
  });

  it('colours the terminal line by default and prints an error stack below it', () => {
    const sink = memory(true);
    createLogger({ component: 'proxy', destination: sink }).error('control request failed', { err: new Error('boom') });
    const [line, ...stack] = sink.text().trimEnd().split('\n');
    expect(line).toContain('\x1b[31merror');
    expect(line).toContain('err=boom');
    expect(stack[0]).toContain('    Error: boom');
  });

  it('is forced to JSON on a terminal, or to pretty elsewhere', () => {
    const tty = memory(true);
    createLogger({ component: 'server', destination: tty, format: 'json' }).info('hello');
    expect(tty.entries()[0]).toMatchObject({ msg: 'hello' });
    const file = memory(false);
    createLogger({ component: 'server', destination: file, pretty: true, color: false }).info('hello');
    expect(file.text()).toMatch(/^\d\d:\d\d:\d\d info {2}server hello\n$/);
  });
});
