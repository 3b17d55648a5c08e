/** `gantry user|grant|revoke|token|sessions|audit`: people, their roles, their API tokens and dashboard sessions, and the audit trail (docs/access.md). */
import type { Command } from 'commander';
import { bold, dim, printJson, yellow } from '../output.ts';
import { client, list } from './shared.ts';

const enc = encodeURIComponent;
/** `alice` → `user:alice`; `group:sre` stays. */
const subjectOf = (who: string) => (who.includes(':') ? who : `user:${who}`);

interface UserRow {
  name: string;
  kind: string;
  email: string | null;
  disabledAt: string | null;
  groups: string[];
}
interface TokenRow {
  id: string;
  name: string;
  owner: string;
  scopes: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
}
interface SessionRow {
  id: string;
  owner: string | null;
  createdAt: string;
  expiresAt: string;
}
interface AuditEvent {
  at: string;
  type: string;
  actor: string;
  subject: string;
  data: Record<string, unknown>;
}

export function registerAccessCommands(program: Command): void {
  const user = program.command('user').description('people and service accounts');
  user
    .command('add <name>')
    .description('add a person (or, with --service, a service account for automation)')
    .option('--service', 'a service account')
    .option('--email <email>')
    .option('--groups <groups>', 'comma-separated groups')
    .action(async (name: string, opts: { service?: boolean; email?: string; groups?: string }) => {
      await client(program).request('POST', '/api/users', {
        name,
        kind: opts.service ? 'service' : 'person',
        ...(opts.email ? { email: opts.email } : {}),
        ...(opts.groups ? { groups: list(opts.groups) } : {}),
      });
      process.stdout.write(`added ${opts.service ? 'service account' : 'user'} ${name}\n`);
    });
  user
    .command('list')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { users } = await client(program).request<{ users: UserRow[] }>('GET', '/api/users');
      if (opts.json) return printJson(users);
      for (const u of users)
        process.stdout.write(
          `${u.name.padEnd(20)} ${u.kind.padEnd(8)} ${u.groups.join(',') || dim('-')}${u.disabledAt ? yellow('  disabled') : ''}\n`,
        );
    });
  for (const [command, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(`${command} <name>`)
      .description(disabled ? 'refuse every token of this user at once' : 'let a disabled user back in')
      .action(async (name: string) => {
        await client(program).request('PUT', `/api/users/${enc(name)}/disabled`, { disabled });
        process.stdout.write(`${name} ${command}d\n`);
      });
  }

  program
    .command('grant <role> <who>')
    .description('give a user (alice) or a group (group:sre) a role: server-wide, on --project, or on one --env of it')
    .option('--project <project>')
    .option('--env <env>', 'only this environment of --project')
    .action(async (role: string, who: string, opts: { project?: string; env?: string }) => {
      const subject = subjectOf(who);
      if (opts.project)
        await client(program).request('PUT', `/api/projects/${enc(opts.project)}/members`, {
          subject,
          role,
          ...(opts.env ? { environment: opts.env } : {}),
        });
      else await client(program).request('PUT', '/api/grants', { subject, role });
      process.stdout.write(
        `${subject} is ${role} ${opts.project ? `on ${opts.project}${opts.env ? `/${opts.env}` : ''}` : 'server-wide'}\n`,
      );
    });
  program
    .command('revoke <who>')
    .description("take a user's or group's role (server-wide, on --project, or on one --env of it)")
    .option('--project <project>')
    .option('--env <env>')
    .action(async (who: string, opts: { project?: string; env?: string }) => {
      const subject = subjectOf(who);
      if (opts.project)
        await client(program).request(
          'DELETE',
          `/api/projects/${enc(opts.project)}/members/${enc(subject)}${opts.env ? `?environment=${enc(opts.env)}` : ''}`,
        );
      else await client(program).request('DELETE', `/api/grants/${enc(subject)}`);
      process.stdout.write(`revoked ${subject}'s role\n`);
    });

  const token = program.command('token').description('API tokens: shown once, stored hashed, scoped, expiring');
  token
    .command('create <name>')
    .description('a token for you (or, as an admin, for --owner); prints it once')
    .option('--owner <user>', 'a user or service account (admins only)')
    .option('--scopes <permissions>', 'comma-separated permissions it may use at most (docs/access.md)')
    .option('--expires <duration>', 'e.g. 30d or 12h')
    .action(async (name: string, opts: { owner?: string; scopes?: string; expires?: string }) => {
      const made = await client(program).request<{ token: string } & TokenRow>('POST', '/api/tokens', {
        name,
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.scopes ? { scopes: list(opts.scopes) } : {}),
        ...(opts.expires ? { expiresIn: opts.expires } : {}),
      });
      process.stderr.write(
        `token ${made.id} for ${made.owner}${made.expiresAt ? `, expires ${made.expiresAt}` : ''} (shown once; use it as GANTRY_TOKEN):\n`,
      );
      process.stdout.write(`${made.token}\n`);
    });
  token
    .command('list')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { tokens } = await client(program).request<{ tokens: TokenRow[] }>('GET', '/api/tokens');
      if (opts.json) return printJson(tokens);
      for (const t of tokens)
        process.stdout.write(
          `${t.id}  ${t.name.padEnd(16)} ${t.owner.padEnd(16)} ${t.scopes?.join(',') ?? dim('all roles allow')}${t.expiresAt ? dim(`  expires ${t.expiresAt}`) : ''}${t.revokedAt ? yellow('  revoked') : ''}\n`,
        );
    });
  token
    .command('revoke <id>')
    .description('refuse the token from now on and end its open requests')
    .action(async (id: string) => {
      await client(program).request('DELETE', `/api/tokens/${enc(id)}`);
      process.stdout.write(`token ${id} revoked\n`);
    });

  const sessions = program.command('sessions').description('dashboard sessions signed in now (never their cookies)');
  sessions
    .command('list')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { sessions: rows } = await client(program).request<{ sessions: SessionRow[] }>('GET', '/api/sessions');
      if (opts.json) return printJson(rows);
      if (rows.length === 0) process.stdout.write('No dashboard session is signed in.\n');
      for (const s of rows)
        process.stdout.write(
          `${s.id}  ${(s.owner === null ? 'gantry open link' : `user:${s.owner}`).padEnd(24)} ${dim(`since ${s.createdAt}, until ${s.expiresAt}`)}\n`,
        );
    });
  sessions
    .command('revoke <id>')
    .description('end the session now: its next request is refused and its open event streams end')
    .action(async (id: string) => {
      await client(program).request('DELETE', `/api/sessions/${enc(id)}`);
      process.stdout.write(`session ${id} ended\n`);
    });

  program
    .command('audit')
    .description('who did what, from where, newest first')
    .option('--since <duration>', 'e.g. 15m, 12h, 30d')
    .option('--user <user>', 'only this user (alice) or actor (api:admin)')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'JSON output')
    .action(async (opts: { since?: string; user?: string; limit: string; json?: boolean }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.since) query.set('since', opts.since);
      if (opts.user) query.set('user', opts.user);
      const { events } = await client(program).request<{ events: AuditEvent[] }>('GET', `/api/audit?${query}`);
      if (opts.json) return printJson(events);
      if (events.length === 0) process.stdout.write('nothing recorded\n');
      for (const e of events) process.stdout.write(`${dim(e.at)} ${bold(e.actor)} ${describe(e)}\n`);
    });
}

function describe(e: AuditEvent): string {
  if (e.type !== 'api.call') return `${e.type} ${dim(e.subject)}`;
  const d = e.data as { method: string; route: string; params: Record<string, string>; status: number; from: string };
  const path = d.route.replace(/:([A-Za-z]+)/g, (_m, name: string) => d.params[name] ?? `:${name}`);
  return `${d.method} ${path} → ${d.status >= 400 ? yellow(String(d.status)) : d.status} ${dim(`from ${d.from}`)}`;
}
