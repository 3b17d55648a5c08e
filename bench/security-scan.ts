/**
 * The security gates' speed targets (issue "Security gates"): a dependency scan of a 2,000-package
 * lockfile in under 1 s; the pre-commit check of a 20-file change in under 300 ms; the import of
 * an npm-sized OSV advisory set in under a minute. Data is generated (seeded) in the real formats:
 * a package-lock.json v3, OSV records spread over the lockfile's packages and beyond, a real git
 * repository with 20 staged files. Baselines from the same run: `JSON.parse` of the same lockfile
 * (the floor of reading it at all), and `git diff --cached` plus a bare Node start (the floor of
 * any pre-commit hook written in Node).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAdvisories } from '../src/scan/index.ts';
import { indexAdvisories, readLockfile, scanDependencies } from '../src/security/index.ts';
import { GANTRY_CLI, NODE, benchMain, gitEnv, mulberry32, percentile, progress, round, runCmd, runOk, tempDir } from './lib.ts';

const PACKAGES = Number(process.env.PACKAGES ?? 2000);
const ADVISORIES = Number(process.env.ADVISORIES ?? 20000);
const REPS = Number(process.env.REPS ?? 7);

const random = mulberry32(7);
const int = (n: number) => Math.floor(random() * n);
const version = () => `${int(5)}.${int(20)}.${int(30)}`;

function lockfile(): string {
  const packages: Record<string, unknown> = { '': { name: 'app', dependencies: {} as Record<string, string> } };
  const names = Array.from({ length: PACKAGES }, (_, i) => (i % 10 === 0 ? `@scope${i % 7}/pkg-${i}` : `pkg-${i}`));
  names.forEach((name, i) => {
    const deps: Record<string, string> = {};
    for (let k = 0; k < 3; k++) {
      const j = i + 1 + int(50);
      if (j < names.length) deps[names[j] as string] = '*';
    }
    packages[`node_modules/${name}`] = {
      version: version(),
      integrity: `sha512-${Buffer.alloc(64, i).toString('base64')}`,
      dependencies: deps,
    };
    if (i < 40) (packages[''] as { dependencies: Record<string, string> }).dependencies[name] = '*';
  });
  return JSON.stringify({ name: 'app', lockfileVersion: 3, packages });
}

function advisory(i: number): object {
  // Half name packages of the lockfile, half other packages, as in a real database.
  const name = i % 2 === 0 ? `pkg-${int(PACKAGES)}` : `other-${i}`;
  const events = [{ introduced: '0' }, { fixed: version() }, { introduced: `${int(5)}.${int(20)}.0` }, { fixed: version() }];
  return {
    id: `GHSA-bench-${i}`,
    modified: '2026-11-01T00:00:00Z',
    aliases: [`CVE-2026-${i}`],
    summary: `generated advisory ${i}`,
    affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events }] }],
    database_specific: { severity: ['LOW', 'MODERATE', 'HIGH', 'CRITICAL'][i % 4] },
  };
}

function timed<T>(f: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = f();
  return { ms: performance.now() - start, value };
}

await benchMain('security-scan', 240_000, async () => {
  const dir = await tempDir('security');
  const lockText = lockfile();

  progress(`${PACKAGES} packages, ${ADVISORIES} advisories: writing the advisory folder`);
  const osv = join(dir, 'osv');
  await mkdir(osv);
  for (let i = 0; i < ADVISORIES; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, ADVISORIES - i) }, (_, k) =>
        writeFile(join(osv, `GHSA-bench-${i + k}.json`), JSON.stringify(advisory(i + k))),
      ),
    );
  }
  const loadStart = performance.now();
  const load = { value: await loadAdvisories(osv), ms: 0 };
  load.ms = performance.now() - loadStart;
  const index = timed(() => indexAdvisories(load.value.records));

  const scans: number[] = [];
  const floors: number[] = [];
  let findings = 0;
  for (let r = 0; r < REPS; r++) {
    floors.push(timed(() => JSON.parse(lockText)).ms);
    const scan = timed(() => scanDependencies([readLockfile('package-lock.json', lockText)], index.value));
    scans.push(scan.ms);
    findings = scan.value.length;
  }

  progress('pre-commit: a repository with 20 staged files');
  const repo = join(dir, 'repo');
  await mkdir(repo);
  const env = gitEnv();
  await runOk(['git', 'init', '-q', '-b', 'main'], { cwd: repo, env });
  await writeFile(join(repo, 'README.md'), 'base\n');
  await runOk(['git', 'add', '.'], { cwd: repo, env });
  await runOk(['git', 'commit', '-q', '-m', 'base'], { cwd: repo, env });
  for (let f = 0; f < 20; f++) {
    const lines = Array.from({ length: 60 }, (_, l) => `export const value${l} = compute(${l}, 'token-${f}-${l}'); // key = ${l}`);
    await writeFile(join(repo, `module-${f}.ts`), `${lines.join('\n')}\n`);
  }
  await runOk(['git', 'add', '.'], { cwd: repo, env });
  const hook: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const f0 = performance.now();
    await runOk([NODE, '-e', '0'], { cwd: repo, env });
    await runOk(['git', 'diff', '--cached', '--unified=0'], { cwd: repo, env });
    floor.push(performance.now() - f0);
    const h0 = performance.now();
    const result = await runCmd([NODE, GANTRY_CLI, 'scan', '--staged'], { cwd: repo, env });
    hook.push(performance.now() - h0);
    if (result.code !== 0) throw new Error(`gantry scan --staged exited ${result.code}: ${result.stderr}`);
  }
  const p50 = (v: number[]) => round(percentile(v, 50), 1);
  return {
    dependency_scan: {
      packages: PACKAGES,
      advisories: ADVISORIES,
      findings,
      ms_p50: p50(scans),
      baseline_json_parse_ms_p50: p50(floors),
      ratio: round(percentile(scans, 50) / percentile(floors, 50), 1),
      target_ms: 1000,
    },
    advisory_load: {
      records: load.value.records.length,
      rejected: load.value.rejected.length,
      load_ms: Math.round(load.ms),
      index_ms: Math.round(index.ms),
    },
    pre_commit: {
      files: 20,
      ms_p50: p50(hook),
      baseline_node_start_plus_git_diff_ms_p50: p50(floor),
      ratio: round(percentile(hook, 50) / percentile(floor, 50), 2),
      target_ms: 300,
    },
  };
});
