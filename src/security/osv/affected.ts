/**
 * Whether a package version is affected by an OSV record: the schema's `IsVulnerable` evaluation
 * (osv-schema, "Evaluation"), with each ecosystem's version order for `ECOSYSTEM` ranges and
 * SemVer 2.0 precedence for `SEMVER` ranges. `GIT` ranges need the repository's commit graph and
 * are answered only through the record's explicit `versions` list, as the schema recommends.
 */
import { type Ecosystem, compareSemverLike, isEcosystem, versionComparator } from '../versions/index.ts';
import type { OsvAffected, OsvEvent, OsvRange, OsvRecord } from './osv-record.ts';

export interface PackageRef {
  ecosystem: Ecosystem;
  name: string;
  version: string;
}

/** The ecosystem part of an OSV ecosystem name (`Debian:11` → `Debian`). */
export function baseEcosystem(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(0, colon);
}

/**
 * A package name as its registry compares them: PyPI per PEP 503 (case, and runs of `-_.`),
 * Packagist and Go module paths case-insensitively for Packagist only; npm, crates.io, RubyGems
 * and Go exactly.
 */
export function normalizePackageName(ecosystem: Ecosystem, name: string): string {
  if (ecosystem === 'PyPI') return name.toLowerCase().replace(/[-_.]+/g, '-');
  if (ecosystem === 'Packagist') return name.toLowerCase();
  return name;
}

function eventVersion(e: OsvEvent): string {
  if ('introduced' in e) return e.introduced;
  if ('fixed' in e) return e.fixed;
  if ('last_affected' in e) return e.last_affected;
  return e.limit;
}

type Compare = (a: string, b: string) => number;

/** Orders events by version: `introduced: "0"` before everything, a `limit` containing `*` after. */
function sortEvents(events: OsvEvent[], compare: Compare): OsvEvent[] {
  const rank = (e: OsvEvent): number => {
    if ('introduced' in e && e.introduced === '0') return -1;
    if ('limit' in e && e.limit.includes('*')) return 1;
    return 0;
  };
  return [...events].sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 ? compare(eventVersion(a), eventVersion(b)) : 0));
}

function beforeLimits(version: string, range: OsvRange, compare: Compare): boolean {
  const limits = range.events.filter((e): e is { limit: string } => 'limit' in e);
  if (limits.length === 0) return true;
  return limits.some((e) => e.limit.includes('*') || compare(version, e.limit) < 0);
}

export function includedInRange(version: string, range: OsvRange, compare: Compare): boolean {
  if (!beforeLimits(version, range, compare)) return false;
  let vulnerable = false;
  for (const e of sortEvents(range.events, compare)) {
    if ('introduced' in e && (e.introduced === '0' || compare(version, e.introduced) >= 0)) vulnerable = true;
    else if ('fixed' in e && compare(version, e.fixed) >= 0) vulnerable = false;
    else if ('last_affected' in e && compare(version, e.last_affected) > 0) vulnerable = false;
  }
  return vulnerable;
}

function comparatorFor(range: OsvRange, ecosystem: Ecosystem): Compare | null {
  if (range.type === 'SEMVER') return compareSemverLike;
  if (range.type === 'ECOSYSTEM') return versionComparator(ecosystem);
  return null;
}

/** Whether one `affected` entry covers the package at its version. */
export function affectsPackage(entry: OsvAffected, pkg: PackageRef): boolean {
  const ecosystem = entry.package ? baseEcosystem(entry.package.ecosystem) : null;
  if (!entry.package || ecosystem === null || !isEcosystem(ecosystem) || ecosystem !== pkg.ecosystem) return false;
  if (normalizePackageName(ecosystem, entry.package.name) !== normalizePackageName(pkg.ecosystem, pkg.name)) return false;
  if (entry.versions?.includes(pkg.version)) return true;
  return (entry.ranges ?? []).some((range) => {
    const compare = comparatorFor(range, ecosystem);
    return compare !== null && includedInRange(pkg.version, range, compare);
  });
}

/** The schema's `IsVulnerable`; a withdrawn record affects nothing. */
export function isAffected(record: OsvRecord, pkg: PackageRef): boolean {
  if (record.withdrawn !== undefined) return false;
  return (record.affected ?? []).some((entry) => affectsPackage(entry, pkg));
}

/**
 * The lowest `fixed` version above the package's version in the ranges that affect it, for the
 * "upgrade to" advice; null when no fix is published.
 */
export function firstFixedVersion(record: OsvRecord, pkg: PackageRef): string | null {
  const compare = versionComparator(pkg.ecosystem);
  let best: string | null = null;
  for (const entry of record.affected ?? []) {
    if (!affectsPackage(entry, pkg)) continue;
    for (const range of entry.ranges ?? []) {
      const rangeCompare = comparatorFor(range, pkg.ecosystem);
      if (rangeCompare === null || !includedInRange(pkg.version, range, rangeCompare)) continue;
      for (const e of range.events) {
        if ('fixed' in e && rangeCompare(e.fixed, pkg.version) > 0 && (best === null || compare(e.fixed, best) < 0)) best = e.fixed;
      }
    }
  }
  return best;
}
