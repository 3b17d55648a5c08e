/**
 * Generated delivery histories as the server's event log writes them (the same types, subjects
 * and data), with times in hours after T0, so tests state their known answers in hours.
 */
import type { LogEvent } from '../../src/dora/index.ts';

export const T0 = Date.parse('2026-11-01T00:00:00Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const at = (hours: number): number => T0 + hours * HOUR;
const iso = (hours: number): string => new Date(at(hours)).toISOString();

export class HistoryBuilder {
  readonly events: LogEvent[] = [];
  #releaseNumbers = new Map<string, number>();
  #lastRelease: string | null = null;

  readonly projectId: string;
  readonly environment: string;

  constructor(projectId = 'p1', environment = 'production') {
    this.projectId = projectId;
    this.environment = environment;
  }

  #push(hours: number, type: string, subject: string, data: Record<string, unknown>, actor = 'server'): this {
    this.events.push({ id: this.events.length + 1, type, subject, actor, at: iso(hours), data });
    return this;
  }

  /** A release whose commits (sha, committed at hour) were listed since the project's previous release. */
  release(hours: number, releaseId: string, commits: [string, number][], o: { truncated?: boolean } = {}): this {
    const number = this.#releaseNumbers.size + 1;
    this.#releaseNumbers.set(releaseId, number);
    const base = this.#lastRelease;
    this.#lastRelease = releaseId;
    return this.#push(hours, 'release.created', `release:${releaseId}`, {
      releaseId,
      number,
      projectId: this.projectId,
      runId: `run-${releaseId}`,
      sha: commits.at(-1)?.[0] ?? 'none',
      baseReleaseId: base,
      commits: commits.map(([sha, h]) => ({ sha, at: iso(h) })),
      commitsTruncated: o.truncated === true,
    });
  }

  rollout(
    hours: number,
    rolloutId: string,
    releaseId: string,
    o: { kind?: 'deploy' | 'rollback'; actor?: string; environment?: string } = {},
  ): this {
    return this.#push(
      hours,
      'rollout.created',
      `rollout:${rolloutId}`,
      {
        rolloutId,
        projectId: this.projectId,
        environment: o.environment ?? this.environment,
        releaseId,
        releaseNumber: this.#releaseNumbers.get(releaseId) ?? 0,
        previousReleaseId: null,
        strategy: 'canary',
        kind: o.kind ?? 'deploy',
      },
      o.actor ?? 'api:ci',
    );
  }

  phase(hours: number, rolloutId: string, phase: string, from: string): this {
    return this.#push(hours, `rollout.phase.${phase}`, `rollout:${rolloutId}`, {
      rolloutId,
      environment: this.environment,
      from,
      weights: {},
      reason: null,
    });
  }

  /** A rollout that went live: created at `start`, progressing, succeeded at `end`. */
  deploy(start: number, end: number, rolloutId: string, releaseId: string, o: { kind?: 'deploy' | 'rollback'; actor?: string } = {}): this {
    return this.rollout(start, rolloutId, releaseId, o)
      .phase(start, rolloutId, 'progressing', 'starting')
      .phase(end, rolloutId, 'succeeded', 'promoting');
  }

  /** A canary that took traffic and was rolled back: by the analysis (`rolled-back`) or aborted by hand (`aborted`). */
  canaryRolledBack(
    start: number,
    back: number,
    end: number,
    rolloutId: string,
    releaseId: string,
    ending: 'rolled-back' | 'aborted' = 'rolled-back',
  ): this {
    return this.rollout(start, rolloutId, releaseId)
      .phase(start, rolloutId, 'progressing', 'starting')
      .phase(back, rolloutId, 'rolling-back', 'progressing')
      .phase(end, rolloutId, ending, 'rolling-back');
  }

  stop(hours: number): this {
    return this.#push(
      hours,
      'environment.stopped',
      `environment:${this.projectId}/${this.environment}`,
      {
        projectId: this.projectId,
        environment: this.environment,
      },
      'cli',
    );
  }

  incident(hours: number, o: { experiment?: string; environment?: string; releaseId?: string } = {}): this {
    return this.#push(
      hours,
      'incident.opened',
      `environment:${this.projectId}/${o.environment ?? this.environment}`,
      {
        title: 'down',
        severity: 'sev2',
        ...(o.experiment ? { experiment: o.experiment } : {}),
        ...(o.releaseId ? { releaseId: o.releaseId } : {}),
      },
      'alert',
    );
  }

  mitigate(hours: number, number: number): this {
    return this.#push(
      hours,
      'incident.mitigated',
      `environment:${this.projectId}/${this.environment}`,
      { number, ttaMs: null, ttrMs: 0 },
      'cli',
    );
  }
}
