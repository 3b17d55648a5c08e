import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GreetingServer, greetingServer } from '../support/net.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobConfig, StepConfig } from '../../src/core/types.ts';
import { runJob } from '../../src/executor/job-runner.ts';
import { parseLogLine, type ParsedLogLine } from '../../src/executor/log-writer.ts';
import type { JobSpec, LogLine } from '../../src/executor/ports.ts';
import { gantryContextOf } from '../../src/pipeline/triggers.ts';
import { findJobProcesses } from '../../src/executor/orphans.ts';
import { isAlive } from '../../src/executor/process-tree.ts';
import { childrenOf, readStat } from '../../src/platform/proc.ts';
import { hasBubblewrap, requirement } from '../support/requirements.ts';
import { waitFor } from '../support/wait.ts';

let root: string;
let data: string;
let source: string;
const pidsToReap: number[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gantry-job-'));
  data = join(root, 'data');
  source = join(root, 'source');
  mkdirSync(join(source, 'sub'), { recursive: true });
  writeFileSync(join(source, 'hello.txt'), 'hello from the source\n');
  writeFileSync(join(source, 'sub', 'inner.txt'), 'inner\n');
});
afterEach(() => {
  for (const pid of pidsToReap.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
});

function jobConfig(steps: Partial<StepConfig>[], extra: Partial<JobConfig> = {}): JobConfig {
  return {
    needs: [],
    env: {},
    retry: 0,
    outputs: {},
    artifacts: [],
    reports: {},
    network: true,
    steps: steps.map((s) => ({ run: 'true', env: {}, continueOnError: false, ...s })),
    ...extra,
  };
}

/**
 * This file's own run id: `findJobProcesses` looks across the machine, and other test files
 * running beside this one start jobs of run `run1`, job `build`.
 */
const RUN = 'run-job-runner-test';

function makeSpec(config: JobConfig, o: Partial<JobSpec> = {}): JobSpec {
  const key = 'build';
  return {
    runId: RUN,
    job: { key, jobId: key, matrix: { os: 'linux' }, needs: [], config },
    context: {
      env: {},
      inputs: { version: '1.2.3' },
      secrets: {},
      needs: { prep: { result: 'success', outputs: { tag: 'v9' } } },
      gantry: gantryContextOf({ kind: 'push', ref: 'refs/heads/main', sha: 'abc123' }, RUN),
    },
    sourceDir: source,
    workspaceDir: join(data, 'work', RUN, key),
    artifactsIn: [],
    artifactsOut: join(data, 'runs', RUN, 'jobs', key, 'artifacts'),
    cacheDir: join(data, 'cache'),
    logFile: join(data, 'runs', RUN, 'jobs', key, 'log'),
    logCapBytes: 10 * 1024 * 1024,
    sandbox: 'off',
    hiddenPaths: [data],
    killGraceMs: 500,
    signal: new AbortController().signal,
    ...o,
  };
}

function readLog(spec: JobSpec): ParsedLogLine[] {
  return readFileSync(spec.logFile, 'utf8').split('\n').slice(0, -1).map(parseLogLine);
}
const texts = (lines: ParsedLogLine[], stream: 'o' | 'e' | 's') => lines.filter((l) => l.stream === stream).map((l) => l.text);

describe('runJob', () => {
  it('passes outputs and GANTRY_ENV between steps, interpolates contexts and computes job outputs', async () => {
    const config = jobConfig(
      [
        {
          id: 'one',
          run: [
            'echo "version=${{ inputs.version }}-${{ matrix.os }}" >> "$GANTRY_OUTPUT"',
            'printf "notes<<EOF\\nline 1\\nline 2\\nEOF\\n" >> "$GANTRY_OUTPUT"',
            'echo "FROM_STEP=carried" >> "$GANTRY_ENV"',
            'cat hello.txt',
          ].join('\n'),
        },
        {
          name: 'use ${{ steps.one.outputs.version }}',
          env: { STEP_VAR: '${{ env.JOB_VAR }}+${{ needs.prep.outputs.tag }}' },
          run: 'echo "$FROM_STEP $STEP_VAR $JOB_VAR ${{ gantry.sha }} ${{ steps.one.outcome }}"\necho "${{ steps.one.outputs.notes }}" | wc -l\necho "$GANTRY_JOB $GANTRY_RUN_ID $GANTRY_SHA $GANTRY_REF $GANTRY_EVENT $CI $GANTRY"\ntest "$GANTRY_WORKSPACE" = "$PWD"',
        },
      ],
      {
        env: { JOB_VAR: 'job-${{ matrix.os }}' },
        outputs: { version: '${{ steps.one.outputs.version }}', missing: '${{ steps.nope.outputs.x }}' },
      },
    );
    const spec = makeSpec(config);
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    expect(result.outputs).toEqual({ version: '1.2.3-linux', missing: '' });
    expect(result.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ['echo "version=${{ inputs.version }}-${{ matrix.os }}" >> "$GANTRY_OUTPUT"', 'success', 0],
      ['use 1.2.3-linux', 'success', 0],
    ]);
    const log = readLog(spec);
    expect(texts(log, 'o')).toEqual([
      'hello from the source',
      'carried job-linux+v9 job-linux abc123 success',
      '2',
      `build ${RUN} abc123 refs/heads/main push true true`,
    ]);
    expect(texts(log, 's')[0]).toMatch(/^▶ echo "version=/);
    expect(texts(log, 's')[1]).toMatch(/^✔ exit code 0 in \d+ ms$/);
    expect(existsSync(`${spec.workspaceDir}.tmp`)).toBe(false);
  });

  it('applies if, continue-on-error, working-directory and shells', async () => {
    const config = jobConfig([
      { id: 'flaky', run: 'echo flaky; exit 4', continueOnError: true },
      { name: 'after flaky', run: 'echo "conclusion ${{ steps.flaky.conclusion }} outcome ${{ steps.flaky.outcome }}"' },
      { name: 'never', if: "matrix.os == 'windows'", run: 'echo never' },
      { name: 'in sub', workingDirectory: 'sub', run: 'cat inner.txt; pwd' },
      { name: 'posix sh', shell: 'sh', run: 'echo "sh $0"' },
      { name: 'custom', shell: 'cat {0}', run: 'custom shell script body' },
      { name: 'escape', workingDirectory: '../..', run: 'echo escaped' },
      { name: 'skipped after failure', run: 'echo should not run' },
      { name: 'always', if: 'always()', run: 'echo "always ${{ job.status }}"' },
      { name: 'on failure', if: 'failure()', run: 'echo on failure' },
    ]);
    const spec = makeSpec(config);
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toMatch(/^step escape: working-directory \.\.\/\.\. is outside the workspace$/);
    expect(result.steps.map((s) => [s.name, s.status, s.exitCode])).toEqual([
      ['echo flaky; exit 4', 'failure', 4],
      ['after flaky', 'success', 0],
      ['never', 'skipped', null],
      ['in sub', 'success', 0],
      ['posix sh', 'success', 0],
      ['custom', 'success', 0],
      ['escape', 'failure', null],
      ['skipped after failure', 'skipped', null],
      ['always', 'success', 0],
      ['on failure', 'success', 0],
    ]);
    const out = texts(readLog(spec), 'o');
    expect(out).toEqual([
      'flaky',
      'conclusion success outcome failure',
      'inner',
      join(spec.workspaceDir, 'sub'),
      `sh ${spec.workspaceDir}.tmp/step-4`,
      'custom shell script body',
      'always failure',
      'on failure',
    ]);
    expect(texts(readLog(spec), 's')).toContain(`✘ exit code 4 in ${result.steps[0]?.durationMs} ms (continue-on-error)`);
  });

  it('fails a step with a bad expression and says why, without throwing', async () => {
    const spec = makeSpec(
      jobConfig([
        { name: 'bad', run: 'echo ${{ 1 + }}' },
        { name: 'next', run: 'echo next' },
      ]),
    );
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.steps.map((s) => s.status)).toEqual(['failure', 'skipped']);
    expect(result.error).toMatch(/^step bad: /);
    const system = texts(readLog(spec), 's');
    expect(system[0]).toBe('▶ bad');
    expect(system[1]).toMatch(/^✘ .+/);
  });

  it('reports a log that cannot be written as a failure', async () => {
    const spec = makeSpec(jobConfig([{ run: 'echo hi' }]), { logFile: '/dev/full' });
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toMatch(/^cannot write the job log: .*ENOSPC/);
    expect(result.steps.map((s) => s.status)).toEqual(['success']);
  });

  it('keeps running and logging when a log listener throws', async () => {
    const spec = makeSpec(jobConfig([{ run: 'echo one; echo two' }]), {
      onLog: () => {
        throw new Error('subscriber gone');
      },
    });
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    expect(texts(readLog(spec), 'o')).toEqual(['one', 'two']);
  });

  it('reports a setup error (source missing) as a failure with error set', async () => {
    const spec = makeSpec(jobConfig([{ run: 'echo hi' }]), { sourceDir: join(root, 'nope') });
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toMatch(/^job setup failed: /);
    expect(result.steps.map((s) => s.status)).toEqual(['skipped']);
  });

  it('times a step out, kills its whole tree and goes on with failure() steps', async () => {
    const pidFile = join(root, 'pids');
    const spec = makeSpec(
      jobConfig([
        { name: 'slow', timeoutMs: 300, run: `sleep 1000 & echo $! >> ${pidFile}\nsetsid sleep 1000 & echo $! >> ${pidFile}\nwait` },
        { name: 'report', if: 'failure()', run: 'echo reporting' },
      ]),
    );
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toBe('step slow: step timed out after 300ms');
    expect(result.steps.map((s) => [s.status, s.exitCode])).toEqual([
      ['failure', null],
      ['success', 0],
    ]);
    expect(texts(readLog(spec), 's')).toContain('✘ step timed out after 300ms');
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    pidsToReap.push(...pids);
    expect(pids).toHaveLength(2);
    expect(pids.some(isAlive)).toBe(false);
    expect(await findJobProcesses(spec.runId, spec.job.key)).toEqual([]);
  });

  it('enforces the job timeout as the remaining budget across steps', async () => {
    const spec = makeSpec(
      jobConfig(
        [
          { name: 'first', run: 'echo quick' },
          { name: 'long', run: 'sleep 1000' },
          { name: 'later', if: 'always()', run: 'echo later' },
        ],
        { timeoutMs: 1000 },
      ),
    );
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toBe('job timed out after 1s');
    expect(result.steps.map((s) => s.status)).toEqual(['success', 'failure', 'skipped']);
  });

  it('cancels: ends the running step and reports the rest cancelled', async () => {
    const controller = new AbortController();
    const onLog = (line: LogLine) => {
      if (line.text === 'started') controller.abort();
    };
    const spec = makeSpec(
      jobConfig([
        { name: 'first', run: 'echo first' },
        { name: 'running', run: 'echo started; sleep 1000' },
        { name: 'next', if: 'always()', run: 'echo next' },
      ]),
      { signal: controller.signal, onLog },
    );
    const result = await runJob(spec);
    expect(result.status).toBe('cancelled');
    expect(result.steps.map((s) => s.status)).toEqual(['success', 'cancelled', 'cancelled']);
    expect(texts(readLog(spec), 'o')).toEqual(['first', 'started']);
  });

  it('masks a secret in all its forms in the stored log and in onLog, multi-line secrets line by line', async () => {
    const secret = 's3cr3t/p@ss+word';
    const key = 'line-one-of-key\nline-two-of-key';
    const lines: LogLine[] = [];
    const spec = makeSpec(
      jobConfig(
        [
          {
            run: [
              'echo "plain $TOKEN"',
              'echo "b64 $(printf %s "$TOKEN" | base64 -w0)"',
              'echo "url ${{ secrets.TOKEN }}" | sed "s/@/%40/; s#/#%2F#; s/+/%2B/"',
              'printf "%s\\n" "$KEY"',
              'echo "name=$TOKEN" >> "$GANTRY_OUTPUT"',
              'echo "err $TOKEN" >&2',
            ].join('\n'),
            id: 's',
            env: { TOKEN: '${{ secrets.TOKEN }}', KEY: '${{ secrets.KEY }}' },
          },
        ],
        { outputs: { leaked: '${{ steps.s.outputs.name }}' } },
      ),
      {
        context: { ...makeSpec(jobConfig([])).context, secrets: { TOKEN: secret, KEY: key } },
        onLog: (l) => lines.push(l),
      },
    );
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    const stored = readFileSync(spec.logFile, 'utf8');
    expect(texts(readLog(spec), 'o')).toEqual(['plain ***', 'b64 ***', 'url ***', '***', '***']);
    expect(texts(readLog(spec), 'e')).toEqual(['err ***']);
    for (const form of [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret), 'line-one-of-key', 'line-two-of-key']) {
      expect(stored).not.toContain(form);
      expect(lines.some((l) => l.text.includes(form))).toBe(false);
    }
    expect(result.outputs.leaked).toBe('***'); // outputs leave the job: masked like the log
  });

  it("has the steps' output written outside Node: lines reach the file while Node's main thread is blocked", async () => {
    const started = join(root, 'started');
    const print = join(root, 'print');
    const end = join(root, 'end');
    const wait = (file: string) => `while [ ! -e ${file} ]; do sleep 0.01; done`;
    const spec = makeSpec(jobConfig([{ run: `touch ${started}; ${wait(print)}; echo ready-line; ${wait(end)}` }]));
    const result = runJob(spec);
    await waitFor(() => existsSync(started), { what: 'the step to start' });
    // The step prints only once Node's main thread is blocked (synchronously) until the line is
    // in the file: only a writer outside Node can put it there.
    writeFileSync(print, '');
    const deadline = Date.now() + 10_000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let seen = false;
    while (!seen && Date.now() < deadline) {
      seen = readFileSync(spec.logFile, 'utf8').includes('ready-line');
      if (!seen) Atomics.wait(pause, 0, 0, 10);
    }
    writeFileSync(end, '');
    expect((await result).status).toBe('success');
    expect(seen).toBe(true);
    expect(texts(readLog(spec), 'o')).toEqual(['ready-line']);
  });

  it('caps the stored log, keeping head and tail around the marker', async () => {
    const spec = makeSpec(jobConfig([{ name: 'chatty', run: 'for i in $(seq 1 5000); do echo "output line $i"; done' }]), {
      logCapBytes: 8192,
    });
    const result = await runJob(spec);
    expect(result.logTruncated).toBe(true);
    const log = readLog(spec);
    const out = texts(log, 'o');
    expect(out[0]).toBe('output line 1');
    expect(out.at(-1)).toBe('output line 5000');
    const marker = log.findIndex((l) => l.text.startsWith('[gantry] log truncated: '));
    expect(marker).toBeGreaterThan(0);
    expect(log[marker]?.text).toMatch(/^\[gantry\] log truncated: \d+ bytes \(\d+ lines\) cut from the middle$/);
    expect(log.at(-1)?.text).toMatch(/^✔ exit code 0/);
    expect(readFileSync(spec.logFile).length).toBeLessThan(8192 + 200);
    expect(readdirSync(join(spec.logFile, '..'))).toEqual(['log']);
  });

  it('does not pass the server environment to steps', async () => {
    process.env.GANTRY_TOKEN = 'server-token-value';
    process.env.DATABASE_URL = 'postgres://secret';
    try {
      const spec = makeSpec(jobConfig([{ run: 'env | cut -d= -f1 | sort | tr "\\n" " "; echo; echo "home=$HOME tmp=$TMPDIR"' }]));
      const result = await runJob(spec);
      expect(result.status).toBe('success');
      const [names, dirs] = texts(readLog(spec), 'o');
      expect(names).not.toMatch(/GANTRY_TOKEN|DATABASE_URL/);
      expect(names).toContain('PATH');
      expect(dirs).toBe(`home=${spec.workspaceDir}.tmp/home tmp=${spec.workspaceDir}.tmp`);
    } finally {
      delete process.env.GANTRY_TOKEN;
      delete process.env.DATABASE_URL;
    }
  });

  it('keeps background processes for later steps and ends them with the job', async () => {
    const pidFile = join(root, 'bg');
    const spec = makeSpec(
      jobConfig([
        { name: 'start server', run: `sleep 1000 & echo $! > ${pidFile}` },
        { name: 'use server', run: `kill -0 $(cat ${pidFile}) && echo alive` },
      ]),
    );
    const result = await runJob(spec);
    expect(result.status).toBe('success');
    expect(texts(readLog(spec), 'o')).toEqual(['alive']);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    pidsToReap.push(pid);
    expect(isAlive(pid)).toBe(false);
  });

  it('saves artifacts even when the job fails and collects JUnit counts', async () => {
    const spec = makeSpec(
      jobConfig(
        [
          {
            run: [
              'mkdir -p dist && echo built > dist/app.txt',
              `echo '<testsuite name="s" tests="2" failures="1"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>' > report.xml`,
              'exit 1',
            ].join('\n'),
          },
        ],
        { artifacts: ['dist/'], reports: { junit: 'report.xml' } },
      ),
    );
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(readFileSync(join(spec.artifactsOut, 'dist', 'app.txt'), 'utf8')).toBe('built\n');
    expect(result.tests).toMatchObject({ passed: 1, failed: 1, skipped: 0 });
  });

  it('restores the cache saved by an earlier successful job', async () => {
    const cache = { key: "deps-${{ hashFiles('hello.txt') }}", restoreKeys: ['deps-'], paths: ['deps'] };
    const first = makeSpec(jobConfig([{ run: 'test ! -e deps/x && mkdir deps && echo cached > deps/x' }], { cache }));
    expect((await runJob(first)).status).toBe('success');
    const second = makeSpec(jobConfig([{ run: 'cat deps/x' }], { cache }));
    const result = await runJob(second);
    expect(result.status).toBe('success');
    expect(texts(readLog(second), 'o')).toEqual(['cached']);
    expect(texts(readLog(second), 's')[0]).toMatch(/^\[gantry\] cache restored \(exact hit\): deps-[0-9a-f]+$/);
  });
});

describe('runJob with a source still being written', () => {
  it('fails before its steps, with the reason, when the source never completes; nothing is left running', async () => {
    const checkout = Promise.reject(new Error('git read-tree failed: disk full'));
    checkout.catch(() => undefined); // as the server does: it is awaited later, by the job
    const spec = makeSpec(jobConfig([{ name: 'never', run: 'echo should not run' }]), {
      runId: 'run-source-failed',
      sourceReady: checkout,
    });
    const result = await runJob(spec);
    expect(result.status).toBe('failure');
    expect(result.error).toBe('job setup failed: git read-tree failed: disk full');
    expect(result.steps.map((s) => s.status)).toEqual(['skipped']);
    expect(texts(readLog(spec), 'o')).toEqual([]);
    expect(await findJobProcesses('run-source-failed', 'build')).toEqual([]);
  });
});

describe.runIf(requirement('bubblewrap', hasBubblewrap()))('runJob in the sandbox', () => {
  let server: GreetingServer;
  let port: number;
  beforeAll(async () => {
    server = await greetingServer('hi\n');
    port = server.port;
  });
  afterAll(() => server.close());

  it('hides the data dir, keeps the host read-only and cuts the network when asked', async () => {
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'server-secret'), 'do not read');
    const script = [
      `cat ${data}/server-secret 2>/dev/null || echo "no secret"`,
      'touch /usr/gantry-x 2>/dev/null || echo "read-only host"',
      'echo ok > in-workspace.txt && cat in-workspace.txt',
      `(exec 3<>/dev/tcp/127.0.0.1/${port} && head -n1 <&3) 2>/dev/null || echo "no network"`,
      'echo "home $(touch $HOME/h && echo writable)"',
    ].join('\n');
    const isolated = makeSpec(jobConfig([{ run: script }], { network: false }), { sandbox: 'auto' });
    const result = await runJob(isolated);
    expect(result.status).toBe('success');
    expect(texts(readLog(isolated), 'o')).toEqual(['no secret', 'read-only host', 'ok', 'no network', 'home writable']);
    const networked = makeSpec(jobConfig([{ run: script }], { network: true }), { sandbox: 'auto', runId: 'run2' });
    await runJob(networked);
    expect(texts(readLog(networked), 'o')[3]).toBe('hi');
  });

  it("starts each job's sandbox from a pooled step helper: Node forks no bubblewrap", async () => {
    const bwrapChildren = () => childrenOf(process.pid).filter((pid) => commOf(pid) === 'bwrap');
    const helpers = new Set<number>();
    for (const runId of ['run-sbx-pool-1', 'run-sbx-pool-2']) {
      const spec = makeSpec(jobConfig([{ run: 'while [ ! -e go ]; do sleep 0.01; done; echo in the sandbox' }]), {
        sandbox: 'auto',
        runId,
        workspaceDir: join(data, 'work', runId, 'build'),
      });
      const result = runJob(spec);
      const go = join(spec.workspaceDir, 'go');
      // The step is running once the job's bubblewrap exists; then the job is let go.
      const ours = (pid: number) => commOf(pid) === 'bwrap' && cmdlineOf(pid).includes(spec.workspaceDir);
      const bwrap = await waitFor(() => descendants(process.pid).find(ours), { what: 'the sandbox' });
      helpers.add(parentOf(bwrap) ?? -1);
      expect(bwrapChildren()).toEqual([]);
      writeFileSync(go, '');
      expect((await result).status).toBe('success');
    }
    // Both jobs used the same long-lived helper (a child of Node), one sandbox each.
    expect(helpers.size).toBe(1);
    expect(parentOf([...helpers][0] as number)).toBe(process.pid);
  });

  it('starts the sandbox of a job of several steps while the source is still being written, and copies the source in once it is ready', async () => {
    const late = join(root, 'late-source');
    let sourceWritten!: () => void;
    const spec = makeSpec(jobConfig([{ run: 'cat hello.txt' }, { run: 'cat sub/inner.txt' }]), {
      sandbox: 'auto',
      runId: 'run-sbx-early',
      workspaceDir: join(data, 'work', 'run-sbx-early', 'build'),
      sourceDir: late,
      sourceReady: new Promise<void>((resolve) => {
        sourceWritten = resolve;
      }),
    });
    const result = runJob(spec);
    const ours = (pid: number) => commOf(pid) === 'bwrap' && cmdlineOf(pid).includes(spec.workspaceDir);
    await waitFor(() => descendants(process.pid).find(ours), { what: 'the sandbox, before the source exists' });
    mkdirSync(join(late, 'sub'), { recursive: true });
    writeFileSync(join(late, 'hello.txt'), 'written late\n');
    writeFileSync(join(late, 'sub', 'inner.txt'), 'inner, late\n');
    sourceWritten();
    expect((await result).status).toBe('success');
    expect(texts(readLog(spec), 'o')).toEqual(['written late', 'inner, late']);
  });

  it("runs a one-step job's step as its sandbox's command: no nested helper, background processes end with it", async () => {
    const spec = makeSpec(jobConfig([{ run: 'setsid sleep 1000 &\nwhile [ ! -e go ]; do sleep 0.01; done; echo "pid $$"' }]), {
      sandbox: 'auto',
      runId: 'run-sbx-direct',
      workspaceDir: join(data, 'work', 'run-sbx-direct', 'build'),
    });
    const result = runJob(spec);
    const ours = (pid: number) => commOf(pid) === 'bwrap' && cmdlineOf(pid).includes(spec.workspaceDir);
    try {
      const bwrap = await waitFor(() => descendants(process.pid).find(ours), { what: 'the sandbox' });
      // bubblewrap's command line runs the step's shell, not a step helper.
      expect(cmdlineOf(bwrap).split('\0')).toContain('bash');
      expect(descendants(bwrap).map(commOf)).not.toContain('perl');
    } finally {
      writeFileSync(join(spec.workspaceDir, 'go'), '');
    }
    expect((await result).status).toBe('success');
    // The step is pid 2 of its own pid namespace, under bubblewrap's init.
    expect(texts(readLog(spec), 'o')).toEqual(['pid 2']);
    expect(await findJobProcesses('run-sbx-direct', 'build')).toEqual([]);
  });

  it("stops a one-step job's sandboxed step with SIGTERM first: its trap runs", async () => {
    const run = "trap 'echo terminated; exit 3' TERM\necho started\nwhile true; do sleep 0.05; done";
    const spec = makeSpec(jobConfig([{ name: 'trapped', timeoutMs: 1000, run }]), { sandbox: 'auto', runId: 'run-sbx-term' });
    const result = await runJob(spec);
    expect(result.steps.map((s) => s.status)).toEqual(['failure']);
    expect(texts(readLog(spec), 'o')).toEqual(['started', 'terminated']);
    expect(await findJobProcesses('run-sbx-term', 'build')).toEqual([]);
  });

  it('ends the whole tree of a sandboxed step on timeout', async () => {
    const spec = makeSpec(jobConfig([{ name: 'slow', timeoutMs: 300, run: 'sleep 1000 &\nsetsid sleep 1000 &\nwait' }]), {
      sandbox: 'auto',
      runId: 'run-sbx-timeout',
    });
    const result = await runJob(spec);
    expect(result.steps.map((s) => [s.status, s.exitCode])).toEqual([['failure', null]]);
    expect(await findJobProcesses('run-sbx-timeout', 'build')).toEqual([]);
  });
});

function descendants(pid: number): number[] {
  const found: number[] = [];
  for (const queue = [pid]; queue.length > 0; ) {
    for (const child of childrenOf(queue.shift() as number)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

const commOf = (pid: number) => readStat(pid)?.comm ?? '';
const parentOf = (pid: number) => readStat(pid)?.ppid;

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}
