/**
 * The event-log query behind the replay of a missed slot (experiment-scheduler.ts): when the
 * schedule last started an experiment in an environment. Only starts recorded by the schedule
 * count — a run by hand does not hold that day's game day — and only of that experiment in that
 * very environment (`prod` is a prefix of `prod-eu`'s subject, so the subject is compared whole).
 */
import type { EventStore } from '../../store/ports.ts';
import { SCHEDULE_ACTOR } from './experiment-scheduler.ts';

/** How many of the environment's scheduled starts are looked through, newest first. */
const STARTS_LOOKED_AT = 200;

/** Epoch ms of the schedule's last start of `experiment` in `environment`; null when it never started it. */
export async function lastScheduledStart(
  events: EventStore,
  projectId: string,
  environment: string,
  experiment: string,
): Promise<number | null> {
  const subject = `environment:${projectId}/${environment}`;
  const starts = await events.list({
    type: 'experiment.started',
    actor: SCHEDULE_ACTOR,
    subjectPrefix: subject,
    newestFirst: true,
    limit: STARTS_LOOKED_AT,
  });
  const last = starts.find((e) => e.subject === subject && e.data.name === experiment);
  return last === undefined ? null : Date.parse(last.at);
}
