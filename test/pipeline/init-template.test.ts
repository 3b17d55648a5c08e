import { describe, expect, it } from 'vitest';
import type { RepoFacts } from '../../src/pipeline/init-template.ts';
import { starterConfig } from '../../src/pipeline/init-template.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';

function stepsOf(text: string, job: string): string[] {
  const config = parseConfig(text, 'gantry.yaml');
  return (config.pipeline.jobs[job]?.steps ?? []).map((step) => step.run);
}

/** The file with its example job uncommented, to prove the hint in the comments is valid too. */
function withExampleUncommented(text: string): string {
  const start = text.indexOf('    # deploy:');
  return text.slice(0, start) + text.slice(start).replace(/^ {4}# /gm, '    ');
}

describe('starterConfig', () => {
  it('installs with npm ci, builds and tests a package with a lockfile, caching node_modules', () => {
    const repo: RepoFacts = {
      packageJson: { scripts: { build: 'tsc', test: 'vitest run', lint: 'eslint .' } },
      hasPackageLock: true,
      hasMakefile: true,
      name: 'shop-api',
    };
    const text = starterConfig(repo);
    const config = parseConfig(text, 'gantry.yaml');
    expect(config.name).toBe('shop-api');
    expect(config.pipeline.on).toStrictEqual({ push: {}, schedule: [] });
    expect(stepsOf(text, 'build')).toEqual(['npm ci', 'npm run build', 'npm test']);
    expect(config.pipeline.jobs.build?.cache).toStrictEqual({
      key: "npm-${{ hashFiles('package-lock.json') }}",
      restoreKeys: [],
      paths: ['node_modules'],
    });
    // A path relative to gantry.yaml, where the CLI writes the schema: no domain to resolve.
    expect(text).toContain('\n# yaml-language-server: $schema=./.gantry/gantry.schema.json\n');
  });

  it('uses npm install without a lockfile and leaves out scripts that do not exist', () => {
    const text = starterConfig({ packageJson: {}, hasPackageLock: false, hasMakefile: false, name: 'tool' });
    expect(stepsOf(text, 'build')).toEqual(['npm install']);
    expect(parseConfig(text, 'gantry.yaml').pipeline.jobs.build?.cache?.key).toBe("npm-${{ hashFiles('package.json') }}");
  });

  it("skips npm init's placeholder test script", () => {
    const text = starterConfig({
      packageJson: { scripts: { test: 'echo "Error: no test specified" && exit 1' } },
      hasPackageLock: true,
      hasMakefile: false,
      name: 'x',
    });
    expect(stepsOf(text, 'build')).toEqual(['npm ci']);
  });

  it('runs make for a Makefile', () => {
    const text = starterConfig({ hasPackageLock: false, hasMakefile: true, name: 'c-lib' });
    expect(stepsOf(text, 'build')).toEqual(['make']);
    expect(parseConfig(text, 'gantry.yaml').pipeline.jobs.build?.cache).toBeUndefined();
  });

  it('falls back to a commented job that echoes', () => {
    const text = starterConfig({ hasPackageLock: false, hasMakefile: false, name: '' });
    const config = parseConfig(text, 'gantry.yaml');
    expect(config.name).toBeUndefined();
    expect(Object.keys(config.pipeline.jobs)).toEqual(['hello']);
    expect(stepsOf(text, 'hello')).toEqual(['echo "Hello from Gantry on ${{ gantry.ref }}"']);
    expect(text.split('\n').filter((line) => line.trim().startsWith('#')).length).toBeGreaterThan(8);
  });

  it('quotes a name YAML would misread', () => {
    const text = starterConfig({ hasPackageLock: false, hasMakefile: true, name: 'api: #1' });
    expect(parseConfig(text, 'gantry.yaml').name).toBe('api: #1');
  });

  it.each([
    { packageJson: { scripts: { test: 'jest' } }, hasPackageLock: true, hasMakefile: false, name: 'a' },
    { hasPackageLock: false, hasMakefile: true, name: 'b' },
    { hasPackageLock: false, hasMakefile: false, name: 'c' },
  ])('has a valid example job in its comments (%#)', (repo: RepoFacts) => {
    const text = withExampleUncommented(starterConfig(repo));
    expect(Object.keys(parseConfig(text, 'gantry.yaml').pipeline.jobs)).toContain('deploy');
  });
});
