/**
 * `gantry scan` runs the security scanners locally, no server needed; `gantry hooks install`
 * makes it the repository's pre-commit check on the staged change.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { GantryError } from '../../core/errors.ts';
import { GANTRY_VERSION } from '../../core/version.ts';
import { runGit } from '../../platform/git.ts';
import { loadAdvisories, readScanSettings, scanTree } from '../../scan/index.ts';
import { FINDING_LEVELS, type Finding, type FindingLevel } from '../../security/precommit.ts';
import { bold, dim, formatMs, printJson, red, yellow } from '../output.ts';

const LEVEL_PAINT: Record<FindingLevel, (s: string) => string> = { critical: red, high: red, medium: yellow, low: dim, info: dim };

function parseLevel(value: string): FindingLevel | 'none' {
  if (value === 'none' || (FINDING_LEVELS as readonly string[]).includes(value)) return value as FindingLevel | 'none';
  throw new GantryError('INVALID_INPUT', `--fail-on must be one of ${[...FINDING_LEVELS, 'none'].join(', ')}; got "${value}"`);
}

function atOrAbove(level: FindingLevel, threshold: FindingLevel | 'none'): boolean {
  return threshold !== 'none' && FINDING_LEVELS.indexOf(level) <= FINDING_LEVELS.indexOf(threshold);
}

function where(f: Finding): string {
  if (!f.location) return '';
  return f.location.startLine ? `${f.location.path}:${f.location.startLine}` : f.location.path;
}

export function registerScanCommands(program: Command): void {
  program
    .command('scan [path]')
    .description('scan a working tree (or the staged change) for secrets, vulnerable dependencies and Dockerfile problems')
    .option('--staged', 'only the change staged for commit (what the pre-commit hook runs)')
    .option('--diff <file>', 'look for secrets in the lines this unified diff adds (a push) instead of the whole tree')
    .option(
      '--advisories <path>',
      'OSV advisories: a folder of OSV JSON files or an OSV zip archive (default: security.dependencies.advisories of gantry.yaml, then $GANTRY_ADVISORIES; without any, dependencies are not checked)',
    )
    .option('--sarif <file>', 'also write the findings as SARIF 2.1.0')
    .option('--sbom <file>', 'also write a CycloneDX 1.6 SBOM of the lockfiles found')
    .option('--fail-on <level>', 'exit 1 when a finding is at or above this level: critical, high, medium, low, info or none', 'high')
    .option('--json', 'JSON output')
    .action(
      async (
        path: string | undefined,
        opts: { staged?: boolean; diff?: string; advisories?: string; sarif?: string; sbom?: string; failOn: string; json?: boolean },
      ) => {
        const threshold = parseLevel(opts.failOn);
        const root = resolve(path ?? '.');
        const started = performance.now();
        const settings = await readScanSettings(root);
        const repoAdvisories = settings?.dependencies ? settings.dependencies.advisories : undefined;
        // GANTRY_ADVISORIES: how the server hands its advisory database to a run's security job.
        const advisoryPath =
          opts.advisories ?? (repoAdvisories === undefined ? undefined : resolve(root, repoAdvisories)) ?? process.env.GANTRY_ADVISORIES;
        const load = advisoryPath && settings?.dependencies !== false ? await loadAdvisories(advisoryPath) : null;
        // The rest of the security core only when asked for: the pre-commit hook needs none of it.
        const security = load || opts.sbom || opts.sarif ? await import('../../security/index.ts') : null;
        const diff = opts.diff === undefined ? undefined : readFileSync(opts.diff, 'utf8');
        const report = await scanTree({
          root,
          staged: opts.staged,
          diff,
          settings,
          advisories: load && security ? security.indexAdvisories(load.records) : null,
        });
        if (opts.sbom && security) {
          const subject = { name: basename(root), version: 'working-tree' };
          const tool = { name: 'Gantry', version: GANTRY_VERSION };
          const sbom = security.cycloneDxSbom(report.graphs, {
            subject,
            tool,
            serialNumber: randomUUID(),
            timestamp: new Date().toISOString(),
          });
          writeFileSync(opts.sbom, `${JSON.stringify(sbom, null, 2)}\n`);
        }
        if (opts.sarif && security)
          writeFileSync(
            opts.sarif,
            `${JSON.stringify(security.toSarif(report.findings, { name: 'Gantry', version: GANTRY_VERSION }), null, 2)}\n`,
          );
        const failing = report.findings.filter((f) => atOrAbove(f.level, threshold));
        const advisories = load ? { records: load.records.length, rejected: load.rejected.length, newest: load.newestModified } : null;
        if (opts.json) {
          printJson({
            findings: report.findings,
            filesScanned: report.filesScanned,
            lockfiles: report.lockfiles,
            dependenciesChecked: report.dependenciesChecked,
            advisories,
            notes: report.notes,
          });
        } else {
          for (const f of report.findings) {
            const paint = LEVEL_PAINT[f.level];
            process.stdout.write(`${paint(f.level.padEnd(8))} ${bold(f.ruleId)}  ${where(f)}\n         ${f.message}\n`);
          }
          for (const note of report.notes) process.stdout.write(`${dim(`note: ${note}`)}\n`);
          if (advisories) {
            process.stdout.write(
              dim(
                `advisories: ${advisories.records} records, newest modified ${advisories.newest ?? 'unknown'}${advisories.rejected ? `, ${advisories.rejected} files rejected` : ''}\n`,
              ),
            );
          }
          const counts = FINDING_LEVELS.map((l) => [l, report.findings.filter((f) => f.level === l).length] as const).filter(
            ([, n]) => n > 0,
          );
          const summary = counts.length === 0 ? 'no findings' : counts.map(([l, n]) => `${n} ${l}`).join(', ');
          process.stdout.write(
            `${opts.staged ? 'staged change' : root}: ${report.filesScanned} files, ${report.lockfiles.length} lockfiles, ${summary} (${formatMs(performance.now() - started)})\n`,
          );
        }
        if (failing.length > 0) {
          if (!opts.json)
            process.stderr.write(
              `gantry: ${failing.length} finding(s) at or above ${threshold}; fix them, or see \`gantry scan --help\` for --fail-on\n`,
            );
          process.exitCode = 1;
        }
      },
    );

  const hooks = program.command('hooks').description('git hooks that run Gantry in this repository');
  hooks
    .command('install')
    .description('install a pre-commit hook that scans the staged change for secrets and Dockerfile problems')
    .option('--force', 'replace an existing pre-commit hook')
    .action(async (opts: { force?: boolean }) => {
      const hooksDir = resolve((await runGit(['rev-parse', '--git-path', 'hooks'])).trim());
      const target = join(hooksDir, 'pre-commit');
      if (existsSync(target) && !opts.force && !readFileSync(target, 'utf8').includes('gantry scan --staged')) {
        throw new GantryError(
          'CONFLICT',
          `${target} already exists; run with --force to replace it, or call \`gantry scan --staged\` from it`,
        );
      }
      mkdirSync(hooksDir, { recursive: true });
      const gantry = resolve(process.argv[1] ?? 'gantry');
      writeFileSync(
        target,
        `#!/bin/sh\n# Installed by \`gantry hooks install\`: scans the staged change before each commit.\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(gantry)} scan --staged --fail-on high\n`,
      );
      chmodSync(target, 0o755);
      process.stdout.write(`installed ${target}\n`);
    });
}
