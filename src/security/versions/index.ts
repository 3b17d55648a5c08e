/** Version order per package ecosystem, as OSV's `ECOSYSTEM` and `SEMVER` ranges need it. */
import { comparePackagist } from './packagist.ts';
import { comparePyPI } from './pypi.ts';
import { compareRubyGems } from './rubygems.ts';
import { compareSemverLike } from './semver-like.ts';

/** OSV's ecosystem names for the lockfiles Gantry reads. */
export const ECOSYSTEMS = ['npm', 'PyPI', 'Go', 'crates.io', 'RubyGems', 'Packagist'] as const;
export type Ecosystem = (typeof ECOSYSTEMS)[number];

export type VersionComparator = (a: string, b: string) => number;

const COMPARATORS: Record<Ecosystem, VersionComparator> = {
  npm: compareSemverLike,
  Go: compareSemverLike,
  'crates.io': compareSemverLike,
  PyPI: comparePyPI,
  RubyGems: compareRubyGems,
  Packagist: comparePackagist,
};

export function isEcosystem(name: string): name is Ecosystem {
  return (ECOSYSTEMS as readonly string[]).includes(name);
}

/** −1, 0 or 1 as `a` sorts before, with or after `b` in the ecosystem's order. */
export function versionComparator(ecosystem: Ecosystem): VersionComparator {
  return COMPARATORS[ecosystem];
}

export { compareSemverLike };
