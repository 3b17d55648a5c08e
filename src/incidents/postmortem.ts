/**
 * A postmortem draft in Markdown, in the shape of the SRE book's example postmortem: summary,
 * impact, timeline, the changes before it, what went well and badly left for people to write,
 * and action items. Gantry fills what it knows (times, events, numbers) and leaves prompts for
 * what only people know.
 */
import type { Incident } from './incident-machine.ts';
import { incidentTimes } from './incident-machine.ts';

export interface TimelineEntry {
  at: number;
  /** e.g. `slo.alert.fired`, `rollout.finished`, `note`. */
  kind: string;
  text: string;
  by?: string;
}

export interface PostmortemInput {
  incident: Incident;
  project: string;
  timeline: readonly TimelineEntry[];
  /** Deploys and config changes in the hours before it opened, newest first. */
  changesBefore: readonly TimelineEntry[];
  impact: { failedRequests: number; totalRequests: number; budgetBurned: number | null } | null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function minutes(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Table cells must not break the table. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function postmortemMarkdown(input: PostmortemInput): string {
  const { incident: i, project } = input;
  const { ttaMs, ttrMs } = incidentTimes(i);
  const where = i.environment === null ? project : `${project}/${i.environment}`;
  const lines: string[] = [
    `# Postmortem: ${i.title}`,
    '',
    `Incident #${i.number} in ${where} · ${i.severity} · ${i.state}${i.owner ? ` · owner ${i.owner}` : ''}`,
    '',
    '_Draft written by Gantry from its event log; edit freely. Blameless: describe what happened and why the system allowed it, not who._',
    '',
    '## Summary',
    '',
    `Opened ${iso(i.openedAt)} by ${i.openedBy}; acknowledged after ${minutes(ttaMs)}, mitigated after ${minutes(ttrMs)}${i.resolvedAt === null ? '' : `, resolved ${iso(i.resolvedAt)}`}.`,
    '',
    '> What happened, in two or three sentences.',
    '',
    '## Impact',
    '',
  ];
  if (input.impact === null) lines.push('> Who was affected and how (no request figures were measured for this environment).');
  else {
    const share = input.impact.totalRequests > 0 ? (100 * input.impact.failedRequests) / input.impact.totalRequests : 0;
    lines.push(
      `- Requests failed while it was open: ${input.impact.failedRequests} of ${input.impact.totalRequests} (${share.toFixed(2)}%).`,
      `- Error budget burned: ${input.impact.budgetBurned === null ? '—' : `${(input.impact.budgetBurned * 100).toFixed(1)}% of the period's budget`}.`,
    );
  }
  lines.push('', '## Timeline (UTC)', '', '| time | what | by |', '|---|---|---|');
  for (const e of input.timeline) lines.push(`| ${iso(e.at)} | ${cell(e.text)} | ${cell(e.by ?? '')} |`);
  lines.push('', '## Changes before it', '');
  if (input.changesBefore.length === 0) lines.push('No deploys or configuration changes in the hours before.');
  else for (const c of input.changesBefore) lines.push(`- ${iso(c.at)} ${c.text}${c.by ? ` (by ${c.by})` : ''}`);
  lines.push(
    '',
    '## Root cause',
    '',
    '> Why it happened, and why the safeguards (tests, canary analysis, alerts) did not stop it sooner.',
    '',
    '## What went well / badly / where we were lucky',
    '',
    '> …',
    '',
    '## Action items',
    '',
    '| action | type (prevent, detect, mitigate) | owner | issue |',
    '|---|---|---|---|',
    '|  |  |  |  |',
    '',
  );
  return lines.join('\n');
}
