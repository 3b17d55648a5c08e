/**
 * The job log written by the step helper (spawner.ts, log mode) instead of Node. The Node log
 * writer (log-writer.ts) is the reference: the same bytes must give the same stored lines, the
 * same cap and marker, whatever the helper's read sizes.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JobLog } from '../../src/executor/job-log.ts';
import { createLogWriter, type LogLoanReturn, MAX_LINE_BYTES, parseLogLine, type LogWriter } from '../../src/executor/log-writer.ts';
import { createMasker, secretForms } from '../../src/executor/masker.ts';
import { sandboxArgv } from '../../src/executor/sandbox.ts';
import { Spawner, spawnerAvailable } from '../../src/executor/spawner.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
const spawners: Spawner[] = [];
/** Whether the native log pump should write the logs (else the helper's Perl code): each describe runs both. */
let native = false;
const hasCompiler = () => spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-helper-log-'));
});
afterEach(async () => {
  await Promise.all(spawners.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function helper(): Promise<Spawner> {
  const spawner = new Spawner({ cwd: dir });
  spawners.push(spawner);
  await spawner.started();
  return spawner;
}

const PATH_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const stored = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1).map(parseLogLine);
/** `<stream> <text>` per line; long texts shortened to their start and byte length, so a failure stays readable. */
const streamsAndTexts = (file: string) =>
  stored(file).map((l) => `${l.stream} ${l.text.length > 100 ? `${l.text.slice(0, 20)}… (${Buffer.byteLength(l.text)} bytes)` : l.text}`);

interface Logged {
  file: string;
  writer: LogWriter;
  spawner: Spawner;
  step(script: string): Promise<unknown>;
  /** Hands the log back to Node and closes it. */
  finish(): Promise<{ truncated: boolean; bytes: number; lines: number }>;
  /** What the helper reported at the hand-back. */
  returned?: LogLoanReturn | null;
}

/** A log written by a helper, at the protocol level (so a test can choose the helper's read size). */
async function helperLog(
  o: { capBytes?: number; secrets?: string[]; readBytes?: number; sandbox?: boolean; final?: boolean; kernelCopy?: boolean } = {},
): Promise<Logged> {
  const file = join(dir, 'log', 'log');
  const masker = createMasker(o.secrets ?? []);
  const writer = createLogWriter({ file, capBytes: o.capBytes ?? 0, jobKey: 'job', masker });
  const spawner = await helper();
  const loan = writer.lend();
  if (!loan) throw new Error('the log writer did not lend the log');
  const fds = await spawner.openLogFiles(loan.file, loan.ringFile);
  if (o.sandbox) {
    const work = join(dir, 'work');
    mkdirSync(work, { recursive: true });
    await spawner.enterSandbox(
      sandboxArgv([], { workspaceDir: work, privateDirs: [], hiddenPaths: [join(dir, 'log')], network: false, cwd: work }),
      work,
    );
  }
  await spawner.startLog({ ...loan, fds, maskForms: masker.byteForms, readBytes: o.readBytes, kernelCopy: o.kernelCopy });
  expect(spawner.nativeLog).toBe(native);
  const logged: Logged = {
    file,
    writer,
    spawner,
    step: (script) => runStep(spawner, script, o.sandbox ? join(dir, 'work') : dir),
    async finish() {
      logged.returned = await spawner.endLog({ final: o.final });
      writer.resume(logged.returned);
      await spawner.leaveSandbox();
      return writer.close();
    },
  };
  return logged;
}

function runStep(spawner: Spawner, script: string, cwd = dir) {
  return spawner.run({
    argv: ['bash', '-c', script],
    cwd,
    env: PATH_ENV,
    signal: new AbortController().signal,
    onStdout: () => undefined,
    onStderr: () => undefined,
  });
}

/** The same bytes through the Node writer, in one chunk: the reference. */
async function nodeLog(input: Buffer, o: { capBytes?: number; secrets?: string[] } = {}): Promise<string[]> {
  const file = join(dir, 'ref', 'log');
  const writer = createLogWriter({ file, capBytes: o.capBytes ?? 0, jobKey: 'job', masker: createMasker(o.secrets ?? []) });
  writer.stdout(input);
  await writer.close();
  return streamsAndTexts(file);
}

/** Where each of the process's descriptors leads (`ls -l /proc/<pid>/fd`), without bash's own (255) and what the test runner passed down. */
const DESCRIPTORS_SCRIPT = 'for fd in 0 1 2 $(ls /proc/$$/fd | sort -n | tail -n +4); do echo "$fd $(readlink /proc/$$/fd/$fd)"; done';

const SECRET = 'hunter2-välue/42+?';

/** Output exercising every rule of the format: CRLF, empty lines, lines at and past 64 KiB (split inside a multi-byte character), secrets, no final newline. */
function awkwardOutput(): Buffer {
  const parts = [
    'plain line\n',
    'windows line\r\n',
    '\n',
    `a secret ${SECRET} and again ${SECRET}\n`,
    `${'x'.repeat(MAX_LINE_BYTES)}\n`,
    `${'y'.repeat(MAX_LINE_BYTES + 1)}\n`,
    `${'€'.repeat(50_000)}\n`,
    `b${'é'.repeat(40_000)}`,
    `${'z'.repeat(20)}\n`,
    `${Buffer.from(SECRET).toString('base64')} ${encodeURIComponent(SECRET)}\n`,
    'the end without a newline',
  ];
  return Buffer.from(parts.join(''), 'utf8');
}

for (const pump of ['native', 'perl'] as const) {
  const runs = requirement('perl', spawnerAvailable()) && (pump === 'perl' || requirement('cc (the native log pump)', hasCompiler()));
  const saved = process.env.GANTRY_LOG_PUMP;
  const choose = () => {
    native = pump === 'native';
    if (native) delete process.env.GANTRY_LOG_PUMP;
    else process.env.GANTRY_LOG_PUMP = 'perl';
  };
  const restore = () => {
    if (saved === undefined) delete process.env.GANTRY_LOG_PUMP;
    else process.env.GANTRY_LOG_PUMP = saved;
  };

  describe.runIf(runs)(`the job log written by the step helper (${pump})`, () => {
    beforeAll(choose);
    afterAll(restore);

    it('stores exactly what the Node writer stores from the same bytes, whatever the read size', async () => {
      const input = awkwardOutput();
      const inputFile = join(dir, 'input');
      writeFileSync(inputFile, input);
      const expected = await nodeLog(input, { secrets: [SECRET] });
      expect(expected.some((l) => l.includes('***'))).toBe(true);
      for (const readBytes of [65_536, 4093, 7]) {
        const log = await helperLog({ secrets: [SECRET], readBytes });
        await log.step(`cat ${inputFile}`);
        const summary = await log.finish();
        expect(streamsAndTexts(log.file), `read size ${readBytes}`).toEqual(expected);
        expect(summary).toMatchObject({ truncated: false, bytes: readFileSync(log.file).length, lines: expected.length });
        rmSync(join(dir, 'log'), { recursive: true });
      }
    });

    it('caps the log like the Node writer: same head, marker (bytes and lines cut) and tail, and no file left beside it', async () => {
      const lines = Array.from({ length: 6000 }, (_, i) => `line ${i} ${'-'.repeat(i % 97)}\n`);
      lines.splice(3000, 0, `${'L'.repeat(MAX_LINE_BYTES + 10)}\n`);
      const input = Buffer.from(lines.join(''));
      const inputFile = join(dir, 'input');
      writeFileSync(inputFile, input);
      for (const capBytes of [20_000, 300_000]) {
        const expected = await nodeLog(input, { capBytes });
        expect(expected.filter((l) => l.startsWith('s [gantry] log truncated: '))).toHaveLength(1);
        // Node assembles the tail, or the helper does at the last hand-back (by the kernel's copy or its own).
        for (const how of [{ final: false }, { final: true }, { final: true, kernelCopy: false }]) {
          const log = await helperLog({ capBytes, ...how });
          await log.step(`cat ${inputFile}`);
          const summary = await log.finish();
          expect(streamsAndTexts(log.file), `cap ${capBytes} ${JSON.stringify(how)}`).toEqual(expected);
          expect((log.returned?.assembled ?? null) !== null, 'assembled by the helper').toBe(how.final);
          expect(summary).toMatchObject({ truncated: true, bytes: readFileSync(log.file).length, lines: expected.length });
          expect(readdirSync(join(dir, 'log'))).toEqual(['log']);
          rmSync(join(dir, 'log'), { recursive: true });
        }
      }
    });

    it("keeps Gantry's lines written while the helper takes the log over, in order", async () => {
      // The job's setup (its cache restore) writes while the hand-over is under way: the lent
      // writer dropped those lines, so a job's log lost "cache restored" (seen in CI).
      const file = join(dir, 'handover', 'log');
      const writer = createLogWriter({ file, capBytes: 1_000_000, jobKey: 'job', masker: createMasker([]) });
      const jobLog = new JobLog(writer);
      const spawner = await helper();
      jobLog.system('before');
      const lending = jobLog.lendTo(spawner, createMasker([]), null);
      jobLog.system('during');
      await lending;
      jobLog.system('after');
      await jobLog.takeBack({ final: true });
      await writer.close();
      expect(streamsAndTexts(file)).toEqual(['s before', 's during', 's after']);
    });

    it('assembles the same tail at the last hand-back whatever the read size, and appends later lines after it', async () => {
      // Lines of every length up to past 64 KiB, so the ring wraps mid-line and the tail's lines are
      // counted from checkpoints between reads of 61 bytes to 64 KiB.
      const lines = Array.from({ length: 3000 }, (_, i) => `${i} ${'ab'.repeat((i * 37) % 150)}\n`);
      lines.splice(2500, 0, `${'L'.repeat(MAX_LINE_BYTES * 2 + 3)}\n`);
      const input = Buffer.from(lines.join(''));
      const inputFile = join(dir, 'input');
      writeFileSync(inputFile, input);
      const capBytes = 150_000;
      const expected = await nodeLog(input, { capBytes });
      for (const readBytes of [65_536, 4093, 61]) {
        const log = await helperLog({ capBytes, readBytes, final: true });
        await log.step(`cat ${inputFile}`);
        const tail = await log.finish();
        expect(log.returned?.assembled?.cutBytes, `read size ${readBytes}`).toBeGreaterThan(0);
        expect(streamsAndTexts(log.file), `read size ${readBytes}`).toEqual(expected);
        expect(tail).toMatchObject({ truncated: true, bytes: readFileSync(log.file).length, lines: expected.length });
        rmSync(join(dir, 'log'), { recursive: true });
      }

      // A line of Gantry's after the assembled tail (an internal error at the job's end) still lands, after it.
      const file = join(dir, 'late', 'log');
      const writer = createLogWriter({ file, capBytes, jobKey: 'job', masker: createMasker([]) });
      const jobLog = new JobLog(writer);
      const spawner = await helper();
      await jobLog.lendTo(spawner, createMasker([]), null);
      expect(spawner.nativeLog).toBe(native);
      await runStep(spawner, `cat ${inputFile}`);
      await jobLog.takeBack({ final: true });
      jobLog.system('✘ late');
      const summary = await writer.close();
      expect(streamsAndTexts(file)).toEqual([...expected, 's ✘ late']);
      expect(summary).toMatchObject({ truncated: true, bytes: readFileSync(file).length, lines: expected.length + 1 });
    });

    it("keeps the same tail when its lines span the ring file's end, whoever assembles it and whatever the read size", async () => {
      // 998-byte lines, cap 400,000: the head keeps 195 lines (1,025 bytes each with the prefix), the
      // ring (200,000 + 66,560 bytes) then gets 327 × 1,025 = 335,175 bytes: it wrapped once, at
      // 266,560, mid-line, inside the last 200,000 (the kept tail).
      const lines = Array.from({ length: 522 }, (_, i) => `${String(i).padStart(6, '0')} ${'abcdefghij'.repeat(99)}\n`);
      const input = Buffer.from(lines.join(''));
      const inputFile = join(dir, 'input');
      writeFileSync(inputFile, input);
      const capBytes = 400_000;
      const ringBytes = capBytes / 2 + MAX_LINE_BYTES + 1024;
      const inRing = (522 - 195) * 1025;
      expect(inRing - ringBytes).toBeGreaterThan(0);
      expect(inRing - ringBytes).toBeLessThan(capBytes / 2);
      expect(ringBytes % 1025).not.toBe(0);
      const expected = await nodeLog(input, { capBytes });
      expect(expected.filter((l) => l.startsWith('s [gantry] log truncated: '))).toHaveLength(1);
      for (const readBytes of [65_536, 4093, 1500, 61]) {
        for (const how of [{ final: false }, { final: true }, { final: true, kernelCopy: false }]) {
          const log = await helperLog({ capBytes, readBytes, ...how });
          await log.step(`cat ${inputFile}`);
          const summary = await log.finish();
          expect(log.returned?.ringWritten, 'bytes through the ring').toBe(inRing);
          expect(streamsAndTexts(log.file), `read size ${readBytes}, ${JSON.stringify(how)}`).toEqual(expected);
          expect((log.returned?.assembled ?? null) !== null, 'assembled by the helper').toBe(how.final);
          expect(summary).toMatchObject({ truncated: true, bytes: readFileSync(log.file).length, lines: expected.length });
          rmSync(join(dir, 'log'), { recursive: true });
        }
      }
    });

    it('never stores a secret, in any form, split at every offset across writes and reads', async () => {
      const forms = secretForms([SECRET]);
      expect(forms.length).toBeGreaterThanOrEqual(4);
      // One printf per half: two writes, and reads of 1 or 3 bytes split them again everywhere.
      const script = forms
        .flatMap((form) =>
          Array.from(
            { length: form.length - 1 },
            (_, i) => `printf '%s' '<${form.slice(0, i + 1)}'; printf '%s\\n' '${form.slice(i + 1)}>'`,
          ),
        )
        .join('\n');
      const printed = forms.reduce((n, f) => n + f.length - 1, 0);
      for (const readBytes of [1, 3]) {
        const log = await helperLog({ secrets: [SECRET], readBytes });
        await log.step(script);
        await log.finish();
        const raw = readFileSync(log.file);
        for (const form of forms) expect(raw.includes(Buffer.from(form)), `${form} (read size ${readBytes})`).toBe(false);
        const texts = stored(log.file).map((l) => l.text);
        expect(texts).toHaveLength(printed);
        expect(new Set(texts)).toEqual(new Set(['<***>']));
        rmSync(join(dir, 'log'), { recursive: true });
      }
    });

    it('turns CRLF into LF and masks when a read ends between CR and LF or inside a secret', async () => {
      // Reads of 2 and 5 bytes from a file: the pairs and the secret fall across read boundaries
      // at every offset, so the partial line (never masked or converted on its own) must carry them.
      const input = Buffer.from(`x\r\ny\r\n\r\nz ${SECRET}\r\n${SECRET}\r\nend\r`);
      const inputFile = join(dir, 'input');
      writeFileSync(inputFile, input);
      const expected = await nodeLog(input, { secrets: [SECRET] });
      expect(expected).toEqual(['o x', 'o y', 'o ', 'o z ***', 'o ***', 'o end']);
      for (const readBytes of [2, 5]) {
        const log = await helperLog({ secrets: [SECRET], readBytes });
        await log.step(`cat ${inputFile}`);
        await log.finish();
        expect(streamsAndTexts(log.file), `read size ${readBytes}`).toEqual(expected);
        rmSync(join(dir, 'log'), { recursive: true });
      }
    });

    it("writes as output arrives, between steps too, and keeps Gantry's lines in order with it", async () => {
      const file = join(dir, 'log', 'log');
      const writer = createLogWriter({ file, capBytes: 0, jobKey: 'job', masker: createMasker([]) });
      const spawner = await helper();
      const go = join(dir, 'go');
      const jobLog = new JobLog(writer);
      // No nested helper: the helper opens the log and starts writing it in one request.
      await jobLog.lendTo(spawner, createMasker([]), null);
      expect(spawner.nativeLog).toBe(native);
      jobLog.system('▶ first');
      // A background process the step leaves prints once the test says so: after its step ended.
      const first = runStep(
        spawner,
        `printf 'no newline yet' >&2; (while [ ! -e ${go} ]; do sleep 0.01; done; echo background) & echo started`,
      );
      await first;
      jobLog.system('✔ first');
      // The helper writes Gantry's line when it reads it: only then is the background line "after".
      await waitFor(() => readFileSync(file, 'utf8').includes('✔ first'), { what: 'the end of the first step in the file' });
      writeFileSync(go, '');
      await waitFor(() => readFileSync(file, 'utf8').includes('background'), { what: 'the background line in the file' });
      jobLog.system('▶ second');
      // Live: the line is in the file while its step still runs.
      const second = runStep(spawner, `echo running >&2; while [ ! -e ${go}2 ]; do sleep 0.01; done; echo done`);
      await waitFor(() => readFileSync(file, 'utf8').includes('running'), { what: 'the running line in the file' });
      writeFileSync(`${go}2`, '');
      await second;
      jobLog.system('✔ second');
      // A log under its cap never needed the tail ring: the file was not even created.
      expect(readdirSync(join(dir, 'log'))).toEqual(['log']);
      await jobLog.takeBack();
      await writer.close();
      expect(streamsAndTexts(file)).toEqual([
        's ▶ first',
        'o started',
        'e no newline yet',
        's ✔ first',
        'o background',
        's ▶ second',
        'e running',
        'o done',
        's ✔ second',
      ]);
    });

    it('gives steps none of its descriptors, and reports a log it cannot write', async () => {
      const log = await helperLog();
      await log.step(DESCRIPTORS_SCRIPT);
      expect((await log.finish()).truncated).toBe(false);
      const descriptors = stored(log.file).map((l) => l.text);
      expect(descriptors.slice(0, 3)).toEqual([
        expect.stringMatching(/^0 \/dev\/null$/),
        expect.stringMatching(/^1 pipe:/),
        expect.stringMatching(/^2 pipe:/),
      ]);
      expect(descriptors.filter((d) => d.includes(join(dir, 'log')))).toEqual([]);

      const full = createLogWriter({ file: '/dev/full', capBytes: 0, jobKey: 'job', masker: createMasker([]) });
      const spawner = await helper();
      const loan = full.lend();
      if (!loan) throw new Error('no loan');
      // /dev/full has no tail ring beside it: a ring of the test's own.
      const fds = await spawner.openLogFiles('/dev/full', join(dir, 'ring'));
      await spawner.startLog({ ...loan, fds, maskForms: [] });
      await runStep(spawner, 'echo hi');
      full.resume(await spawner.endLog());
      await expect(full.close()).rejects.toThrow(/^ENOSPC: /);
    });
  });

  describe.runIf(runs && requirement('bubblewrap', hasBubblewrap()))(`the job log written in the sandbox (${pump})`, () => {
    beforeAll(choose);
    afterAll(restore);
    it('is written by the nested helper, through descriptors opened outside, although the log dir is hidden inside', async () => {
      const log = await helperLog({ sandbox: true, secrets: [SECRET] });
      await log.step(`echo "in the sandbox ${SECRET}"; ls ${join(dir, 'log')} | wc -l; ${DESCRIPTORS_SCRIPT}`);
      await log.finish();
      const lines = streamsAndTexts(log.file);
      expect(lines.slice(0, 5)).toEqual([
        'o in the sandbox ***',
        'o 0',
        'o 0 /dev/null',
        expect.stringMatching(/^o 1 pipe:/),
        expect.stringMatching(/^o 2 pipe:/),
      ]);
      expect(lines.filter((l) => l.includes(join(dir, 'log')))).toEqual([]);
    });
  });
}
