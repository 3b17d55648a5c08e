#!/usr/bin/env node
/**
 * The `gantry` command. Errors end as one readable line and a non-zero exit (2 for usage and
 * config errors, 1 otherwise); `--debug` adds the stack trace.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { GantryError, InvalidConfigError } from '../core/errors.ts';
import { GANTRY_VERSION } from '../core/version.ts';
import { registerDeliveryCommands } from './commands/delivery.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerLocalCommands } from './commands/local.ts';
import { registerOpenCommand } from './commands/open.ts';
import { registerRemoteCommands } from './commands/remote.ts';
import { registerScanCommands } from './commands/scan.ts';
import { registerSloCommands } from './commands/slo.ts';
import { registerNotifyCommands } from './commands/notify.ts';
import { registerIncidentCommands } from './commands/incident.ts';
import { registerDoraCommand } from './commands/dora.ts';
import { registerUpCommand } from './commands/up.ts';

/** Exit codes: 0 ok, 1 failed (a pipeline, a request), 2 usage or config error. */
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('gantry')
    .description('Gantry: pipelines as code, progressive delivery and delivery metrics in one service')
    .version(GANTRY_VERSION)
    .option('--debug', 'print stack traces of errors')
    .option('--data <dir>', 'data directory of the local server (default: ./.gantry for `up`, the nearest .gantry/ for other commands)')
    .showHelpAfterError('(run `gantry --help` for usage)')
    .exitOverride();
  registerLocalCommands(program);
  registerUpCommand(program);
  registerRemoteCommands(program);
  registerDeliveryCommands(program);
  registerSloCommands(program);
  registerNotifyCommands(program);
  registerIncidentCommands(program);
  registerScanCommands(program);
  registerDoraCommand(program);
  registerDemoCommand(program);
  registerOpenCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, argv.includes('--debug'));
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message (help, version or a usage error).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return EXIT_USAGE;
  }
  if (error instanceof InvalidConfigError) {
    process.stderr.write(`${error.message}\n`);
    return EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`gantry: ${message}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  if (error instanceof GantryError && (error.code === 'INVALID_INPUT' || error.code === 'INVALID_EXPRESSION')) return EXIT_USAGE;
  return 1;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
