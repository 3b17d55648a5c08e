/**
 * Which agent holds which job, as a pure function of state and event (docs/decisions/0036).
 *
 * A job waiting for an agent is offered to pollers whose labels cover its `runs-on`; the first
 * one gets it under a lease that expires `leaseMs` after the agent's last renewal. Every grant
 * carries a fencing token, one more than the job's previous grant: a report (log, renewal,
 * result) is accepted only with the job's current token, so an agent that lost its lease (killed,
 * cut off, paused) can never write into the attempt that replaced it. A lease that expires puts
 * the job back in the queue with the agent remembered as lost for it, and another live agent is
 * preferred.
 *
 * The reducer does no I/O and reads no clock: times arrive in events. The shell (server/agents)
 * persists each grant before answering the poll and carries out the commands.
 */

export interface LeaseBookOptions {
  /** How long a lease lasts without a renewal. */
  leaseMs: number;
}

export interface WaitingJob {
  /** `<runId>/<jobKey>`: one entry per job, whatever its attempt. */
  id: string;
  runsOn: readonly string[];
  /** The last fencing token granted for this job (0: never granted). */
  fence: number;
  /** Agents that lost a lease of this job: others are preferred. */
  lostOn: readonly string[];
}

export interface Lease {
  jobId: string;
  agentId: string;
  fence: number;
  expiresAt: number;
  runsOn: readonly string[];
  lostOn: readonly string[];
}

/** An agent waiting in a long poll for up to `free` jobs. */
export interface Poller {
  agentId: string;
  labels: readonly string[];
  free: number;
}

export interface LeaseBook {
  /** FIFO: the oldest offered job is granted first. */
  waiting: readonly WaitingJob[];
  leases: Readonly<Record<string, Lease>>;
  pollers: readonly Poller[];
  /** When each agent was last heard from (poll or renewal). */
  lastSeen: Readonly<Record<string, number>>;
}

export type LeaseEvent =
  | { type: 'offer'; jobId: string; runsOn: readonly string[]; fence: number; at: number }
  | { type: 'poll'; agentId: string; labels: readonly string[]; free: number; at: number }
  | { type: 'poll-ended'; agentId: string }
  | { type: 'renew'; jobId: string; agentId: string; fence: number; at: number }
  | { type: 'report'; jobId: string; agentId: string; fence: number }
  | { type: 'finish'; jobId: string; agentId: string; fence: number }
  | { type: 'withdraw'; jobId: string }
  | { type: 'tick'; at: number }
  /** The agent is gone for good (its token revoked): its leases end now, as if expired. */
  | { type: 'agent-gone'; agentId: string; at: number };

export type LeaseCommand =
  | { type: 'grant'; jobId: string; agentId: string; fence: number; expiresAt: number }
  | { type: 'expired'; jobId: string; agentId: string; fence: number }
  /** The poller got what it asked for (or some of it): answer its long poll now. */
  | { type: 'answer-poll'; agentId: string }
  | { type: 'accepted'; jobId: string; fence: number }
  | { type: 'fenced'; jobId: string; agentId: string; fence: number; current: number | null }
  /** A leased job was withdrawn (cancelled): its agent hears it on the next renewal. */
  | { type: 'revoked'; jobId: string; agentId: string; fence: number };

export interface LeaseStep {
  book: LeaseBook;
  commands: LeaseCommand[];
}

export const EMPTY_LEASE_BOOK: LeaseBook = { waiting: [], leases: {}, pollers: [], lastSeen: {} };

/** Labels a job asks for are all carried by the agent. */
export function labelsCover(agentLabels: readonly string[], runsOn: readonly string[]): boolean {
  return runsOn.every((label) => agentLabels.includes(label));
}

export function reduceLeases(book: LeaseBook, event: LeaseEvent, options: LeaseBookOptions): LeaseStep {
  switch (event.type) {
    case 'offer': {
      if (book.leases[event.jobId] || book.waiting.some((w) => w.id === event.jobId)) return { book, commands: [] };
      const job: WaitingJob = { id: event.jobId, runsOn: event.runsOn, fence: event.fence, lostOn: [] };
      return match({ ...book, waiting: [...book.waiting, job] }, options, event.at);
    }
    case 'poll': {
      const lastSeen = { ...book.lastSeen, [event.agentId]: event.at };
      const pollers = [
        ...book.pollers.filter((p) => p.agentId !== event.agentId),
        { agentId: event.agentId, labels: event.labels, free: event.free },
      ];
      return match({ ...book, pollers, lastSeen }, options, event.at);
    }
    case 'poll-ended':
      return { book: { ...book, pollers: book.pollers.filter((p) => p.agentId !== event.agentId) }, commands: [] };
    case 'renew': {
      const lease = book.leases[event.jobId];
      if (!holds(lease, event.agentId, event.fence)) return fenced(book, event);
      const renewed: Lease = { ...lease, expiresAt: event.at + options.leaseMs };
      return {
        book: { ...book, leases: { ...book.leases, [event.jobId]: renewed }, lastSeen: { ...book.lastSeen, [event.agentId]: event.at } },
        commands: [{ type: 'accepted', jobId: event.jobId, fence: event.fence }],
      };
    }
    case 'report': {
      const lease = book.leases[event.jobId];
      if (!holds(lease, event.agentId, event.fence)) return fenced(book, event);
      return { book, commands: [{ type: 'accepted', jobId: event.jobId, fence: event.fence }] };
    }
    case 'finish': {
      const lease = book.leases[event.jobId];
      if (!holds(lease, event.agentId, event.fence)) return fenced(book, event);
      const { [event.jobId]: _done, ...leases } = book.leases;
      return { book: { ...book, leases }, commands: [{ type: 'accepted', jobId: event.jobId, fence: event.fence }] };
    }
    case 'withdraw': {
      const lease = book.leases[event.jobId];
      const waiting = book.waiting.filter((w) => w.id !== event.jobId);
      if (!lease) return { book: { ...book, waiting }, commands: [] };
      const { [event.jobId]: _gone, ...leases } = book.leases;
      return {
        book: { ...book, waiting, leases },
        commands: [{ type: 'revoked', jobId: event.jobId, agentId: lease.agentId, fence: lease.fence }],
      };
    }
    case 'tick':
      return expire(book, (l) => l.expiresAt <= event.at, options, event.at);
    case 'agent-gone': {
      const without = { ...book, pollers: book.pollers.filter((p) => p.agentId !== event.agentId) };
      return expire(without, (l) => l.agentId === event.agentId, options, event.at);
    }
  }
}

/** Ends the leases `ended` picks: each job goes back to the head of the queue, its agent remembered as lost. */
function expire(book: LeaseBook, ended: (lease: Lease) => boolean, options: LeaseBookOptions, at: number): LeaseStep {
  const expired = Object.values(book.leases).filter(ended);
  if (expired.length === 0) return { book, commands: [] };
  const leases = { ...book.leases };
  const back: WaitingJob[] = [];
  const commands: LeaseCommand[] = [];
  for (const lease of expired) {
    delete leases[lease.jobId];
    // Back at the head of the queue: it was granted before anything still waiting.
    back.push({ id: lease.jobId, runsOn: lease.runsOn, fence: lease.fence, lostOn: [...lease.lostOn, lease.agentId] });
    commands.push({ type: 'expired', jobId: lease.jobId, agentId: lease.agentId, fence: lease.fence });
  }
  const step = match({ ...book, leases, waiting: [...back, ...book.waiting] }, options, at);
  return { book: step.book, commands: [...commands, ...step.commands] };
}

function holds(lease: Lease | undefined, agentId: string, fence: number): lease is Lease {
  return lease !== undefined && lease.agentId === agentId && lease.fence === fence;
}

function fenced(book: LeaseBook, event: { jobId: string; agentId: string; fence: number }): LeaseStep {
  const current = book.leases[event.jobId]?.fence ?? null;
  return { book, commands: [{ type: 'fenced', jobId: event.jobId, agentId: event.agentId, fence: event.fence, current }] };
}

/**
 * Grants waiting jobs to pollers, oldest job first. An agent that lost a job gets it again only
 * when no other poller could take it: a host that was cut off is the likeliest to be cut off again.
 */
function match(book: LeaseBook, options: LeaseBookOptions, at: number): LeaseStep {
  if (book.pollers.length === 0 || book.waiting.length === 0) return { book, commands: [] };
  const pollers = book.pollers.map((p) => ({ ...p }));
  const leases = { ...book.leases };
  const waiting: WaitingJob[] = [];
  const commands: LeaseCommand[] = [];
  const answered = new Set<string>();
  let freeLeft = pollers.reduce((sum, p) => sum + p.free, 0);
  for (const job of book.waiting) {
    // Every poller is full: the rest waits as it is (a 10,000-job run must not cost a scan per poll).
    if (freeLeft === 0) {
      waiting.push(job);
      continue;
    }
    const able = pollers.filter((p) => p.free > 0 && labelsCover(p.labels, job.runsOn));
    const taker = able.find((p) => !job.lostOn.includes(p.agentId)) ?? able[0];
    if (!taker) {
      waiting.push(job);
      continue;
    }
    taker.free -= 1;
    freeLeft -= 1;
    const fence = job.fence + 1;
    const expiresAt = at + options.leaseMs;
    leases[job.id] = { jobId: job.id, agentId: taker.agentId, fence, expiresAt, runsOn: job.runsOn, lostOn: job.lostOn };
    commands.push({ type: 'grant', jobId: job.id, agentId: taker.agentId, fence, expiresAt });
    answered.add(taker.agentId);
  }
  for (const agentId of answered) commands.push({ type: 'answer-poll', agentId });
  // A poll is answered with whatever it got: the agent polls again for the rest.
  const remaining = pollers.filter((p) => !answered.has(p.agentId));
  return { book: { ...book, pollers: remaining, leases, waiting }, commands };
}
