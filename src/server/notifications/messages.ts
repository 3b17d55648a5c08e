/**
 * What a notification says about an event: a one-line title and a link back to the dashboard,
 * as a Slack-compatible message (`text` with `<url|label>` links, readable in any client that
 * takes Slack's incoming-webhook format) or as Gantry's JSON webhook body.
 */
import type { Value } from '../../core/types.ts';

/** The event as queued, with the project and environment it belongs to. */
export interface NotifiedEvent {
  id: number;
  type: string;
  actor: string;
  at: string;
  data: Record<string, Value>;
  project: string | null;
  environment: string | null;
}

function str(v: Value | undefined): string {
  return v === undefined || v === null ? '' : String(v);
}

/** One line a person reads first. */
export function title(e: NotifiedEvent): string {
  const where = [e.project, e.environment].filter(Boolean).join('/');
  const d = e.data;
  switch (e.type) {
    case 'slo.alert.fired':
      return `🔥 ${where}: ${str(d.severity).toUpperCase()} — SLO '${str(d.slo)}' is burning its error budget (${Math.round(Number(d.budgetRemaining ?? 0) * 1000) / 10}% left)`;
    case 'slo.alert.resolved':
      return `✅ ${where}: resolved — SLO '${str(d.slo)}' (${str(d.severity)}) burns at a normal rate again`;
    case 'deploy.budget-override':
      return `⚠️ ${where}: deploy despite a spent error budget by ${e.actor}: ${str(d.reason)}`;
    default: {
      const subject = str(d.release ?? d.releaseId ?? d.runId ?? '');
      return `${where ? `${where}: ` : ''}${e.type}${subject ? ` ${subject}` : ''} (by ${e.actor})`;
    }
  }
}

/** Where the dashboard shows it. */
export function link(baseUrl: string, e: NotifiedEvent): string {
  if (e.project && e.environment)
    return `${baseUrl}/projects/${encodeURIComponent(e.project)}/environments/${encodeURIComponent(e.environment)}`;
  if (e.project) return `${baseUrl}/projects/${encodeURIComponent(e.project)}`;
  return `${baseUrl}/events`;
}

/** Slack's escaping for text: &, < and > only. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackMessage(baseUrl: string, e: NotifiedEvent): { text: string } {
  return { text: `${escapeSlack(title(e))} — <${link(baseUrl, e)}|open in Gantry>` };
}

export function webhookBody(baseUrl: string, e: NotifiedEvent, idempotencyKey: string): Record<string, Value> {
  return { id: idempotencyKey, title: title(e), link: link(baseUrl, e), event: e as unknown as Value };
}
