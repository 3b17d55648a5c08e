/**
 * The native log pump (src/executor/native/log-pump.ts): how it is built and cached, and how the
 * step helper keeps one for its life, hands it one log after the other and carries on without
 * it. What it stores is compared with the Node writer and the Perl code in helper-log.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogWriter } from '../../src/executor/log-writer.ts';
import { buildLogPump } from '../../src/executor/native/log-pump.ts';
import { createMasker } from '../../src/executor/masker.ts';
import { isAlive, killLeftovers } from '../../src/executor/process-tree.ts';
import { Spawner, spawnerAvailable } from '../../src/executor/spawner.ts';
import { childrenOf } from '../../src/platform/proc.ts';
import { requirement } from '../support/requirements.ts';

let dir: string;
const spawners: Spawner[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-log-pump-'));
});
afterEach(async () => {
  await Promise.all(spawners.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const hasCompiler = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
const PATH_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

describe.runIf(requirement('cc (the native log pump)', hasCompiler))('building the log pump', () => {
  it('builds one binary per source into the cache, whoever builds it at the same time, and leaves nothing else', async () => {
    const cache = join(dir, 'cache');
    const [a, b, c] = await Promise.all([buildLogPump(cache), buildLogPump(cache), buildLogPump(cache)]);
    expect(new Set([a, b, c]).size).toBe(1);
    accessSync(a as string, constants.X_OK);
    expect(readdirSync(cache)).toEqual([expect.stringMatching(/^log-pump-[0-9a-f]{16}$/)]);
    // Found, not rebuilt: even without a compiler.
    expect(await buildLogPump(cache, { PATH: join(dir, 'nothing') })).toBe(a);
  });

  it('fails without a compiler or in a directory others may write to (the helper then writes the log in Perl)', async () => {
    await expect(buildLogPump(join(dir, 'no-cc'), { PATH: join(dir, 'nothing') })).rejects.toThrow(/cc/);
    expect(readdirSync(join(dir, 'no-cc'))).toEqual([]);
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(buildLogPump(open)).rejects.toThrow(/writable by others/);
  });

  it('does not run a binary found where others may write, or one others may write to', async () => {
    const cache = join(dir, 'cache');
    const bin = await buildLogPump(cache);
    chmodSync(bin, 0o777);
    await expect(buildLogPump(cache)).rejects.toThrow(/writable by others/);
    chmodSync(bin, 0o700);
    chmodSync(cache, 0o777);
    await expect(buildLogPump(cache)).rejects.toThrow(/writable by others/);
    chmodSync(cache, 0o700);
    expect(await buildLogPump(cache)).toBe(bin);
  });
});

describe.runIf(requirement('perl', spawnerAvailable()) && requirement('cc (the native log pump)', hasCompiler))(
  "the step helper's log pump",
  () => {
    // These are the pump's tests even where the Perl path is forced for the others.
    const forced = process.env.GANTRY_LOG_PUMP;
    beforeAll(() => {
      delete process.env.GANTRY_LOG_PUMP;
    });
    afterAll(() => {
      if (forced !== undefined) process.env.GANTRY_LOG_PUMP = forced;
    });

    async function helper(): Promise<Spawner> {
      const spawner = new Spawner({ cwd: dir });
      spawners.push(spawner);
      await spawner.started();
      return spawner;
    }

    /** Lends a fresh log to the helper (it opens the files itself, as outside a sandbox). */
    async function lend(spawner: Spawner, name: string) {
      const file = join(dir, name, 'log');
      const writer = createLogWriter({ file, capBytes: 0, jobKey: 'job', masker: createMasker([]) });
      const loan = writer.lend();
      if (!loan) throw new Error('the log writer did not lend the log');
      await spawner.openAndStartLog(loan, { ...loan, maskForms: [] });
      return { file, writer };
    }

    function run(spawner: Spawner, script: string) {
      return spawner.run({
        argv: ['bash', '-c', script],
        cwd: dir,
        env: PATH_ENV,
        signal: new AbortController().signal,
        onStdout: () => undefined,
        onStderr: () => undefined,
      });
    }

    const texts = (file: string) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => l.slice(25));

    it('serves one log after the other: one pump per helper, no output of a log in the next', async () => {
      const spawner = await helper();
      const pumps = new Set<number>();
      for (const name of ['first', 'second', 'third']) {
        const { file, writer } = await lend(spawner, name);
        expect(spawner.nativeLog).toBe(true);
        // Between steps the pump is the helper's only child.
        for (const pid of childrenOf(spawner.child.pid as number)) pumps.add(pid);
        await run(spawner, `echo ${name}; printf 'no newline' >&2`);
        spawner.logSystem(`done ${name}`);
        writer.resume(await spawner.endLog({ final: true }));
        await writer.close();
        expect(texts(file)).toEqual([`o ${name}`, 'e no newline', `s done ${name}`]);
      }
      expect(pumps.size).toBe(1);
      expect(childrenOf(spawner.child.pid as number)).toEqual([...pumps]);
    });

    it('stores a system line before the output of the step started after it, however late the pump wakes', async () => {
      const spawner = await helper();
      const { file, writer } = await lend(spawner, 'job');
      await run(spawner, 'echo first');
      const [pump] = childrenOf(spawner.child.pid as number);
      // Stopped, the pump would find the next step's header in its command pipe and the step's
      // output in the step's pipe at once, had the step started: the helper starts it only once
      // the pump has stored its header.
      process.kill(pump as number, 'SIGSTOP');
      let step: Promise<unknown> = Promise.resolve();
      try {
        spawner.logSystem('before second');
        step = run(spawner, 'echo second');
        // The window in which a step started without waiting would have run and written.
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        process.kill(pump as number, 'SIGCONT');
      }
      await step;
      writer.resume(await spawner.endLog({ final: true }));
      await writer.close();
      expect(texts(file)).toEqual(['o first', 's before second', 'o second']);
    });

    it("is not one of the job's leftovers: ending them leaves the log whole", async () => {
      const spawner = await helper();
      const { file, writer } = await lend(spawner, 'job');
      // A background process the step leaves behind (re-parented to the helper, a subreaper).
      await run(spawner, 'setsid sleep 60 >/dev/null 2>&1 < /dev/null & echo started; printf partial');
      const leftovers = spawner.adopted();
      expect(leftovers).toHaveLength(1);
      await killLeftovers(leftovers, 1000);
      expect(isAlive(leftovers[0]?.pid as number)).toBe(false);
      const returned = await spawner.endLog({ final: true });
      expect(returned?.error).toBeNull();
      writer.resume(returned);
      await writer.close();
      expect(texts(file)).toEqual(['o started', 'o partial']);
    });

    it('carries on when its pump dies: the log is recounted by Node, the next one gets a new pump', async () => {
      const spawner = await helper();
      const first = await lend(spawner, 'first');
      await run(spawner, 'echo before');
      const [pump] = childrenOf(spawner.child.pid as number);
      process.kill(pump as number, 'SIGKILL');
      // The step's end needs the pump's answer (what the step wrote is stored): it ends all the same.
      await run(spawner, 'echo lost');
      expect(await spawner.endLog()).toBeNull();
      first.writer.resume(null);
      await first.writer.close();
      expect(texts(first.file)).toEqual(['o before']);

      const second = await lend(spawner, 'second');
      expect(spawner.nativeLog).toBe(true);
      await run(spawner, 'echo after');
      second.writer.resume(await spawner.endLog({ final: true }));
      await second.writer.close();
      expect(texts(second.file)).toEqual(['o after']);
    });
  },
);
