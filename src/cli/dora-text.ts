/**
 * `gantry dora` as text: per project, each metric with its tier beside it and the previous
 * window's value (the trend), then the rollouts behind the numbers, so a person can check them.
 */
import { type DoraTier, frequencyText, type RolloutRow, rateText } from '../dora/index.ts';
import type { DoraAnswer } from '../server/index.ts';
import { bold, dim, green, red, yellow } from './output.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** 45s, 12m, 3h20m, 2d4h: lead and recovery times span seconds to months. */
export function span(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  if (ms < HOUR) return `${Math.round(ms / 60_000)}m`;
  if (ms < DAY) {
    const minutes = Math.round((ms % HOUR) / 60_000);
    return `${Math.floor(ms / HOUR)}h${minutes > 0 ? `${minutes}m` : ''}`;
  }
  const hours = Math.round((ms % DAY) / HOUR);
  return `${Math.floor(ms / DAY)}d${hours > 0 ? `${hours}h` : ''}`;
}

function tier(t: DoraTier | null): string {
  if (t === null) return dim('—'.padEnd(6));
  const text = t.padEnd(6);
  if (t === 'elite' || t === 'high') return green(text);
  return t === 'medium' ? yellow(text) : red(text);
}

const day = (ms: number | null): string => (ms === null ? '—'.padEnd(16) : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));

function rolloutLine(r: RolloutRow): string {
  const leadTimes = r.commits.map((c) => c.leadTimeMs).sort((a, b) => a - b);
  const lead = leadTimes.length === 0 ? '—' : span(leadTimes[Math.floor((leadTimes.length - 1) / 2)] ?? null);
  const commits = `${r.commits.length}${r.commitsTruncated ? '+' : ''}${r.commits.some((c) => c.skewed) ? ' (skew)' : ''}`;
  const failure = r.failure
    ? `${red('failed')}: ${r.failure.causes.join(', ')}; ${
        r.failure.recoveredAt === null
          ? (r.failure.recoveredBy ?? 'not recovered')
          : `restored in ${span(r.failure.recoveredAt - r.failure.startedAt)} (${r.failure.recoveredBy})`
      }`
    : '';
  const counted = r.counted ? (r.rework ? 'rework' : 'deploy') : dim('-');
  return `  ${day(r.finishedAt)}  ${r.rolloutId.slice(0, 12).padEnd(12)}  #${String(r.releaseNumber ?? '?').padEnd(4)} ${(r.outcome ?? 'under way').padEnd(11)} ${counted.padEnd(6)}  ${commits.padEnd(8)} ${lead.padEnd(8)} ${failure || dim(r.note ?? '')}\n`;
}

export function doraText(answer: DoraAnswer): string {
  let out = '';
  for (const r of answer.reports) {
    const n = r.numbers;
    const p = r.previous;
    out += `${bold(`${r.projectName} · ${r.environment} · ${day(r.window.from)} → ${day(r.window.to)} UTC`)}\n`;
    const rows: [string, string, string, string][] = [
      [
        'deployment frequency',
        `${frequencyText(n)} (${n.deployments})`,
        tier(r.tiers.deploymentFrequency),
        `${frequencyText(p)} (${p.deployments})`,
      ],
      [
        'lead time for changes',
        `median ${span(n.leadTime.medianMs)}, p90 ${span(n.leadTime.p90Ms)} (${n.leadTime.commits} commits)`,
        tier(r.tiers.leadTime),
        `median ${span(p.leadTime.medianMs)}`,
      ],
      [
        'change failure rate',
        `${rateText(n.changeFailure.rate)} (${n.changeFailure.failed} of ${n.deployments})`,
        tier(r.tiers.changeFailureRate),
        rateText(p.changeFailure.rate),
      ],
      [
        'failed deploy recovery',
        `median ${span(n.recovery.medianMs)} (${n.recovery.recovered} recovered${n.recovery.notRecovered > 0 ? `, ${n.recovery.notRecovered} not` : ''})`,
        tier(r.tiers.recoveryTime),
        `median ${span(p.recovery.medianMs)}`,
      ],
      ['rework rate', `${rateText(n.rework.rate)} (${n.rework.deployments} of ${n.deployments})`, tier(null), rateText(p.rework.rate)],
    ];
    out += dim(`  ${'metric'.padEnd(24)}${'value'.padEnd(48)}${'tier'.padEnd(8)}previous window\n`);
    for (const [name, value, t, previous] of rows)
      out += `  ${name.padEnd(24)}${value.padEnd(48)}${t}${' '.repeat(Math.max(2, 8 - 6))}${dim(previous)}\n`;
    if (r.rollouts.length > 0) {
      out += dim(
        `\n  ${'finished (UTC)'.padEnd(16)}  ${'rollout'.padEnd(12)}  release outcome     counts  commits  lead     failure / why not counted\n`,
      );
      for (const rollout of r.rollouts) out += rolloutLine(rollout);
    }
    if (r.incidents.length > 0)
      out += `  incidents: ${r.incidents.map((i) => `#${i.number}${i.experiment ? ' (experiment)' : ''}${i.rolloutId ? ` → ${i.rolloutId.slice(0, 12)}` : ''}`).join(', ')}\n`;
    out += '\n';
  }
  if (answer.reports.length === 0) out += 'no projects\n';
  return out;
}
