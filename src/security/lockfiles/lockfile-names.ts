/** The file names of the lockfiles Gantry reads, apart from their parsers: telling a lockfile by its name must not load them. */
export const LOCKFILE_NAMES = {
  npm: /^(package-lock|npm-shrinkwrap)\.json$/,
  yarn: /^yarn\.lock$/,
  pnpm: /^pnpm-lock\.yaml$/,
  requirements: /^(requirements.*\.txt|.*requirements\.txt)$/,
  pipenv: /^Pipfile\.lock$/,
  poetry: /^poetry\.lock$/,
  cargo: /^Cargo\.lock$/,
  bundler: /^(Gemfile\.lock|gems\.locked)$/,
  composer: /^composer\.lock$/,
  go: /^go\.mod$/,
} as const;

/** True when the path's file name is one of a lockfile Gantry reads. */
export function isLockfileName(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return Object.values(LOCKFILE_NAMES).some((pattern) => pattern.test(base));
}
