/** Incidents' pure core: the lifecycle state machine, TTA/TTR, and the postmortem draft. No I/O. */
export { applyIncidentAction, INCIDENT_STATES, incidentTimes, median } from './incident-machine.ts';
export type { Incident, IncidentAction, IncidentSeverity, IncidentState } from './incident-machine.ts';
export { postmortemMarkdown } from './postmortem.ts';
export type { PostmortemInput, TimelineEntry } from './postmortem.ts';
