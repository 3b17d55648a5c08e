/**
 * Each lockfile format read from a small real-format file (test/security/fixtures): the packages
 * with their versions, which the project asks for itself, which are only for development, and the
 * chain that pulls a transitive package in.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PackageGraph, dependencyPath, lockfileKind, readLockfile } from '../../src/security/lockfiles/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');

function read(path: string): PackageGraph {
  return readLockfile(path, readFileSync(join(FIXTURES, path), 'utf8'), (sibling) => {
    try {
      return readFileSync(join(FIXTURES, sibling), 'utf8');
    } catch {
      return undefined;
    }
  });
}

/** `name@version` with `*` for direct and `(dev)` for development-only, sorted. */
function summary(graph: PackageGraph): string[] {
  return graph.packages.map((p) => `${p.direct ? '*' : ''}${p.name}@${p.version}${p.dev ? ' (dev)' : ''}`).sort();
}

function pathOf(graph: PackageGraph, name: string, version: string): string[] {
  const p = graph.packages.find((x) => x.name === name && x.version === version);
  if (!p) throw new Error(`${name}@${version} not in ${graph.file}`);
  return dependencyPath(graph, p.key);
}

describe('npm', () => {
  it('package-lock v3: nested folders resolve as Node does, workspaces count as the project', () => {
    const g = read('npm-v3/package-lock.json');
    expect(summary(g)).toEqual([
      '*express@4.17.1',
      '*minimatch@3.0.4',
      '*mocha@10.2.0 (dev)',
      'body-parser@1.19.0',
      'minimatch@5.0.1 (dev)',
      'qs@6.7.0',
    ]);
    expect(pathOf(g, 'qs', '6.7.0')).toEqual(['express@4.17.1', 'qs@6.7.0']);
    expect(pathOf(g, 'minimatch', '5.0.1')).toEqual(['mocha@10.2.0', 'minimatch@5.0.1']);
  });

  it('package-lock v1 without package.json: top-level packages nothing requires are the direct ones', () => {
    const g = read('npm-v1/package-lock.json');
    expect(summary(g)).toEqual([
      '*lodash@4.17.15',
      '*qs@6.7.0 (dev)',
      '*request@2.88.0',
      'punycode@1.4.1',
      'qs@6.5.2',
      'tough-cookie@2.4.3',
    ]);
    expect(pathOf(g, 'punycode', '1.4.1')).toEqual(['request@2.88.0', 'tough-cookie@2.4.3', 'punycode@1.4.1']);
    expect(pathOf(g, 'qs', '6.5.2')).toEqual(['request@2.88.0', 'qs@6.5.2']);
  });

  it('yarn.lock v1 with package.json', () => {
    const g = read('yarn-v1/yarn.lock');
    expect(summary(g)).toEqual([
      '*@babel/code-frame@7.12.13',
      '*minimist@1.2.5',
      '@babel/highlight@7.13.10',
      'chalk@2.4.2',
      'js-tokens@4.0.0',
    ]);
    expect(pathOf(g, 'js-tokens', '4.0.0')).toEqual(['@babel/code-frame@7.12.13', '@babel/highlight@7.13.10', 'js-tokens@4.0.0']);
  });

  it('yarn.lock of Yarn 2+: the workspace entry says what the project asks for', () => {
    const g = read('yarn-berry/yarn.lock');
    expect(summary(g)).toEqual(['*axios@0.21.1', '*lodash@4.17.20', 'follow-redirects@1.14.0']);
    expect(pathOf(g, 'follow-redirects', '1.14.0')).toEqual(['axios@0.21.1', 'follow-redirects@1.14.0']);
  });

  it('pnpm-lock v9 (snapshots, peer suffixes), v6 and v5', () => {
    const v9 = read('pnpm-v9/pnpm-lock.yaml');
    expect(summary(v9)).toEqual(['*react-dom@18.2.0', '*react@18.2.0', '*semver@7.5.1', 'js-tokens@4.0.0', 'loose-envify@1.4.0']);
    expect(pathOf(v9, 'js-tokens', '4.0.0')).toEqual(['react-dom@18.2.0', 'loose-envify@1.4.0', 'js-tokens@4.0.0']);
    expect(summary(read('pnpm-v6/pnpm-lock.yaml'))).toEqual(['*@types/node@18.16.0', '*ws@8.13.0']);
    const v5 = read('pnpm-v5/pnpm-lock.yaml');
    expect(summary(v5)).toEqual(['*minimist@1.2.5', '*mkdirp@0.5.5']);
    expect(v5.packages.find((p) => p.name === 'mkdirp')?.dependsOn).toEqual(['/minimist/1.2.5']);
  });
});

describe('Python', () => {
  it('requirements.txt from pip-compile: `# via` gives the graph; unpinned lines and includes are listed as skipped', () => {
    const g = read('pip/requirements.txt');
    expect(summary(g)).toEqual(['*flask@2.2.2', 'click@8.1.3', 'itsdangerous@2.1.2', 'jinja2@3.1.2', 'markupsafe@2.1.1', 'werkzeug@2.2.2']);
    expect(pathOf(g, 'markupsafe', '2.1.1')).toEqual(['flask@2.2.2', 'jinja2@3.1.2', 'markupsafe@2.1.1']);
    expect(g.skipped.map((s) => s.name)).toEqual(['requests', '-r other.txt']);
  });

  it('Pipfile.lock with Pipfile (names compared as PEP 503 normalises them)', () => {
    const g = read('pipenv/Pipfile.lock');
    expect(summary(g)).toEqual(['*django@3.2.4', '*pytest@6.2.4 (dev)', 'sqlparse@0.4.1']);
    expect(g.skipped).toEqual([{ name: 'mylib', reason: expect.stringContaining('editable') }]);
  });

  it('poetry.lock with pyproject.toml', () => {
    const g = read('poetry/poetry.lock');
    expect(summary(g)).toEqual(['*pytest@7.2.0 (dev)', '*requests@2.28.1', 'certifi@2022.12.7', 'urllib3@1.26.12']);
    expect(pathOf(g, 'urllib3', '1.26.12')).toEqual(['requests@2.28.1', 'urllib3@1.26.12']);
  });
});

describe('Cargo, Bundler, Composer, Go', () => {
  it('Cargo.lock: the workspace crates ask; two versions of one crate are told apart; git sources are skipped', () => {
    const g = read('cargo/Cargo.lock');
    expect(summary(g)).toEqual(['*smallvec@1.6.0', '*time@0.1.45', 'libc@0.2.139', 'time@0.3.17']);
    expect(pathOf(g, 'libc', '0.2.139')).toEqual(['time@0.1.45', 'libc@0.2.139']);
    expect(g.skipped.map((s) => s.name)).toEqual(['mylocal']);
  });

  it('Gemfile.lock: DEPENDENCIES are direct, platforms are not part of versions, GIT gems are skipped', () => {
    const g = read('bundler/Gemfile.lock');
    expect(summary(g)).toEqual(['*actionpack@6.1.4', '*nokogiri@1.13.10', 'racc@1.6.2', 'rack-test@1.1.0', 'rack@2.2.3']);
    expect(pathOf(g, 'racc', '1.6.2')).toEqual(['nokogiri@1.13.10', 'racc@1.6.2']);
    expect(g.skipped.map((s) => s.name)).toEqual(['private_gem']);
  });

  it('composer.lock with composer.json; platform requirements are not packages', () => {
    const g = read('composer/composer.lock');
    expect(summary(g)).toEqual(['*guzzlehttp/guzzle@7.4.4', '*phpunit/phpunit@9.5.10 (dev)', 'guzzlehttp/psr7@2.4.0']);
    expect(pathOf(g, 'guzzlehttp/psr7', '2.4.0')).toEqual(['guzzlehttp/guzzle@7.4.4', 'guzzlehttp/psr7@2.4.0']);
  });

  it('go.mod: `// indirect` marks the transitive modules; replace directives apply', () => {
    const g = read('go/go.mod');
    expect(summary(g)).toEqual(['*github.com/gin-gonic/gin@v1.9.0', '*golang.org/x/text@v0.3.8', 'golang.org/x/net@v0.7.0']);
    expect(g.skipped).toEqual([{ name: 'example.com/local', reason: 'replaced by a local directory' }]);
  });
});

describe('errors name the file and the line', () => {
  it.each([
    ['package-lock.json', '{"lockfileVersion": 3,', 'package-lock.json: not valid JSON'],
    ['package-lock.json', '{}', 'not an npm lockfile'],
    ['yarn.lock', '# yarn lockfile v1\n\nleft-pad@^1.0.0\n  version "1.3.0"\n', 'yarn.lock:3: expected an entry header'],
    ['Cargo.lock', 'version = 3\n[[package]\n', 'Cargo.lock:2: not valid TOML'],
    ['requirements.txt', 'flask==2.0\n!!!\n', 'requirements.txt:2: not a requirement'],
    ['go.mod', 'module m\nrequire (\n\tgolang.org/x/net\n)\n', 'go.mod:3: expected "module version"'],
  ])('%s', (file, text, message) => {
    expect(() => readLockfile(file, text)).toThrow(
      expect.objectContaining({ code: 'INVALID_LOCKFILE', message: expect.stringContaining(message) }),
    );
  });

  it('knows lockfiles by name only', () => {
    expect(lockfileKind('a/b/package-lock.json')).not.toBeNull();
    expect(lockfileKind('requirements-dev.txt')).not.toBeNull();
    expect(lockfileKind('package.json')).toBeNull();
  });
});
