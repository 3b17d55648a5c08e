/**
 * Lockfiles of every supported ecosystem against a small advisory set, with the findings worked
 * out by hand from the OSV evaluation: which package versions are hit, by which merged ids, the
 * chain that pulls each in, and the version that fixes it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { indexAdvisories, parseOsvRecord, readLockfile, scanDependencies } from '../../src/security/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');

function graph(path: string) {
  return readLockfile(path, readFileSync(join(FIXTURES, path), 'utf8'), (s) => {
    try {
      return readFileSync(join(FIXTURES, s), 'utf8');
    } catch {
      return undefined;
    }
  });
}

type Events = Record<string, string>[];
let n = 0;
function advisory(ecosystem: string, name: string, events: Events, extra: Record<string, unknown> = {}) {
  n += 1;
  return parseOsvRecord(
    {
      id: `GHSA-test-${n}`,
      modified: '2026-01-01T00:00:00Z',
      affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events }] }],
      ...extra,
    },
    'test',
  );
}

const ADVISORIES = indexAdvisories([
  // qs: two affected series, each with its own fix (multiple introduced/fixed pairs).
  advisory('npm', 'qs', [{ introduced: '6.5.0' }, { fixed: '6.5.3' }, { introduced: '6.7.0' }, { fixed: '6.7.3' }], {
    aliases: ['CVE-2022-24999'],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }],
  }),
  // The same vulnerability from a second database: merged by its alias.
  { ...advisory('npm', 'qs', [{ introduced: '0' }, { fixed: '6.7.3' }]), id: 'OSV-QS-1', aliases: ['CVE-2022-24999'] },
  advisory('npm', 'minimatch', [{ introduced: '0' }, { fixed: '3.0.5' }], { database_specific: { severity: 'HIGH' } }),
  // last_affected: 1.4.1 is affected, 1.4.2 would not be.
  advisory('npm', 'punycode', [{ introduced: '1.0.0' }, { last_affected: '1.4.1' }]),
  advisory('npm', 'follow-redirects', [{ introduced: '0' }, { fixed: '1.14.7' }]),
  advisory('npm', 'loose-envify', [{ introduced: '2.0.0' }]),
  // PyPI: a pre-release of the fix is still affected; the name differs in case and separator.
  advisory('PyPI', 'Jinja2', [{ introduced: '3.0.0' }, { fixed: '3.1.3' }]),
  advisory('PyPI', 'URLLib3', [{ introduced: '0' }, { fixed: '1.26.13' }]),
  // An epoch sorts after every version without one: nothing here is affected.
  advisory('PyPI', 'django', [{ introduced: '1!0' }]),
  advisory('crates.io', 'time', [{ introduced: '0.1.0' }, { fixed: '0.2.23' }]),
  advisory('crates.io', 'smallvec', [{ introduced: '1.6.0' }, { fixed: '1.6.1' }]),
  advisory('RubyGems', 'rack', [{ introduced: '2.2.0' }, { fixed: '2.2.6.2' }]),
  advisory('RubyGems', 'nokogiri', [{ introduced: '0' }, { fixed: '1.13.10' }]),
  advisory('Packagist', 'guzzlehttp/psr7', [{ introduced: '2.0.0' }, { fixed: '2.4.5' }]),
  advisory('Go', 'golang.org/x/net', [{ introduced: '0' }, { fixed: '0.7.0' }]),
  advisory('Go', 'golang.org/x/text', [{ introduced: '0' }, { fixed: '0.3.8' }]),
  advisory('Go', 'github.com/gin-gonic/gin', [{ introduced: '1.9.0' }, { fixed: '1.9.1' }]),
  // Withdrawn: ignored.
  advisory('npm', 'express', [{ introduced: '0' }], { withdrawn: '2026-01-02T00:00:00Z' }),
]);

function findings(path: string): string[] {
  return scanDependencies([graph(path)], ADVISORIES).map(
    (f) => `${f.name}@${f.version} ${f.id} [${f.ids.join(' ')}] ${f.level} fix=${f.fixedIn ?? '-'} via ${f.path.join(' > ')}`,
  );
}

describe('dependency findings with known answers', () => {
  it('npm v3: both qs advisories are one finding; minimatch only in the version below the fix', () => {
    expect(findings('npm-v3/package-lock.json')).toEqual([
      'qs@6.7.0 CVE-2022-24999 [CVE-2022-24999 GHSA-test-1 OSV-QS-1] high fix=6.7.3 via express@4.17.1 > qs@6.7.0',
      'minimatch@3.0.4 GHSA-test-3 [GHSA-test-3] high fix=3.0.5 via minimatch@3.0.4',
    ]);
  });

  it('npm v1: last_affected includes its version; the nested qs 6.5.2 is in the first series', () => {
    expect(findings('npm-v1/package-lock.json')).toEqual([
      // The two databases disagree on the fix for 6.5.x (6.5.3, 6.7.3): the advice satisfies both.
      'qs@6.5.2 CVE-2022-24999 [CVE-2022-24999 GHSA-test-1 OSV-QS-1] high fix=6.7.3 via request@2.88.0 > qs@6.5.2',
      'punycode@1.4.1 GHSA-test-4 [GHSA-test-4] unknown fix=- via request@2.88.0 > tough-cookie@2.4.3 > punycode@1.4.1',
      'qs@6.7.0 CVE-2022-24999 [CVE-2022-24999 GHSA-test-1 OSV-QS-1] high fix=6.7.3 via qs@6.7.0',
    ]);
  });

  it('yarn berry and pnpm', () => {
    expect(findings('yarn-berry/yarn.lock')).toEqual([
      'follow-redirects@1.14.0 GHSA-test-5 [GHSA-test-5] unknown fix=1.14.7 via axios@0.21.1 > follow-redirects@1.14.0',
    ]);
    expect(findings('pnpm-v9/pnpm-lock.yaml')).toEqual([]);
  });

  it('PyPI: names as PEP 503 compares them; an epoch-only range affects nothing without an epoch', () => {
    expect(findings('pip/requirements.txt')).toEqual([
      'jinja2@3.1.2 GHSA-test-7 [GHSA-test-7] unknown fix=3.1.3 via flask@2.2.2 > jinja2@3.1.2',
    ]);
    expect(findings('poetry/poetry.lock')).toEqual([
      'urllib3@1.26.12 GHSA-test-8 [GHSA-test-8] unknown fix=1.26.13 via requests@2.28.1 > urllib3@1.26.12',
    ]);
    expect(findings('pipenv/Pipfile.lock')).toEqual([]);
  });

  it('Cargo, Bundler, Composer, Go', () => {
    expect(findings('cargo/Cargo.lock')).toEqual([
      'smallvec@1.6.0 GHSA-test-11 [GHSA-test-11] unknown fix=1.6.1 via smallvec@1.6.0',
      'time@0.1.45 GHSA-test-10 [GHSA-test-10] unknown fix=0.2.23 via time@0.1.45',
    ]);
    expect(findings('bundler/Gemfile.lock')).toEqual([
      'rack@2.2.3 GHSA-test-12 [GHSA-test-12] unknown fix=2.2.6.2 via actionpack@6.1.4 > rack@2.2.3',
    ]);
    expect(findings('composer/composer.lock')).toEqual([
      'guzzlehttp/psr7@2.4.0 GHSA-test-14 [GHSA-test-14] unknown fix=2.4.5 via guzzlehttp/guzzle@7.4.4 > guzzlehttp/psr7@2.4.0',
    ]);
    // x/net v0.7.0 is the fix itself; x/text is replaced by the fixed v0.3.8.
    expect(findings('go/go.mod')).toEqual([
      'github.com/gin-gonic/gin@v1.9.0 GHSA-test-17 [GHSA-test-17] unknown fix=1.9.1 via github.com/gin-gonic/gin@v1.9.0',
    ]);
  });
});
