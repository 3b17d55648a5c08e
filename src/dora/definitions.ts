/**
 * What each DORA number means in Gantry, written once: docs/dora.md carries the same text
 * (test/dora/definitions.test.ts checks that it does), and the code that computes each number
 * points here. Sources: DORA's guide to the metrics (https://dora.dev/guides/dora-metrics/) and
 * the 2024 Accelerate State of DevOps report (https://dora.dev/research/2024/dora-report/).
 */

export type DoraMetricKey = 'deploymentFrequency' | 'leadTime' | 'changeFailureRate' | 'recoveryTime' | 'reworkRate';

export interface DoraDefinition {
  readonly key: DoraMetricKey;
  readonly name: string;
  /** Gantry's definition, in one paragraph, as docs/dora.md shows it. */
  readonly definition: string;
}

/** One table, in the order the CLI, the API and the dashboard show the metrics. */
export const DORA_DEFINITIONS: readonly DoraDefinition[] = [
  {
    key: 'deploymentFrequency',
    name: 'Deployment frequency',
    definition:
      'The number of deployments to the environment that finished in the window, divided by the days of the window. A deployment is a rollout of a release other than the one running, that is not a rollback, and that reached users: it ended succeeded, or it sent traffic to the new release and was then rolled back (automatically or by hand). Rollouts that failed or were aborted before any traffic reached the new release, redeploys of the release already running, rollbacks and rollouts ended by stopping the environment are not deployments.',
  },
  {
    key: 'leadTime',
    name: 'Lead time for changes',
    definition:
      "For each commit, the time from its committer date to the end of the first deployment that put it on all of the environment's traffic (a succeeded deployment). A deployment carries every commit of its release not yet live in the environment, including those of earlier releases that never went live there. The median and the 90th percentile over the commits of the deployments that finished in the window (linear interpolation between ranks). A commit dated after its deployment (clock skew) counts as zero and is flagged.",
  },
  {
    key: 'changeFailureRate',
    name: 'Change failure rate',
    definition:
      'Failed deployments divided by deployments, over the deployments that finished in the window. A deployment failed when it was rolled back during its rollout (by the analysis or by hand), when a rollback replaced it while it was the running release, or when an incident of the environment was opened while it was rolling out or running (or an incident names its release). Incidents opened by chaos experiments are not failures.',
  },
  {
    key: 'recoveryTime',
    name: 'Failed deployment recovery time',
    definition:
      "For each failed deployment of the window, from the failure's start (the rollout's start if it was rolled back during its rollout, else the moment it went live) to the service restored: its rollback finished, a later deployment went live, or every incident linked to it was mitigated. The median over the failed deployments that recovered; a failure still open, or ended by stopping the environment, has no recovery time and is listed as such.",
  },
  {
    key: 'reworkRate',
    name: 'Deployment rework rate',
    definition:
      "Rework deployments divided by deployments, over the deployments that finished in the window. A deployment is rework (unplanned, made because of a failure) when its rollout started while an incident of the environment was open or a failed deployment had not recovered. The 2024 report's performance table does not rate it, so it has no tier.",
  },
];

export type DoraTier = 'elite' | 'high' | 'medium' | 'low';

/**
 * The 2024 report's software delivery performance clusters (its "Performance levels" table):
 * what each cluster's typical team achieves. Tiers are shown beside the numbers, never instead.
 */
export const DORA_2024_CLUSTERS: Readonly<Record<DoraTier, Readonly<Record<Exclude<DoraMetricKey, 'reworkRate'>, string>>>> = {
  elite: {
    deploymentFrequency: 'on demand (multiple deploys per day)',
    leadTime: 'less than one day',
    changeFailureRate: '5%',
    recoveryTime: 'less than one hour',
  },
  high: {
    deploymentFrequency: 'between once per day and once per week',
    leadTime: 'between one day and one week',
    changeFailureRate: '20%',
    recoveryTime: 'less than one day',
  },
  medium: {
    deploymentFrequency: 'between once per week and once per month',
    leadTime: 'between one week and one month',
    changeFailureRate: '10%',
    recoveryTime: 'less than one day',
  },
  low: {
    deploymentFrequency: 'between once per month and once every six months',
    leadTime: 'between one month and six months',
    changeFailureRate: '40%',
    recoveryTime: 'between one week and one month',
  },
};

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * A metric's tier is the best cluster whose typical value the number matches or beats. The 2024
 * clusters are not monotonic in every metric (medium's 10% change failure rate is below high's
 * 20%; medium and high both recover in under a day), so some tiers are never reached by one
 * metric alone: a change failure rate of 8% is `high`, a recovery of two days is `low`.
 */
export const TIER_RULES: Readonly<Record<Exclude<DoraMetricKey, 'reworkRate'>, string>> = {
  deploymentFrequency: 'elite: more than one per day; high: at least one per week; medium: at least one per 30 days; low: fewer',
  leadTime: 'elite: under one day; high: one week or less; medium: 30 days or less; low: longer',
  changeFailureRate: 'elite: 5% or less; high: 20% or less; low: more (medium, 10%, is never better than high here)',
  recoveryTime: 'elite: under one hour; high: under one day; low: one day or more (medium is also "under one day")',
};

/** Deployments per day → tier (null when there were none: no number, no tier). */
export function frequencyTier(perDay: number): DoraTier | null {
  if (perDay <= 0) return null;
  if (perDay > 1) return 'elite';
  if (perDay >= 1 / 7) return 'high';
  if (perDay >= 1 / 30) return 'medium';
  return 'low';
}

export function leadTimeTier(medianMs: number | null): DoraTier | null {
  if (medianMs === null) return null;
  if (medianMs < DAY) return 'elite';
  if (medianMs <= 7 * DAY) return 'high';
  if (medianMs <= 30 * DAY) return 'medium';
  return 'low';
}

export function changeFailureTier(rate: number | null): DoraTier | null {
  if (rate === null) return null;
  if (rate <= 0.05) return 'elite';
  if (rate <= 0.2) return 'high';
  return 'low';
}

export function recoveryTier(medianMs: number | null): DoraTier | null {
  if (medianMs === null) return null;
  if (medianMs < HOUR) return 'elite';
  if (medianMs < DAY) return 'high';
  return 'low';
}
