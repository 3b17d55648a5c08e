/**
 * The scan honours gantry.yaml's `security` section (scanners off, paths and exclude, the rules
 * file it names) and, given a push's diff, looks for secrets in the lines the push added: a
 * secret added by one commit and deleted by the next is found though the tree no longer has it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.ts';
import { pathFilter, readScanSettings, scanTree } from '../../src/scan/index.ts';
import { GITHUB_PAT } from '../support/security-samples.ts';

const PIPELINE = 'pipeline:\n  jobs:\n    build:\n      steps: [make]\n';
const DOCKERFILE = 'FROM node:latest\nRUN apt-get install curl\n';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'gantry-scan-settings-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text);
  return root;
}

const rulesOf = (report: Awaited<ReturnType<typeof scanTree>>) => report.findings.map((f) => `${f.scanner}:${f.location?.path}`).sort();

describe('the scan with the security section', () => {
  it('runs every scanner without a section', async () => {
    tree({ 'gantry.yaml': PIPELINE, Dockerfile: DOCKERFILE, 'token.txt': `token = ${GITHUB_PAT}\n` });
    const report = await scanTree({ root, advisories: null, settings: await readScanSettings(root) });
    expect(new Set(report.findings.map((f) => f.scanner))).toEqual(new Set(['secrets', 'dockerfile']));
  });

  it('leaves out the scanners set to false and the excluded paths', async () => {
    tree({
      'gantry.yaml': `${PIPELINE}security:\n  dockerfile: false\n  exclude: [fixtures.txt]\n`,
      Dockerfile: DOCKERFILE,
      'token.txt': `token = ${GITHUB_PAT}\n`,
      'fixtures.txt': `token = ${GITHUB_PAT}\n`,
    });
    const report = await scanTree({ root, advisories: null, settings: await readScanSettings(root) });
    expect(rulesOf(report)).toEqual(['secrets:token.txt']);
  });

  it('says when the rules file it was given is missing', async () => {
    tree({ 'gantry.yaml': `${PIPELINE}security:\n  secrets: { rules: ci/gitleaks.toml }\n` });
    const report = await scanTree({ root, advisories: null, settings: await readScanSettings(root) });
    expect(report.notes).toContain("ci/gitleaks.toml: not found (security.secrets.rules); gitleaks' default rules used");
  });

  it('refuses an invalid section with its line and column', async () => {
    tree({ 'gantry.yaml': `${PIPELINE}security:\n  secret: false\n` });
    const error = await readScanSettings(root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toContain("gantry.yaml:6:3: unknown key 'secret' in 'security' (did you mean 'secrets'?)");
  });

  it("finds a secret in a push's added lines that the tree no longer holds", async () => {
    tree({ 'app.ts': 'export const x = 1;\n' });
    const diff = [
      'diff --git a/app.ts b/app.ts',
      '--- a/app.ts',
      '+++ b/app.ts',
      '@@ -0,0 +1,2 @@',
      '+export const x = 1;',
      `+const token = "${GITHUB_PAT}";`,
      '',
    ].join('\n');
    const fromTree = await scanTree({ root, advisories: null });
    expect(fromTree.findings).toEqual([]);
    const fromDiff = await scanTree({ root, advisories: null, diff });
    expect(fromDiff.findings.map((f) => [f.scanner, f.location?.path, f.location?.startLine])).toEqual([['secrets', 'app.ts', 2]]);
  });

  it('matches globs as .gitignore does', () => {
    const only = pathFilter(['src/**'], ['**/*.snap', 'vendor/']);
    expect(['src/a.ts', 'src/x/y.ts', 'src/x/y.snap', 'vendor/a.ts', 'lib/a.ts'].filter(only)).toEqual(['src/a.ts', 'src/x/y.ts']);
    expect(['a.snap', 'x/a.snap', 'a.ts'].filter(pathFilter([], ['*.snap']))).toEqual(['a.ts']);
  });
});
