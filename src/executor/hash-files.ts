/**
 * `hashFiles(...)` of expressions, computed as GitHub does so cache keys written for GitHub
 * Actions keep their meaning here.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { matchFilesSync } from './globs.ts';

const CHUNK = 1024 * 1024;

/** The sha256 digest of a file, read in chunks so a large lockfile does not need its size in memory. */
function digestOf(file: string, buffer: Buffer): Buffer {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest();
}

/**
 * The file whose contents stand for `rel`: itself, or a link's target when that target is a
 * regular file inside the workspace. Links leading out of it (or dangling) are not hashed.
 */
function contentPath(root: string, realRoot: string, rel: string): string | null {
  const abs = path.join(root, rel);
  if (!lstatSync(abs).isSymbolicLink()) return abs;
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    return null;
  }
  const inside = path.relative(realRoot, real);
  if (inside.startsWith('..') || path.isAbsolute(inside)) return null;
  return statSync(real).isFile() ? real : null;
}

/**
 * GitHub's hashFiles: sha256 over the sha256 of each matched file (sorted paths), '' when
 * nothing matches. Patterns relative to workspaceDir, `!` negation. Synchronous on purpose:
 * it is called from the expression evaluator.
 */
export function hashFiles(workspaceDir: string, patterns: string[]): string {
  const files = matchFilesSync(workspaceDir, patterns);
  if (files.length === 0) return '';
  const realRoot = realpathSync(workspaceDir);
  const buffer = Buffer.allocUnsafe(CHUNK);
  const total = createHash('sha256');
  let hashed = 0;
  for (const rel of files) {
    const file = contentPath(workspaceDir, realRoot, rel);
    if (file === null) continue;
    total.update(digestOf(file, buffer));
    hashed++;
  }
  return hashed === 0 ? '' : total.digest('hex');
}
