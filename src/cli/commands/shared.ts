/**
 * Helpers every server command group needs, written once: the API client of the server the
 * program's `--data` option (or the environment) points at, and comma-separated option values.
 */
import type { Command } from 'commander';
import { ApiClient, serverAddress } from '../api-client.ts';

/** The typed API client of the server this invocation talks to. */
export function client(program: Command): ApiClient {
  return new ApiClient(serverAddress((program.opts() as { data?: string }).data));
}

/** `a, b,,c` → `['a', 'b', 'c']`: an option's comma-separated values, blanks dropped. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
