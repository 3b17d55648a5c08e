import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashFiles } from '../../src/executor/hash-files.ts';
import { tempDirs, writeTree } from './fixtures.ts';

const temp = tempDirs();
afterEach(() => temp.cleanup());

/** GitHub's algorithm, written independently: sha256 of the concatenated raw sha256 digests. */
function expected(root: string, rels: string[]): string {
  const total = createHash('sha256');
  for (const rel of rels)
    total.update(
      createHash('sha256')
        .update(readFileSync(path.join(root, rel)))
        .digest(),
    );
  return total.digest('hex');
}

describe('hashFiles', () => {
  it('hashes the matched files in sorted path order', () => {
    const root = temp.make();
    writeTree(root, { 'package-lock.json': 'root lock', 'web/package-lock.json': 'web lock', 'web/other.json': 'x' });
    const hash = hashFiles(root, ['**/package-lock.json']);
    expect(hash).toBe(expected(root, ['package-lock.json', 'web/package-lock.json']));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Pattern order does not matter, only the sorted set of files.
    expect(hashFiles(root, ['web/package-lock.json', 'package-lock.json'])).toBe(hash);
  });

  it('returns an empty string when nothing matches', () => {
    const root = temp.make();
    writeTree(root, { 'a.txt': 'a' });
    expect(hashFiles(root, ['**/*.lock'])).toBe('');
    expect(hashFiles(root, ['a.txt', '!a.txt'])).toBe('');
  });

  it('changes with contents and with negations', () => {
    const root = temp.make();
    writeTree(root, { 'a.lock': 'a', 'b.lock': 'b' });
    const before = hashFiles(root, ['*.lock']);
    expect(hashFiles(root, ['*.lock', '!b.lock'])).toBe(expected(root, ['a.lock']));
    writeFileSync(path.join(root, 'b.lock'), 'b2');
    expect(hashFiles(root, ['*.lock'])).not.toBe(before);
  });

  it('hashes a link to a file inside the workspace by content and skips links leading out', () => {
    const outside = temp.make();
    writeTree(outside, { 'secret.lock': 'secret' });
    const root = temp.make();
    writeTree(root, {
      'a.lock': 'a',
      'b.lock': { link: 'a.lock' },
      'c.lock': { link: path.join(outside, 'secret.lock') },
      'd.lock': { link: 'missing' },
    });
    expect(hashFiles(root, ['*.lock'])).toBe(expected(root, ['a.lock', 'a.lock']));
    expect(hashFiles(root, ['c.lock', 'd.lock'])).toBe('');
  });
});
