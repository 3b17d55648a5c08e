/** `gantry init`: a starter gantry.yaml fitted to the repository, which `gantry validate` accepts. */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { makeRepo, type TestRepo } from '../support/repo.ts';

const repos: TestRepo[] = [];
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.cleanup()));
});

async function repoWith(files: Record<string, string>): Promise<TestRepo> {
  const repo = await makeRepo(files);
  repos.push(repo);
  return repo;
}

const read = (repo: TestRepo, name: string) => readFile(path.join(repo.dir, name), 'utf8');

/** Runs init then validate; returns the written gantry.yaml. */
async function initAndValidate(repo: TestRepo): Promise<string> {
  const init = await runCli(repo.dir, ['init']);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  const validate = await runCli(repo.dir, ['validate']);
  expect(validate.stderr).toBe('');
  expect(validate.code).toBe(0);
  return read(repo, 'gantry.yaml');
}

const uncommented = (yaml: string) =>
  yaml
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n');

const packagedSchema = () => readFile(new URL('../../schema/gantry.schema.json', import.meta.url), 'utf8');

describe('gantry init', () => {
  it("writes the schema where the starter's modeline points; gantry run writes it again in a fresh clone", async () => {
    const repo = await repoWith({ 'package.json': JSON.stringify({ name: 'x', scripts: {} }) });
    expect((await runCli(repo.dir, ['init'])).code).toBe(0);
    const yaml = await read(repo, 'gantry.yaml');
    const modeline = /^# yaml-language-server: \$schema=(.+)$/m.exec(yaml)?.[1];
    // The YAML language server resolves a relative path against the file that holds the modeline.
    const schemaFile = path.resolve(repo.dir, modeline ?? '');
    expect(schemaFile).toBe(path.join(repo.dir, '.gantry', 'gantry.schema.json'));
    expect(await readFile(schemaFile, 'utf8')).toBe(await packagedSchema());

    // A fresh clone has no .gantry/ (git ignores it).
    await rm(path.join(repo.dir, '.gantry'), { recursive: true });
    await repo.write({ 'gantry.yaml': 'pipeline:\n  jobs:\n    a:\n      steps: [echo ok]\n' });
    expect((await runCli(repo.dir, ['run', '--no-sandbox'])).code).toBe(0);
    expect(await readFile(schemaFile, 'utf8')).toBe(await packagedSchema());
  });

  it('uses npm ci and npm test for a package.json with a lockfile and a test script', async () => {
    const repo = await repoWith({
      'package.json': JSON.stringify({ name: 'x', scripts: { test: 'node test.js' } }),
      'package-lock.json': '{}',
    });
    const yaml = uncommented(await initAndValidate(repo));
    expect(yaml).toMatch(/run: npm ci/);
    expect(yaml).toMatch(/run: npm test/);
    expect(yaml).not.toMatch(/\bmake\b/);
  });

  it('uses make for a Makefile', async () => {
    const repo = await repoWith({ Makefile: 'all:\n\techo built\n' });
    const yaml = uncommented(await initAndValidate(repo));
    expect(yaml).toMatch(/run: make\b/);
    expect(yaml).not.toMatch(/npm/);
  });

  it('writes a commented template otherwise, ignores .gantry/ once and refuses to overwrite without --force', async () => {
    const repo = await repoWith({ '.gitignore': 'node_modules' });
    const yaml = await initAndValidate(repo);
    expect(yaml.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(3);
    expect(await read(repo, '.gitignore')).toBe('node_modules\n.gantry/\n');
    // The template is a pipeline that works, not just one that parses.
    const run = await runCli(repo.dir, ['run', '--no-sandbox']);
    expect(run.code).toBe(0);

    await repo.write({ 'gantry.yaml': '# mine\n' });
    const again = await runCli(repo.dir, ['init']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^gantry: .*already exists.*--force/);
    expect(await read(repo, 'gantry.yaml')).toBe('# mine\n');

    const forced = await runCli(repo.dir, ['init', '--force']);
    expect(forced.code).toBe(0);
    expect(await read(repo, 'gantry.yaml')).toBe(yaml);
    expect(await read(repo, '.gitignore')).toBe('node_modules\n.gantry/\n');
  });
});
