/**
 * Packages against an advisory set: the records that affect each package version, merged when
 * they describe the same vulnerability (a GHSA and the CVE it aliases, from two databases, are one
 * finding), with the level and the lowest fixed version.
 */
import { type Ecosystem, versionComparator } from '../versions/index.ts';
import { type PackageRef, affectsPackage, baseEcosystem, firstFixedVersion, isAffected, normalizePackageName } from './affected.ts';
import { type SeverityLevel, cvss3BaseScore, ratingOf } from './cvss.ts';
import type { OsvRecord } from './osv-record.ts';

export interface AdvisoryIndex {
  /** `ecosystem \0 normalised name` → records naming that package. */
  readonly byPackage: ReadonlyMap<string, readonly OsvRecord[]>;
}

function packageKey(ecosystem: string, name: string): string {
  return `${ecosystem}\0${name}`;
}

export function indexAdvisories(records: Iterable<OsvRecord>): AdvisoryIndex {
  const byPackage = new Map<string, OsvRecord[]>();
  for (const record of records) {
    if (record.withdrawn !== undefined) continue;
    const keys = new Set<string>();
    for (const entry of record.affected ?? []) {
      if (!entry.package) continue;
      const ecosystem = baseEcosystem(entry.package.ecosystem) as Ecosystem;
      keys.add(packageKey(ecosystem, normalizePackageName(ecosystem, entry.package.name)));
    }
    for (const key of keys) {
      const list = byPackage.get(key);
      if (list) list.push(record);
      else byPackage.set(key, [record]);
    }
  }
  return { byPackage };
}

export type AdvisoryLevel = SeverityLevel | 'unknown';

export interface VulnerabilityMatch {
  package: PackageRef;
  /** The finding's id: the smallest CVE among the merged ids, else the smallest id. */
  id: string;
  /** Every id and alias of the merged records, sorted. */
  ids: string[];
  level: AdvisoryLevel;
  /** The highest CVSS v3 base score among the merged records, when any gives a vector. */
  score: number | null;
  summary: string;
  /** The lowest version that fixes every merged record, when each names one. */
  fixedIn: string | null;
  records: OsvRecord[];
}

const LEVEL_ORDER: AdvisoryLevel[] = ['unknown', 'none', 'low', 'medium', 'high', 'critical'];
const GHSA_LEVELS: Record<string, SeverityLevel> = { LOW: 'low', MODERATE: 'medium', MEDIUM: 'medium', HIGH: 'high', CRITICAL: 'critical' };

/** A record's CVSS v3 score (its own, else its affected entries'), and its level. */
export function recordSeverity(record: OsvRecord, pkg?: PackageRef): { level: AdvisoryLevel; score: number | null } {
  const vectors = [
    ...(record.severity ?? []),
    ...(record.affected ?? []).filter((a) => pkg === undefined || affectsPackage(a, pkg)).flatMap((a) => a.severity ?? []),
  ];
  const scores = vectors.map((s) => (s.type.startsWith('CVSS_V3') ? cvss3BaseScore(s.score) : null)).filter((s): s is number => s !== null);
  if (scores.length > 0) {
    const score = Math.max(...scores);
    return { level: ratingOf(score), score };
  }
  const rated = record.database_specific?.severity;
  if (typeof rated === 'string' && GHSA_LEVELS[rated.toUpperCase()])
    return { level: GHSA_LEVELS[rated.toUpperCase()] as SeverityLevel, score: null };
  return { level: 'unknown', score: null };
}

function mergeByAlias(records: OsvRecord[]): OsvRecord[][] {
  const groups: { ids: Set<string>; records: OsvRecord[] }[] = [];
  for (const record of records) {
    const ids = new Set([record.id, ...(record.aliases ?? [])]);
    const touching = groups.filter((g) => [...ids].some((id) => g.ids.has(id)));
    const merged = { ids, records: [record] };
    for (const g of touching) {
      for (const id of g.ids) merged.ids.add(id);
      merged.records.push(...g.records);
      groups.splice(groups.indexOf(g), 1);
    }
    groups.push(merged);
  }
  return groups.map((g) => g.records);
}

function primaryId(ids: string[]): string {
  return ids.find((id) => id.startsWith('CVE-')) ?? (ids[0] as string);
}

export function matchPackage(pkg: PackageRef, index: AdvisoryIndex): VulnerabilityMatch[] {
  const candidates = index.byPackage.get(packageKey(pkg.ecosystem, normalizePackageName(pkg.ecosystem, pkg.name))) ?? [];
  const hits = candidates.filter((r) => isAffected(r, pkg));
  const matches = mergeByAlias(hits).map((records) => {
    const ids = [...new Set(records.flatMap((r) => [r.id, ...(r.aliases ?? [])]))].sort();
    const severities = records.map((r) => recordSeverity(r, pkg));
    const level = severities.reduce<AdvisoryLevel>(
      (best, s) => (LEVEL_ORDER.indexOf(s.level) > LEVEL_ORDER.indexOf(best) ? s.level : best),
      'unknown',
    );
    const scores = severities.map((s) => s.score).filter((s): s is number => s !== null);
    const fixes = records.map((r) => firstFixedVersion(r, pkg));
    return {
      package: pkg,
      id: primaryId(ids),
      ids,
      level,
      score: scores.length > 0 ? Math.max(...scores) : null,
      summary: records.find((r) => r.summary)?.summary ?? records[0]?.details?.split('\n')[0] ?? '',
      fixedIn: fixes.includes(null) ? null : highest(fixes as string[], pkg),
      records,
    };
  });
  return matches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Every merged record must be fixed, so the advice is the highest of their first fixes. */
function highest(versions: string[], pkg: PackageRef): string | null {
  const compare = versionComparator(pkg.ecosystem);
  return versions.reduce<string | null>((a, b) => (a === null || compare(b, a) > 0 ? b : a), null);
}

export function matchPackages(packages: Iterable<PackageRef>, index: AdvisoryIndex): VulnerabilityMatch[] {
  const out: VulnerabilityMatch[] = [];
  for (const pkg of packages) out.push(...matchPackage(pkg, index));
  return out;
}
