/** Delivery commands: releases, deploys, rollouts, rollbacks, environments. */
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { ApiClient, serverAddress } from '../api-client.ts';
import { bold, dim, printJson, red, statusSymbol } from '../output.ts';
import { isFinalRollout } from '../../core/rollout-phase.ts';
import { refKind } from '../../pipeline/triggers.ts';

const enc = encodeURIComponent;
const client = (program: Command) => new ApiClient(serverAddress((program.opts() as { data?: string }).data));

interface RolloutView {
  environment: { currentReleaseId: string | null; previousReleaseId: string | null; port: number | null } | null;
  rollout: { id: string; releaseId: string; phase: string; state: RolloutStateView; createdAt: string; finishedAt: string | null } | null;
  live: {
    port: number | null;
    weights: { stable: number; canary: number };
    instances: { id: string; state: string; port: number; releaseId: string; restarts: number }[];
  };
}

interface RolloutStateView {
  phase: string;
  stepIndex: number;
  weights: { stable: number; canary: number };
  strategy: { kind: string; steps?: { weight: number; pauseMs: number | null }[] };
  reason: string | null;
  lastAnalysis: {
    outcome: string;
    checks: { name: string; outcome: string; value: number | null; baseline: number | null; threshold: number | null; reason: string }[];
  } | null;
}

export function registerDeliveryCommands(program: Command): void {
  const release = program.command('release').description("immutable releases: a commit, its run's artifacts and its config");
  release
    .command('create <project>')
    .description('make a release from a successful run (default: the newest)')
    .option('--run <run>', 'the run to release')
    .action(async (project: string, opts: { run?: string }) => {
      const { release: made } = await client(program).request<{ release: { id: string; number: number; sha: string } }>(
        'POST',
        `/api/projects/${enc(project)}/releases`,
        { run: opts.run },
      );
      process.stdout.write(`release #${made.number} (${made.id}) of ${made.sha.slice(0, 12)}\n`);
    });
  release
    .command('list <project>')
    .description('releases, newest first')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { json?: boolean }) => {
      const { releases } = await client(program).request<{
        releases: { id: string; number: number; sha: string; ref: string; createdAt: string }[];
      }>('GET', `/api/projects/${enc(project)}/releases`);
      if (opts.json) {
        printJson(releases);
        return;
      }
      for (const r of releases)
        process.stdout.write(
          `#${String(r.number).padEnd(4)} ${r.id}  ${r.sha.slice(0, 12)}  ${refKind(r.ref).name.padEnd(16)} ${dim(r.createdAt)}\n`,
        );
    });

  program
    .command('deploy <project> <release>')
    .description('deploy a release (number, id or the tag it was made from) to an environment with its strategy')
    .requiredOption('--env <env>', 'the environment')
    .option('--follow', 'show the rollout until it ends')
    .option('--override', "deploy although an SLO's error budget is spent (needs --reason)")
    .option('--reason <text>', 'why the override (recorded with the deploy)')
    .option(
      '--override-security <reason>',
      'deploy although the release has new findings the security policy blocks there (the reason is recorded)',
    )
    .option('--override-window <reason>', "deploy outside the environment's deploy windows (needs deploy.override; the reason is recorded)")
    .action(
      async (
        project: string,
        releaseRef: string,
        opts: { env: string; follow?: boolean; override?: boolean; reason?: string; overrideSecurity?: string; overrideWindow?: string },
      ) => {
        if (opts.override && !opts.reason?.trim()) throw new InputError('--override needs --reason "why": it is recorded with the deploy');
        if (opts.reason !== undefined && !opts.override) throw new InputError('--reason goes with --override');
        if (opts.overrideSecurity !== undefined && !opts.overrideSecurity.trim())
          throw new InputError('--override-security needs a reason: it is recorded with the deploy');
        if (opts.overrideWindow !== undefined && !opts.overrideWindow.trim())
          throw new InputError('--override-window needs a reason: it is recorded with the deploy');
        const c = client(program);
        const { rollout } = await c.request<{ rollout: { id: string; phase: string } }>(
          'POST',
          `/api/projects/${enc(project)}/environments/${enc(opts.env)}/deploy`,
          {
            release: releaseRef,
            ...(opts.override ? { override: { reason: opts.reason } } : {}),
            ...(opts.overrideSecurity === undefined ? {} : { overrideSecurity: { reason: opts.overrideSecurity } }),
            ...(opts.overrideWindow === undefined ? {} : { overrideWindow: { reason: opts.overrideWindow } }),
          },
        );
        process.stdout.write(`${rollout.id}\n`);
        if (rollout.phase === 'pending-approval')
          process.stderr.write(`waiting for approval: \`gantry rollout approve ${project} --env ${opts.env}\`\n`);
        if (opts.follow) process.exitCode = await follow(c, project, opts.env, rollout.id);
      },
    );

  program
    .command('rollback <project>')
    .description("go back to the environment's previous release at once")
    .requiredOption('--env <env>', 'the environment')
    .option('--follow', 'show the rollback until it ends')
    .action(async (project: string, opts: { env: string; follow?: boolean }) => {
      const c = client(program);
      const { rollout } = await c.request<{ rollout: { id: string } }>(
        'POST',
        `/api/projects/${enc(project)}/environments/${enc(opts.env)}/rollback`,
      );
      process.stdout.write(`${rollout.id}\n`);
      if (opts.follow) process.exitCode = await follow(c, project, opts.env, rollout.id);
    });

  const rollout = program.command('rollout').description('watch and steer a rollout');
  rollout
    .command('status <project>')
    .description('phase, step, weights, analysis and instances')
    .requiredOption('--env <env>', 'the environment')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { env: string; json?: boolean }) => {
      const view = await client(program).request<RolloutView>('GET', `/api/projects/${enc(project)}/environments/${enc(opts.env)}/rollout`);
      if (opts.json) {
        printJson(statusJson(view));
        return;
      }
      printStatus(project, opts.env, view);
    });
  for (const action of ['promote', 'pause', 'resume', 'abort', 'approve'] as const) {
    rollout
      .command(`${action} <project>`)
      .description(`${action} the rollout under way`)
      .requiredOption('--env <env>', 'the environment')
      .action(async (project: string, opts: { env: string }) => {
        const { rollout: r } = await client(program).request<{ rollout: { id: string; phase: string } }>(
          'POST',
          `/api/projects/${enc(project)}/environments/${enc(opts.env)}/rollout/${action}`,
        );
        process.stdout.write(`rollout ${r.id}: ${r.phase}\n`);
      });
  }
  // `gantry approve` (a rollout waiting for approval, or a release for a protected environment) is in ./approvals.ts.

  const env = program.command('env').description('environments');
  env
    .command('expose <project> <env>')
    .description('serve an environment on a port (its traffic proxy)')
    .requiredOption('--port <port>', 'TCP port')
    .action(async (project: string, name: string, opts: { port: string }) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InputError(`--port must be 1..65535, got '${opts.port}'`);
      const c = client(program);
      await c.request('PUT', `/api/projects/${enc(project)}/environments/${enc(name)}/port`, { port });
      process.stdout.write(`${name} is served on ${new URL(c.address.url).hostname}:${port}\n`);
    });
  env
    .command('stop <project> <env>')
    .description('stop an environment: its rollout ends, its instances drain and stop, its port is freed (`gantry deploy` starts it again)')
    .action(async (project: string, name: string) => {
      const { environment } = await client(program).request<{ environment: { previousReleaseId: string | null; port: number | null } }>(
        'POST',
        `/api/projects/${enc(project)}/environments/${enc(name)}/stop`,
      );
      const what = environment.previousReleaseId ? `release ${environment.previousReleaseId} no longer runs` : 'nothing runs there';
      process.stdout.write(`stopped ${project}/${name}: ${what}${environment.port ? `, port ${environment.port} is free` : ''}\n`);
    });
  env
    .command('list <project>')
    .description('environments with their release and port')
    .option('--json', 'JSON output')
    .action(async (project: string, opts: { json?: boolean }) => {
      const { environments } = await client(program).request<{
        environments: { name: string; currentReleaseId: string | null; port: number | null; rollout: { phase: string } | null }[];
      }>('GET', `/api/projects/${enc(project)}/environments`);
      if (opts.json) {
        printJson(environments);
        return;
      }
      for (const e of environments)
        process.stdout.write(
          `${e.name.padEnd(16)} port ${String(e.port ?? '-').padEnd(6)} release ${e.currentReleaseId ?? '-'}${e.rollout ? `  rollout: ${e.rollout.phase}` : ''}\n`,
        );
    });
}

function statusJson(view: RolloutView) {
  const state = view.rollout?.state;
  return {
    environment: view.environment,
    rollout: view.rollout
      ? {
          id: view.rollout.id,
          releaseId: view.rollout.releaseId,
          phase: view.rollout.phase,
          step: state?.stepIndex ?? null,
          steps: state?.strategy.steps ?? null,
          strategy: state?.strategy.kind ?? null,
          reason: state?.reason ?? null,
          createdAt: view.rollout.createdAt,
          finishedAt: view.rollout.finishedAt,
          analysis: state?.lastAnalysis ?? null,
        }
      : null,
    weights: view.live.weights,
    instances: view.live.instances,
  };
}

function printStatus(project: string, env: string, view: RolloutView): void {
  const r = view.rollout;
  process.stdout.write(
    `${bold(`${project}/${env}`)}  port ${view.live.port ?? '-'}  release ${view.environment?.currentReleaseId ?? '-'}\n`,
  );
  if (!r) {
    process.stdout.write('no rollout yet\n');
    return;
  }
  const symbol =
    r.phase === 'succeeded' ? statusSymbol('success') : isFinalRollout(r.phase) ? statusSymbol('failure') : statusSymbol('running');
  process.stdout.write(
    `${symbol} rollout ${r.id} ${r.phase}  (${r.state.strategy.kind})${r.state.reason ? dim(`  ${r.state.reason}`) : ''}\n`,
  );
  const steps = r.state.strategy.steps;
  if (steps) {
    process.stdout.write(
      `  steps: ${steps.map((s, i) => (i === r.state.stepIndex && !isFinalRollout(r.phase) ? bold(`[${s.weight}%]`) : `${s.weight}%`)).join(' → ')}\n`,
    );
  }
  const { stable, canary } = view.live.weights;
  const bar = 40;
  const canaryCells = Math.round((canary / 100) * bar);
  process.stdout.write(`  traffic: stable ${stable}% ${'█'.repeat(bar - canaryCells)}${red('█'.repeat(canaryCells))} canary ${canary}%\n`);
  for (const check of r.state.lastAnalysis?.checks ?? []) {
    const mark =
      check.outcome === 'pass' ? statusSymbol('success') : check.outcome === 'fail' ? statusSymbol('failure') : statusSymbol('queued');
    process.stdout.write(`  ${mark} ${check.name.padEnd(22)} ${dim(check.reason)}\n`);
  }
  for (const i of view.live.instances)
    process.stdout.write(`  ${dim('instance')} ${i.id.padEnd(40)} ${i.state.padEnd(10)} :${i.port} ${dim(`restarts ${i.restarts}`)}\n`);
}

async function follow(c: ApiClient, project: string, env: string, rolloutId: string): Promise<number> {
  let last = '';
  for (;;) {
    const view = await c.request<RolloutView>('GET', `/api/projects/${enc(project)}/environments/${enc(env)}/rollout`);
    const r = view.rollout;
    if (!r || r.id !== rolloutId) return 1;
    const line = `${r.phase} step ${r.state.stepIndex} stable ${view.live.weights.stable}% canary ${view.live.weights.canary}%${r.state.reason ? ` — ${r.state.reason}` : ''}`;
    if (line !== last) {
      process.stderr.write(`${line}\n`);
      last = line;
    }
    if (isFinalRollout(r.phase)) return r.phase === 'succeeded' ? 0 : 1;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
