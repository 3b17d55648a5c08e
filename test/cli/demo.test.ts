/**
 * The parts of `gantry demo` and the example setup that need no Gantry server: version bumps,
 * progress lines, the synthetic load (against a real HTTP server) and copying the example.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRollout, describeTally, nextVersion, SyntheticLoad } from '../../src/cli/commands/demo.ts';
import { parseCanaryPause, writeCanaryPause } from '../../src/cli/example-canary-pause.ts';
import { copyExample, EXAMPLE_SOURCE_DIR, type RolloutView } from '../../src/cli/example-project.ts';
import { GantryError } from '../../src/core/errors.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { runCli } from '../support/cli.ts';
import { freePort } from '../support/net.ts';
import { waitFor } from '../support/wait.ts';

describe('nextVersion', () => {
  it('moves to the next major version, so a second demo ships newer versions than the first', () => {
    expect(nextVersion('1.0.0')).toBe('2.0.0');
    expect(nextVersion('3.0.0')).toBe('4.0.0');
    expect(nextVersion('12.4.1')).toBe('13.0.0');
    expect(nextVersion('garbage')).toBe('1.0.0');
  });
});

describe('describeRollout', () => {
  const view = (
    phase: string,
    weights: { stable: number; canary: number },
    checks: { name: string; outcome: string }[] = [],
  ): RolloutView => ({
    environment: null,
    live: { port: 1, weights },
    rollout: {
      id: 'r',
      releaseId: 'x',
      phase,
      finishedAt: null,
      state: {
        stepIndex: 1,
        reason: null,
        strategy: {
          kind: 'canary',
          steps: [
            { weight: 20, pauseMs: 1 },
            { weight: 50, pauseMs: 1 },
          ],
        },
        lastAnalysis: checks.length ? { outcome: 'pass', checks: checks.map((c) => ({ ...c, value: 0, reason: '' })) } : null,
      },
    },
  });

  it('shows the step, the split and each check while the canary takes traffic', () => {
    expect(
      describeRollout(
        view('progressing', { stable: 50, canary: 50 }, [
          { name: 'error-rate', outcome: 'pass' },
          { name: 'latency-p99', outcome: 'inconclusive' },
        ]),
      ),
    ).toBe('progressing step 2/2  stable 50% / canary 50%  analysis: error-rate ok, latency-p99 inconclusive');
  });

  it('leaves steps and analysis out once the rollout has ended', () => {
    expect(describeRollout(view('rolled-back', { stable: 100, canary: 0 }, [{ name: 'error-rate', outcome: 'fail' }]))).toBe(
      'rolled-back  stable 100% / canary 0%',
    );
  });
});

describe('describeTally', () => {
  it('gives each version its share of the requests, in version order', () => {
    expect(describeTally({ requests: 100, errors: 3, failed: 0, versions: { '10.0.0': 20, '9.0.0': 80 } })).toBe(
      '100 requests (9.0.0 80%, 10.0.0 20%), 3 errors',
    );
    expect(describeTally({ requests: 2, errors: 0, failed: 2, versions: {} })).toBe('2 requests, 0 errors, 2 without answer');
  });
});

describe('SyntheticLoad', () => {
  let server: Server;
  let url: string;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests++;
      // Every fourth request fails, like a faulty version; the version rides in the body either way.
      const fail = requests % 4 === 0;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(fail ? { error: 'boom', version: '3.0.0' } : { version: '2.0.0' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends requests at its rate and counts versions and errors', async () => {
    const load = new SyntheticLoad({ url, ratePerSecond: 50, maxDurationMs: 60_000 });
    load.start();
    await waitFor(() => load.total().requests >= 20, { what: '20 answers', timeoutMs: 5_000 });
    await load.stop();
    const total = load.total();
    expect(total.failed).toBe(0);
    expect(total.errors).toBe(total.versions['3.0.0']);
    expect(total.errors).toBeGreaterThan(0);
    expect(total.requests).toBe((total.versions['2.0.0'] ?? 0) + (total.versions['3.0.0'] ?? 0));
    // take() hands out what was seen since the last take, then starts again.
    expect(load.take().requests).toBe(total.requests);
    expect(load.take().requests).toBe(0);
  });

  it('stops by itself after its maximum duration', async () => {
    const load = new SyntheticLoad({ url, ratePerSecond: 20, maxDurationMs: 1_000 });
    load.start();
    await waitFor(() => !load.running, { what: 'the load to stop', timeoutMs: 3_000 });
    const after = load.total().requests;
    expect(after).toBeGreaterThan(0);
    // 1 s at 20/s is about 20 requests: bounded, whatever the machine's speed. (300 ms, tried
    // first, left no answered request at all at a load of 30: the first ones were still in flight.)
    expect(after).toBeLessThanOrEqual(22);
  });

  it('counts requests that get no answer apart from errors', async () => {
    const port = await freePort();
    const load = new SyntheticLoad({ url: `http://127.0.0.1:${port}/`, ratePerSecond: 20, maxDurationMs: 10_000 });
    load.start();
    await waitFor(() => load.total().failed >= 2, { what: 'a refused request', timeoutMs: 5_000 });
    await load.stop();
    expect(load.total()).toMatchObject({ errors: 0, versions: {} });
  });
});

describe('copyExample', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-example-copy-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('copies the example without build output or repository state', async () => {
    const source = join(dir, 'source');
    await mkdir(join(source, 'dist'), { recursive: true });
    await mkdir(join(source, 'test'), { recursive: true });
    await writeFile(join(source, 'gantry.yaml'), 'pipeline: {}\n');
    await writeFile(join(source, 'test', 'a.test.js'), '');
    await writeFile(join(source, 'dist', 'build.json'), '{}');
    await copyExample(source, join(dir, 'copy'));
    expect(existsSync(join(dir, 'copy', 'gantry.yaml'))).toBe(true);
    expect(existsSync(join(dir, 'copy', 'test', 'a.test.js'))).toBe(true);
    expect(existsSync(join(dir, 'copy', 'dist'))).toBe(false);
  });

  it('says so when the package has no example', async () => {
    const error = await copyExample(join(dir, 'nowhere'), join(dir, 'copy2')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).code).toBe('EXAMPLE_MISSING');
  });

  it("finds the package's own example", () => {
    for (const file of ['gantry.yaml', 'server.js', 'version.json', 'README.md'])
      expect(existsSync(join(EXAMPLE_SOURCE_DIR, file)), file).toBe(true);
  });
});

describe('--pause', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-example-pause-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const canarySteps = (yaml: string) => {
    const production = parseConfig(yaml, 'gantry.yaml').environments?.production;
    const strategy = production?.strategy as { kind: string; steps?: { weight: number; pauseMs: number | null }[] };
    return strategy.steps;
  };

  it("sets every production canary step's pause in the example's gantry.yaml, comments and weights kept", async () => {
    await copyExample(EXAMPLE_SOURCE_DIR, dir);
    const before = await readFile(join(dir, 'gantry.yaml'), 'utf8');
    expect(canarySteps(before)).toEqual([
      { weight: 20, pauseMs: 10_000 },
      { weight: 50, pauseMs: 10_000 },
    ]);
    expect(await writeCanaryPause(dir, parseCanaryPause('3s'))).toBe(true);
    const after = await readFile(join(dir, 'gantry.yaml'), 'utf8');
    expect(canarySteps(after)).toEqual([
      { weight: 20, pauseMs: 3_000 },
      { weight: 50, pauseMs: 3_000 },
    ]);
    expect(after).toContain('# Short steps so the example moves while you watch');
    // The same pause again leaves the file (and so the commit) as it is.
    expect(await writeCanaryPause(dir, 3_000)).toBe(false);
  });

  it('refuses a pause the analysis could not judge or the load would not outlast, with a stable code', () => {
    for (const text of ['500ms', '2m', 'soon']) {
      const error = (() => {
        try {
          return parseCanaryPause(text);
        } catch (e) {
          return e;
        }
      })();
      expect(error, text).toBeInstanceOf(GantryError);
      expect((error as GantryError).code, text).toBe('INVALID_INPUT');
    }
    expect(parseCanaryPause('1s')).toBe(1_000);
  });

  it('is refused by `gantry demo` in one line and a usage exit before it reaches any server', async () => {
    const result = await runCli(dir, ['demo', '--pause', '500ms']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("gantry: --pause must be from 1s to 1m, got '500ms'\n");
  });
});
