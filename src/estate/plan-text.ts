/**
 * The plan as a person reads it, like `terraform plan`: one line per change (+ create, ~ update,
 * - delete) with before → after, drift marked, notes on secrets, and a summary line.
 */
import type { EnvironmentProtection, ProtectionWindow } from '../core/protection.ts';
import type { EstateChannel, SecretRef } from './channel-schema.ts';
import { countChanges, type EstateChange, type EstatePlan } from './plan-estate.ts';

const SIGN = { create: '+', update: '~', delete: '-' } as const;

export function planText(
  plan: EstatePlan,
  paint: { add(s: string): string; change(s: string): string; remove(s: string): string } = plain,
): string {
  const lines: string[] = [];
  for (const c of plan.changes) {
    const color = c.action === 'create' ? paint.add : c.action === 'update' ? paint.change : paint.remove;
    const drift = c.drift ? '   (drift: changed on the server since the last apply)' : '';
    lines.push(color(`${SIGN[c.action]} ${headline(c)}`) + drift);
    for (const detail of details(c)) lines.push(`      ${detail}`);
  }
  for (const s of plan.secrets) {
    for (const name of s.missing) lines.push(`! ${s.project}: secret ${name} has no value: \`gantry secret set ${s.project} ${name}\``);
    for (const name of s.undeclared) lines.push(`! ${s.project}: secret ${name} is set on the server but not declared`);
  }
  const n = countChanges(plan);
  if (plan.changes.length === 0) lines.push('No changes: the server matches the platform folder.');
  else
    lines.push(
      '',
      `Plan: ${n.create} to create, ${n.update} to update, ${n.delete} to delete${n.drift > 0 ? ` (${n.drift} drifted: apply reverts them, \`gantry platform adopt\` keeps them)` : ''}.`,
    );
  return `${lines.join('\n')}\n`;
}

const plain = { add: (s: string) => s, change: (s: string) => s, remove: (s: string) => s };

function headline(c: EstateChange): string {
  switch (c.kind) {
    case 'project':
      return `project ${c.project} (not registered on the server: \`gantry project add PATH --name ${c.project}\` first)`;
    case 'group':
      return `group ${c.group}: ${list(c.before)} → ${list(c.after)}`;
    case 'member': {
      const where = c.environment === undefined ? c.project : `${c.project}/${c.environment}`;
      return `${where}: member ${c.subject} ${c.before ?? 'none'} → ${c.after ?? 'none'}`;
    }
    case 'protection':
      return `${c.project}/${c.environment}: protection`;
    case 'security-policy':
      return `${c.project}: security policy ${compact(c.before)} → ${compact(c.after)}`;
    case 'channel': {
      const shown = (c.after ?? c.before) as EstateChannel;
      return `${c.project}: channel ${c.channel} (${shown.type}${c.action === 'update' ? '' : `, url from ${ref(shown.url, c.project)}`})`;
    }
  }
}

/** Where a credential comes from, never its value. */
function ref(r: SecretRef | null | undefined, project: string | undefined): string {
  if (r === null || r === undefined) return 'none';
  return r.secret === null ? `a value that no secret of ${project} holds (set by hand, or the secret was set anew)` : `secret ${r.secret}`;
}

function channelDetails(c: EstateChange): string[] {
  if (c.action !== 'update') return [];
  const before = c.before as EstateChannel;
  const after = c.after as EstateChannel;
  const out: string[] = [];
  if (before.type !== after.type) out.push(`type: ${before.type} → ${after.type}`);
  const fields = [
    ['url', ref(before.url, c.project), ref(after.url, c.project)],
    ['signing key', ref(before.signingKey, c.project), ref(after.signingKey, c.project)],
    ['events', listOrAll(before.events), listOrAll(after.events)],
    ['environments', listOrAll(before.environments), listOrAll(after.environments)],
    ['severities', listOrAll(before.severities), listOrAll(after.severities)],
  ];
  for (const [what, b, a] of fields) if (b !== a) out.push(`${what}: ${b} → ${a}`);
  return out;
}

function listOrAll(value: string[] | null | undefined): string {
  return value ? value.join(', ') : 'all';
}

function details(c: EstateChange): string[] {
  if (c.kind === 'channel') return channelDetails(c);
  if (c.kind !== 'protection') return [];
  const before = (c.before ?? {}) as EnvironmentProtection;
  const after = (c.after ?? {}) as EnvironmentProtection;
  const out: string[] = [];
  const a = [approvals(before), approvals(after)];
  if (a[0] !== a[1]) out.push(`approvals: ${a[0]} → ${a[1]}`);
  const w = [windows(before), windows(after)];
  if (w[0] !== w[1]) out.push(`windows: ${w[0]} → ${w[1]}`);
  return out;
}

function approvals(p: EnvironmentProtection): string {
  if (!p.approvals) return 'none';
  return `${p.approvals.count}${p.approvals.group ? ` from ${p.approvals.group}` : ''}`;
}

function windows(p: EnvironmentProtection): string {
  if (!p.windows) return 'none';
  const w = (x: ProtectionWindow) => `${x.days.join(',')} ${x.from}–${x.to}`;
  const parts = [
    ...(p.windows.allow?.length ? [`allow ${p.windows.allow.map(w).join(', ')}`] : []),
    ...(p.windows.deny?.length ? [`deny ${p.windows.deny.map(w).join(', ')}`] : []),
  ];
  return `${p.windows.timezone} ${parts.join('; ')}`;
}

function list(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? `[${value.join(', ')}]` : '[]';
}

function compact(value: unknown): string {
  return value === null || value === undefined ? 'none' : JSON.stringify(value);
}
