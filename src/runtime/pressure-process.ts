/**
 * One pressure process of an instance fault (CPU, memory or a full disk), started inside the
 * instance's bubblewrap namespaces when it has them, and ending by itself at the experiment's
 * deadline whether or not the server is still there.
 *
 * Inside means the instance's PID namespace (the service can see it; bwrap's init takes it down
 * with the instance) and its mount namespace (it fills the instance's own /tmp, not the host's).
 * A small Perl program (perl is already required by the executor's step helper, and it starts in
 * a few ms) joins the namespaces with setns(2) and forks the worker. As a non-root server, bwrap
 * put the sandbox in a user namespace that it then nested in a second one (to drop its own
 * privileges), and the PID and mount namespaces belong to the outer one, which no process is a
 * member of; the program walks up from the instance's user namespace (NS_GET_PARENT) to the one
 * just below its own, joins it (its owner has every capability there), joins the PID and mount
 * namespaces, then the instance's own user namespace, so the worker runs with the instance's
 * credentials and no more. As root (no user namespace), it joins the PID and mount namespaces
 * alone. docs/decisions/0045 has the evidence.
 *
 * The worker's protocol: the program prints `<host pid of the worker> <bytes>` once the pressure
 * is in place (memory held, the disk filled: `bytes` is what it took), or exits 3 with a sentence
 * when the namespaces cannot be joined, 4 when the pressure could not be set.
 */
import { spawn } from 'node:child_process';
import type { ProcessMark } from '../core/chaos-config.ts';
import { GantryError } from '../core/errors.ts';
import { childEnv } from '../platform/child-env.ts';
import { startTimeOf } from '../platform/proc.ts';

/** The pressure a worker holds until its deadline. `disk` fills the directory `path` (as the instance sees it). */
export type PressureWork = { kind: 'cpu' } | { kind: 'memory'; bytes: number } | { kind: 'disk'; path: string };

/** A worker started: its mark, whether it runs inside the instance's namespaces, and what it took (bytes, for memory and disk). */
export interface PressureWorker {
  mark: ProcessMark;
  inside: boolean;
  bytes: number;
}

/** setns(2) and ioctl(2) by architecture (Perl's syscall() takes numbers). */
const SYSCALLS: Partial<Record<NodeJS.Architecture, { setns: number; ioctl: number }>> = {
  x64: { setns: 308, ioctl: 16 },
  arm64: { setns: 268, ioctl: 29 },
};

/** Why a worker could not be started inside: the caller may fall back to beside the sandbox. */
export class NamespaceEntryError extends Error {}

/** How long the worker may take to set its pressure (allocating gigabytes on a loaded host). */
const SETUP_TIMEOUT_MS = 30_000;

const PROGRAM = String.raw`
use strict; use warnings;
use POSIX (); use Errno qw(ENOSPC EDQUOT); use Fcntl qw(O_RDWR O_CREAT O_EXCL); use Time::HiRes ();
my ($setns, $ioctl, $target, $mode, $until, $arg) = @ARGV;
sub fail { my ($code, $why) = @_; print STDERR "$why\n"; exit $code }
sub ino { my @s = stat($_[0]); return @s ? "$s[0]:$s[1]" : '' }
if ($target > 0) {
  fail(3, "no setns on this architecture") if $setns == 0;
  my %fh;
  for my $ns (qw(user pid mnt)) { open($fh{$ns}, '<', "/proc/$target/ns/$ns") or fail(3, "cannot open the instance's $ns namespace: $!") }
  # The user namespaces from the instance's up to ours (excluded): join the topmost first.
  my $mine = ino('/proc/self/ns/user');
  my @chain = ($fh{user});
  while (1) {
    my @s = stat($chain[-1]);
    last if "$s[0]:$s[1]" eq $mine;
    my $fd = syscall($ioctl, fileno($chain[-1]), 0xb702, 0);
    fail(3, "the instance's user namespace is not below the server's") if $fd < 0;
    open(my $parent, '<&=', $fd) or fail(3, "cannot hold a user namespace: $!");
    push @chain, $parent;
  }
  pop @chain;
  my $join = sub { my ($fh, $type, $what) = @_; syscall($setns, fileno($fh), $type) == 0 or fail(3, "cannot join the instance's $what namespace: $!") };
  $join->($chain[-1], 0x10000000, 'user') if @chain;
  $join->($fh{pid}, 0x20000000, 'PID');
  $join->($fh{mnt}, 0x00020000, 'mount');
  $join->($chain[0], 0x10000000, 'user') if @chain > 1;
  chdir('/');
}
pipe(my $r, my $w) or fail(4, "pipe: $!");
my $pid = fork();
fail(4, "fork: $!") unless defined $pid;
if ($pid > 0) {
  close($w);
  my $line = <$r>;
  fail(4, "the pressure worker ended before its pressure was in place") unless defined $line && $line =~ /^ok (\d+)/;
  print "$pid $1\n";
  exit 0;
}
close($r);
POSIX::setsid();
open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
sub now_ms { return Time::HiRes::time() * 1000 }
sub ready { my ($bytes) = @_; syswrite($w, "ok $bytes\n"); close($w) }
sub hold { while ((my $left = $until - now_ms()) > 0) { Time::HiRes::sleep($left > 1000 ? 1 : $left / 1000) } exit 0 }
if ($mode eq 'cpu') {
  ready(0);
  while (now_ms() < $until) { my $x = 0; $x += $_ for 1 .. 200000 }
  exit 0;
}
if ($mode eq 'memory') {
  my @chunks; my $chunk = 64 * 1024 * 1024;
  for (my $left = $arg; $left > 0; $left -= $chunk) { push @chunks, "\x01" x ($left < $chunk ? $left : $chunk) }
  ready($arg);
  hold();
}
if ($mode eq 'disk') {
  # Unlinked at once: the space is held by the open file alone, so it comes back whenever this
  # process ends, however it ends (its deadline, a SIGKILL, the instance's namespace going down).
  my $file = "$arg/.gantry-disk-full-$$";
  sysopen(my $fh, $file, O_RDWR | O_CREAT | O_EXCL, 0600) or exit 4;
  unlink($file);
  my $taken = 0;
  for my $size (1024 * 1024, 4096, 1) {
    my $block = "\0" x $size;
    while (1) {
      my $n = syswrite($fh, $block);
      if (defined $n) { $taken += $n; next }
      last if $! == ENOSPC || $! == EDQUOT;
      exit 4;
    }
  }
  ready($taken);
  hold();
}
exit 4;
`;

/**
 * Starts one worker, inside the namespaces of process `insidePid` (a process of the instance in
 * its sandbox) or beside the instance when null, carrying `env` (the instance key). Resolves once
 * the pressure is in place. Throws NamespaceEntryError when the namespaces cannot be joined.
 */
export async function startPressureWorker(
  work: PressureWork,
  deadlineAt: number,
  o: { insidePid: number | null; env: Record<string, string> },
): Promise<PressureWorker> {
  const calls = SYSCALLS[process.arch] ?? { setns: 0, ioctl: 0 };
  const arg = work.kind === 'memory' ? String(work.bytes) : work.kind === 'disk' ? work.path : '0';
  const argv = ['-e', PROGRAM, String(calls.setns), String(calls.ioctl), String(o.insidePid ?? 0), work.kind, String(deadlineAt), arg];
  const child = spawn('perl', argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({ set: o.env }) });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SETUP_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  const why = err.trim() || 'perl could not run';
  if (code === 3) throw new NamespaceEntryError(why);
  const match = /^(\d+) (\d+)/.exec(out);
  if (code !== 0 || match === null) throw new GantryError('CHAOS_FAULT_FAILED', `the ${work.kind} pressure could not be set: ${why}`);
  const pid = Number(match[1]);
  const startTime = startTimeOf(pid);
  if (startTime === null) throw new GantryError('CHAOS_FAULT_FAILED', `the ${work.kind} pressure worker ended at once`);
  return { mark: { pid, startTime }, inside: o.insidePid !== null, bytes: Number(match[2]) };
}
