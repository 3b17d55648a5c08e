import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, httpStatusOf, isErrorCode, renderErrorDocs } from '../../src/core/error-codes.ts';
import { ConflictError, GantryError, InputError, NotFoundError, UnauthorizedError } from '../../src/core/errors.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CATALOGUE_FILE = 'src/core/error-codes.ts';

/**
 * Where a code is thrown or sent: `new GantryError('X'`, a subclass's `super('X'`, an error body
 * `error: { code: 'X'`, or a code kept in a constant (`'X' satisfies ErrorCode`).
 */
const USES = [
  /new GantryError\(\s*'([A-Z][A-Z0-9_]*)'/g,
  /super\(\s*'([A-Z][A-Z0-9_]*)'/g,
  /error: \{ code: '([A-Z][A-Z0-9_]*)'/g,
  /'([A-Z][A-Z0-9_]*)' satisfies ErrorCode/g,
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every code used in src/ with the files using it, doc comments and line comments left out. */
function codesUsed(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of sourceFiles(join(root, 'src'))) {
    const name = relative(root, file);
    if (name === CATALOGUE_FILE) continue;
    const code = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      .join('\n');
    for (const pattern of USES) {
      for (const match of code.matchAll(pattern)) {
        const id = match[1] as string;
        used.set(id, [...(used.get(id) ?? []), name]);
      }
    }
  }
  return used;
}

describe('the error catalogue', () => {
  const used = codesUsed();

  it('lists every code thrown or sent in src/', () => {
    const missing = [...used].filter(([code]) => !isErrorCode(code)).map(([code, files]) => `${code} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('lists no code that nothing throws or sends', () => {
    expect(Object.keys(ERROR_CODES).filter((code) => !used.has(code))).toEqual([]);
  });

  it('finds codes in each shape they are used in', () => {
    // Guards the scan itself: a pattern that stopped matching would make the tests above vacuous.
    expect(used.get('SPAWN_FAILED')).toBeDefined(); // new GantryError('X'
    expect(used.get('STORE_UNAVAILABLE')).toBeDefined(); // super('X'
    expect(used.get('NOT_FOUND')).toEqual(expect.arrayContaining(['src/proxy/proxy-host.ts'])); // error: { code: 'X'
    expect(used.get('PROXY_NO_UPSTREAM')).toBeDefined(); // 'X' satisfies ErrorCode
  });

  it('gives each code a status and a sentence that ends like one', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(info.httpStatus >= 400 && info.httpStatus <= 599, code).toBe(true);
      expect(info.sentence, code).toMatch(/^[A-Z`].{20,}\.$/);
    }
  });

  it('gives errors their status from the catalogue', () => {
    expect(new NotFoundError('x')).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
    expect(new ConflictError('x')).toMatchObject({ code: 'CONFLICT', httpStatus: 409 });
    expect(new InputError('x')).toMatchObject({ code: 'INVALID_INPUT', httpStatus: 400 });
    expect(new UnauthorizedError()).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
    expect(new GantryError('CSRF', 'x', { why: 1 })).toMatchObject({ httpStatus: 403, details: { why: 1 }, message: 'x' });
    expect(httpStatusOf('PROXY_UPSTREAM_FAILED')).toBe(502);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('FST_ERR_CTP_INVALID_MEDIA_TYPE')).toBe(false);
  });

  it('is what docs/errors.md says (run `npm run docs:errors` after changing it)', () => {
    expect(readFileSync(join(root, 'docs/errors.md'), 'utf8')).toBe(renderErrorDocs());
  });
});
