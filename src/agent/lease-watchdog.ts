/**
 * The lease deadline enforced outside the agent's own process (docs/decisions/0036, "a stalled
 * agent"). The agent stops a job itself when its lease could not be renewed in time, but only
 * when its event loop runs: an agent process stalled past its lease (a starved CPU, a long GC
 * pause, a SIGSTOP, swapped out) would let a short step finish while the server hands the job to
 * another agent. This small Perl process does not share the agent's fate: the agent arms it per
 * job with the time left before the job's hard deadline and moves the deadline at each renewal
 * the server granted; when a deadline passes without a renewal it SIGKILLs every process of that
 * attempt, again every 100 ms until the agent ends the watch (so nothing the attempt forks
 * meanwhile survives), and says so. When its stdin closes (the agent died), every job still armed
 * is killed the same way and it exits (SIGPIPE ignored: its stdout's reader is gone by then).
 *
 * A job's processes are found by their environment, as orphans.ts finds a crashed server's:
 * every step carries `GANTRY_WORKSPACE` with the attempt's own workspace (the agent puts the
 * fencing token in its path), so only that attempt's processes match, never a later attempt of
 * the same job on the same agent. Perl because the agent must not fork a ~110 MB Node process for
 * it, and perl is already what the executor's step helper needs; one watchdog per agent, not per job.
 *
 * Protocol, lines on stdin: `arm ID AT MARKER` (the deadline AT in ms of CLOCK_MONOTONIC; MARKER
 * the rest of the line, matched as one `NAME=value` of a process's environment), `renew ID AT`,
 * `end ID`. Deadlines are absolute on the clock both processes read: a relative one would start
 * counting when the watchdog reads it, and a watchdog starved for a CPU like its agent (the case
 * it exists for) would move every deadline later by as long as it waited. On stdout:
 * `fired ID` when it kills, and `ended ID held|fired` in answer to `end`, in order, so the agent
 * knows for sure whether the attempt was killed before it reports its result.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { childEnv } from '../platform/child-env.ts';

/** Whether the watchdog let the attempt run to its end, or killed it. */
export type WatchEnd = 'held' | 'fired';

const WATCHDOG = String.raw`
use strict; use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use IO::Select;
$| = 1;
# Its stdout goes to the agent: once the agent is dead a write there must fail, not kill the
# watchdog by SIGPIPE before it has swept the dead agent's jobs.
$SIG{PIPE} = 'IGNORE';
my (%jobs, $buf);
$buf = '';
my $open = 1;
my $select = IO::Select->new(\*STDIN);
sub now { clock_gettime(CLOCK_MONOTONIC) }
sub sweep {
  my %markers = map { $_->{marker} => 1 } grep { $_->{fired} } values %jobs;
  return unless %markers;
  opendir(my $dir, '/proc') or return;
  for my $pid (grep { /^\d+$/ } readdir $dir) {
    next if $pid == $$;
    open(my $file, '<', "/proc/$pid/environ") or next;
    my $environ = do { local $/; <$file> };
    close $file;
    next unless defined $environ;
    for my $entry (split /\0/, $environ) {
      if ($markers{$entry}) { kill 'KILL', $pid; last }
    }
  }
  closedir $dir;
}
sub command {
  my ($line) = @_;
  if ($line =~ /^arm (\S+) (-?\d+) (.+)$/) {
    $jobs{$1} = { deadline => $2 / 1000, marker => $3, fired => 0 };
  } elsif ($line =~ /^renew (\S+) (-?\d+)$/) {
    my $job = $jobs{$1};
    $job->{deadline} = $2 / 1000 if $job && !$job->{fired};
  } elsif ($line =~ /^end (\S+)$/) {
    my $job = delete $jobs{$1};
    print "ended $1 " . ($job && $job->{fired} ? 'fired' : 'held') . "\n";
  }
}
for (;;) {
  my $now = now();
  my ($next, $firing);
  for my $id (sort keys %jobs) {
    my $job = $jobs{$id};
    if (!$job->{fired} && (!$open || $job->{deadline} <= $now)) { $job->{fired} = 1; print "fired $id\n" if $open }
    if ($job->{fired}) { $firing = 1 } elsif (!defined $next || $job->{deadline} < $next) { $next = $job->{deadline} }
  }
  sweep() if $firing;
  if (!$open) { sweep() for 1 .. 5; exit 0 }
  my $wait = defined $next ? $next - $now : undef;
  $wait = 0.1 if $firing && (!defined $wait || $wait > 0.1);
  $wait = 0 if defined $wait && $wait < 0;
  next unless $select->can_read($wait);
  my $read = sysread(STDIN, $buf, 65536, length $buf);
  if (!$read) { $open = 0; next }
  while ($buf =~ s/^([^\n]*)\n//) { command($1) }
}
`;

/**
 * `ms` from now on CLOCK_MONOTONIC, in whole ms: Node's hrtime reads it (libuv, on Linux), and so
 * does the watchdog's `clock_gettime(CLOCK_MONOTONIC)`.
 */
function deadlineIn(ms: number): number {
  return Math.floor(Number(process.hrtime.bigint() / 1_000_000n) + ms);
}

export class LeaseWatchdog {
  readonly #log: (message: string, data?: Record<string, unknown>) => void;
  readonly #onFired: (id: string) => void;
  #child: ChildProcessWithoutNullStreams | null = null;
  #stopping = false;
  readonly #ending = new Map<string, (end: WatchEnd) => void>();

  /** `onFired` hears of every attempt the watchdog killed (the agent stops it at once). */
  constructor(o: { log(message: string, data?: Record<string, unknown>): void; onFired(id: string): void }) {
    this.#log = o.log;
    this.#onFired = o.onFired;
  }

  /** Starts the process; the agent runs without it (and says so) when perl cannot run. */
  start(): void {
    // Its own process group: a terminal's Ctrl-Z stops the agent's group, not the jobs' deadlines.
    const child = spawn('perl', ['-e', WATCHDOG], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: childEnv() });
    this.#child = child;
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => this.#gone(`could not start: ${error.message}`));
    child.on('exit', (code, signal) => this.#gone(`exited (${signal ?? code})`));
    child.stderr.setEncoding('utf8').on('data', (text: string) => this.#log('lease watchdog says', { text: text.trim() }));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [kind, id, how] = line.split(' ');
      if (kind === 'fired' && id) this.#onFired(id);
      if (kind === 'ended' && id) {
        this.#ending.get(id)?.(how === 'fired' ? 'fired' : 'held');
        this.#ending.delete(id);
      }
    });
  }

  /** Watches attempt `id`: kills the processes whose environment holds `marker` in `ms` unless renewed. */
  arm(id: string, ms: number, marker: string): void {
    this.#send(`arm ${id} ${deadlineIn(ms)} ${marker.replaceAll('\n', ' ')}`);
  }

  /** Moves the attempt's deadline to `ms` from now (nothing once it fired). */
  renew(id: string, ms: number): void {
    this.#send(`renew ${id} ${deadlineIn(ms)}`);
  }

  /** The watchdog's process id (tests stall it). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Ends the watch; says whether the watchdog had killed the attempt first. */
  end(id: string): Promise<WatchEnd> {
    if (!this.#running()) return Promise.resolve('held');
    return new Promise((resolve) => {
      this.#ending.set(id, resolve);
      this.#send(`end ${id}`);
    });
  }

  /** Closes its stdin: it kills whatever is still armed (nothing, after the agent's jobs ended) and exits. */
  stop(): void {
    this.#stopping = true;
    this.#child?.stdin.end();
  }

  #running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  #send(line: string): void {
    if (this.#running()) this.#child?.stdin.write(`${line}\n`);
  }

  #gone(why: string): void {
    if (this.#child === null) return;
    this.#child = null;
    if (!this.#stopping) this.#log('lease watchdog stopped: a stalled agent can no longer be stopped outside its event loop', { why });
    for (const resolve of this.#ending.values()) resolve('held');
    this.#ending.clear();
  }
}
