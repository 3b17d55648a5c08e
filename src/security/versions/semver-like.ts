/**
 * Version order for the ecosystems OSV gives `SEMVER` or semver-style `ECOSYSTEM` ranges: npm,
 * crates.io, Go. SemVer 2.0.0 §11 precedence, relaxed the way OSV's own tools read real-world
 * versions: a leading `v`, any number of numeric components (missing ones are 0) and numbers of
 * any size. Written here rather than taken from `semver` because that package refuses exactly
 * those inputs (`v`-less Go pseudo-versions are fine, but `1.2.3.4` and 30-digit numbers throw),
 * and an advisory database is full of them; the reference data in test/security/reference checks it.
 */

interface SemverLike {
  /** Release components (`1.2.3` → [1n, 2n, 3n]). */
  release: bigint[];
  /** Pre-release identifiers, `[]` for a release. */
  pre: string[];
}

const NUMERIC = /^[0-9]+$/;

export function parseSemverLike(version: string): SemverLike {
  let rest = version.startsWith('v') ? version.slice(1) : version;
  const plus = rest.indexOf('+');
  if (plus >= 0) rest = rest.slice(0, plus);
  const release: bigint[] = [];
  let i = 0;
  // Up to three dot-separated runs of digits; the first other character starts the pre-release
  // (a `-` or `.` there is the separator). A fourth number (`1.1.3.4`) is pre-release text, as in
  // OSV's tools.
  while (release.length < 3) {
    let j = i;
    while (j < rest.length && rest.charCodeAt(j) >= 48 && rest.charCodeAt(j) <= 57) j++;
    if (j === i) break;
    release.push(BigInt(rest.slice(i, j)));
    i = j;
    if (rest[i] !== '.' || release.length === 3) break;
    i++;
  }
  let tail = rest.slice(i);
  if (tail.startsWith('-') || tail.startsWith('.')) tail = tail.slice(1);
  return { release, pre: tail === '' ? [] : tail.split('.') };
}

function compareIdentifiers(a: string, b: string): number {
  const aNum = NUMERIC.test(a);
  const bNum = NUMERIC.test(b);
  if (aNum && bNum) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  // §11.4.3: numeric identifiers always have lower precedence than alphanumeric ones.
  if (aNum) return -1;
  if (bNum) return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Parsed versions, reused: an advisory set compares the same few thousand strings over and over. */
const parsed = new Map<string, SemverLike>();

function cachedParse(version: string): SemverLike {
  let v = parsed.get(version);
  if (v === undefined) {
    if (parsed.size >= 100_000) parsed.clear();
    v = parseSemverLike(version);
    parsed.set(version, v);
  }
  return v;
}

export function compareSemverLike(a: string, b: string): number {
  const x = cachedParse(a);
  const y = cachedParse(b);
  const length = Math.max(x.release.length, y.release.length, 3);
  for (let i = 0; i < length; i++) {
    const p = x.release[i] ?? 0n;
    const q = y.release[i] ?? 0n;
    if (p !== q) return p < q ? -1 : 1;
  }
  // §11.3: a pre-release has lower precedence than its release.
  if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === y.pre.length ? 0 : x.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const c = compareIdentifiers(x.pre[i] as string, y.pre[i] as string);
    if (c !== 0) return c;
  }
  return Math.sign(x.pre.length - y.pre.length);
}
