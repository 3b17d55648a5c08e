/**
 * A small long-lived helper process that starts a job's steps, so Node does not fork per step.
 *
 * Why: `child_process.spawn` is a synchronous fork+exec of the ~110 MB Node process: 4–7 ms of
 * main-thread time per step on a quiet machine (tens of ms on a loaded one, since Node waits for
 * the exec), during which no other job's log flows. A fork from a tiny Perl process costs ~0.3 ms.
 * Helpers are pooled per process (one per parallel slot) and reused by the next job. A sandboxed
 * job's steps run under a second helper inside ONE bubblewrap per job, and that bubblewrap is
 * started by the pooled helper too (`enterSandbox`), so a sandboxed job costs Node no fork either.
 * A one-step job skips the second helper: its step is bubblewrap's command, forked by the pooled
 * helper like any step (`SpawnerStepOptions.sandboxed`, docs/decisions/0032).
 *
 * Protocol (all Node-driven, one request at a time per helper):
 * - stdin, Node → helper: `<byte length>\n` (a step) or `L<byte length>\n` (a nested helper,
 *   below) then NUL-separated fields: the number of files to write first, then per file its path,
 *   octal mode (or empty) and hex content (the step script: file creation is slow on a busy disk,
 *   and would block Node's main thread for every job at once), then cwd, argc, argv…, env entries
 *   `NAME=value`. The helper writes the files and forks; the child starts a new session (`setsid`:
 *   the step's pid is its process group), reads stdin from /dev/null, changes directory, sets
 *   exactly that environment and execs argv (PATH lookup with the step's PATH). `Q\n`: exit.
 *   `B<byte length>\n` is a step whose argv is bubblewrap running the step: the helper answers
 *   `E` only once every child has ended, bubblewrap's init included (see the end of the helper).
 * - fd 3, helper → Node, lines: `H <pid> <subreaper 0|1>` once; per step `S <pid>` (forked) and,
 *   from the child when exec fails, `X <message>`, in either order; then `E <wait status>` (-1
 *   when nothing ran: `X` came first, from the helper).
 * - stdout/stderr of every step are the helper's own (inherited pipes). When a step ends, the
 *   helper writes a random per-helper marker to both, then sends `E`: Node knows all the step
 *   wrote before exiting has been read once it has seen the marker on both streams. Output of
 *   background processes a step leaves keeps flowing to the job's log, as before. In log mode
 *   (below) the steps write to the helper's own pipes instead, and no marker is written: `E`
 *   alone says what the step wrote is stored.
 * - The forked child of a step makes syscalls only (setsid, dup2, chdir, execve with the
 *   environment and argv packed before the fork, PATH searched as execvp does); a nested helper's
 *   child, and any child where Node knows no syscall numbers, runs the Perl version.
 * - A nested helper (`L`, for the sandbox: argv is bubblewrap's command line running this same
 *   helper) inherits the helper's stdin and fd 3 instead of /dev/null: Node then talks to it over
 *   the same pipes (its `H`, `S`, `X`, `E`, and the same marker), while the outer helper only
 *   waits for it. The outer helper answers `L <pid>` when it forked and `D <wait status>` when
 *   the nested one has ended (Node sends it `Q` when the job is done) and so has every process of
 *   the sandbox, then reads stdin again.
 * - The job log (log mode): `F<byte length>\n` + the log file's and the tail ring's paths
 *   (NUL-separated), and the native log pump's when there is one: the helper opens them (append;
 *   read-write, truncated; read-only, skipped if it cannot) and answers `F <fd> <fd> [<fd>]`, or
 *   `X <message>`. A following `L` hands them to the nested helper (inherited,
 *   by number: inside the sandbox the data dir is hidden) and closes them here. `G<byte length>\n`
 *   + fields: the two fds, head budget (-1: no cap), ring size, bytes and lines already in the
 *   file, largest read (≤ 64 KiB), the tail budget, the truncation marker's sprintf format as
 *   hex, whether the kernel may copy the tail (0|1), the native pump to run ('' for none: a path,
 *   or `/proc/self/fd/<n>` for the binary `F` opened), then each form to mask as hex: the helper
 *   answers `G <pump pid>` (0 when its Perl code writes the log) and from then on gives every
 *   step its own pipes for stdout/stderr, reads them (itself or through the pump)
 *   (during and between steps) and writes the lines to the file itself, formatted, masked (per
 *   whole line), split and capped exactly as log-writer.ts does; `E` comes once what the step
 *   wrote is stored. `W<byte length>\n<text>` stores a system line (after the partial lines),
 *   `g\n` stores what is left, closes the files and pipes and answers `C <head bytes> <head lines>
 *   <total bytes> <total lines> <ring bytes written> <truncated 0|1> <log bytes> <log lines> <cut
 *   bytes> [<errno> <message>]`; Node's writer then assembles the tail (`LogWriter.resume`). `t\n`
 *   is the last `g` of a job: the helper appends the marker and the kept tail itself and reports
 *   the whole log's bytes, lines and the bytes cut (all 0 when it did not: no cap reached, an error).
 * - The native log pump (native/log-pump.ts, docs/decisions/0048): when `G`/`O` name one, the
 *   helper starts it once (it then serves the helper until the helper exits) and hands it each
 *   log: the descriptors by number (it opens them through /proc/<helper>/fd, so every log still
 *   gets fresh pipes), the cap's state and the forms. A step's `E` then waits for the pump's `d`
 *   (it read what the pipes held), `W` waits for its `w` (stored before the step it heads starts),
 *   `g` and `t` are forwarded, and the pump's `C` is the
 *   answer. A pump that does not take the log leaves it to the Perl code; one that dies mid-log
 *   makes `g`/`t` answer `X` (Node recounts the file). A sandbox's end (`B`, `L`) is awaited with
 *   the helper's children list (/proc), the pump left out.
 *
 * The helper makes itself a child subreaper (Linux prctl), so a process that escapes its step's
 * process group (`setsid`, a daemon's double fork) is re-parented to the helper, not to init:
 * the job's leftovers are then the helper's children (one read of /proc/<pid>/task/<pid>/children)
 * instead of a scan of every process's environment.
 *
 * Why the helper writes the log (docs/decisions/0017): a step printing 100 MB cost Node ~1 s of
 * main-thread time to read, decode, prefix and write (the log's own cost 1.98× `> /dev/null`);
 * Perl's regex engine does the same per 64 KiB read at a fraction of it, off Node's thread.
 *
 * When Node dies, the helper is killed with it (PR_SET_PDEATHSIG; else it reads EOF on stdin and
 * exits once idle), and with it a sandbox it started (bubblewrap dies with its parent); steps it
 * started outside a sandbox carry on as they would have (the server's recovery, or an agent's
 * lease watchdog, finds them by their GANTRY_* variables, see orphans.ts).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { GantryError } from '../core/errors.ts';
import type { LogLoanReturn } from './log-writer.ts';
import { childEnv } from '../platform/child-env.ts';
import { childrenOf } from '../platform/proc.ts';
import { logPump } from './native/log-pump.ts';
import { leftoverProcesses, processRefs, StepStopper, type ProcessRef, type StepExit } from './process-tree.ts';

/**
 * The helper's source. It loads no module: `use POSIX` alone costs ~12 ms of CPU per start here
 * (strict, warnings, Fcntl and Errno a few more; `perl -e 1` ~7 ms), and a sandboxed job starts
 * its own helper, so the constants below are spelled out (Linux: F_SETFD 2, FD_CLOEXEC 1,
 * WNOHANG 1, EINTR 4) and the two syscalls it needs by number come from Node (`SYSCALLS`).
 */
const HELPER = String.raw`
$| = 1;
my ($marker, $prctl, $setsid, $gtod, $nonblock, $cfr, $append, $execve, $dup2, $chdir) = @ARGV;
# Numbers, not strings: fcntl and syscall pass a string argument as a pointer.
$nonblock = 0 + $nonblock; $append = 0 + $append; $cfr = 0 + $cfr;
$execve = 0 + ($execve // 0); $dup2 = 0 + ($dup2 // 0); $chdir = 0 + ($chdir // 0);
# A step's stdin; kept open here so a child only has to dup2 it.
open(my $devnull, '<', '/dev/null') or die "gantry spawner: /dev/null: $!\n";
fcntl($devnull, 2, 1);
open(my $rep, '>&=', 3) or die "gantry spawner: fd 3: $!\n";
fcntl($rep, 2, 1);
my $reaper = ($prctl > 0 && syscall($prctl, 36, 1, 0, 0, 0) == 0) ? 1 : 0;
# PR_SET_PDEATHSIG: killed with the process that started it. A helper waiting on a step sees no EOF,
# and would keep a one-step sandbox (bwrap --die-with-parent is the helper's child) running on.
syscall($prctl, 1, 9, 0, 0, 0) if $prctl > 0;
# F_SETPIPE_SZ: a big pipe lets a chatty step write on while its reader is busy.
for my $fh (\*STDOUT, \*STDERR) { fcntl($fh, 1031, 1048576) or fcntl($fh, 1031, 262144); }
sub reply {
  my $m = "$_[0]\n";
  while (1) { my $w = syswrite($rep, $m); return if defined $w; return if $! != 4; }
}
reply("H $$ $reaper");
my $buf = '';
# The job log, while this helper writes it (between G and g): the log file, the tail ring, the
# pipes every step writes to, and the state of the cap (see log-writer.ts for the format).
my ($logging, $lfh, $rfh, $outR, $outW, $errR, $errW, $lrin, $mask, $logErr, $readSize);
my ($headBudget, $ringSize, $headBytes, $headLines, $totalBytes, $totalLines, $ringWritten, $truncated);
# For the tail assembled here at the last hand-back: the tail's budget, the marker's sprintf format,
# whether the kernel may copy (copy_file_range), the lines ever written to the ring, and
# checkpoints [ring position, ring lines before it] at least 64 KiB apart, so the tail's lines are
# counted from the nearest one instead of by reading the whole ring back.
my ($tailBudget, $markerFmt, $kernelCopy, $ringLines, @ck);
# The ring file's offset when this helper knows it (-1: seek first): its writes are sequential
# but where it wraps, so most need no seek.
my $ringAt = -1;
# The ring's path when this helper opens it itself (O): only once the head is full, so a job whose
# log stays under the cap creates and removes no second file (each a journal write on the disk).
my ($ringPath, $ownLog);
# Per stream: a place for the next line's prefix (its length in %ph), then the partial line read
# so far. A read is appended here, the prefix is written into that place and the prefixes of the
# following lines inserted by one substitution over the whole buffer, which leaves the place for
# the next read's prefix after the last whole line: the lines are copied once per read (the
# substitution), not four or five times (substr, concatenation, the prefix, the ring's pieces).
my (%pend, %ph);
my @opened;
# The native log pump (log-pump.ts): started at the first log it can write, it serves this helper
# until it exits, one log after the other. Its pid, the pipe of commands to it and of its answers,
# whether it writes the current log, and the handle of its binary when that came by number (F).
my ($pumpPid, $pumpCmd, $pumpRep, $pumpLog, $pumpFh);
my ($stampS, $stampMs, $stamp) = (-1, -1, '');
sub stamp {
  my ($s, $ms) = (time, 0);
  if ($gtod > 0) {
    my $tv = "\0" x 16;
    if (syscall($gtod, $tv, 0) == 0) { my $us; ($s, $us) = unpack('l!l!', $tv); $ms = int($us / 1000); }
  }
  return if $s == $stampS && $ms == $stampMs;
  ($stampS, $stampMs) = ($s, $ms);
  my @t = gmtime($s);
  $stamp = sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1], $t[0], $ms);
}
# Writes bytes [off, off + n) of the string (all of it by default), without copying them.
sub out {
  return if defined $logErr;
  my ($fh, $off) = ($_[0], $_[2] // 0);
  my $n = $off + ($_[3] // length($_[1]) - $off);
  while ($off < $n) {
    my $w = syswrite($fh, $_[1], $n - $off, $off);
    if (!defined $w) { next if $! == 4; $logErr = ($! + 0) . " $!"; return; }
    $off += $w;
  }
}
# Bytes [at, at + n) of the string to the ring, wherever it wraps.
sub ring {
  my ($at, $n, $lines) = @_[1, 2, 3];
  if (!$rfh) {
    return if defined $logErr;
    if (!defined $ringPath || !open($rfh, '+>', $ringPath)) { $logErr = ($! + 0) . " $!"; $rfh = undef; return; }
    binmode $rfh; fcntl($rfh, 2, 1);
  }
  if ($n > $ringSize) {
    my $drop = $n - $ringSize;
    $ringLines += (substr($_[0], $at, $drop) =~ tr/\n//); $lines = undef;
    $ringWritten += $drop; $at += $drop; $n = $ringSize;
  }
  push @ck, [$ringWritten, $ringLines] if !@ck || $ringWritten - $ck[-1][0] >= 65536;
  # A checkpoint whose bytes the ring no longer holds cannot start a count.
  shift @ck while @ck && $ck[0][0] < $ringWritten + $n - $ringSize;
  $ringLines += $lines // (substr($_[0], $at, $n) =~ tr/\n//);
  for (my $off = 0; $off < $n;) {
    my $pos = $ringWritten % $ringSize;
    my $len = $ringSize - $pos; $len = $n - $off if $n - $off < $len;
    if ($pos != $ringAt) { sysseek($rfh, $pos, 0) or $logErr //= ($! + 0) . " $!"; }
    out($rfh, $_[0], $at + $off, $len);
    $off += $len; $ringWritten += $len; $ringAt = $pos + $len;
  }
}
# Stores bytes [0, n) of the string (formatted whole lines, n by default its length).
sub store {
  my ($n, $lines) = ($_[1] // length $_[0], $_[2]);
  my $at = 0;
  if (!$truncated) {
    if ($headBudget < 0 || $headBytes + $n <= $headBudget) { out($lfh, $_[0], 0, $n); $headBytes += $n; $headLines += $lines; return; }
    my $cut = rindex($_[0], "\n", $headBudget - $headBytes - 1) + 1;
    my $hl = 0;
    if ($cut > 0) { out($lfh, $_[0], 0, $cut); $headBytes += $cut; $hl = (substr($_[0], 0, $cut) =~ tr/\n//); $headLines += $hl; }
    $truncated = 1;
    return if $cut == $n;
    $at = $cut; $lines -= $hl;
  }
  ring($_[0], $at, $n - $at, $lines);
}
# Bytes [a, a + len) of everything written to the ring (still in it), wherever the ring wrapped.
sub ringread {
  my ($a, $len) = @_; my $out = '';
  $ringAt = -1;
  while ($len > 0) {
    my $pos = $a % $ringSize; my $n = $ringSize - $pos; $n = $len if $len < $n;
    sysseek($rfh, $pos, 0) or return undef;
    my $got = sysread($rfh, $out, $n, length $out);
    return undef if !$got;
    $a += $got; $len -= $got;
  }
  return $out;
}
# Appends bytes [a, b) of the ring to the log: by the kernel (copy_file_range, no copy through
# here), else read and written in 1 MiB pieces. False on a read error (logErr on a write error).
sub ringcopy {
  my ($a, $b) = @_;
  if ($kernelCopy && $cfr > 0 && length(pack('j', 0)) == 8) {
    my $end = sysseek($lfh, 0, 2);
    # copy_file_range refuses a file opened to append; the offset is given instead.
    if (defined $end && fcntl($lfh, 4, 0)) {
      my $oout = pack('q', $end);
      while ($a < $b) {
        my $pos = $a % $ringSize; my $n = $ringSize - $pos; $n = $b - $a if $b - $a < $n;
        my $oin = pack('q', $pos);
        my $r = syscall($cfr, fileno($rfh), $oin, fileno($lfh), $oout, $n, 0);
        if ($r <= 0) { last if $r == 0 || $! != 4; next; }
        $a += $r;
      }
      fcntl($lfh, 4, $append);
    }
  }
  while ($a < $b) {
    my $n = $b - $a; $n = 1048576 if $n > 1048576;
    my $t = ringread($a, $n);
    return 0 if !defined $t;
    out($lfh, $t); $a += $n;
  }
  return 1;
}
# The last hand-back of a truncated log: the marker and the kept tail go after the head here, as
# log-writer.ts would assemble them at close (the same start at a line boundary within the last
# tailBudget bytes, the same counts), so the tail is not read back and copied through Node.
# Returns the log's bytes, lines and the bytes cut, or nothing when it could not.
sub assemble {
  return if !$truncated || defined $logErr || $tailBudget < 0 || !defined $markerFmt;
  my $kept = $ringWritten < $ringSize ? $ringWritten : $ringSize;
  my $s = $ringWritten - $kept;
  if ($kept > $tailBudget) {
    my $from = $s + $kept - $tailBudget - 1; $s = $ringWritten;
    while ($from < $ringWritten) {
      my $n = $ringWritten - $from; $n = 65536 if $n > 65536;
      my $t = ringread($from, $n);
      return if !defined $t;
      my $i = index($t, "\n");
      if ($i >= 0) { $s = $from + $i + 1; last; }
      $from += $n;
    }
  }
  my ($p, $before) = ($ringWritten, $ringLines);
  for my $c (@ck) { if ($c->[0] >= $s) { ($p, $before) = @$c; last; } }
  my $tailLines = $ringLines - $before;
  for (my $a = $s; $a < $p;) {
    my $n = $p - $a; $n = 1048576 if $n > 1048576;
    my $t = ringread($a, $n);
    return if !defined $t;
    $tailLines += ($t =~ tr/\n//); $a += $n;
  }
  my $tailBytes = $ringWritten - $s;
  my ($cutBytes, $cutLines) = ($totalBytes - $headBytes - $tailBytes, $totalLines - $headLines - $tailLines);
  stamp();
  my $m = "$stamp s " . sprintf($markerFmt, $cutBytes, $cutLines) . "\n";
  out($lfh, $m);
  return if !ringcopy($s, $ringWritten) || defined $logErr;
  return ($headBytes + length($m) + $tailBytes, $headLines + 1 + $tailLines, $cutBytes);
}
# Whole lines only (masking is per line): CRLF to LF, secrets masked, each line prefixed.
sub emit {
  my ($code, $t) = @_;
  $t =~ s/\r\n/\n/g if index($t, "\r") >= 0;
  $t =~ s/$mask/***/g if defined $mask;
  my $p = "$stamp $code ";
  # Faster than s/^/$p/mg: every line ends with \n, so each \n starts the next line's prefix. The
  # replacement is one variable, not "\n$p": Perl then builds it once, not once per line (a third
  # of the substitution's time).
  my $np = "\n$p";
  my $lines = ($t =~ s/\n/$np/g);
  substr($t, -length $p) = '';
  $t = $p . $t;
  $totalBytes += length $t; $totalLines += $lines;
  store($t, undef, $lines);
}
# The longest cut <= max that does not split a UTF-8 sequence.
sub utf8cut {
  for my $cut (reverse($_[1] - 3 .. $_[1])) { return $cut if $cut > 0 && ((ord(substr($_[0], $cut, 1)) & 0xc0) != 0x80); }
  return $_[1];
}
# The partial line of a stream, out of its buffer (the prefix's place emptied).
sub partial {
  my $c = $_[0];
  my $t = substr($pend{$c}, $ph{$c}); $pend{$c} = ''; $ph{$c} = 0;
  return $t;
}
# A partial line past 64 KiB (no newline yet) is stored in 64 KiB lines, as the Node writer does.
sub flushlong {
  my $c = $_[0];
  my $t = partial($c);
  while (length($t) > 65536) { my $cut = utf8cut($t, 65536); emit($c, substr($t, 0, $cut) . "\n"); substr($t, 0, $cut) = ''; }
  $pend{$c} = $t;
}
# After a read was appended to the stream's buffer: its whole lines are stored.
sub chunk {
  my $c = $_[0];
  my $h = $ph{$c};
  my $last = rindex($pend{$c}, "\n");
  stamp();
  if ($last < $h) { flushlong($c) if length($pend{$c}) - $h > 65536; return; }
  my $first = index($pend{$c}, "\n", $h);
  # Reads are at most 64 KiB: only the first line of a read can be longer than that.
  if ($first - $h > 65536) {
    my $t = substr($pend{$c}, $h, $first + 1 - $h);
    my $split = '';
    while (length($t) - 1 > 65536) { my $cut = utf8cut($t, 65536); $split .= substr($t, 0, $cut) . "\n"; substr($t, 0, $cut) = ''; }
    $t = $split . $t . substr($pend{$c}, $first + 1, $last - $first);
    substr($pend{$c}, 0, $last + 1, ''); $ph{$c} = 0;
    emit($c, $t);
    return;
  }
  # CRLF to LF and the secrets, on the whole lines only (as emit does), before any prefix.
  # (The forms hold no line break: the lines stay where they are, only their lengths change.)
  if (defined $mask || index($pend{$c}, "\r", $h) >= 0) {
    my $t = substr($pend{$c}, $h, $last + 1 - $h);
    $t =~ s/\r\n/\n/g if index($t, "\r") >= 0;
    $t =~ s/$mask/***/g if defined $mask;
    substr($pend{$c}, $h, $last + 1 - $h, $t);
    $last = $h + length($t) - 1;
  }
  my $p = "$stamp $c ";
  substr($pend{$c}, 0, $h, $p);
  $last += length($p) - $h;
  my $np = "\n$p";
  # Every newline of the buffer ends a whole line (the partial line has none): each gets the next
  # line's prefix, the last one the place for the next read's.
  my $lines = ($pend{$c} =~ s/\n/$np/g);
  my $n = $last + 1 + length($p) * ($lines - 1);
  $totalBytes += $n; $totalLines += $lines;
  store($pend{$c}, $n, $lines);
  # From the front: Perl moves the string's start, it copies nothing.
  substr($pend{$c}, 0, $n, '');
  $ph{$c} = length $p;
}
sub flushpartial {
  for my $c ('o', 'e') { next if length($pend{$c}) == $ph{$c}; my $t = partial($c); emit($c, "$t\n"); }
}
# Bytes read by the last pump, and whether it emptied a pipe (a short read).
my ($pumped, $drained) = (0, 0);
sub readpipe_ {
  my ($fh, $c) = @_;
  my $r = sysread($fh, $pend{$c}, $readSize, length $pend{$c});
  if ($r) { chunk($c); $pumped += $r; }
  return $r;
}
# Waits for output (and stdin when asked) up to $timeout; true when stdin is readable.
sub pump {
  my ($timeout, $stdin) = @_;
  my $rin = $lrin;
  vec($rin, 0, 1) = 1 if $stdin;
  my $n = select(my $rout = $rin, undef, undef, $timeout);
  return 0 if $n <= 0;
  # A ready pipe is read until it is empty (at most 1 MiB): no select and waitpid between reads.
  for my $c ('o', 'e') {
    my $fh = $c eq 'o' ? $outR : $errR;
    next if !vec($rout, fileno($fh), 1);
    for (0 .. int(1048576 / $readSize)) { if ((readpipe_($fh, $c) // 0) < $readSize) { $drained = 1; last; } }
  }
  return $stdin && vec($rout, 0, 1);
}
# What a step wrote before it ended is in the pipes (at most their size): read that much, no more,
# so a background process that never stops printing cannot hold the step's end.
sub drain {
  for my $p ([$outR, 'o'], [$errR, 'e']) { for (0 .. int(1048576 / $readSize) + 1) { last if !readpipe_(@$p); } }
}
sub openfiles {
  my @fds;
  for my $path (@_) {
    my $fh;
    # The log pump's binary (third): opened here, outside any sandbox, it is run by number inside.
    if (@fds == 2) { push(@opened, $fh), push(@fds, fileno($fh)) if open($fh, '<', $path); next; }
    if (!open($fh, @fds ? '+>' : '>>', $path)) { reply("X $path: $!"); close $_ for @opened; @opened = (); return; }
    binmode $fh; push @opened, $fh; push @fds, fileno($fh);
  }
  reply("F @fds");
}
# Writes to the pump; false when it is gone (EPIPE, not the signal: it would end this helper).
sub pumpsend {
  my $m = $_[0];
  return 0 if !$pumpCmd;
  local $SIG{PIPE} = 'IGNORE';
  while (length $m) {
    my $w = syswrite($pumpCmd, $m);
    if (!defined $w) { next if $! == 4; return 0; }
    substr($m, 0, $w, '');
  }
  return 1;
}
# The pump's next answer line, or undef when it ended.
sub pumpline {
  return undef if !$pumpRep;
  my $l = '';
  while (index($l, "\n") < 0) {
    my $r = sysread($pumpRep, $l, 256, length $l);
    next if !defined $r && $! == 4;
    return undef if !$r;
  }
  return $l;
}
# The pump is gone (killed?): the rest of its log is lost (the hand-back says so, and Node recounts
# the file); the next log gets a new pump.
sub pumpgone {
  close $_ for grep { defined } $pumpCmd, $pumpRep;
  1 while $pumpPid && waitpid($pumpPid, 0) == -1 && $! == 4;
  ($pumpPid, $pumpCmd, $pumpRep) = (undef, undef, undef);
}
# Hands this log (the pipes, the files and the cap's state as startlog set them) to the native
# pump, started first if need be: one fork and exec per helper, not per log or step. Nothing
# changes when it does not answer G: the Perl code below writes the log.
sub startpump {
  my ($path, $mf, @forms) = @_;
  if (!$pumpPid) {
    my ($cr, $cw, $ar, $aw);
    pipe($cr, $cw) or return; pipe($ar, $aw) or return;
    my $pid = fork();
    return if !defined $pid;
    if ($pid == 0) {
      fcntl($_, 2, 0) for $cr, $aw;
      open(STDIN, '<&', $devnull); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
      exec { $path } 'gantry-log-pump', fileno($cr), fileno($aw);
      exit 127;
    }
    close $cr; close $aw;
    ($pumpPid, $pumpCmd, $pumpRep) = ($pid, $cw, $ar);
  }
  # The pump opens these descriptors of this helper's through /proc (fresh pipes for every log).
  my $cfg = join("\0", fileno($lfh), $rfh ? fileno($rfh) : -1, fileno($outR), fileno($errR), $headBudget, $ringSize,
    $headBytes, $headLines, $readSize, $tailBudget, $mf, $kernelCopy, defined $ringPath ? unpack('H*', $ringPath) : '', @forms);
  my $l = pumpsend('N' . length($cfg) . "\n" . $cfg) ? pumpline() : undef;
  if (!defined $l) { pumpgone(); return; }
  return if $l ne "G\n";
  $pumpLog = 1;
  # The pump reads the pipes now; this helper keeps their write ends for the steps.
  close $_ for $outR, $errR;
}
# What a step wrote before it ended is stored: by the pump (a round trip) or here.
sub logdrain {
  if (!$pumpLog) { drain(); return; }
  pumpgone() if !pumpsend("D\n") || !defined pumpline();
}
# This helper's children (Linux): the pump is one, while a sandbox's end is awaited.
sub kids {
  open(my $f, '<', "/proc/$$/task/$$/children") or return (0);
  my $l = <$f>; close $f;
  return split(' ', $l // '');
}
sub startlog {
  my ($lfd, $rfd, $hb, $rs, $hbytes, $hlines, $rsz, $tb, $mf, $kc, $pump, @forms) = @_;
  # The log this helper just opened (O, the ring opened when first needed), this helper's own files
  # (F), or the ones a nested helper inherited by number.
  if ($lfd eq '') { ($lfh, $rfh) = ($ownLog, undef); $ownLog = undef; }
  else {
    $ringPath = undef;
    my %mine = map { (fileno($_) => $_) } @opened;
    @opened = ();
    ($lfh, $rfh) = ($mine{$lfd}, $mine{$rfd});
    if ((!$lfh && !open($lfh, '>>&=', $lfd)) || (!$rfh && !open($rfh, '+<&=', $rfd))) { reply("X log: $!"); return; }
    # The pump's binary by number (F, then inherited by a nested helper): run as /proc/self/fd/<n>.
    if ($pump =~ m{^/proc/self/fd/(\d+)$}) { $pumpFh = $mine{$1}; $pump = '' if !$pumpFh && !open($pumpFh, '<&=', $1); }
  }
  fcntl($_, 2, 1) for grep { defined } $lfh, $rfh, $pumpFh;
  ($headBudget, $ringSize, $headBytes, $headLines, $readSize) = ($hb, $rs, $hbytes, $hlines, $rsz);
  ($totalBytes, $totalLines, $ringWritten, $truncated, $logErr) = ($hbytes, $hlines, 0, 0, undef);
  ($tailBudget, $markerFmt, $kernelCopy, $ringLines, @ck) = ($tb, $mf eq '' ? undef : pack('H*', $mf), $kc, 0);
  $ringAt = -1;
  %pend = (o => '', e => ''); %ph = (o => 0, e => 0);
  $mask = undef;
  if (@forms) { my $alt = join('|', map { quotemeta(pack('H*', $_)) } @forms); $mask = qr/$alt/; }
  pipe($outR, $outW); pipe($errR, $errW);
  for ($outR, $errR) { fcntl($_, 4, $nonblock); }
  for ($outW, $errW) { fcntl($_, 1031, 1048576) or fcntl($_, 1031, 262144); }
  $lrin = '';
  vec($lrin, fileno($_), 1) = 1 for $outR, $errR;
  # A child's end interrupts select (EINTR); the timeout in waitlogged covers the tiny race.
  $SIG{CHLD} = sub {};
  # The pump needs the children list to await a sandbox's end without awaiting the pump's.
  $pumpLog = 0;
  startpump($pump, $mf, @forms) if $pump ne '' && -r "/proc/$$/task/$$/children";
  $logging = 1;
  reply('G ' . ($pumpLog ? $pumpPid : 0));
}
sub endlog {
  return reply('C 0 0 0 0 0 0 0 0 0 not logging') if !$logging;
  if ($pumpLog) {
    # The pump stores what is left, assembles the tail (t) and answers as this helper would.
    my $l = pumpsend($_[0] ? "t\n" : "g\n") ? pumpline() : undef;
    $pumpLog = 0;
    if (defined $l && $l =~ /^C /) { chomp $l; reply($l); } else { pumpgone(); reply('X the log pump ended'); }
  } else {
    drain(); stamp(); flushpartial();
    my @whole = $_[0] ? assemble() : ();
    @whole = (0, 0, 0) if !@whole;
    reply("C $headBytes $headLines $totalBytes $totalLines $ringWritten $truncated @whole" . (defined $logErr ? " $logErr" : ''));
  }
  close $_ for grep { defined } $lfh, $rfh, $outR, $outW, $errR, $errW, $pumpFh;
  ($lfh, $rfh, $outR, $errR, $pumpFh) = (undef, undef, undef, undef, undef);
  $SIG{CHLD} = 'DEFAULT';
  $logging = 0;
}
sub fill {
  while (1) {
    next if $logging && !$pumpLog && !pump(undef, 1);
    my $r = sysread(STDIN, $buf, 65536, length $buf);
    return if $r;
    next if !defined $r && $! == 4;
    exit 0;
  }
}
sub readn {
  my $n = shift;
  fill() while length($buf) < $n;
  my $out = substr($buf, 0, $n); substr($buf, 0, $n) = ''; return $out;
}
sub readline_ {
  fill() while index($buf, "\n") < 0;
  return readn(index($buf, "\n") + 1);
}
sub waitlogged {
  my $pid = $_[0];
  while ($pumpLog) {
    my $p = waitpid($pid, 0);
    if ($p == $pid) { my $status = $?; logdrain(); return $status; }
    if ($p == -1 && $! != 4) { logdrain(); return -1; }
  }
  while (1) {
    my $p = waitpid($pid, 1);
    if ($p == $pid) { my $status = $?; drain(); return $status; }
    if ($p == -1 && $! != 4) { drain(); return -1; }
    ($pumped, $drained) = (0, 0);
    pump(0.02, 0);
    # A writer slower than this reader would make every read a few KiB (and as many wake-ups,
    # syscalls and prefixes): a millisecond lets the pipe fill. A step's end still wakes it (EINTR).
    select(undef, undef, undef, 0.001) if $pumped > 0 && $drained;
  }
}
my $nested = 0;
sub done { if ($nested) { reply("D $_[0]"); } else { finish($_[0]); } }
while (1) {
  1 while waitpid(-1, 1) > 0;
  my $len = readline_(); chomp $len;
  exit 0 if $len eq 'Q';
  if ($len eq 'g' || $len eq 't') { endlog($len eq 't'); next; }
  my $kind = $len =~ s/^([LFGOWB])// ? $1 : '';
  my $body = readn($len);
  if ($kind eq 'W') {
    # Awaited: a step started after its header line must not reach the pump's pipes before it.
    if ($logging && $pumpLog) { pumpgone() if !pumpsend("W$len\n$body") || !defined pumpline(); }
    elsif ($logging) { stamp(); flushpartial(); emit('s', "$body\n"); }
    next;
  }
  my @f = split(/\0/, $body, -1);
  if ($kind eq 'F') { openfiles(@f); next; }
  if ($kind eq 'G') { startlog(@f); next; }
  if ($kind eq 'O') {
    my $lpath = shift @f; $ringPath = shift @f;
    if (!open($ownLog, '>>', $lpath)) { reply("X $lpath: $!"); next; }
    binmode $ownLog;
    startlog('', '', @f); next;
  }
  $nested = $kind eq 'L' ? 1 : 0;
  # A step that is a sandbox (B): bubblewrap, with the step as its command.
  my $sandboxed = $kind eq 'B';
  my $nfiles = shift @f; my $ferr;
  for (1 .. $nfiles) {
    my ($path, $mode, $hex) = splice(@f, 0, 3);
    if (open(my $fh, '>', $path)) {
      binmode $fh; print $fh pack('H*', $hex); close $fh or $ferr //= "$path: $!";
      chmod(oct($mode), $path) if $mode ne '';
    } else { $ferr //= "$path: $!"; }
  }
  my $cwd = shift @f; my $argc = shift @f;
  my @argv = splice(@f, 0, $argc);
  my %env = map { my $i = index($_, '='); (substr($_, 0, $i) => substr($_, $i + 1)) } @f;
  if (defined $ferr) { reply("X $ferr"); done(-1); next; }
  # A step's child makes syscalls only (below): every Perl op a forked child runs touches pages
  # of the helper's heap, each a copy-on-write fault, and %ENV is rebuilt key by key. So the
  # environment, argv and the PATH search's candidates are packed here, before the fork.
  my $raw = $execve > 0 && $dup2 > 0 && $chdir > 0 && !$nested;
  my (@envs, $envp, $argvp, @tries);
  if ($raw) {
    @envs = map { "$_=$env{$_}" } keys %env;
    $envp = pack('p*', @envs, undef); $argvp = pack('p*', @argv, undef);
    @tries = index($argv[0], '/') >= 0 ? ($argv[0])
      : map { ($_ eq '' ? '' : "$_/") . $argv[0] } split(/:/, $env{PATH} // '/bin:/usr/bin', -1);
  }
  my $pid = fork();
  if (!defined $pid) { close $_ for @opened; @opened = (); reply("X fork: $!"); done(-1); next; }
  if ($pid == 0 && $raw) {
    if ($setsid > 0) { syscall($setsid); } else { setpgrp(0, 0); }
    syscall($dup2, fileno($devnull), 0, 0);
    if ($logging) { syscall($dup2, fileno($outW), 1, 0); syscall($dup2, fileno($errW), 2, 0); }
    if (syscall($chdir, $cwd) != 0) { reply("X chdir $cwd: $!"); exit 127; }
    # execvp's search: on to the next directory past a missing file (ENOENT 2, ENOTDIR 20,
    # ENODEV 19, ESTALE 116, ETIMEDOUT 110) or a denied one (EACCES 13, reported if nothing
    # else runs); a file without a known format (ENOEXEC 8) runs under /bin/sh, as glibc does.
    my $denied = 0;
    for my $try (@tries) {
      syscall($execve, $try, $argvp, $envp);
      my $e = $! + 0;
      if ($e == 8) {
        # A variable: syscall refuses a read-only string (it could write through the pointer).
        my @sh = ('/bin/sh', $try, @argv[1 .. $#argv]);
        syscall($execve, $sh[0], pack('p*', @sh, undef), $envp);
        last;
      }
      if ($e == 13) { $denied = 1; next; }
      last if $e != 2 && $e != 20 && $e != 19 && $e != 116 && $e != 110;
    }
    $! = 13 if $denied && ($! == 2 || $! == 20);
    reply("X $argv[0]: $!"); exit 127;
  }
  if ($pid == 0) {
    # A new session where the syscall's number is known, else at least a new process group.
    if ($setsid > 0) { syscall($setsid); } else { setpgrp(0, 0); }
    # A nested helper reads Node's requests and answers on fd 3 itself, and gets the job log's
    # files (F) to write them from inside the sandbox; a step gets none of these.
    if ($nested) { fcntl($_, 2, 0) for $rep, @opened; } else { open(STDIN, '<', '/dev/null'); }
    if ($logging) { open(STDOUT, '>&', $outW); open(STDERR, '>&', $errW); }
    if (!chdir $cwd) { reply("X chdir $cwd: $!"); exit 127; }
    %ENV = %env;
    exec { $argv[0] } @argv;
    reply("X $argv[0]: $!"); exit 127;
  }
  # The nested helper has its own copies of the log's files.
  if ($nested) { close $_ for @opened; @opened = (); }
  reply(($nested ? 'L' : 'S') . " $pid");
  my $status = -1;
  if ($logging) { $status = waitlogged($pid); }
  else {
    while (1) {
      my $p = waitpid(-1, 0);
      if ($p == $pid) { $status = $?; last; }
      last if $p == -1 && $! != 4;
    }
  }
  # bubblewrap exits before its init (pid 1 of the sandbox) has ended the rest, and that init is
  # re-parented here (a subreaper): the sandbox is over only when every child is. Nothing else
  # can be a child here: a helper goes back to the pool only without children.
  if ($nested || $sandboxed) {
    while (1) {
      last if $pumpPid && !grep { $_ != $pumpPid } kids();
      last if waitpid(-1, 0) == -1 && $! != 4;
    }
    logdrain() if $logging;
  }
  done($status);
}
# While this helper writes the log, steps write to its pipes, not to its stdout/stderr: no marker.
sub finish { if (!$logging) { syswrite(STDOUT, $marker); syswrite(STDERR, $marker); } reply("E $_[0]"); }
`;

/**
 * Linux syscall numbers the helper needs (prctl for PR_SET_CHILD_SUBREAPER, setsid,
 * copy_file_range for the log's tail, execve/dup2/chdir for a step's child), by Node's name of
 * the architecture. Elsewhere the helper does without: no subreaper (leftovers are found by their
 * environment), a new process group instead of a session, the tail copied through the helper, a
 * child that runs Perl's own exec.
 */
const SYSCALLS: Record<string, HelperSyscalls> = {
  x64: { prctl: 157, setsid: 112, gettimeofday: 96, copyFileRange: 326, execve: 59, dup2: 33, chdir: 80 },
  // No dup2 there: dup3 with flags 0 does the same for two different descriptors.
  arm64: { prctl: 167, setsid: 157, gettimeofday: 169, copyFileRange: 285, execve: 221, dup2: 24, chdir: 49 },
  riscv64: { prctl: 167, setsid: 157, gettimeofday: 169, copyFileRange: 285, execve: 221, dup2: 24, chdir: 49 },
  ia32: { prctl: 172, setsid: 66, gettimeofday: 78, copyFileRange: 377, execve: 11, dup2: 63, chdir: 12 },
};

/**
 * The numbers, and why each: a subreaper, a session per step, the log's time stamps and tail copy;
 * execve, dup2 and chdir let a step's forked child run no Perl but syscalls (see the helper).
 */
interface HelperSyscalls {
  prctl: number;
  setsid: number;
  gettimeofday: number;
  copyFileRange: number;
  execve: number;
  dup2: number;
  chdir: number;
}

/**
 * The helper's own environment (steps get exactly theirs). Its log mode builds a string of up to
 * ~100 KiB per read; glibc would map and unmap each from the kernel (mmap above its adaptive
 * threshold), paying fresh zeroed pages every time: 0.1–0.4 s of system time per 100 MB logged,
 * ~0.1 s with the threshold above any string the helper builds.
 */
const HELPER_ENV = {
  LC_ALL: 'C',
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=8388608',
};

/** Where a running step's output goes. */
export interface StepSink {
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
}

/** A file the helper writes before it forks the step (off Node's main thread). */
export interface StepFile {
  path: string;
  content: string;
  /** Set exactly (chmod) when given. */
  mode?: number;
}

export interface SpawnerStepOptions extends StepSink {
  /** Written (truncated) before the step starts; a failure to write one fails the start. */
  files?: StepFile[];
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
  signal: AbortSignal;
  killGraceMs?: number;
  /**
   * `argv` is a bubblewrap command line (sandbox.ts) running the step in a sandbox of its own,
   * forked by this helper outside any sandbox of its own (a one-step job: see job-runner.ts).
   * A stop then ends the tree under the sandbox's init (bubblewrap's child), so the step sees
   * SIGTERM first; the status is bubblewrap's: the step's exit code, 128 + n for a signal.
   */
  sandboxed?: boolean;
}

type Reply =
  | { kind: 'S' | 'L'; pid: number }
  | { kind: 'H'; pid: number; reaper: boolean }
  | { kind: 'X'; message: string }
  | { kind: 'E'; status: number }
  | { kind: 'F'; fds: number[] }
  | { kind: 'G'; pump: number }
  | { kind: 'C'; summary: LogLoanReturn };

/** How the helper writes a job's log (`startLog`); the cap's state is the log writer's at hand-over. */
export interface HelperLogOptions {
  /** The log file and the tail ring, as opened by `openLogFiles` (fd numbers in the helper). */
  fds: readonly number[];
  /** Bytes the file may hold before the rest goes to the tail ring; -1 for no cap. */
  headBudget: number;
  /** Size of the tail ring file (0 without a cap). */
  ringBytes: number;
  /** Bytes and lines already in the file. */
  headBytes: number;
  headLines: number;
  /** Every form to mask, as the bytes to match, longest first (Masker.byteForms). */
  maskForms: readonly Buffer[];
  /** Largest read of the steps' output; at most 64 KiB (see the helper). Tests make it tiny. */
  readBytes?: number;
  /** The kept tail's budget (-1 without a cap) and the truncation marker as a sprintf format (`LogLoan`). */
  tailBudget: number;
  markerFormat: string;
  /** Whether the tail may be copied by the kernel (copy_file_range); tests turn it off to cover the other path. */
  kernelCopy?: boolean;
}

/** The largest read of a step's output the helper makes (its lines' 64 KiB split relies on it). */
export const HELPER_LOG_READ_BYTES = 64 * 1024;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
/** After `E`, how long the markers may take to come through before we stop waiting (only a broken pipe could delay them). */
const MARKER_WAIT_MS = 2000;
/** How long a sandbox may take to end after `Q` before its bubblewrap is killed (and again before the helper is). */
const SANDBOX_END_MS = 5000;

/** Demultiplexes one of the helper's output streams into steps by counting end-of-step markers. */
export class MarkedStream {
  private held: Buffer | null = null;
  /** Markers seen so far; the step numbered n (from 1) has ended on this stream when seen ≥ n. */
  seen = 0;
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly marker: Buffer;
  private readonly deliver: (chunk: Buffer) => void;

  constructor(marker: Buffer, deliver: (chunk: Buffer) => void) {
    this.marker = marker;
    this.deliver = deliver;
  }

  push(input: Buffer): void {
    let chunk = this.held ? Buffer.concat([this.held, input]) : input;
    this.held = null;
    const m = this.marker;
    for (let at = chunk.indexOf(m); at !== -1; at = chunk.indexOf(m)) {
      if (at > 0) this.deliver(chunk.subarray(0, at));
      chunk = chunk.subarray(at + m.length);
      this.seen++;
      this.waiters = this.waiters.filter((w) => {
        if (w.count > this.seen) return true;
        w.resolve();
        return false;
      });
    }
    // A marker cut by the chunk boundary: hold back the tail that could be its beginning.
    const first = m[0] as number;
    for (let p = chunk.indexOf(first, Math.max(0, chunk.length - m.length + 1)); p !== -1; p = chunk.indexOf(first, p + 1)) {
      if (m.subarray(0, chunk.length - p).equals(chunk.subarray(p))) {
        this.held = Buffer.from(chunk.subarray(p));
        chunk = chunk.subarray(0, p);
        break;
      }
    }
    if (chunk.length > 0) this.deliver(chunk);
  }

  until(count: number): Promise<void> {
    if (this.seen >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

export interface SpawnerOptions {
  cwd: string;
}

/** The nested helper of a sandboxed job (see `enterSandbox`), by host pids. */
interface Sandbox {
  /** The bubblewrap process the outer helper forked. */
  wrapperPid: number;
  /** The nested helper (its pid inside the sandbox differs). */
  helperPid: number;
  /** Resolves with the `D` (ended) reply's wait status. */
  ended: Promise<number | null>;
}

/**
 * One helper process. Runs one step at a time; `release()`/`close()` are the pool's and the
 * job runner's. Never shared by two jobs at once.
 */
export class Spawner {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** The helper's pid. */
  private ownPid: number | null = null;
  private ownReaper = false;
  private readonly marker: string;
  private readonly ready: Promise<void>;
  private replyWaiter: (() => void) | null = null;
  private lineBuf = '';
  /** Where output goes right now: the running step's callbacks, else the attached job sink. */
  private sink: StepSink | null = null;
  private attached: StepSink | null = null;
  private readonly out: MarkedStream;
  private readonly err: MarkedStream;
  private steps = 0;
  /** Between `startLog` and `endLog`: the helper writes the job's log. */
  private logging = false;
  /** The native log pump's host pid, once this helper started one (see `adopted`). */
  private pumpPid: number | null = null;
  /** Whether the native pump writes the log now (else the helper's Perl code; a sandbox's nested helper's pump included). */
  nativeLog = false;
  /** System lines not sent yet (`logSystem`), and whether a flush is scheduled. */
  private held: Buffer[] = [];
  private flushScheduled = false;
  dead = false;
  /** The sandbox whose nested helper runs the steps now, if any. */
  private sandbox: Sandbox | null = null;
  /** Resolves the current sandbox's `ended` at its `D` reply (or the helper's exit: null). */
  private sandboxEnd: ((status: number | null) => void) | null = null;
  /**
   * A sandbox ended on its own (its helper killed): steps can no longer run here for this job,
   * and its missing step markers make this helper unfit for another job.
   */
  private spoiled = false;
  private readonly exited: Promise<void>;

  constructor(o: SpawnerOptions) {
    this.marker = `\x1e<gantry-step-end-${randomBytes(12).toString('hex')}>\x1e`;
    const [command, ...args] = helperArgv(this.marker);
    this.child = spawn(command, args, {
      cwd: o.cwd,
      env: childEnv({ set: HELPER_ENV }),
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    }) as unknown as ChildProcessByStdio<Writable, Readable, Readable>;
    const markerBuf = Buffer.from(this.marker, 'latin1');
    this.out = new MarkedStream(markerBuf, (c) => this.sink?.onStdout(c));
    this.err = new MarkedStream(markerBuf, (c) => this.sink?.onStderr(c));
    this.child.stdout.on('data', (c: Buffer) => this.out.push(c));
    this.child.stderr.on('data', (c: Buffer) => this.err.push(c));
    this.child.stdin.on('error', () => undefined);
    const control = this.child.stdio[3] as Readable;
    control.setEncoding('latin1');
    control.on('data', (text: string) => this.onControl(text));
    // 'exit', not 'close': a background process may hold the pipes open after the helper ended.
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', () => resolve());
    });
    void this.exited.then(() => {
      this.dead = true;
      this.endSandbox(null);
      this.replyWaiter?.();
    });
    this.ready = this.handshake();
    // Awaited by started()/run(); this only keeps an early failure from being reported unhandled.
    this.ready.catch(() => undefined);
  }

  private async handshake(): Promise<void> {
    const hello = await this.nextReply();
    if (hello?.kind !== 'H') throw new GantryError('SPAWN_FAILED', 'the step helper did not start (is perl installed?)');
    this.ownReaper = hello.reaper;
    this.ownPid = hello.pid;
  }

  /** Resolves once the helper answered; rejects when it could not start. */
  async started(): Promise<void> {
    await this.ready;
  }

  /** Whether processes escaping a step are re-parented to the helper running it (see the module comment). */
  get reaper(): boolean {
    return this.sandbox !== null || this.ownReaper;
  }

  /** False once steps cannot run here any more: the helper ended, or the job's sandbox did. */
  get usable(): boolean {
    return !this.dead && !this.spoiled;
  }

  private pendingLines: string[] = [];

  private onControl(text: string): void {
    this.lineBuf += text;
    for (let nl = this.lineBuf.indexOf('\n'); nl !== -1; nl = this.lineBuf.indexOf('\n')) {
      const line = this.lineBuf.slice(0, nl);
      this.lineBuf = this.lineBuf.slice(nl + 1);
      // A sandbox's end is news whoever is waiting for what: it never queues behind other replies.
      if (line.startsWith('D ')) this.endSandbox(Number(line.slice(2)));
      else this.pendingLines.push(line);
    }
    const waiter = this.replyWaiter;
    this.replyWaiter = null;
    waiter?.();
  }

  private async nextLine(): Promise<string | null> {
    while (this.pendingLines.length === 0) {
      if (this.dead) return null;
      await new Promise<void>((resolve) => {
        this.replyWaiter = resolve;
      });
    }
    return this.pendingLines.shift() as string;
  }

  private async nextReply(): Promise<Reply | null> {
    const line = await this.nextLine();
    return line === null ? null : parseReply(line);
  }

  private endSandbox(status: number | null): void {
    const resolve = this.sandboxEnd;
    this.sandboxEnd = null;
    resolve?.(status);
  }

  /** Keeps the event loop alive while a job uses the helper; an idle pooled helper must not. */
  setRef(on: boolean): void {
    const handles = [this.child, this.child.stdout, this.child.stderr, this.child.stdin, this.child.stdio[3]] as unknown as {
      ref?: () => void;
      unref?: () => void;
    }[];
    for (const h of handles) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  /** Output of the job's processes between steps (background processes) goes to the same sink. */
  attach(sink: StepSink | null): void {
    this.attached = sink;
    this.sink = sink;
  }

  /** Sends one request: a step, a step that is a sandbox (`B`), or a nested helper under `argv` (`L`; see the protocol). */
  private send(kind: '' | 'B' | 'L', files: StepFile[], cwd: string, argv: string[], env: Record<string, string>): void {
    const fields = [String(files.length)];
    // Contents as hex: a script may hold any byte, NUL included.
    for (const f of files)
      fields.push(f.path, f.mode === undefined ? '' : f.mode.toString(8), Buffer.from(f.content, 'utf8').toString('hex'));
    fields.push(cwd, String(argv.length), ...argv);
    for (const [name, value] of Object.entries(env)) fields.push(`${name}=${value}`);
    // NUL separates the fields (and cannot be in an argument or a variable anyway, as Node's spawn says).
    if (fields.some((f) => f.includes('\0'))) throw new GantryError('SPAWN_FAILED', 'an argument or environment value holds a NUL byte');
    const payload = Buffer.from(fields.join('\0'), 'utf8');
    // One write: each wakes the helper, and on a busy machine each wake-up costs Node its turn.
    this.write(Buffer.concat([Buffer.from(`${kind}${payload.length}\n`), payload]));
  }

  /**
   * Moves this job's steps into a sandbox: the helper forks `wrapper` (bubblewrap's command line)
   * running a nested helper, which then answers for every step until `leaveSandbox`. The job's
   * steps share the sandbox's pid namespace, so its end ends everything they left running.
   * Rejects (the helper staying usable outside) when the sandbox does not start.
   */
  async enterSandbox(wrapper: string[], cwd: string): Promise<void> {
    await this.ready;
    if (this.sandbox) throw new GantryError('SPAWN_FAILED', 'the step helper is already in a sandbox');
    const ended = new Promise<number | null>((resolve) => {
      this.sandboxEnd = resolve;
    });
    if (this.dead) this.endSandbox(null);
    this.send('L', [], cwd, [...wrapper, ...helperArgv(this.marker)], childEnv({ set: HELPER_ENV }));
    let wrapperPid: number | null = null;
    let hello: { pid: number } | null = null;
    let startError: string | null = null;
    // `L` (forked) comes from this helper, `H` from the nested one: either may come first.
    const early = Promise.race([
      ended.then(() => null),
      (async () => {
        while (wrapperPid === null || hello === null) {
          const reply = await this.nextReply();
          if (reply === null) return null;
          if (reply.kind === 'L') wrapperPid = reply.pid;
          else if (reply.kind === 'H') hello = reply;
          else if (reply.kind === 'X') startError ??= reply.message;
        }
        return true;
      })(),
    ]);
    if ((await early) === null || wrapperPid === null || hello === null) {
      await ended;
      // A reply reader may still be waiting: this helper's answers are no longer to be trusted.
      this.spoiled = true;
      throw new GantryError('SPAWN_FAILED', `the sandbox did not start${startError ? `: ${startError}` : ''}`);
    }
    const helperPid = findHostPid(wrapperPid, (hello as { pid: number }).pid);
    this.sandbox = { wrapperPid, helperPid: helperPid ?? -1, ended };
    // Without host pids a sandboxed step could not be stopped: the caller falls back to plain spawns.
    if (helperPid === null) {
      await this.leaveSandbox();
      throw new GantryError('SPAWN_FAILED', 'cannot find the step helper in its sandbox');
    }
  }

  /**
   * Ends the job's sandbox (`Q` to its helper), and with it every process still in it; the helper
   * is then back outside, ready for another job. Bounded: a sandbox that does not end is killed,
   * and a helper that does not report it is ended too.
   */
  async leaveSandbox(): Promise<void> {
    const sandbox = this.sandbox;
    if (!sandbox) return;
    this.sandbox = null;
    this.attach(null);
    if (this.sandboxEnd === null) {
      // It ended on its own: the next `Q` would end this helper instead.
      this.spoiled = true;
      return;
    }
    this.write('Q\n');
    if ((await withTimeout(sandbox.ended, SANDBOX_END_MS)) !== undefined) return;
    killQuietly(sandbox.wrapperPid);
    if ((await withTimeout(sandbox.ended, SANDBOX_END_MS)) !== undefined) return;
    this.spoiled = true;
    await this.close();
  }

  /**
   * Opens a job's log file (to append) and its tail ring file in this helper, outside any
   * sandbox, before `enterSandbox` hands them to the nested helper: inside, the data dir is
   * hidden. Resolves with their descriptor numbers for `startLog`.
   */
  async openLogFiles(file: string, ringFile: string): Promise<number[]> {
    const pump = await logPump();
    await this.ready;
    this.sendRequest('F', Buffer.from([file, ringFile, ...(pump === null ? [] : [pump])].join('\0'), 'utf8'));
    const reply = await this.replyOf('F', 'cannot open the job log');
    return reply.kind === 'F' ? reply.fds : [];
  }

  /**
   * From now on the helper running the steps writes their output to the job's log itself (see
   * the protocol): Node no longer reads it. System lines go through `logSystem` so they stay in
   * order; `endLog` hands the log back. Rejects when the helper cannot (the log stays Node's).
   */
  async startLog(o: HelperLogOptions): Promise<void> {
    // The pump's binary came with the files (a third descriptor): run by number, also in a sandbox.
    const pump = o.fds[2] === undefined ? '' : `/proc/self/fd/${o.fds[2]}`;
    const fields = [...o.fds.slice(0, 2).map(String), ...this.logFields(o, pump)];
    this.sendRequest('G', Buffer.from(fields.join('\0'), 'latin1'));
    this.loggingFrom(await this.replyOf('G', 'the step helper cannot write the job log'));
  }

  /**
   * `openLogFiles` and `startLog` in one request, for a helper that writes the log itself (no
   * nested helper in a sandbox to hand the files to): one round trip instead of two, and the tail
   * ring is created only if the head fills up.
   */
  async openAndStartLog(files: { file: string; ringFile: string }, o: Omit<HelperLogOptions, 'fds'>): Promise<void> {
    const pump = (await logPump()) ?? '';
    await this.ready;
    this.sendRequest('O', Buffer.from([files.file, files.ringFile, ...this.logFields(o, pump)].join('\0'), 'utf8'));
    this.loggingFrom(await this.replyOf('G', 'the step helper cannot write the job log'));
  }

  /** Logging from the `G` answer on: the pump's pid (outside a sandbox) is not one of the job's processes. */
  private loggingFrom(reply: Reply): void {
    const pump = reply.kind === 'G' ? reply.pump : 0;
    this.logging = true;
    // The pump serves this helper until it exits (a sandbox's nested helper has its own).
    if (pump > 0 && !this.sandbox) this.pumpPid = pump;
    this.nativeLog = pump > 0;
  }

  /** The fields of `G` after the two descriptors (see the protocol); `pump`: the native pump to run, or ''. */
  private logFields(o: Omit<HelperLogOptions, 'fds'>, pump: string): string[] {
    const readBytes = Math.max(1, Math.min(HELPER_LOG_READ_BYTES, o.readBytes ?? HELPER_LOG_READ_BYTES));
    const fields = [o.headBudget, o.ringBytes, o.headBytes, o.headLines, readBytes, o.tailBudget].map(String);
    fields.push(Buffer.from(o.markerFormat, 'utf8').toString('hex'), o.kernelCopy === false ? '0' : '1', pump);
    for (const form of o.maskForms) fields.push(form.toString('hex'));
    return fields;
  }

  /**
   * A line of Gantry's own in the log the helper writes, after everything the steps printed so
   * far. Held until the next request or the end of this turn of the event loop (see `write`).
   */
  logSystem(text: string): void {
    if (!this.logging) return;
    const payload = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8');
    this.held.push(Buffer.from(`W${payload.length}\n`), payload);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushHeld());
  }

  /**
   * Hands the log back: the helper stores what is left of partial lines, stops reading the steps'
   * output and reports what it wrote. Null when the helper (or its sandbox) ended before it could.
   * `final`: no step output follows (the job is done), so a truncated log's marker and tail are
   * assembled by the helper now (`LogLoanReturn.assembled`) instead of read back by Node at close.
   */
  async endLog(o: { final?: boolean } = {}): Promise<LogLoanReturn | null> {
    if (!this.logging) return null;
    this.logging = false;
    this.nativeLog = false;
    if (!this.usable) return null;
    this.write(o.final ? 't\n' : 'g\n');
    const reply = await this.replyOf('C', 'the step helper could not hand the log back').catch(() => null);
    return reply?.kind === 'C' ? reply.summary : null;
  }

  /** The next reply, which must be `kind`; throws on `X` (with `what`) or when the helper or its sandbox ended first. */
  private async replyOf(kind: 'F' | 'G' | 'C', what: string): Promise<Reply> {
    const lost = this.sandbox ? this.sandbox.ended.then(() => null) : new Promise<null>(() => undefined);
    const reply = await Promise.race([this.nextReply(), lost]);
    if (reply === null) {
      if (this.sandbox) this.spoiled = true;
      throw new GantryError('SPAWN_FAILED', 'the step helper ended unexpectedly');
    }
    if (reply.kind === kind) return reply;
    if (reply.kind === 'X') throw new GantryError('SPAWN_FAILED', `${what}: ${reply.message}`);
    this.spoiled = true;
    throw new GantryError('SPAWN_FAILED', `the step helper answered ${reply.kind} instead of ${kind}`);
  }

  private sendRequest(kind: 'F' | 'G' | 'O' | 'W', payload: Buffer): void {
    this.write(Buffer.concat([Buffer.from(`${kind}${payload.length}\n`), payload]));
  }

  /**
   * Every request goes through here, after the system lines held back (`logSystem`): a line
   * written just before a step (`▶ name`) then travels with the step's request, one write and one
   * wake-up of the helper instead of two.
   */
  private write(data: Buffer | string): void {
    const held = this.held;
    this.held = [];
    if (held.length === 0) {
      this.child.stdin.write(data);
      return;
    }
    held.push(typeof data === 'string' ? Buffer.from(data) : data);
    this.child.stdin.write(Buffer.concat(held));
  }

  /** Sends the held system lines now (when no request followed them within the same turn of the event loop). */
  private flushHeld(): void {
    this.flushScheduled = false;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    this.child.stdin.write(Buffer.concat(held));
  }

  /** Runs one step; same contract as `spawnStep` (process-tree.ts). */
  async run(o: SpawnerStepOptions): Promise<StepExit> {
    const started = performance.now();
    if (o.signal.aborted)
      return { exitCode: null, signal: null, timedOut: false, cancelled: true, durationMs: 0, pid: null, leftovers: [] };
    await this.ready;
    if (o.argv.length === 0) throw new GantryError('SPAWN_FAILED', 'a step needs a command line');
    if (this.spoiled) throw new GantryError('SPAWN_FAILED', 'the step helper ended unexpectedly');
    const sandbox = this.sandbox;
    if (o.sandboxed && sandbox) throw new GantryError('SPAWN_FAILED', 'a sandboxed step cannot start inside a sandbox');
    this.send(o.sandboxed ? 'B' : '', o.files ?? [], o.cwd, o.argv, o.env);
    this.sink = o;
    // A step's end marker comes only when the helper does not write the log (see `finish`).
    const marked = !this.logging;
    const step = marked ? ++this.steps : this.steps;

    let pid: number | null = null;
    let startError: string | null = null;
    const stopper = new StepStopper(o.sandboxed ? { ...o, target: sandboxInit } : o);
    try {
      let end: Reply | null = null;
      // `S` (started) and `X` (could not start, from the child) come in either order, then `E`.
      const replies = (async () => {
        for (end = await this.nextReply(); end !== null && end.kind !== 'E'; end = await this.nextReply()) {
          if (end.kind === 'X') startError ??= end.message;
          else if (end.kind === 'S') {
            pid = sandbox ? findChildHostPid(sandbox.helperPid, end.pid) : end.pid;
            if (pid !== null) stopper.attach(pid);
          }
        }
        return end;
      })();
      // A sandbox ending under a running step (its helper killed) never answers `E`.
      const lost = sandbox ? sandbox.ended.then(() => null) : new Promise<null>(() => undefined);
      end = await Promise.race([replies, lost]);
      const killed = await stopper.settle();
      if (end === null || (end as Reply).kind !== 'E') {
        this.spoiled = true;
        throw new GantryError('SPAWN_FAILED', 'the step helper ended unexpectedly');
      }
      const status = (end as { status: number }).status;
      if (marked) {
        let markerTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all([this.out.until(step), this.err.until(step)]),
          new Promise<void>((resolve) => {
            markerTimer = setTimeout(resolve, MARKER_WAIT_MS);
          }),
        ]);
        clearTimeout(markerTimer);
      }
      if (startError !== null) throw new GantryError('SPAWN_FAILED', `cannot start ${o.argv[0] ?? ''}: ${startError}`);
      const termSignal = status & 0x7f;
      return {
        exitCode: status < 0 ? null : termSignal === 0 ? status >> 8 : null,
        signal: termSignal === 0 ? null : (SIGNAL_NAMES.get(termSignal) ?? `signal ${termSignal}`),
        timedOut: stopper.timedOut,
        cancelled: stopper.cancelled,
        durationMs: Math.round(performance.now() - started),
        pid,
        leftovers: killed || pid === null ? [] : leftoverProcesses(pid),
      };
    } finally {
      stopper.dispose();
      this.sink = this.attached;
    }
  }

  /**
   * Processes the helper adopted or still has as children (escapees, background processes whose
   * step ended): the job's leftovers. Host pids; empty in a sandbox (its end ends them).
   */
  adopted(): ProcessRef[] {
    if (this.sandbox || this.ownPid === null) return [];
    return processRefs(childrenOf(this.ownPid).filter((pid) => pid !== this.pumpPid));
  }

  /** Whether the pool may hand this helper to another job. */
  get reusable(): boolean {
    return this.usable && !this.logging && this.sandbox === null && this.adopted().length === 0;
  }

  /** Ends the helper (closing its stdin); a sandbox it runs ends first, and every process in it. */
  async close(): Promise<void> {
    this.attach(null);
    this.flushHeld();
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The helper's command line (also run inside bubblewrap as a nested helper). */
function helperArgv(marker: string): [string, ...string[]] {
  const calls = SYSCALLS[process.arch] ?? { prctl: 0, setsid: 0, gettimeofday: 0, copyFileRange: 0, execve: 0, dup2: 0, chdir: 0 };
  return [
    'perl',
    '-e',
    HELPER,
    marker,
    String(calls.prctl),
    String(calls.setsid),
    String(calls.gettimeofday),
    String(fsConstants.O_NONBLOCK),
    String(calls.copyFileRange),
    String(fsConstants.O_APPEND),
    String(calls.execve),
    String(calls.dup2),
    String(calls.chdir),
  ];
}

function parseReply(line: string): Reply {
  const kind = line[0];
  const rest = line.slice(2);
  switch (kind) {
    case 'S':
    case 'L':
      return { kind, pid: Number(rest) };
    case 'H': {
      const [pid, reaper] = rest.split(' ');
      return { kind, pid: Number(pid), reaper: reaper === '1' };
    }
    case 'X':
      return { kind, message: rest };
    case 'F':
      return { kind, fds: rest.split(' ').map(Number) };
    case 'G':
      return { kind, pump: Number(rest) || 0 };
    case 'C': {
      const [headBytes, headLines, totalBytes, totalLines, ringWritten, truncated, bytes, lines, cutBytes, ...error] = rest.split(' ');
      return {
        kind,
        summary: {
          headBytes: Number(headBytes),
          headLines: Number(headLines),
          totalBytes: Number(totalBytes),
          totalLines: Number(totalLines),
          ringWritten: Number(ringWritten),
          truncated: truncated === '1',
          assembled: Number(bytes) > 0 ? { bytes: Number(bytes), lines: Number(lines), cutBytes: Number(cutBytes) } : null,
          error: error.length > 0 ? errnoMessage(error) : null,
        },
      };
    }
    default:
      return { kind: 'E', status: Number(rest) };
  }
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** `28 No space left on device` (the helper's `$!`) → `ENOSPC: No space left on device`, as Node says it. */
function errnoMessage([errno, ...words]: string[]): string {
  return `${ERRNO_NAMES.get(Number(errno)) ?? `errno ${errno}`}: ${words.join(' ')}`;
}

/** The promise's value, or undefined when it did not settle within `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The innermost pid of a process (its pid in the namespace it was created in). */
function innerPid(hostPid: number): number | null {
  try {
    const status = readFileSync(`/proc/${hostPid}/status`, 'latin1');
    const line = /^NSpid:\s*(.*)$/m.exec(status)?.[1];
    const last = line?.trim().split(/\s+/).at(-1);
    return last === undefined ? null : Number(last);
  } catch {
    return null;
  }
}

/** The host pid of the helper running under bubblewrap (a descendant of the bwrap process). */
function findHostPid(wrapperPid: number, inner: number): number | null {
  const queue = [wrapperPid];
  for (let guard = 0; queue.length > 0 && guard < 16; guard++) {
    const pid = queue.shift() as number;
    for (const child of childrenOf(pid)) {
      if (innerPid(child) === inner && child !== inner) return child;
      queue.push(child);
    }
  }
  return null;
}

/** bubblewrap's only child, the init of the sandbox's pid namespace; bubblewrap itself before it forked. */
function sandboxInit(bwrapPid: number): number {
  return childrenOf(bwrapPid)[0] ?? bwrapPid;
}

function findChildHostPid(parentHostPid: number | null, inner: number): number | null {
  if (parentHostPid === null) return null;
  return childrenOf(parentHostPid).find((p) => innerPid(p) === inner) ?? null;
}

let perlAvailable: boolean | undefined;

/** Whether the helper can run here (perl is part of every Debian/Ubuntu base system, not of Alpine). */
export function spawnerAvailable(): boolean {
  perlAvailable ??=
    spawnSync('perl', ['-e', 'use POSIX; use Fcntl; exit 0'], { stdio: 'ignore', timeout: 10_000, env: childEnv() }).status === 0;
  return perlAvailable;
}

/**
 * Idle helpers (outside any sandbox), reused by the next job. A helper goes back only when nothing of its
 * last job is left (no children), so a job never sees another job's output or processes.
 */
export class SpawnerPool {
  private readonly idle: Spawner[] = [];
  private readonly maxIdle: number;

  constructor(maxIdle = 8) {
    this.maxIdle = maxIdle;
  }

  async acquire(): Promise<Spawner> {
    for (let s = this.idle.pop(); s; s = this.idle.pop()) {
      if (s.dead) continue;
      s.setRef(true);
      return s;
    }
    // At / : a pooled helper outlives the workspace it was first started for.
    const spawner = new Spawner({ cwd: '/' });
    await spawner.started();
    return spawner;
  }

  release(spawner: Spawner): void {
    spawner.attach(null);
    if (!spawner.reusable || this.idle.length >= this.maxIdle) {
      void spawner.close();
      return;
    }
    spawner.setRef(false);
    this.idle.push(spawner);
  }
}

/** The process-wide pool used by `runJob`. */
export const defaultSpawnerPool = new SpawnerPool();
