/**
 * The `security.paths` / `security.exclude` globs of gantry.yaml as one predicate over paths
 * relative to the root: `*` within a segment, `**` across segments, `?` one character, a
 * trailing `/` for a whole folder. Written here rather than taken from node:path's matchesGlob,
 * which still prints an experimental warning on Node 24 (into every pre-commit hook's output).
 */

function globToRegExp(glob: string): RegExp {
  let pattern = glob.replace(/^\.\//, '');
  if (pattern.endsWith('/')) pattern += '**';
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern without a slash names a file anywhere, as in .gitignore.
  return new RegExp(pattern.includes('/') ? `^${out}$` : `^(?:.*/)?${out}$`);
}

/** True for the paths to scan: matching one of `paths` (or any path when empty) and none of `exclude`. */
export function pathFilter(paths: readonly string[], exclude: readonly string[]): (path: string) => boolean {
  const include = paths.map(globToRegExp);
  const leave = exclude.map(globToRegExp);
  if (include.length === 0 && leave.length === 0) return () => true;
  return (path) => (include.length === 0 || include.some((r) => r.test(path))) && !leave.some((r) => r.test(path));
}
