/**
 * Which local process holds the other end of a loopback TCP connection: the socket's inode from
 * /proc/net/tcp (and tcp6), then the process among `candidates` with a descriptor on that inode.
 * Used by the proxy to tell which Gantry service calls it (a chaos fault on one service edge).
 * Linux only; a few /proc reads per call, so callers look up once per connection and only when
 * they must. Null when the peer is not found (another host, or not one of the candidates).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The inode of the socket whose local end is `peerPort` and whose remote end is `ourPort` (both on this host). */
export function socketInode(peerPort: number, ourPort: number): string | null {
  const local = `:${peerPort.toString(16).toUpperCase().padStart(4, '0')}`;
  const remote = `:${ourPort.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length > 9 && f[1]?.endsWith(local) && f[2]?.endsWith(remote)) return f[9] ?? null;
    }
  }
  return null;
}

/** The first of `candidates` with a descriptor on socket `inode`, or null. */
export function processWithSocket(inode: string, candidates: Iterable<number>): number | null {
  const target = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return null;
}
