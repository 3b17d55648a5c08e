/**
 * From `gantry new node-service NAME --wait` to its staging URL answering, on a real `gantry up`:
 * the repository written and committed, registered, the first pipeline run by the git hook
 * (syntax check, tests with JUnit), the release, staging's deploy and the service answering.
 * Baseline from the same run: the same pipeline by hand in a copy of the same service — the two
 * steps' commands in a shell, then `node server.js` started and polled until it answers.
 *
 *   npm run bench:new-service     (REPS=3)
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { findTemplate, templateValues, writeTemplate } from '../src/templates/service-template.ts';
import { benchMain, clientEnv, freePort, gantry, progress, round, runOk, spread, startServer, tempDir, track, waitFor } from './lib.ts';

const REPS = Number(process.env.REPS ?? 3);

async function byHand(dir: string): Promise<number> {
  const started = performance.now();
  await runOk(['bash', '-c', 'node --check server.js && node --check app.js'], { cwd: dir });
  await runOk(
    [
      'bash',
      '-c',
      'mkdir -p reports && node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination=reports/junit.xml test/*.test.js',
    ],
    { cwd: dir },
  );
  const port = await freePort();
  const child = spawn(process.execPath, ['server.js'], { cwd: dir, env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  const untrack = track(child, false);
  await waitFor(
    'the service by hand to answer',
    () =>
      fetch(`http://127.0.0.1:${port}/`).then(
        (r) => (r.ok ? true : undefined),
        () => undefined,
      ),
    30_000,
    20,
  );
  const ms = performance.now() - started;
  child.kill('SIGTERM');
  untrack();
  return ms;
}

await benchMain('new-service', 170_000, async () => {
  const root = await tempDir('new-service');
  const server = await startServer({ dataDir: join(root, 'data') });
  const env = clientEnv(server);
  const template = await findTemplate('node-service', null);
  const gantryMs: number[] = [];
  const handMs: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const name = `hello${i + 2}`;
    progress(`gantry new node-service ${name} --wait`);
    const started = performance.now();
    const r = await gantry(['new', 'node-service', name, '--wait', '--timeout', '120'], { cwd: root, env, timeoutMs: 130_000 });
    if (r.code !== 0) throw new Error(`gantry new failed: ${r.stderr}`);
    gantryMs.push(performance.now() - started);
    const copy = join(root, `by-hand-${i}`);
    await writeTemplate(template, copy, templateValues(template, name, {}));
    handMs.push(await byHand(copy));
  }
  await server.stop();
  const g = spread(gantryMs, 0);
  const h = spread(handMs, 0);
  return {
    template: 'node-service',
    new_to_staging_answering_ms: g,
    baseline_same_pipeline_by_hand_ms: h,
    ratio: round(g.median / h.median, 2),
    target: '< 60000 ms',
    meets_target: g.max < 60_000,
  };
});
