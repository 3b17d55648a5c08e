/**
 * A job's SARIF reports (`reports: { sarif: glob }`): what the scanners a user runs as steps
 * (gitleaks, Trivy, osv-scanner, Semgrep…) and Gantry's own security job wrote, merged into one
 * SARIF 2.1.0 log per job, `<job dir>/sarif.json` (engine/run-paths.ts jobSarifFile), which the
 * findings store reads. Each file is checked strictly with src/security/sarif.ts; its runs are
 * kept whole (tool, rules, results), since SARIF allows many runs in one log. A file that is not
 * SARIF never fails the job: it is a line in the log and an error notification in the merged
 * log's Gantry run (SARIF §3.58), so whoever reads the log sees what was left out.
 */
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as Sarif from 'sarif';
import { SARIF_SCHEMA, fromSarif } from '../security/sarif.ts';
import { matchFiles } from './globs.ts';

/** Beyond this a report is refused rather than read whole into memory. */
export const MAX_SARIF_BYTES = 64 * 1024 * 1024;

export interface SarifCollection {
  /** Null when no file matched. */
  log: Sarif.Log | null;
  files: number;
  results: number;
  /** One sentence per file left out, for the job's log. */
  problems: string[];
}

export async function collectSarifReports(
  workspaceDir: string,
  pattern: string,
  tool: { name: string; version: string },
): Promise<SarifCollection> {
  const files = await matchFiles(workspaceDir, [pattern]);
  const runs: Sarif.Run[] = [];
  const problems: string[] = [];
  let read = 0;
  for (const rel of files) {
    const full = path.join(workspaceDir, rel);
    const info = await lstat(full);
    // A link could point anywhere on the host; reports are regular files.
    if (!info.isFile()) continue;
    if (info.size > MAX_SARIF_BYTES) {
      problems.push(`${rel}: not read (${Math.round(info.size / 1024 / 1024)} MiB, over the ${MAX_SARIF_BYTES / 1024 / 1024} MiB limit)`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(await readFile(full, 'utf8'));
      fromSarif(json, rel);
    } catch (error) {
      const message = error instanceof SyntaxError ? `${rel}: not JSON (${error.message})` : (error as Error).message;
      problems.push(message);
      continue;
    }
    read++;
    runs.push(...(json as Sarif.Log).runs);
  }
  if (read === 0 && problems.length === 0) return { log: null, files: 0, results: 0, problems };
  if (problems.length > 0) runs.push(notificationRun(tool, problems));
  const results = runs.reduce((n, run) => n + (run.results?.length ?? 0), 0);
  return { log: { $schema: SARIF_SCHEMA, version: '2.1.0', runs }, files: read, results, problems };
}

/** Gantry's own run in the merged log: no results, the files it could not read as notifications. */
function notificationRun(tool: { name: string; version: string }, problems: readonly string[]): Sarif.Run {
  return {
    tool: { driver: { name: `${tool.name} reports`, version: tool.version } },
    invocations: [
      {
        executionSuccessful: false,
        toolExecutionNotifications: problems.map((text) => ({ level: 'error', message: { text }, descriptor: { id: 'INVALID_SARIF' } })),
      },
    ],
    results: [],
  };
}
