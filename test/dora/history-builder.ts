/**
 * Generated delivery histories as the server's event log writes them (the same types, subjects
 * and data), with times in hours after T0, so tests state their known answers in hours.
 */
import type { LogEvent } from '../../src/dora/index.ts';

export const T0 = Date.parse('2026-11-01T00:00:00Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const at = (hours: number): number => T0 + hours * HOUR;

export class HistoryBuilder {
  readonly events: LogEvent[] = [];
  #releaseNumbers = new Map<string, number>();
  #lastRelease: string | null = null;

  readonly projectId: string;
  readonly environment: string;
  /** Hour 0 of this history. */
  readonly t0: number;

  constructor(projectId = 'p1', environment = 'production', t0 = T0) {
    this.projectId = projectId;
    this.environment = environment;
    this.t0 = t0;
  }

  at(hours: number): number {
    return this.t0 + hours * HOUR;
  }

  #iso(hours: number): string {
    return new Date(this.at(hours)).toISOString();
  }

  #push(hours: number, type: string, subject: string, data: Record<string, unknown>, actor = 'server'): this {
    this.events.push({ id: this.events.length + 1, type, subject, actor, at: this.#iso(hours), data });
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
      commits: commits.map(([sha, h]) => ({ sha, at: this.#iso(h) })),
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

/**
 * Every edge case of docs/dora.md in one history (hours after t0), with its answers worked out
 * by hand in EDGE_CASE_ANSWERS: the same history checks the core, the store and the API.
 */
export function edgeCaseHistory(h: HistoryBuilder): HistoryBuilder {
  return h
    .release(0.5, 'r1', [
      ['a', 0],
      ['b', 1],
    ])
    .deploy(2, 3, 'd1', 'r1') // a 3 h, b 2 h
    .release(4, 'r2', [['c', 4]])
    .deploy(4, 5, 'd2', 'r2') // c 1 h
    .deploy(6, 6.5, 'back', 'r1', { kind: 'rollback' }) // d2 failed (rolled back by hand), recovered in 1.5 h
    .deploy(7, 7.25, 'back-again', 'r2', { kind: 'rollback' }) // a rollback of the rollback: fails nothing
    .deploy(8, 8.5, 'again', 'r2') // a redeploy of the running release: not a deployment
    .release(9, 'r3', [['d', 9]])
    .canaryRolledBack(10, 10.2, 10.5, 'bad', 'r3') // failed, recovered in 0.5 h
    .release(11, 'r4', [['e', 11]])
    .canaryRolledBack(12, 12.1, 12.2, 'aborted-late', 'r4', 'aborted') // aborted by hand after traffic: failed, 0.2 h
    .rollout(13, 'aborted-early', 'r4')
    .phase(13.1, 'aborted-early', 'aborted', 'pending-approval') // never reached users: not a deployment
    .release(14, 'r5', [
      ['f', 14],
      ['skewed', 30],
    ])
    .deploy(15, 16, 'd5', 'r5') // d 7 h, e 5 h, f 2 h, skewed 0 h (its date is after the deploy)
    .incident(17) // #1: d5 failed from 16 h
    .incident(17.5, { experiment: 'slow-db' }) // #2: a chaos experiment, not a failed change
    .release(18, 'r6', []) // no new commits
    .deploy(18, 19, 'fix', 'r6') // rework (incident #1 open); live at 19 h restores d5: 3 h
    .mitigate(20, 1)
    .stop(21)
    .release(22, 'r7', [['g', 22]])
    .deploy(23, 24, 'd7', 'r7'); // g 2 h
}

/** The answers for edgeCaseHistory over a window that holds all of it. */
export const EDGE_CASE_ANSWERS = {
  counted: ['d1', 'd2', 'bad', 'aborted-late', 'd5', 'fix', 'd7'],
  failed: ['d2', 'bad', 'aborted-late', 'd5'],
  // Lead times 0, 1, 2, 2, 2, 3, 5, 7 h: median (2 + 2) / 2; p90 at rank 6.3 → 5 + 0.3 × 2.
  leadTime: { commits: 8, medianMs: 2 * HOUR, p90Ms: 5.6 * HOUR },
  changeFailure: { failed: 4, rate: 4 / 7 },
  // Recoveries 0.2, 0.5, 1.5, 3 h: median (0.5 + 1.5) / 2.
  recovery: { recovered: 4, notRecovered: 0, medianMs: 1 * HOUR },
  rework: { deployments: 1, rate: 1 / 7 },
};
