/**
 * `gantry env logs PROJECT ENV [--release N] [--instance I] [--since 15m] [--until T] [--grep RE]
 * [--text T] [--where field=value]… [--stream stdout|stderr|system] [--limit N] [--follow] [--json]`:
 * a service's stored lines, then (with `--follow`) new ones as they are written.
 */
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import type { ServiceLogAnswer, ServiceLogLine } from '../../server/index.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { dim, red } from '../output.ts';

interface LogsOptions {
  release?: string;
  instance?: string;
  since?: string;
  until?: string;
  grep?: string;
  text?: string;
  where: string[];
  stream?: string;
  limit: string;
  follow?: boolean;
  json?: boolean;
}

const enc = encodeURIComponent;

export function registerLogsCommand(program: Command): void {
  const env = program.commands.find((c) => c.name() === 'env') ?? program.command('env').description('environments');
  env
    .command('logs <project> <env>')
    .description(
      "a service's logs in an environment (stdout, stderr and Gantry's own lines), newest last; --follow keeps printing new ones",
    )
    .option('--release <number>', 'only this release')
    .option('--instance <id>', 'only this instance')
    .option('--since <when>', 'from a duration back (30s, 15m, 2h, 7d) or a date')
    .option('--until <when>', 'up to a duration back or a date')
    .option('--grep <regex>', "lines whose text matches this regular expression (JavaScript's)")
    .option('--text <text>', 'lines whose text contains this')
    .option(
      '--where <field=value>',
      'JSON lines whose field has this value (field!=value: has not); repeatable; a.b reaches into objects',
      collect,
      [],
    )
    .option('--stream <stream>', 'stdout, stderr or system')
    .option('--limit <n>', 'most lines shown (the newest)', '200')
    .option('--follow', 'then print new lines as they are written, until interrupted')
    .option('--json', 'one JSON object a line (time, instance, release, stream, text, fields)')
    .action(async (project: string, name: string, opts: LogsOptions) => {
      if (opts.stream !== undefined && !['stdout', 'stderr', 'system'].includes(opts.stream))
        throw new InputError(`--stream must be stdout, stderr or system, got '${opts.stream}'`);
      const query = new URLSearchParams({ limit: opts.limit });
      for (const key of ['release', 'instance', 'since', 'until', 'grep', 'text', 'stream'] as const) {
        const value = opts[key];
        if (value !== undefined) query.set(key, value);
      }
      for (const where of opts.where) query.append('where', where);
      const client = new ApiClient(serverAddress((program.opts() as { data?: string }).data));
      const path = `/api/projects/${enc(project)}/environments/${enc(name)}/logs`;
      const print = (line: ServiceLogLine) => process.stdout.write(opts.json ? `${JSON.stringify(line)}\n` : formatLine(line));
      const answer = await client.request<ServiceLogAnswer>('GET', `${path}?${query}`);
      if (!opts.json && answer.matched > answer.lines.length)
        process.stderr.write(
          dim(
            `(${answer.matched - answer.lines.length} older matching lines not shown; narrow with --since or raise --limit)\n`,
            process.stderr,
          ),
        );
      for (const line of answer.lines) print(line);
      if (!opts.follow) return;
      query.set('follow', 'true');
      // From the search's start: lines written in between come now; those the search had already shown are skipped.
      const shown = new Set(answer.lines.map(lineKey));
      if (answer.searchedAt) query.set('since', answer.searchedAt);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await client
        .stream(
          `${path}?${query}`,
          (event, data) => {
            if (event === 'line' && !shown.has(lineKey(data as ServiceLogLine))) print(data as ServiceLogLine);
          },
          controller.signal,
        )
        .catch((error: unknown) => {
          if (!controller.signal.aborted) throw error;
        });
    });
}

function lineKey(line: ServiceLogLine): string {
  return `${line.instance}\0${line.time}\0${line.stream}\0${line.text}`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `<time> <instance> <text>`, stderr in red, Gantry's own lines dimmed. */
export function formatLine(line: ServiceLogLine): string {
  const head = `${line.time} ${line.instance}`;
  const text = line.stream === 'stderr' ? red(line.text) : line.stream === 'system' ? dim(line.text) : line.text;
  return `${dim(head)} ${text}\n`;
}
