/**
 * `gantry advisories import` of an npm-sized OSV set (issue "Security gates": the whole npm
 * advisory set imported in under a minute). There is no network here to download osv.dev's
 * `npm/all.zip`, so the set is generated (seeded) in its real shape: GHSA ids and CVE aliases,
 * Markdown details of a few hundred words, CVSS v3 vectors, SEMVER ranges (some with several
 * intervals, some packages with several affected entries), references, `database_specific` as
 * GitHub writes it, a few withdrawn records; zipped with `zip` like the download.
 *
 * Figures from one run: the full import into a fresh SQLite store, the baseline of reading and
 * parsing the same archive without storing (`loadAdvisories`: the floor any import pays), their
 * ratio; then a re-import of the same archive (all unchanged), an incremental one (500 modified,
 * 50 withdrawn), and the scans' query port for 2,000 package names.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAdvisories } from '../src/scan/index.ts';
import { advisoriesFor, exportAdvisories, importAdvisories } from '../src/server/security/index.ts';
import { openStore } from '../src/store/index.ts';
import { benchMain, percentile, mulberry32, progress, round, runOk, tempDir } from './lib.ts';

const ADVISORIES = Number(process.env.ADVISORIES ?? 20_000);
const REPS = Number(process.env.REPS ?? 3);
const PACKAGES = 6_000;

const random = mulberry32(20261206);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
const ALPHABET = '23456789cfghjmpqrvwx';
const ghsa = () => `GHSA-${[4, 4, 4].map((n) => Array.from({ length: n }, () => pick([...ALPHABET])).join('')).join('-')}`;
const version = () => `${int(8)}.${int(30)}.${int(40)}`;
const WORDS =
  'the a package allows attackers to cause denial of service via crafted input prototype pollution regular expression path traversal when parsing untrusted user data versions before are affected upgrade'.split(
    ' ',
  );
const prose = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
const packageName = (i: number) => (i % 9 === 0 ? `@scope-${i % 40}/pkg-${i}` : `pkg-${i}`);
const SEVERITIES = ['LOW', 'MODERATE', 'HIGH', 'CRITICAL'] as const;
const VECTORS = [
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H',
  'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N',
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N',
];

function affected(name: string): object {
  const intervals = 1 + (random() < 0.2 ? int(3) : 0);
  // A range has `fixed` or `last_affected` events, never both (OSV schema).
  const open = random() < 0.1;
  const events: object[] = [];
  for (let k = 0; k < intervals; k++) {
    events.push({ introduced: k === 0 ? '0' : `${k + 1}.0.0` });
    events.push(open ? { last_affected: `${k + 1}.${int(30)}.${int(40)}` } : { fixed: `${k + 1}.${int(30)}.${int(40)}` });
  }
  return {
    package: { ecosystem: 'npm', name, purl: `pkg:npm/${name.replace('@', '%40')}` },
    ranges: [{ type: 'SEMVER', events }],
    database_specific: { source: `https://github.com/github/advisory-database/blob/main/advisories/github-reviewed/${name}.json` },
  };
}

function record(id: string, i: number, modified: string, withdrawn?: string): object {
  const severity = SEVERITIES[i % 4] as string;
  const packages = random() < 0.1 ? 2 : 1;
  return {
    schema_version: '1.6.0',
    id,
    modified,
    published: '2024-03-01T12:00:00Z',
    ...(withdrawn ? { withdrawn } : {}),
    aliases: random() < 0.8 ? [`CVE-${2018 + (i % 8)}-${10000 + i}`] : [],
    related: [],
    summary: `${prose(6)} in ${packageName(i % PACKAGES)}`,
    details: `### Impact\n${prose(120)}\n\n### Patches\n${prose(30)}\n\n### Workarounds\n${prose(25)}\n\n### References\n${prose(10)}`,
    severity: [{ type: 'CVSS_V3', score: VECTORS[i % VECTORS.length] }],
    affected: Array.from({ length: packages }, (_, k) => affected(packageName((i + k * 7919) % PACKAGES))),
    references: [
      { type: 'ADVISORY', url: `https://nvd.nist.gov/vuln/detail/CVE-2024-${10000 + i}` },
      { type: 'WEB', url: `https://github.com/example/pkg-${i}/commit/${(i * 2654435761).toString(16)}` },
      { type: 'PACKAGE', url: `https://github.com/example/pkg-${i}` },
    ],
    database_specific: {
      cwe_ids: [`CWE-${100 + (i % 800)}`],
      severity,
      github_reviewed: true,
      github_reviewed_at: '2024-03-02T00:00:00Z',
      nvd_published_at: null,
    },
  };
}

async function writeArchive(dir: string, records: { id: string; text: string }[]): Promise<string> {
  const folder = join(dir, 'npm');
  await mkdir(folder, { recursive: true });
  for (let i = 0; i < records.length; i += 500)
    await Promise.all(records.slice(i, i + 500).map((r) => writeFile(join(folder, `${r.id}.json`), r.text)));
  const zip = join(dir, 'all.zip');
  // Zipping is set-up, not the figure: its limit grows with the set (ADVISORIES=220000 is npm's whole set today).
  await runOk(['zip', '-q', '-r', '-j', '-FS', zip, folder], { timeoutMs: Math.max(120_000, records.length * 6) });
  return zip;
}

async function timed<T>(f: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await f();
  return { ms: performance.now() - start, value };
}

// Generating and zipping the set dominate at 220,000 records (npm's size class): the limit grows with it.
await benchMain('advisory-import', Math.max(360_000, ADVISORIES * 6), async () => {
  const dir = await tempDir('advisory-import');
  progress(`generating ${ADVISORIES} npm OSV records (no network here: a generated set in npm's real shape)`);
  const ids = new Set<string>();
  while (ids.size < ADVISORIES) ids.add(ghsa());
  const idList = [...ids];
  const texts = idList.map((id, i) => ({
    id,
    text: JSON.stringify(record(id, i, '2026-11-01T00:00:00Z', i % 400 === 0 ? '2026-10-01T00:00:00Z' : undefined)),
  }));
  const zip = await writeArchive(dir, texts);
  const bytes = texts.reduce((n, t) => n + t.text.length, 0);

  const baselines: number[] = [];
  for (let r = 0; r < REPS; r++) baselines.push((await timed(() => loadAdvisories(zip))).ms);

  const imports: number[] = [];
  let summary: Awaited<ReturnType<typeof importAdvisories>> | undefined;
  let reimportMs = 0;
  let incremental: { ms: number; value: Awaited<ReturnType<typeof importAdvisories>> } | undefined;
  let queryMs = 0;
  let queried = 0;
  let exported: { ms: number; value: number } | undefined;
  for (let r = 0; r < REPS; r++) {
    progress(`import ${r + 1}/${REPS} into a fresh SQLite store`);
    const store = await openStore({ url: `sqlite:${join(dir, `import-${r}.db`)}` });
    try {
      const full = await timed(() => importAdvisories(store, zip, new Date().toISOString()));
      imports.push(full.ms);
      summary = full.value;
      if (r === REPS - 1) {
        reimportMs = (await timed(() => importAdvisories(store, zip, new Date().toISOString()))).ms;
        progress('incremental: 500 records modified, 50 withdrawn');
        const changed = texts.map((t, i) =>
          i % 40 === 0
            ? {
                id: t.id,
                text: JSON.stringify(record(t.id, i, '2026-12-01T00:00:00Z', i % 400 === 0 ? '2026-12-01T00:00:00Z' : undefined)),
              }
            : t,
        );
        const zip2 = await writeArchive(join(dir, 'next'), changed);
        incremental = await timed(() => importAdvisories(store, zip2, new Date().toISOString()));
        const names = Array.from({ length: 2000 }, (_, i) => ({ ecosystem: 'npm', name: packageName(i * 3) }));
        const query = await timed(() => advisoriesFor(store.advisories, names));
        queryMs = query.ms;
        queried = query.value.length;
        // What follows each import on a server: the file its runs' security jobs read.
        exported = await timed(() => exportAdvisories(store.advisories, join(dir, 'osv.jsonl')));
      }
    } finally {
      await store.close();
    }
  }
  const median = (v: number[]) => percentile(v, 50);
  return {
    data: 'generated: no network to download osv.dev npm/all.zip; same shape and size class',
    records: ADVISORIES,
    archive_json_mib: round(bytes / 1048576, 1),
    import: {
      full_ms_p50: Math.round(median(imports)),
      runs_ms: imports.map(Math.round),
      baseline_read_parse_ms_p50: Math.round(median(baselines)),
      ratio_import_to_baseline: round(median(imports) / median(baselines), 2),
      target_ms: 60_000,
      summary,
    },
    reimport_unchanged_ms: Math.round(reimportMs),
    incremental: incremental
      ? { ms: Math.round(incremental.ms), updated: incremental.value.updated, withdrawn: incremental.value.withdrawn }
      : null,
    query_2000_packages: { ms: round(queryMs, 1), records: queried },
    export_for_jobs: exported ? { ms: Math.round(exported.ms), records: exported.value } : null,
  };
});
