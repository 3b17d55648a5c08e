/**
 * `gantry platform plan` on a platform folder of PROJECTS projects × 3 environments (members on
 * each, production with approvals from a group and deploy windows, secrets, a security policy),
 * against a real `gantry up` that knows those projects: the CLI end to end (read and check the
 * files, POST the estate, the server's snapshot, drift against the last apply, the planner, the
 * text), once with everything to create and once after an apply (nothing to do). Baseline from
 * the same run: a Node process that only reads and parses the same folder (the CLI's own floor).
 *
 *   npm run bench:platform-plan     (PROJECTS=50 REPS=7)
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { benchMain, clientEnv, gantry, gitEnv, NODE, progress, REPO_ROOT, round, runOk, spread, startServer, tempDir } from './lib.ts';

const PROJECTS = Number(process.env.PROJECTS ?? 50);
const REPS = Number(process.env.REPS ?? 7);
const SOURCE = process.env.GANTRY_BENCH_SOURCE === '1';

function projectFile(name: string): string {
  return `projects:
  ${name}:
    members:
      group:developers: developer
      user:lead-${name}: maintainer
    secrets: [DATABASE_URL, API_KEY]
    security-policy: { block: [critical, high] }
    environments:
      dev:
        members: { group:interns: developer }
      staging:
        members: { user:qa: developer }
      production:
        members: { group:release-managers: maintainer }
        approvals: { count: 2, group: release-managers }
        windows:
          timezone: Europe/Paris
          allow: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }]
          deny: [{ days: [fri], from: "16:00", to: "24:00" }]
`;
}

/** The floor: a Node process that reads and parses the folder, nothing else. */
const READ_ONLY = `
const { readdir, readFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { readPlatformFolder } = await import(process.env.ESTATE_MODULE);
const dir = process.argv[1];
const names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
const files = await Promise.all(names.map(async (path) => ({ path, text: await readFile(join(dir, path), 'utf8') })));
const { estate } = readPlatformFolder(files);
process.stdout.write(String(Object.keys(estate.projects).length));
`;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

await benchMain('platform-plan', 170_000, async () => {
  const root = await tempDir('platform-plan');
  const dir = join(root, 'platform');
  await mkdir(dir);
  const server = await startServer({ dataDir: join(root, 'data') });
  progress(`registering ${PROJECTS} projects`);
  for (let i = 0; i < PROJECTS; i++) {
    const name = `svc-${String(i).padStart(3, '0')}`;
    const repo = join(root, 'repos', name);
    await mkdir(repo, { recursive: true });
    execFileSync('git', ['init', '-q', repo], { env: gitEnv() });
    await server.api('POST', '/api/projects', { path: repo, name });
    await writeFile(join(dir, `${name}.yaml`), projectFile(name));
  }
  await writeFile(
    join(dir, 'groups.yaml'),
    'groups:\n  release-managers: [alice, bob, carol]\n  developers: [dave, erin]\n  interns: [frank]\n',
  );
  const env = clientEnv(server);
  const estateModule = SOURCE ? join(REPO_ROOT, 'src', 'estate', 'index.ts') : join(REPO_ROOT, 'dist', 'estate', 'index.js');
  const readOnly = () =>
    runOk([NODE, '--input-type=module', '-e', READ_ONLY, dir], { env: { ...process.env, ESTATE_MODULE: estateModule } });
  const plan = () =>
    gantry(['platform', 'plan', dir], { env }).then((r) => {
      if (r.code !== 0) throw new Error(`plan failed: ${r.stderr}`);
      return r;
    });

  progress('plan with everything to create, interleaved with the read-only baseline');
  const first = await plan();
  const creates = /Plan: (\d+) to create/.exec(first.stdout)?.[1];
  const planCreate: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < REPS; i++) {
    planCreate.push(await timed(plan));
    baseline.push(await timed(readOnly));
  }
  progress('apply, then plan with nothing to do');
  await gantry(['platform', 'apply', dir], { env });
  const planNoop: number[] = [];
  for (let i = 0; i < REPS; i++) {
    planNoop.push(await timed(plan));
    baseline.push(await timed(readOnly));
  }
  const noop = await plan();
  if (!noop.stdout.includes('No changes')) throw new Error(`a plan after apply should find nothing: ${noop.stdout.slice(0, 500)}`);
  const serverMs: number[] = [];
  const { readPlatformFolder } = (await import(estateModule)) as typeof import('../src/estate/index.ts');
  const { readdir, readFile } = await import('node:fs/promises');
  const names = (await readdir(dir)).sort();
  const { estate } = readPlatformFolder(
    await Promise.all(names.map(async (path) => ({ path, text: await readFile(join(dir, path), 'utf8') }))),
  );
  for (let i = 0; i < REPS; i++) serverMs.push(await timed(() => server.api('POST', '/api/platform/plan', { estate })));
  await server.stop();

  const p50 = (xs: number[]) => spread(xs, 0).median;
  return {
    projects: PROJECTS,
    environments: PROJECTS * 3,
    changes_when_new: Number(creates),
    plan_ms: { everything_to_create: spread(planCreate, 0), nothing_to_do: spread(planNoop, 0) },
    server_plan_request_ms: spread(serverMs, 1),
    baseline_read_and_parse_ms: spread(baseline, 0),
    ratio_plan_to_baseline: round(Math.max(p50(planCreate), p50(planNoop)) / p50(baseline), 2),
    target: 'plan < 1000 ms',
    meets_target: Math.max(p50(planCreate), p50(planNoop)) < 1000,
    cli: SOURCE ? 'src (type stripping)' : 'dist',
  };
});
