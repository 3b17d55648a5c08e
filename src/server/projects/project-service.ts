/**
 * Registers repositories and keeps their triggers alive: git hooks for local repositories,
 * polling for URLs, cron schedules from the default branch's gantry.yaml.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { InputError, InvalidConfigError, NotFoundError } from '../../core/errors.ts';
import type { Value } from '../../core/types.ts';
import { parseCommitConfig } from '../../pipeline/stored-config.ts';
import { splitTagBurst, tagBurstReason } from '../../pipeline/triggers.ts';
import type { EventEnvironment, Project, Store } from '../../store/ports.ts';
import { CronScheduler } from './cron-scheduler.ts';
import { runGit } from '../../platform/git.ts';
import { changedFiles, listPushRefs } from '../repos/index.ts';
import { installGitHook, uninstallGitHook } from './git-hooks.ts';
import { readConfigAtCommit, syncMirror } from '../repos/index.ts';
import { RepoPoller } from './repo-poller.ts';
import type { RunService } from '../runs/index.ts';
import type { SecretBox } from '../auth/index.ts';

export interface ProjectServiceDeps {
  store: Store;
  runs: RunService;
  secretBox: SecretBox;
  dataDir: string;
  pollIntervalMs: number;
  /** Drives the cron schedules. */
  clock: Clock;
  eventEnv(): EventEnvironment;
  /** Problems of background triggers (a poll that failed): logged, never thrown. */
  warn(message: string, data: Record<string, unknown>): void;
}

export interface AddProjectRequest {
  path?: string;
  url?: string;
  name?: string;
}

export class ProjectService {
  readonly #deps: ProjectServiceDeps;
  readonly #pollers = new Map<string, RepoPoller>();
  readonly #cron: CronScheduler;
  #serverUrl = '';
  #hookKey: Buffer | null = null;

  constructor(deps: ProjectServiceDeps) {
    this.#deps = deps;
    this.#cron = new CronScheduler({
      clock: deps.clock,
      onFire: (projectId, schedule) => {
        void this.#fireSchedule(projectId, schedule);
      },
      onError: (error, projectId, schedule) => deps.warn('cron schedule failed', { projectId, schedule, error: String(error) }),
    });
  }

  /** Starts triggers of every registered project; `serverUrl` is what git hooks call. */
  async start(serverUrl: string): Promise<void> {
    this.#serverUrl = serverUrl;
    for (const project of await this.#deps.store.projects.list()) await this.#activate(project);
  }

  async stop(): Promise<void> {
    this.#cron.stop();
    await Promise.all([...this.#pollers.values()].map((p) => p.stop()));
    this.#pollers.clear();
  }

  async add(req: AddProjectRequest, actor: string): Promise<{ project: Project; webhookSecret: string }> {
    if (Boolean(req.path) === Boolean(req.url)) throw new InputError('give either a local repository path or a URL');
    let source: Project['source'];
    let name = req.name;
    if (req.path) {
      const path = resolve(req.path);
      const top = await runGit(['-C', path, 'rev-parse', '--show-toplevel']).catch(() => null);
      if (!top) throw new InputError(`${path} is not a git repository (run \`git init\` there first)`);
      source = { kind: 'local', path: top.trim() };
      name ??= basename(top.trim());
    } else {
      source = { kind: 'url', url: req.url as string };
      name ??= basename((req.url as string).replace(/\/+$/, '')).replace(/\.git$/, '');
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
      throw new InputError(`project name '${name}' may only hold letters, digits, '.', '_' and '-' (use --name)`);
    const webhookSecret = randomBytes(24).toString('base64url');
    const project = await this.#deps.store.projects.create({ name, source, webhookSecret: this.#deps.secretBox.encrypt(webhookSecret) });
    await this.#deps.store.events.append({
      type: 'project.added',
      subject: `project:${project.id}`,
      actor,
      data: { name, source: source as unknown as Value },
      env: this.#deps.eventEnv(),
    });
    try {
      await this.#activate(project, true);
    } catch (error) {
      await this.#deps.store.projects.delete(project.id);
      throw error;
    }
    return { project, webhookSecret };
  }

  /**
   * Unregisters a project and undoes what `add` did outside the store: stops its triggers, takes
   * Gantry's git hook out of a local repository (putting back a hook it had chained) and deletes a
   * URL project's mirror. Cleaning up never blocks the removal: what could not be done (the
   * repository is gone, the hook could not be removed) comes back as warnings for the user.
   */
  async remove(idOrName: string, actor: string): Promise<{ warnings: string[] }> {
    const project = await this.require(idOrName);
    this.#cron.remove(project.id);
    await this.#pollers.get(project.id)?.stop();
    this.#pollers.delete(project.id);
    const warnings = project.source.kind === 'local' ? await this.#removeHook(project.source.path) : [];
    await this.#deps.store.projects.delete(project.id);
    if (project.source.kind === 'url') {
      const mirror = this.#deps.runs.gitDir(project);
      await rm(mirror, { recursive: true, force: true }).catch((error: unknown) =>
        warnings.push(`could not delete the mirror ${mirror}: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    await this.#deps.store.events.append({
      type: 'project.removed',
      subject: `project:${project.id}`,
      actor,
      data: { name: project.name, warnings },
      env: this.#deps.eventEnv(),
    });
    return { warnings };
  }

  async #removeHook(repoDir: string): Promise<string[]> {
    if (!existsSync(repoDir)) return [`the repository ${repoDir} is gone; there was no git hook left to remove`];
    try {
      const { hookPath, outcome } = await uninstallGitHook(repoDir);
      if (outcome === 'foreign' && existsSync(`${hookPath}.pre-gantry`))
        return [`${hookPath} is not Gantry's hook, so ${hookPath}.pre-gantry (the hook it had replaced) was left for you to restore`];
      return [];
    } catch (error) {
      return [
        `could not remove Gantry's git hook from ${repoDir}: ${error instanceof Error ? error.message : String(error)}; delete its reference-transaction hook by hand`,
      ];
    }
  }

  async require(idOrName: string): Promise<Project> {
    const project = await this.#deps.store.projects.get(idOrName);
    if (!project) throw new NotFoundError(`project '${idOrName}' does not exist (see \`gantry project list\`)`);
    return project;
  }

  webhookSecret(project: Project): string {
    return this.#deps.secretBox.decrypt(project.webhookSecret);
  }

  /** Upcoming schedule times of a project. */
  schedules(projectId: string): { schedule: string; at: string }[] {
    return this.#cron.next(projectId).map((n) => ({ schedule: n.schedule, at: n.at.toISOString() }));
  }

  /** The token written into a project's git hook: derived, so a restart can re-install hooks without storing it. */
  async hookToken(projectId: string): Promise<string> {
    return `gnh_${createHmac('sha256', await this.#key())
      .update(projectId)
      .digest('base64url')}`;
  }

  async verifyHookToken(projectId: string, token: string): Promise<boolean> {
    const expected = Buffer.from(await this.hookToken(projectId));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** A git hook reported ref updates of a local repository. */
  async onRefUpdates(project: Project, updates: { before: string | null; after: string; ref: string }[]): Promise<unknown[]> {
    const outcomes: unknown[] = [];
    const { kept, burst } = splitTagBurst(updates);
    if (burst.length > 0) {
      await this.#deps.runs.ignoreTagBurst(project, burst, 'trigger:git-hook');
      outcomes.push({ skipped: tagBurstReason(burst.length) });
    }
    for (const u of kept) {
      // Not awaited here: the trigger reads the commit's gantry.yaml while git computes the diff.
      // Path filters are not evaluated for tag pushes, so a tag's diff is never needed.
      const files =
        project.source.kind === 'local' && !u.ref.startsWith('refs/tags/')
          ? changedFiles(project.source.path, u.before, u.after).catch(() => undefined)
          : undefined;
      const outcome = await this.#deps.runs.trigger(project, {
        kind: 'push',
        ref: u.ref,
        sha: u.after,
        before: u.before,
        changedFiles: files,
        actor: 'trigger:git-hook',
      });
      outcomes.push('run' in outcome ? { runId: outcome.run.id } : outcome);
    }
    // Once per notification, not per branch: each git process here competes with the run's start.
    if (updates.length > 0) await this.#refreshSchedules(project).catch(() => undefined);
    return outcomes;
  }

  async #activate(project: Project, fresh = false): Promise<void> {
    if (project.source.kind === 'local') {
      if (!existsSync(project.source.path)) {
        this.#deps.warn('project repository is missing', { project: project.name, path: project.source.path });
        return;
      }
      if (this.#serverUrl)
        await installGitHook(project.source.path, {
          serverUrl: this.#serverUrl,
          token: await this.hookToken(project.id),
          projectId: project.id,
        });
    } else {
      const mirror = this.#deps.runs.gitDir(project);
      const url = project.source.url;
      if (fresh) {
        // The heads at registration are the baseline: a push right after `project add` must run,
        // even if it lands before the poller's first look.
        await syncMirror(url, mirror);
        project = { ...project, state: { ...project.state, refs: await listPushRefs(mirror) } };
        await this.#deps.store.projects.setState(project.id, project.state);
      }
      const poller = new RepoPoller({
        url,
        intervalMs: this.#deps.pollIntervalMs,
        // `heads` is the state of a Gantry that polled branches only.
        initialState: (project.state.refs ?? project.state.heads ?? null) as Record<string, string> | null,
        initialStateWithoutTags: project.state.refs === undefined,
        onChange: async (u) => {
          await syncMirror(url, mirror);
          const files = u.ref.startsWith('refs/tags/') ? undefined : await changedFiles(mirror, u.before, u.after).catch(() => undefined);
          await this.#deps.runs
            .trigger(project, {
              kind: 'push',
              ref: u.ref,
              sha: u.after,
              before: u.before,
              changedFiles: files,
              actor: 'trigger:poll',
              byLoop: true,
            })
            .catch((error: unknown) => {
              // The commit's gantry.yaml is invalid: recorded (run.rejected) and final for that
              // commit. Rethrown, the poller would offer it again at every poll, forever.
              if (!(error instanceof InvalidConfigError)) throw error;
            });
        },
        onTagBurst: (tags) => this.#deps.runs.ignoreTagBurst(project, tags, 'trigger:poll'),
        onState: async (refs) => {
          const { heads: _branchesOnly, ...state } = project.state;
          await this.#deps.store.projects.setState(project.id, { ...state, refs });
        },
        onError: (error) => this.#deps.warn('polling a repository failed', { project: project.name, error: error.message }),
      });
      this.#pollers.set(project.id, poller);
      poller.start();
    }
    await this.#refreshSchedules(project).catch((error: unknown) =>
      this.#deps.warn('reading schedules failed', { project: project.name, error: String(error) }),
    );
  }

  /**
   * Schedules come from the default branch's gantry.yaml. One git process (`git show
   * HEAD:gantry.yaml`): it runs after every push, beside the start of the push's own run.
   */
  async #refreshSchedules(project: Project): Promise<void> {
    const { text, file } = await readConfigAtCommit(this.#deps.runs.gitDir(project), 'HEAD');
    this.#cron.set(project.id, parseCommitConfig(text, file).pipeline.on.schedule);
  }

  async #fireSchedule(projectId: string, schedule: string): Promise<void> {
    const project = await this.#deps.store.projects.get(projectId);
    if (!project) return;
    await this.#deps.runs
      .trigger(project, { kind: 'schedule', schedule, actor: 'trigger:schedule', byLoop: true })
      .catch((error: unknown) =>
        this.#deps.warn('scheduled run failed to start', { project: project.name, schedule, error: String(error) }),
      );
  }

  async #key(): Promise<Buffer> {
    if (this.#hookKey) return this.#hookKey;
    const file = join(this.#deps.dataDir, 'hook.key');
    if (!existsSync(file)) {
      await writeFile(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
      await chmod(file, 0o600);
    }
    this.#hookKey = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    return this.#hookKey;
  }
}
