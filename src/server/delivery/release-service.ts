/**
 * Releases: immutable bundles of a commit, the artifacts of its run and its config. A release's
 * files (the commit's tree + the run's artifacts) are written once into `<data>/releases/<id>/`,
 * the directory its instances run from (read-only for them in the sandbox).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InputError, NotFoundError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { jobArtifactsDir } from '../../engine/run-paths.ts';
import { GANTRY_VERSION } from '../../core/version.ts';
import { parseStoredConfig } from '../../pipeline/stored-config.ts';
import { lockfileGraphs } from '../../scan/index.ts';
import { cycloneDxSbom } from '../../security/index.ts';
import type { EventEnvironment, Project, ReleaseRecord, RunRecord, Store } from '../../store/ports.ts';

export interface ReleaseServiceDeps {
  store: Store;
  /** Where runs keep their artifacts. */
  dataDir: string;
  /** Where release trees go (the server option `runtimeDir`; default: the data dir). */
  runtimeDir?: string;
  /** Brings a job's files into the data dir first when another server ran it (several servers); absent: they are here. */
  jobFiles?(runId: string, jobKey: string): Promise<void>;
  /** Writes the tree of a commit of the project into a directory. */
  checkout(project: Project, sha: string, dest: string): Promise<void>;
  /**
   * The commits between two commits of the project (newest first, bounded, `truncated` said), for
   * DORA's lead time. Absent: releases carry no commit list.
   */
  commitsBetween?(
    project: Project,
    from: string | null,
    to: string,
  ): Promise<{ commits: { sha: string; at: string }[]; truncated: boolean }>;
  eventEnv(): EventEnvironment;
}

export function releaseDir(dataDir: string, releaseId: string): string {
  return join(dataDir, 'releases', releaseId);
}

/** The release's CycloneDX 1.6 SBOM, written with it (GET …/releases/:release/sbom). */
export function releaseSbomFile(dataDir: string, releaseId: string): string {
  return join(releaseDir(dataDir, releaseId), 'sbom.cdx.json');
}

export class ReleaseService {
  readonly #deps: ReleaseServiceDeps;

  constructor(deps: ReleaseServiceDeps) {
    this.#deps = deps;
  }

  get #releasesRoot(): string {
    return this.#deps.runtimeDir ?? this.#deps.dataDir;
  }

  /** A release from a successful run (default: the project's newest successful run). */
  async create(project: Project, o: { runId?: string; actor: string }): Promise<ReleaseRecord> {
    const { store } = this.#deps;
    const run = o.runId
      ? await store.runs.get(o.runId)
      : (await store.runs.list({ projectId: project.id, status: ['success'], limit: 1 }))[0];
    if (!run)
      throw new NotFoundError(o.runId ? `run ${o.runId} does not exist` : `project ${project.name} has no successful run to release yet`);
    if (run.projectId !== project.id) throw new InputError(`run ${run.id} belongs to another project`);
    if (run.status !== 'success')
      throw new ConflictError(`run ${run.id} did not succeed (${run.status}): only a successful run can be released`);
    const config = parseStoredConfig(run.configText);
    if (!config.service) throw new InputError(`the gantry.yaml of run ${run.id} has no \`service\` section: there is nothing to release`);
    const id = newId();
    const base = (await store.releases.list(project.id, 1))[0] ?? null;
    const listed = await this.#commitsSince(project, base?.sha ?? null, run.event.sha);
    const target = releaseDir(this.#releasesRoot, id);
    await this.#deps.checkout(project, run.event.sha, target);
    await this.#collectArtifacts(run, target);
    try {
      await this.#writeSbom(project, id, run, target);
      const release = await store.releases.create({
        id,
        projectId: project.id,
        runId: run.id,
        sha: run.event.sha,
        ref: run.event.ref,
        configText: run.configText,
        configHash: createHash('sha256').update(run.configText).digest('hex').slice(0, 16),
        artifactsPath: join('releases', id),
        createdBy: o.actor,
      });
      await store.events.append({
        type: 'release.created',
        subject: `release:${release.id}`,
        actor: o.actor,
        data: {
          releaseId: release.id,
          number: release.number,
          projectId: project.id,
          runId: run.id,
          sha: run.event.sha,
          // What DORA's lead time reads (docs/dora.md): the commits since the previous release.
          baseReleaseId: base?.id ?? null,
          ...(listed ? { commits: listed.commits, commitsTruncated: listed.truncated } : {}),
        },
        env: { ...this.#deps.eventEnv(), commit: run.event.sha, configHash: release.configHash },
      });
      return release;
    } catch (error) {
      await rm(target, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * The SBOM of the release's tree (its lockfiles, artifacts included), written once with it: the
   * document says what was released, so it is never regenerated later from other files.
   */
  async #writeSbom(project: Project, releaseId: string, run: RunRecord, target: string): Promise<void> {
    const { graphs } = await lockfileGraphs(target);
    const sbom = cycloneDxSbom(graphs, {
      subject: { name: project.name, version: run.event.sha.slice(0, 12), ref: `gantry:release/${releaseId}` },
      tool: { name: 'Gantry', version: GANTRY_VERSION },
      serialNumber: randomUUID(),
      timestamp: new Date().toISOString(),
    });
    await writeFile(releaseSbomFile(this.#releasesRoot, releaseId), `${JSON.stringify(sbom, null, 2)}\n`);
  }

  /** Never fails a release: without the list, DORA shows the release's lead time as unknown. */
  async #commitsSince(
    project: Project,
    from: string | null,
    to: string,
  ): Promise<{ commits: { sha: string; at: string }[]; truncated: boolean } | null> {
    if (!this.#deps.commitsBetween) return null;
    try {
      return await this.#deps.commitsBetween(project, from, to);
    } catch {
      return null;
    }
  }

  /** Where a release's SBOM is; a release made before SBOMs were written has none there. */
  sbomFile(release: ReleaseRecord): string {
    return releaseSbomFile(this.#releasesRoot, release.id);
  }

  /**
   * By id, by number within the project (`3` or `#3`), or by the tag it was made from (`v1.2.0`
   * or `refs/tags/v1.2.0`: the newest release of that tag).
   */
  async require(project: Project, idOrNumber: string): Promise<ReleaseRecord> {
    const releases = this.#deps.store.releases;
    const number = /^#?(\d+)$/.exec(idOrNumber)?.[1];
    let release = number ? await releases.getByNumber(project.id, Number(number)) : await releases.get(idOrNumber);
    if (!number && (!release || release.projectId !== project.id)) {
      const tag = idOrNumber.startsWith('refs/') ? idOrNumber : `refs/tags/${idOrNumber}`;
      release = await releases.latestOfRef(project.id, tag);
    }
    if (!release || release.projectId !== project.id)
      throw new NotFoundError(
        `release ${idOrNumber} of ${project.name} does not exist: name it by number, id or tag (see \`gantry release list ${project.name}\`)`,
      );
    return release;
  }

  /**
   * The commit's tree with every job's artifacts laid over it at their relative paths (as the
   * jobs of the run saw them): a service runs from its sources and what the pipeline built.
   */
  async #collectArtifacts(run: RunRecord, target: string): Promise<void> {
    await mkdir(target, { recursive: true });
    for (const job of await this.#deps.store.runs.jobs(run.id)) {
      await this.#deps.jobFiles?.(job.reusedFromRunId ?? run.id, job.key);
      const from = jobArtifactsDir(this.#deps.dataDir, job.reusedFromRunId ?? run.id, job.key);
      if (existsSync(from)) await cp(from, target, { recursive: true, force: true, verbatimSymlinks: true });
    }
  }
}
