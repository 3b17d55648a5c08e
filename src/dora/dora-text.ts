/** How DORA's numbers read, the same in the CLI and on the dashboard. */
import type { DoraNumbers } from './dora-report.ts';

/** `3.5 a day` at a daily pace or more, else `1.4 a week`; `0` without deployments. */
export function frequencyText(n: DoraNumbers): string {
  if (n.deployments === 0) return '0';
  const perDay = n.deploymentsPerDay;
  return perDay >= 1 ? `${Math.round(perDay * 10) / 10} a day` : `${Math.round(perDay * 70) / 10} a week`;
}

/** A rate as a percentage with one decimal (`57.1%`), `—` when there is no rate. */
export function rateText(rate: number | null): string {
  return rate === null ? '—' : `${Math.round(rate * 1000) / 10}%`;
}
