/**
 * CycloneDX 1.6 SBOMs from real-format lockfiles, validated by the CycloneDX project's own JSON
 * validator (@cyclonedx/cyclonedx-library, strict mode), with the purls of the package-url spec's
 * examples and the dependency graph worked out by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { describe, expect, it } from 'vitest';
import { cycloneDxSbom, purlOf, readLockfile } from '../../src/security/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const read = (path: string) =>
  readLockfile(path, readFileSync(join(FIXTURES, path), 'utf8'), (s) => {
    try {
      return readFileSync(join(FIXTURES, s), 'utf8');
    } catch {
      return undefined;
    }
  });

const OPTIONS = {
  subject: { name: 'shop', version: '2026.12.6-1' },
  tool: { name: 'Gantry', version: '0.1.0' },
  serialNumber: '3e671687-395b-41f5-a30f-a58921a69b79',
  timestamp: '2026-12-06T12:00:00Z',
};

describe('CycloneDX SBOM', () => {
  it('is valid CycloneDX 1.6 by the CycloneDX validator, for every lockfile format', async () => {
    const graphs = [
      'npm-v3/package-lock.json',
      'yarn-v1/yarn.lock',
      'pnpm-v9/pnpm-lock.yaml',
      'pip/requirements.txt',
      'poetry/poetry.lock',
      'cargo/Cargo.lock',
      'bundler/Gemfile.lock',
      'composer/composer.lock',
      'go/go.mod',
    ].map(read);
    const bom = cycloneDxSbom(graphs, OPTIONS);
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(JSON.stringify(bom))).toBeNull();
    // One component per package, even when two lockfiles hold it (js-tokens@4.0.0 here).
    const distinct = new Set(graphs.flatMap((g) => g.packages.map((p) => purlOf(p))));
    expect((bom.components as unknown[]).length).toBe(distinct.size);
    expect(distinct.size).toBeLessThan(graphs.reduce((n, g) => n + g.packages.length, 0));
  });

  it('the validator does refuse a broken document (so the test above can fail)', async () => {
    const bom = cycloneDxSbom([read('cargo/Cargo.lock')], OPTIONS) as { components: Record<string, unknown>[] };
    (bom.components[0] as Record<string, unknown>).hashes = [{ alg: 'SHA-256', content: 'not-hex' }];
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(JSON.stringify(bom))).not.toBeNull();
  });

  it('purls as the package-url spec writes them', () => {
    expect(purlOf({ ecosystem: 'npm', name: '@babel/code-frame', version: '7.12.13' })).toBe('pkg:npm/%40babel/code-frame@7.12.13');
    expect(purlOf({ ecosystem: 'PyPI', name: 'Django_REST', version: '3.2' })).toBe('pkg:pypi/django-rest@3.2');
    expect(purlOf({ ecosystem: 'Go', name: 'github.com/gin-gonic/gin', version: 'v1.9.0' })).toBe(
      'pkg:golang/github.com/gin-gonic/gin@v1.9.0',
    );
    expect(purlOf({ ecosystem: 'Packagist', name: 'guzzlehttp/psr7', version: '2.4.0' })).toBe('pkg:composer/guzzlehttp/psr7@2.4.0');
    expect(purlOf({ ecosystem: 'crates.io', name: 'time', version: '0.1.45' })).toBe('pkg:cargo/time@0.1.45');
    expect(purlOf({ ecosystem: 'RubyGems', name: 'rack', version: '2.2.3' })).toBe('pkg:gem/rack@2.2.3');
  });

  it('carries hashes, licences, development scope and the dependency graph', () => {
    const bom = cycloneDxSbom([read('npm-v3/package-lock.json'), read('cargo/Cargo.lock'), read('composer/composer.lock')], OPTIONS) as {
      components: { purl: string; scope?: string; hashes?: { alg: string; content: string }[]; licenses?: unknown[] }[];
      dependencies: { ref: string; dependsOn: string[] }[];
    };
    const byPurl = new Map(bom.components.map((c) => [c.purl, c]));
    expect(byPurl.get('pkg:cargo/libc@0.2.139')?.hashes).toEqual([
      { alg: 'SHA-256', content: '201de327520df007757c1f0adce6e827fe8562fbc28bfd9c15571c66ca1f5f79' },
    ]);
    expect(byPurl.get('pkg:npm/mocha@10.2.0')?.scope).toBe('excluded');
    expect(bom.dependencies.find((d) => d.ref === 'shop@2026.12.6-1')?.dependsOn).toEqual([
      'pkg:cargo/smallvec@1.6.0',
      'pkg:cargo/time@0.1.45',
      'pkg:composer/guzzlehttp/guzzle@7.4.4',
      'pkg:composer/phpunit/phpunit@9.5.10',
      'pkg:npm/express@4.17.1',
      'pkg:npm/minimatch@3.0.4',
      'pkg:npm/mocha@10.2.0',
    ]);
    expect(bom.dependencies.find((d) => d.ref === 'pkg:npm/express@4.17.1')?.dependsOn).toEqual([
      'pkg:npm/body-parser@1.19.0',
      'pkg:npm/qs@6.7.0',
    ]);
  });
});
