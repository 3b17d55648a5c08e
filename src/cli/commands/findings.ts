/** `gantry findings [PROJECT]`, `gantry findings suppress|unsuppress|suppressions|policy`, `gantry advisories import|status`. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, green, printJson, red, yellow } from '../output.ts';
import { refKind } from '../../pipeline/triggers.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

interface FindingRow {
  fingerprint: string;
  ruleId: string;
  level: string;
  message: string;
  path: string | null;
  startLine: number | null;
  jobKey: string;
  status: 'new' | 'existing' | 'fixed';
  suppression: { reason: string; author: string; expiresAt: string | null } | null;
}

interface Gate {
  decision: 'pass' | 'warn' | 'block';
  reason: string;
}

interface AdvisoryAge {
  records: number;
  newestModified: string | null;
  importedAt: string | null;
}

interface FindingsView {
  run: { id: string; number: number; ref: string } | null;
  scanned: boolean;
  baseline?: { number: number } | null;
  findings: FindingRow[];
  fixed?: FindingRow[];
  counts?: { new: number; existing: number; fixed: number; suppressed: number };
  gate?: Gate;
  release?: { number: number };
  environments?: { environment: string; gate: Gate }[];
  advisories: AdvisoryAge;
  note?: string;
}

function paintLevel(level: string): string {
  if (level === 'critical' || level === 'high') return red(level.padEnd(8));
  if (level === 'medium') return yellow(level.padEnd(8));
  return dim(level.padEnd(8));
}

function paintGate(gate: Gate): string {
  const word = gate.decision === 'block' ? red('block') : gate.decision === 'warn' ? yellow('warn') : green('pass');
  return `${word}: ${gate.reason}`;
}

/** How fresh the advisory database is, in one line: shown wherever findings are. */
export function advisoryAgeLine(age: AdvisoryAge, nowMs = Date.now()): string {
  if (age.records === 0) return 'advisory database: empty (`gantry advisories import PATH`)';
  const days = age.newestModified === null ? null : Math.floor((nowMs - Date.parse(age.newestModified)) / 86_400_000);
  return `advisory database: ${age.records} records, newest modified ${age.newestModified ?? 'unknown'}${days === null ? '' : ` (${days} days ago)`}, imported ${age.importedAt ?? 'never'}`;
}

function findingLine(f: FindingRow): string {
  const where = f.path === null ? '' : dim(`  ${f.path}${f.startLine === null ? '' : `:${f.startLine}`}`);
  const status = f.status === 'new' ? yellow('new     ') : f.status === 'fixed' ? green('fixed   ') : dim('existing');
  const suppressed = f.suppression ? dim(`  suppressed by ${f.suppression.author}: ${f.suppression.reason}`) : '';
  return `${status} ${paintLevel(f.level)} ${f.ruleId}  ${f.message}${where}  ${dim(f.fingerprint)}${suppressed}\n`;
}

export function registerFindingsCommands(program: Command): void {
  const findings = program
    .command('findings [project]')
    .description("security findings of a run or a release (default: the project's latest scanned run), new vs existing vs fixed")
    .option('--run <run>', 'a run, by number or id')
    .option('--release <release>', 'a release, by number or id')
    .option('--new', 'only findings new relative to the default branch')
    .option('--json', 'JSON output')
    .action(async (project: string | undefined, opts: { run?: string; release?: string; new?: boolean; json?: boolean }) => {
      if (project === undefined) throw new InputError('name the project: gantry findings PROJECT [--run N | --release N]');
      if (opts.run !== undefined && opts.release !== undefined) throw new InputError('give --run or --release, not both');
      const query = new URLSearchParams();
      if (opts.run) query.set('run', opts.run);
      if (opts.release) query.set('release', opts.release);
      if (opts.new) query.set('new', 'true');
      const view = await client(program).request<FindingsView>('GET', `/api/projects/${enc(project)}/findings?${query}`);
      if (opts.json) {
        printJson(view);
        return;
      }
      const out = process.stdout;
      if (view.run === null) {
        out.write(`${view.note ?? 'nothing scanned'}\n${advisoryAgeLine(view.advisories)}\n`);
        return;
      }
      const what = view.release ? `release #${view.release.number} (run #${view.run.number})` : `run #${view.run.number}`;
      const baseline = view.baseline
        ? `compared with run #${view.baseline.number} of the default branch`
        : 'no default-branch scan before it: every finding is new';
      out.write(`${bold(what)}  ${refKind(view.run.ref).name}  ${dim(baseline)}\n`);
      if (!view.scanned) out.write('not scanned: no job of its run left a SARIF log\n');
      if (view.counts)
        out.write(
          `${view.counts.new} new, ${view.counts.existing} existing, ${view.counts.fixed} fixed, ${view.counts.suppressed} suppressed\n`,
        );
      for (const f of view.findings) out.write(findingLine(f));
      if (!opts.new) for (const f of view.fixed ?? []) out.write(findingLine(f));
      if (view.environments && view.environments.length > 0)
        for (const e of view.environments) out.write(`${e.environment}: ${paintGate(e.gate)}\n`);
      else if (view.gate) out.write(`a release of it: ${paintGate(view.gate)}\n`);
      out.write(`${dim(advisoryAgeLine(view.advisories))}\n`);
    });

  findings
    .command('suppress <fingerprint>')
    .description('suppress a finding (by fingerprint) with a reason and an expiry; recorded as an event')
    .requiredOption('--reason <text>', 'why it is acceptable')
    .option('--expires <when>', 'a span (30d, 12h, 2w), a date (2027-03-01), or never', '30d')
    .option('--project <project>', 'the project (needed only when several have the fingerprint)')
    .option('--json', 'JSON output')
    .action(async (fingerprint: string, opts: { reason: string; expires: string; project?: string; json?: boolean }) => {
      const body = { fingerprint, reason: opts.reason, expires: opts.expires };
      const url = opts.project === undefined ? '/api/suppressions' : `/api/projects/${enc(opts.project)}/suppressions`;
      const { suppression } = await client(program).request<{ suppression: { id: string; expiresAt: string | null } }>('POST', url, body);
      if (opts.json) printJson(suppression);
      else process.stdout.write(`suppressed ${fingerprint} until ${suppression.expiresAt ?? 'lifted'} (${suppression.id})\n`);
    });

  findings
    .command('suppress-rule <project> <rule>')
    .description('suppress every finding of a rule, or only those under a path, with a reason and an expiry')
    .requiredOption('--reason <text>', 'why it is acceptable')
    .option('--path <path>', 'a file, or a folder ending in /')
    .option('--expires <when>', 'a span (30d, 12h, 2w), a date (2027-03-01), or never', '30d')
    .action(async (project: string, rule: string, opts: { reason: string; path?: string; expires: string }) => {
      const { suppression } = await client(program).request<{ suppression: { id: string; expiresAt: string | null } }>(
        'POST',
        `/api/projects/${enc(project)}/suppressions`,
        { ruleId: rule, ...(opts.path ? { path: opts.path } : {}), reason: opts.reason, expires: opts.expires },
      );
      process.stdout.write(
        `suppressed ${rule}${opts.path ? ` under ${opts.path}` : ''} until ${suppression.expiresAt ?? 'lifted'} (${suppression.id})\n`,
      );
    });

  findings
    .command('unsuppress <project> <id>')
    .description('lift a suppression before it expires; recorded as an event')
    .action(async (project: string, id: string) => {
      await client(program).request('DELETE', `/api/projects/${enc(project)}/suppressions/${enc(id)}`);
      process.stdout.write(`lifted ${id}\n`);
    });

  findings
    .command('suppressions <project>')
    .description('the suppressions of a project, newest first')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { json?: boolean }) => {
      const { suppressions } = await client(program).request<{
        suppressions: {
          id: string;
          fingerprint: string | null;
          ruleId: string | null;
          path: string | null;
          reason: string;
          author: string;
          expiresAt: string | null;
          expired: boolean;
        }[];
      }>('GET', `/api/projects/${enc(project)}/suppressions`);
      if (opts.json) {
        printJson(suppressions);
        return;
      }
      if (suppressions.length === 0) process.stdout.write('no suppressions\n');
      for (const s of suppressions) {
        const what = s.fingerprint ?? `${s.ruleId}${s.path ? ` under ${s.path}` : ''}`;
        const until = s.expired ? red(`expired ${s.expiresAt}`) : `until ${s.expiresAt ?? 'lifted'}`;
        process.stdout.write(`${s.id}  ${what}  ${until}  ${s.author}: ${s.reason}\n`);
      }
    });

  findings
    .command('policy <project>')
    .description("show the project's security policy, or set it from JSON (--set)")
    .option(
      '--set <json>',
      'e.g. \'{"warn":["medium","high"],"block":["critical"],"environments":{"production":{"block":["critical","high"]}}}\'',
    )
    .action(async (project: string, opts: { set?: string }) => {
      let policy: unknown;
      if (opts.set !== undefined) {
        try {
          policy = JSON.parse(opts.set);
        } catch {
          throw new InputError('--set: not JSON; quote the policy as one JSON object');
        }
      }
      const result = await client(program).request<{ policy: unknown }>(
        policy === undefined ? 'GET' : 'PUT',
        `/api/projects/${enc(project)}/security-policy`,
        policy === undefined ? undefined : { policy },
      );
      printJson(result.policy);
    });

  const advisories = program.command('advisories').description("the server's OSV advisory database");
  advisories
    .command('import <path>')
    .description(
      "import a folder of OSV JSON or an OSV zip (e.g. osv.dev's npm all.zip) on the server's machine; unchanged records are skipped",
    )
    .option('--json', 'JSON output')
    .action(async (path: string, opts: { json?: boolean }) => {
      const result = await client(program).request<{
        import: { added: number; updated: number; unchanged: number; withdrawn: number; rejected: number; newestModified: string | null };
      }>('POST', '/api/advisories/import', { path: resolve(path) });
      if (opts.json) {
        printJson(result.import);
        return;
      }
      const i = result.import;
      process.stdout.write(
        `${i.added} added, ${i.updated} updated, ${i.unchanged} unchanged, ${i.withdrawn} withdrawn, ${i.rejected} rejected; newest modified ${i.newestModified ?? 'unknown'}\n`,
      );
    });
  advisories
    .command('status')
    .description('how many records, how fresh, the last import')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const status = await client(program).request<{ age: AdvisoryAge; withdrawn: number; lastImport: { source: string } | null }>(
        'GET',
        '/api/advisories/status',
      );
      if (opts.json) {
        printJson(status);
        return;
      }
      process.stdout.write(`${advisoryAgeLine(status.age)}${status.lastImport ? ` from ${status.lastImport.source}` : ''}\n`);
    });
}
