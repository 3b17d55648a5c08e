/** `gantry notify channel add|list|remove|test` and `gantry notify deliveries`. */
import type { Command } from 'commander';
import { bold, dim, green, printJson, red, yellow } from '../output.ts';
import { client, list } from './shared.ts';

const enc = encodeURIComponent;

interface ChannelView {
  name: string;
  kind: string;
  projectId: string | null;
  target: string;
  signed: boolean;
  routes: { events: string[]; environments?: string[]; severities?: string[] };
}

export function registerNotifyCommands(program: Command): void {
  const notify = program
    .command('notify')
    .description('notifications: channels (Slack-compatible or signed JSON webhooks) and their delivery log');
  const channel = notify.command('channel').description('where notifications go');
  channel
    .command('add <name> <url>')
    .description('add a channel (the URL is stored encrypted; a webhook gets an HMAC secret, shown once)')
    .option('--kind <kind>', 'slack or webhook', 'webhook')
    .option('--project <project>', "only this project's events (default: every project)")
    .option('--events <types>', 'event types or families, comma-separated (e.g. slo.alert.*,rollout.finished)', list)
    .option('--env <envs>', 'only these environments, comma-separated', list)
    .option('--severity <levels>', 'only these severities, comma-separated (page,ticket)', list)
    .option('--secret <secret>', "the webhook's HMAC secret (default: a new random one)")
    .action(
      async (
        name: string,
        url: string,
        opts: { kind: string; project?: string; events?: string[]; env?: string[]; severity?: string[]; secret?: string },
      ) => {
        const made = await client(program).request<{ channel: ChannelView; secret?: string }>('POST', '/api/notify/channels', {
          name,
          url,
          kind: opts.kind,
          project: opts.project,
          events: opts.events,
          environments: opts.env,
          severities: opts.severity,
          secret: opts.secret,
        });
        process.stdout.write(`channel ${made.channel.name} → ${made.channel.target} (${made.channel.routes.events.join(', ')})\n`);
        if (made.secret) process.stdout.write(`signing secret (shown once; verify X-Gantry-Signature with it): ${made.secret}\n`);
      },
    );
  channel
    .command('list')
    .description('the channels')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { channels } = await client(program).request<{ channels: ChannelView[] }>('GET', '/api/notify/channels');
      if (opts.json) {
        printJson(channels);
        return;
      }
      if (channels.length === 0) process.stdout.write('no channels: `gantry notify channel add <name> <url>`\n');
      for (const c of channels) {
        const filters = [
          c.routes.environments && `env ${c.routes.environments.join(',')}`,
          c.routes.severities && `severity ${c.routes.severities.join(',')}`,
        ]
          .filter(Boolean)
          .join('; ');
        process.stdout.write(
          `${bold(c.name)} ${c.kind}${c.signed ? ' (signed)' : ''} → ${c.target}  ${dim(c.routes.events.join(', '))}${filters ? dim(`; ${filters}`) : ''}\n`,
        );
      }
    });
  channel
    .command('remove <name>')
    .description('remove a channel and its delivery log')
    .action(async (name: string) => {
      await client(program).request('DELETE', `/api/notify/channels/${enc(name)}`);
      process.stdout.write(`removed ${name}\n`);
    });
  channel
    .command('test <name>')
    .description('send a test notification now')
    .action(async (name: string) => {
      const result = await client(program).request<{ delivered: boolean; error: string | null }>(
        'POST',
        `/api/notify/channels/${enc(name)}/test`,
      );
      if (result.delivered) process.stdout.write(`${green('✔')} ${name} accepted the test notification\n`);
      else {
        process.stdout.write(`${red('✘')} ${name}: ${result.error}\n`);
        process.exitCode = 1;
      }
    });
  notify
    .command('deliveries')
    .description('the delivery log, newest first')
    .option('--channel <name>', 'one channel')
    .option('--status <status>', 'pending, delivered or failed')
    .option('--limit <n>', 'how many (default 50)', '50')
    .option('--json', 'JSON output')
    .action(async (opts: { channel?: string; status?: string; limit: string; json?: boolean }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.channel) query.set('channel', opts.channel);
      if (opts.status) query.set('status', opts.status);
      const { deliveries } = await client(program).request<{
        deliveries: {
          channel: string;
          idempotencyKey: string;
          status: string;
          attempts: number;
          lastError: string | null;
          createdAt: string;
          payload: { type: string };
        }[];
      }>('GET', `/api/notify/deliveries?${query}`);
      if (opts.json) {
        printJson(deliveries);
        return;
      }
      for (const d of deliveries) {
        const status = d.status === 'delivered' ? green(d.status) : d.status === 'failed' ? red(d.status) : yellow(d.status);
        process.stdout.write(
          `${dim(d.createdAt)} ${d.channel.padEnd(12)} ${d.payload.type.padEnd(24)} ${status} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${d.lastError ? dim(` (${d.lastError})`) : ''}\n`,
        );
      }
    });
}
