/**
 * The OSV schema's evaluation of affected versions, case by case: the schema document's own
 * examples (osv-schema docs/schema.md, "Evaluation" and "Examples"), then the cases the issue
 * names — several introduced/fixed pairs, last_affected, pre-releases, epochs — each with the
 * answer worked out by hand from the pseudocode.
 */
import { describe, expect, it } from 'vitest';
import {
  type OsvRecord,
  cvss3BaseScore,
  firstFixedVersion,
  indexAdvisories,
  isAffected,
  matchPackage,
  parseOsvRecord,
  ratingOf,
} from '../../src/security/osv/index.ts';
import type { Ecosystem } from '../../src/security/versions/index.ts';

type Events = ({ introduced: string } | { fixed: string } | { last_affected: string } | { limit: string })[];

function record(ecosystem: string, name: string, type: 'SEMVER' | 'ECOSYSTEM', events: Events, extra: Partial<OsvRecord> = {}): OsvRecord {
  return parseOsvRecord(
    { id: 'TEST-1', modified: '2026-01-01T00:00:00Z', affected: [{ package: { ecosystem, name }, ranges: [{ type, events }] }], ...extra },
    'test',
  );
}

function affectedVersions(r: OsvRecord, ecosystem: Ecosystem, name: string, versions: string[]): string[] {
  return versions.filter((version) => isAffected(r, { ecosystem, name, version }));
}

describe('the schema document examples', () => {
  it('introduced 0 alone: every version', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '0' }]);
    expect(affectedVersions(r, 'npm', 'a', ['0.0.0', '1.0.0-alpha', '99.0.0'])).toEqual(['0.0.0', '1.0.0-alpha', '99.0.0']);
  });

  it('fixed: everything before it', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '0' }, { fixed: '1.0.2' }]);
    expect(affectedVersions(r, 'npm', 'a', ['0.1.0', '1.0.1', '1.0.2-rc.1', '1.0.2', '1.0.3'])).toEqual(['0.1.0', '1.0.1', '1.0.2-rc.1']);
  });

  it('several ranges in one event list: [1.0.0, 1.0.2) and [3.0.0, 3.2.5)', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '1.0.0' }, { fixed: '1.0.2' }, { introduced: '3.0.0' }, { fixed: '3.2.5' }]);
    expect(affectedVersions(r, 'npm', 'a', ['0.9.0', '1.0.0', '1.0.1', '1.0.2', '2.5.0', '3.0.0', '3.2.4', '3.2.5', '4.0.0'])).toEqual([
      '1.0.0',
      '1.0.1',
      '3.0.0',
      '3.2.4',
    ]);
  });

  it('the events are sorted before evaluation, whatever order the record lists them in', () => {
    const r = record('npm', 'a', 'SEMVER', [{ fixed: '3.2.5' }, { introduced: '3.0.0' }, { fixed: '1.0.2' }, { introduced: '1.0.0' }]);
    expect(affectedVersions(r, 'npm', 'a', ['1.0.1', '2.5.0', '3.1.0'])).toEqual(['1.0.1', '3.1.0']);
  });

  it('last_affected includes its version, fixed excludes it', () => {
    const last = record('PyPI', 'a', 'ECOSYSTEM', [{ introduced: '0' }, { last_affected: '2.1.214' }]);
    const fixed = record('PyPI', 'a', 'ECOSYSTEM', [{ introduced: '0' }, { fixed: '2.1.214' }]);
    expect(affectedVersions(last, 'PyPI', 'a', ['2.1.213', '2.1.214', '2.1.215'])).toEqual(['2.1.213', '2.1.214']);
    expect(affectedVersions(fixed, 'PyPI', 'a', ['2.1.213', '2.1.214', '2.1.215'])).toEqual(['2.1.213']);
  });

  it('limit: versions at or above every limit are outside the range', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '1.0.0' }, { limit: '2.0.0' }]);
    expect(affectedVersions(r, 'npm', 'a', ['0.5.0', '1.5.0', '2.0.0', '3.0.0'])).toEqual(['1.5.0']);
    const star = record('npm', 'a', 'SEMVER', [{ introduced: '1.0.0' }, { limit: '*' }]);
    expect(affectedVersions(star, 'npm', 'a', ['0.5.0', '9.0.0'])).toEqual(['9.0.0']);
  });

  it("GitHub's elliptic record: ECOSYSTEM range, CVE alias, CVSS vector", () => {
    const r = parseOsvRecord(ELLIPTIC, 'schema.md');
    expect(affectedVersions(r, 'npm', 'elliptic', ['6.5.3', '6.5.4', '6.5.4-beta.1'])).toEqual(['6.5.3', '6.5.4-beta.1']);
    expect(isAffected(r, { ecosystem: 'PyPI', name: 'elliptic', version: '1.0' })).toBe(false);
    const [match] = matchPackage({ ecosystem: 'npm', name: 'elliptic', version: '6.5.3' }, indexAdvisories([r]));
    expect(match).toMatchObject({
      id: 'CVE-2020-28498',
      ids: ['CVE-2020-28498', 'GHSA-r9p9-mrjm-926w'],
      level: 'medium',
      score: 6.8,
      fixedIn: '6.5.4',
    });
  });

  it("the schema's pikepdf record: a GIT range is answered through the versions list, the ECOSYSTEM range by PEP 440", () => {
    const r = parseOsvRecord(PIKEPDF, 'schema.md');
    // 2.8.0.post3 is not in `versions` but within [2.8.0, 2.10.0) by PEP 440; 2.10.0rc1 is a
    // pre-release of the fix, so still before it.
    expect(affectedVersions(r, 'PyPI', 'pikepdf', ['2.7.9', '2.8.0', '2.8.0.post3', '2.9.2', '2.10.0rc1', '2.10.0'])).toEqual([
      '2.8.0',
      '2.8.0.post3',
      '2.9.2',
      '2.10.0rc1',
    ]);
    expect(isAffected(r, { ecosystem: 'PyPI', name: 'PikePDF', version: '2.9.0' })).toBe(true);
  });
});

describe('ranges the issue names', () => {
  it('PyPI epochs: 1!0.5 sorts after every version without an epoch', () => {
    const r = record('PyPI', 'a', 'ECOSYSTEM', [{ introduced: '0' }, { fixed: '2.0' }]);
    expect(affectedVersions(r, 'PyPI', 'a', ['1.9', '2.0', '1!0.5'])).toEqual(['1.9']);
    const withEpoch = record('PyPI', 'a', 'ECOSYSTEM', [{ introduced: '1!1.0' }, { fixed: '1!1.5' }]);
    expect(affectedVersions(withEpoch, 'PyPI', 'a', ['1.2', '1!1.2', '1!1.5'])).toEqual(['1!1.2']);
  });

  it('pre-releases: a pre-release of the introducing version is not affected, of the fix is', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '2.0.0' }, { fixed: '2.3.0' }]);
    expect(affectedVersions(r, 'npm', 'a', ['2.0.0-rc.1', '2.0.0', '2.3.0-beta.2', '2.3.0'])).toEqual(['2.0.0', '2.3.0-beta.2']);
    const gem = record('RubyGems', 'rack', 'ECOSYSTEM', [{ introduced: '0' }, { fixed: '2.2.6.2' }]);
    expect(affectedVersions(gem, 'RubyGems', 'rack', ['2.2.6.1', '2.2.6.2.pre', '2.2.6.2', '3.0.0.beta1'])).toEqual([
      '2.2.6.1',
      '2.2.6.2.pre',
    ]);
  });

  it('three introduced/fixed pairs with last_affected-free gaps, for Go pseudo-versions and Packagist', () => {
    const go = record('Go', 'golang.org/x/net', 'SEMVER', [
      { introduced: '0' },
      { fixed: '0.7.0' },
      { introduced: '0.8.0' },
      { fixed: '0.8.1' },
      { introduced: '0.9.0' },
      { fixed: '0.17.0' },
    ]);
    expect(
      affectedVersions(go, 'Go', 'golang.org/x/net', [
        'v0.0.0-20220722155237-a158d28d115b',
        'v0.7.0',
        'v0.8.0',
        'v0.8.1',
        'v0.10.0',
        'v0.17.0',
      ]),
    ).toEqual(['v0.0.0-20220722155237-a158d28d115b', 'v0.8.0', 'v0.10.0']);
    const php = record('Packagist', 'Symfony/HTTP-Kernel', 'ECOSYSTEM', [
      { introduced: '5.0.0' },
      { fixed: '5.4.20' },
      { introduced: '6.0.0' },
      { fixed: '6.2.6' },
    ]);
    expect(
      affectedVersions(php, 'Packagist', 'symfony/http-kernel', ['4.4.0', 'v5.4.19', '5.4.20', '6.0.0-RC1', '6.2.5', '6.2.6']),
    ).toEqual(['v5.4.19', '6.2.5']);
  });

  it('a withdrawn record affects nothing; an explicit versions list matches exactly', () => {
    expect(
      isAffected(record('npm', 'a', 'SEMVER', [{ introduced: '0' }], { withdrawn: '2026-01-02T00:00:00Z' }), {
        ecosystem: 'npm',
        name: 'a',
        version: '1.0.0',
      }),
    ).toBe(false);
    const listed = parseOsvRecord(
      { id: 'X', modified: 'm', affected: [{ package: { ecosystem: 'crates.io', name: 'a' }, versions: ['0.3.1'] }] },
      't',
    );
    expect(affectedVersions(listed, 'crates.io', 'a', ['0.3.0', '0.3.1', '0.3.2'])).toEqual(['0.3.1']);
  });

  it('the lowest fixed version above the package, among the ranges that affect it', () => {
    const r = record('npm', 'a', 'SEMVER', [{ introduced: '1.0.0' }, { fixed: '1.4.2' }, { introduced: '2.0.0' }, { fixed: '2.1.0' }]);
    expect(firstFixedVersion(r, { ecosystem: 'npm', name: 'a', version: '1.3.0' })).toBe('1.4.2');
    expect(firstFixedVersion(r, { ecosystem: 'npm', name: 'a', version: '2.0.5' })).toBe('2.1.0');
    expect(
      firstFixedVersion(record('npm', 'a', 'SEMVER', [{ introduced: '0' }]), { ecosystem: 'npm', name: 'a', version: '1.0.0' }),
    ).toBeNull();
  });

  it('records aliasing each other become one finding, even across three ids', () => {
    const a = record('npm', 'a', 'SEMVER', [{ introduced: '0' }, { fixed: '2.0.0' }], { id: 'GHSA-aaaa', aliases: ['CVE-2024-1'] });
    const b = record('npm', 'a', 'SEMVER', [{ introduced: '0' }, { fixed: '2.1.0' }], { id: 'OSV-2024-9', aliases: ['GHSA-aaaa'] });
    const c = record('npm', 'a', 'SEMVER', [{ introduced: '0' }, { fixed: '3.0.0' }], { id: 'GHSA-cccc' });
    const matches = matchPackage({ ecosystem: 'npm', name: 'a', version: '1.0.0' }, indexAdvisories([a, b, c]));
    expect(matches.map((m) => [m.id, m.ids, m.fixedIn])).toEqual([
      ['CVE-2024-1', ['CVE-2024-1', 'GHSA-aaaa', 'OSV-2024-9'], '2.1.0'],
      ['GHSA-cccc', ['GHSA-cccc'], '3.0.0'],
    ]);
  });
});

describe('strict parsing', () => {
  it.each([
    [
      {
        id: 'X',
        modified: 'm',
        affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ fixed: '1' }] }] }],
      },
      'introduced',
    ],
    [
      {
        id: 'X',
        modified: 'm',
        affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1' }] }] }],
      },
      'affected.0.ranges.0.events.0',
    ],
    [
      {
        id: 'X',
        modified: 'm',
        affected: [
          {
            package: { ecosystem: 'npm', name: 'a' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2' }, { last_affected: '1' }] }],
          },
        ],
      },
      'not both',
    ],
    [{ id: 'X', modified: 'm', affected: [{ ranges: [{ type: 'RANGE', events: [{ introduced: '0' }] }] }] }, 'affected.0.ranges.0.type'],
    [{ modified: 'm' }, 'at id'],
  ])('refuses %j naming the field', (json, expected) => {
    expect(() => parseOsvRecord(json, 'advisories/x.json')).toThrow(
      expect.objectContaining({ code: 'INVALID_ADVISORY', message: expect.stringContaining(expected) }),
    );
  });
});

describe('CVSS v3.1 base scores (values published by NVD for these vectors)', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'critical'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10, 'critical'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 6.1, 'medium'],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8, 'high'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', 5.9, 'medium'],
    ['CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', 5.3, 'medium'],
    ['CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.6, 'low'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'none'],
  ])('%s → %d', (vector, score, level) => {
    expect(cvss3BaseScore(vector)).toBe(score);
    expect(ratingOf(score)).toBe(level);
  });

  it('refuses what is not a v3 base vector', () => {
    expect(cvss3BaseScore('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toBeNull();
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H')).toBeNull();
    expect(cvss3BaseScore('CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toBeNull();
  });
});

const ELLIPTIC = {
  schema_version: '1.2.0',
  id: 'GHSA-r9p9-mrjm-926w',
  modified: '2021-03-08T16:02:43Z',
  published: '2021-03-08T16:06:50Z',
  aliases: ['CVE-2020-28498'],
  summary: 'Use of a Broken or Risky Cryptographic Algorithm',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N' }],
  affected: [
    { package: { ecosystem: 'npm', name: 'elliptic' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '6.5.4' }] }] },
  ],
  database_specific: { cwe_ids: ['CWE-327'], severity: 'MODERATE', github_reviewed: true },
};

const PIKEPDF = {
  schema_version: '1.2.0',
  id: 'PYSEC-2021-XXXX',
  published: '2021-04-01T20:15:00Z',
  modified: '2021-04-07T15:14:00Z',
  aliases: ['CVE-2021-29421'],
  summary: 'XXE in pikepdf',
  affected: [
    {
      package: { ecosystem: 'PyPI', name: 'pikepdf' },
      ranges: [
        {
          type: 'GIT',
          repo: 'https://github.com/pikepdf/pikepdf',
          events: [{ introduced: '0' }, { fixed: '3f38f73218e5e782fe411ccbb3b44a793c0b343a' }],
        },
        { type: 'ECOSYSTEM', events: [{ introduced: '2.8.0' }, { fixed: '2.10.0' }] },
      ],
      versions: ['2.8.0', '2.8.0.post1', '2.8.0.post2', '2.9.0', '2.9.1', '2.9.2'],
      ecosystem_specific: { severity: 'HIGH' },
    },
  ],
};
