/**
 * `gantry scan` and its pre-commit hook, as a user runs them: a real git repository with a
 * committed secret, a vulnerable lockfile and a Dockerfile, an OSV folder and zip on disk, the real
 * CLI; and a real `git commit` stopped by the installed hook.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../support/cli.ts';
import { GIT_VARS, type TestRepo, git, makeRepo } from '../support/repo.ts';
import { GITHUB_PAT, QS_ADVISORY, QS_LOCK } from '../support/security-samples.ts';

let repo: TestRepo;
let advisories: string;
let extras: string;

/** A ZIP with stored/deflated entries, as OSV publishes them (built here with node:zlib). */
function zip(entries: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const data = deflateRawSync(Buffer.from(text));
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(text.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(text.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

beforeAll(async () => {
  repo = await makeRepo({
    'deploy.sh': `#!/bin/sh\nexport GITHUB_TOKEN=${GITHUB_PAT}\n`,
    'package-lock.json': JSON.stringify(QS_LOCK, null, 2),
    Dockerfile: 'FROM node:latest\nRUN curl -fsSL https://get.example.com | sh\nCMD node server.js\n',
    'infra/main.tf': 'resource "aws_s3_bucket_acl" "site" {\n  acl = "public-read"\n}\n',
  });
  extras = await mkdtemp(path.join(tmpdir(), 'gantry-scan-'));
  advisories = path.join(extras, 'osv');
  await mkdir(path.join(advisories, 'npm'), { recursive: true });
  await writeFile(path.join(advisories, 'npm', 'GHSA-hrpp-h998-j3pp.json'), JSON.stringify(QS_ADVISORY));
  await writeFile(path.join(advisories, 'npm', 'broken.json'), '{"id": "X"}');
});

afterAll(async () => {
  await repo?.cleanup();
  if (extras) await rm(extras, { recursive: true, force: true });
});

describe('gantry scan', () => {
  it('finds the secret (masked), the vulnerable dependency with its path, and the Dockerfile problems; exits 1', async () => {
    const sarif = path.join(extras, 'scan.sarif');
    const sbom = path.join(extras, 'sbom.json');
    const result = await runCli(repo.dir, ['scan', repo.dir, '--advisories', advisories, '--json', '--sarif', sarif, '--sbom', sbom]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    const ids = report.findings.map((f: { scanner: string; ruleId: string }) => `${f.scanner}:${f.ruleId}`).sort();
    expect(ids).toEqual([
      'config:GT001',
      'dependencies:CVE-2022-24999',
      'dockerfile:DL3007',
      'dockerfile:DL3025',
      'dockerfile:DL4006',
      'dockerfile:GD001',
      'secrets:github-pat',
    ]);
    const dep = report.findings.find((f: { scanner: string }) => f.scanner === 'dependencies');
    expect(dep.properties).toMatchObject({ package: 'qs@6.7.0', fixedIn: '6.7.3', path: ['express@4.17.1', 'qs@6.7.0'] });
    expect(report.advisories).toEqual({ records: 1, rejected: 1, newest: '2026-11-01T00:00:00Z' });
    expect(result.stdout).not.toContain(GITHUB_PAT);
    const written = await readFile(sarif, 'utf8');
    expect(JSON.parse(written).version).toBe('2.1.0');
    expect(written).not.toContain(GITHUB_PAT);
    const bom = JSON.parse(await readFile(sbom, 'utf8'));
    expect(bom.components.map((c: { purl: string }) => c.purl)).toEqual(['pkg:npm/express@4.17.1', 'pkg:npm/qs@6.7.0']);
  });

  it('reads OSV zip archives; without advisories it says dependencies were not checked', async () => {
    const archive = path.join(extras, 'all.zip');
    await writeFile(archive, zip({ 'GHSA-hrpp-h998-j3pp.json': JSON.stringify(QS_ADVISORY) }));
    const withZip = await runCli(repo.dir, ['scan', repo.dir, '--advisories', archive, '--fail-on', 'none']);
    expect(withZip.code).toBe(0);
    expect(withZip.stdout).toContain('CVE-2022-24999');
    const without = await runCli(repo.dir, ['scan', repo.dir, '--fail-on', 'none']);
    expect(without.stdout).toContain('not checked: no advisory database');
    expect(without.stdout).not.toContain('CVE-2022-24999');
  });

  it('a bad --fail-on is a usage error in one line', async () => {
    const result = await runCli(repo.dir, ['scan', repo.dir, '--fail-on', 'severe']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('--fail-on must be one of')]);
  });
});

describe('the pre-commit hook', () => {
  it('stops a commit that adds a secret, naming the file and line, and lets a clean one through', async () => {
    const install = await runCli(repo.dir, ['hooks', 'install']);
    expect(install.code).toBe(0);
    await writeFile(path.join(repo.dir, 'notes.txt'), 'hello\n');
    await writeFile(path.join(repo.dir, 'config.env'), `\nSLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n`);
    git(repo.dir, 'add', 'config.env', 'notes.txt');
    let failure: { status: number; stdout: string; stderr: string } | null = null;
    try {
      execFileSync('git', ['commit', '-m', 'add config'], { cwd: repo.dir, env: cliEnv(GIT_VARS), encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      failure = error as { status: number; stdout: string; stderr: string };
    }
    expect(failure?.status).toBe(1);
    // git shows a hook's output on its stderr.
    expect(failure?.stderr).toContain('config.env:2');
    expect(failure?.stderr).not.toContain('AbCdEfGhIjKlMnOpQrStUvWx');
    git(repo.dir, 'rm', '--cached', '-q', 'config.env');
    execFileSync('git', ['commit', '-m', 'notes only'], { cwd: repo.dir, env: cliEnv(GIT_VARS), encoding: 'utf8', stdio: 'pipe' });
    expect(git(repo.dir, 'log', '-1', '--format=%s')).toBe('notes only');
  });
});
