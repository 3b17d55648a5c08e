#!/usr/bin/env node
/**
 * The `gantry` command. Errors end as one readable line and a non-zero exit (2 for usage and
 * config errors, 1 otherwise); `--debug` adds the stack trace.
 */
import { realpathSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { GantryError, InvalidConfigError } from '../core/errors.ts';
import { GANTRY_VERSION } from '../core/version.ts';
/** Exit codes: 0 ok, 1 failed (a pipeline, a request), 2 usage or config error. */
export const EXIT_USAGE = 2;

/**
 * The program with every command, or only the security ones when those are asked for: the
 * pre-commit hook runs `gantry scan --staged` on every commit, and loading the server's and
 * delivery's modules would cost it more than the scan itself.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('gantry')
    .description('Gantry: pipelines as code, progressive delivery and delivery metrics in one service')
    .version(GANTRY_VERSION)
    .option('--debug', 'print stack traces of errors')
    .option('--data <dir>', 'data directory of the local server (default: ./.gantry for `up`, the nearest .gantry/ for other commands)')
    .showHelpAfterError('(run `gantry --help` for usage)')
    .exitOverride();
  const first = commandName(argv);
  // A command loads its own group only: every group at once is ~0.8 s of CPU a start, and a
  // command that only talks to a server needs ~0.2 s (the run engine, the executor and the
  // security scanners come with `gantry run`'s group).
  const single = first === undefined ? undefined : SINGLE_GROUP_COMMANDS.get(first);
  if (single) {
    (await single())(program);
    return program;
  }
  const { registerScanCommands } = await import('./commands/scan.ts');
  if (first === 'scan' || first === 'hooks') {
    registerScanCommands(program);
    return program;
  }
  // `gantry platform plan` runs in pipelines on every change to the platform folder: it loads its own group only.
  if (first === 'platform') {
    (await import('./commands/platform.ts')).registerPlatformCommands(program);
    return program;
  }
  const [
    local,
    up,
    remote,
    delivery,
    slo,
    notify,
    incident,
    dora,
    demo,
    open,
    access,
    findings,
    experiment,
    logs,
    search,
    approvals,
    platform,
    templates,
    agents,
    k8s,
  ] = await Promise.all([
    import('./commands/local.ts'),
    import('./commands/up.ts'),
    import('./commands/remote.ts'),
    import('./commands/delivery.ts'),
    import('./commands/slo.ts'),
    import('./commands/notify.ts'),
    import('./commands/incident.ts'),
    import('./commands/dora.ts'),
    import('./commands/demo.ts'),
    import('./commands/open.ts'),
    import('./commands/access.ts'),
    import('./commands/findings.ts'),
    import('./commands/experiment.ts'),
    import('./commands/logs.ts'),
    import('./commands/search.ts'),
    import('./commands/approvals.ts'),
    import('./commands/platform.ts'),
    import('./commands/templates.ts'),
    import('./commands/agents.ts'),
    import('./commands/k8s.ts'),
  ]);
  local.registerLocalCommands(program);
  up.registerUpCommand(program);
  remote.registerRemoteCommands(program);
  delivery.registerDeliveryCommands(program);
  logs.registerLogsCommand(program);
  slo.registerSloCommands(program);
  notify.registerNotifyCommands(program);
  incident.registerIncidentCommands(program);
  registerScanCommands(program);
  dora.registerDoraCommand(program);
  demo.registerDemoCommand(program);
  open.registerOpenCommand(program);
  access.registerAccessCommands(program);
  findings.registerFindingsCommands(program);
  experiment.registerExperimentCommands(program);
  search.registerSearchCommands(program);
  approvals.registerApprovalCommands(program);
  platform.registerPlatformCommands(program);
  templates.registerTemplateCommands(program);
  agents.registerAgentCommands(program);
  k8s.registerK8sCommands(program);
  return program;
}

type Registration = (program: Command) => void;

/**
 * Top-level commands that one group registers alone, each with how to load that group. A command
 * two groups add to (`env`) stays out; test/cli/command-groups.test.ts checks each is built as the
 * whole program builds it. A group missing here still works: its commands load every group.
 */
const SINGLE_GROUP_COMMANDS: ReadonlyMap<string, () => Promise<Registration>> = new Map(
  (
    [
      [['project', 'secret', 'trigger', 'runs', 'logs'], async () => (await import('./commands/remote.ts')).registerRemoteCommands],
      [['release', 'deploy', 'rollback', 'rollout'], async () => (await import('./commands/delivery.ts')).registerDeliveryCommands],
      [['slo', 'alerts'], async () => (await import('./commands/slo.ts')).registerSloCommands],
      [['notify'], async () => (await import('./commands/notify.ts')).registerNotifyCommands],
      [['incident'], async () => (await import('./commands/incident.ts')).registerIncidentCommands],
      [['dora'], async () => (await import('./commands/dora.ts')).registerDoraCommand],
      [['demo'], async () => (await import('./commands/demo.ts')).registerDemoCommand],
      [['open'], async () => (await import('./commands/open.ts')).registerOpenCommand],
      [['user', 'grant', 'revoke', 'token', 'audit'], async () => (await import('./commands/access.ts')).registerAccessCommands],
      [['findings', 'advisories'], async () => (await import('./commands/findings.ts')).registerFindingsCommands],
      [['experiment'], async () => (await import('./commands/experiment.ts')).registerExperimentCommands],
      [['search', 'events'], async () => (await import('./commands/search.ts')).registerSearchCommands],
      [['approve', 'approvals'], async () => (await import('./commands/approvals.ts')).registerApprovalCommands],
      [['agent', 'agents'], async () => (await import('./commands/agents.ts')).registerAgentCommands],
      [['k8s', 'proxy'], async () => (await import('./commands/k8s.ts')).registerK8sCommands],
      [['validate', 'init', 'schema', 'run'], async () => (await import('./commands/local.ts')).registerLocalCommands],
      [['up'], async () => (await import('./commands/up.ts')).registerUpCommand],
    ] as const
  ).flatMap(([names, load]) => names.map((name) => [name, load] as const)),
);

/** The first word that is not an option or the value of `--data`: the command asked for. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--data') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The top-level commands that load one group only (for the test that keeps the list true). */
export const singleGroupCommands = (): string[] => [...SINGLE_GROUP_COMMANDS.keys()];

export async function main(argv: string[]): Promise<number> {
  // The bundled CLI's traces then name the sources: Node reads the source maps of the modules
  // loaded from here on, which are every command's own (buildProgram imports them).
  if (argv.includes('--debug')) process.setSourceMapsEnabled(true);
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    const code = reportError(error, argv.includes('--debug'));
    // With --detailed-exitcode 2 means "there are changes": an error must not look like one.
    return argv.includes('--detailed-exitcode') && code !== 0 ? 1 : code;
  }
}

/**
 * Every `gantry` compiles the same modules again, and the pre-commit hook starts one per commit:
 * Node's on-disk compile cache (V8 code cache, and the stripped TypeScript when run from sources)
 * spares most of that after the first start. Its directory is Node's default (under the temp
 * dir) unless NODE_COMPILE_CACHE says otherwise; NODE_DISABLE_COMPILE_CACHE turns it off.
 */
export function startCompileCache(): void {
  try {
    enableCompileCache();
  } catch {
    // A cache that cannot be written (a read-only temp dir) only costs the time it would save.
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
  startCompileCache();
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
