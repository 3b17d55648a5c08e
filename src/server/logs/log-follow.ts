/**
 * Follows an environment's service logs as they grow: every `pollMs` it lists the files being
 * written (each instance's `instance.log`, the environment's `drops.log`), reads what each
 * gained since the last look and hands on the complete lines that pass the matcher. Like the
 * job log follow (server/runs/log-follow.ts) it reads files rather than listening to the
 * supervisor, so nothing races between "stored" and "live" and a follower costs the services
 * nothing. A file that rotated between two looks is finished from its rotated copy (same inode)
 * before the new file is read from its start, so no line is skipped; instances that appear
 * later are read from their first line.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { parseLogLine, type StreamCode } from '../../core/log-line.ts';
import type { LineMatcher } from './log-query.ts';
import { listSegmentFiles, type SegmentFile } from './log-segments.ts';

export interface FollowedLine {
  releaseId: string;
  instance: string;
  at: string;
  stream: StreamCode;
  text: string;
}

export interface ServiceLogFollowOptions {
  envDir: string;
  releaseId?: string;
  instance?: string;
  matcher: LineMatcher;
  onLines(lines: FollowedLine[]): void;
  signal: AbortSignal;
  pollMs?: number;
  /** Read the files there now from their start too (default: only what they gain). */
  fromStart?: boolean;
}

/**
 * A follow after a search passes the search's start as `since` in its matcher: the files there
 * now are then read from their start and lines before `since` skipped, so nothing written between
 * the search and the follow is lost (a line may come twice; the CLI drops repeats).
 */

interface Tracked {
  ino: number;
  offset: number;
  partial: string;
}

const READ_BYTES = 1024 * 1024;

export async function followServiceLogs(o: ServiceLogFollowOptions): Promise<void> {
  const pollMs = o.pollMs ?? 250;
  const tracked = new Map<string, Tracked>();
  let first = true;
  while (!o.signal.aborted) {
    const segments = await listSegmentFiles(o.envDir, { releaseId: o.releaseId, instance: o.instance });
    for (const current of segments.filter((s) => !Number.isFinite(s.n))) {
      // Opened first, its inode taken from the open file: a name looked at and then opened may
      // already be the next file, whose lines would be read at the previous one's offset.
      const handle = await open(current.file, 'r').catch(() => null);
      if (!handle) continue;
      try {
        const { ino, size } = await handle.stat();
        let t = tracked.get(current.file);
        if (!t) {
          // What was there when following began is the search's to show; files born later are read whole.
          t = { ino, offset: first && !o.fromStart && o.matcher.sinceIso === null ? size : 0, partial: '' };
          tracked.set(current.file, t);
        }
        if (ino !== t.ino) {
          // Rotated since the last look, maybe more than once: finish the file we were reading
          // (now a rotated segment, same inode), then every segment rotated after it, in order,
          // up to the one open here if it has rotated too. Listed again: the rotation may have
          // happened after this look's listing.
          const fresh = await listSegmentFiles(o.envDir, { releaseId: current.releaseId, instance: current.instance });
          const rotated = await rotatedBetween(fresh, current, t.ino, ino);
          for (const [i, file] of rotated.entries()) {
            if (i > 0) Object.assign(t, { offset: 0, partial: '' });
            const old = await open(file, 'r').catch(() => null);
            // Gone: the budget deleted it; its lines are lost, and the drop line says so.
            if (old) await readNew(old, current, t, o).finally(() => old.close());
          }
          Object.assign(t, { ino, offset: 0, partial: '' });
        }
        await readNew(handle, current, t, o);
      } finally {
        await handle.close();
      }
    }
    first = false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * The rotated segment of the same instance that still has inode `from`, and those rotated after
 * it, oldest first, stopping before the one with inode `to` (the file open now, if it rotated too).
 * Looked for from the newest back: what rotated since the last look is a few files at the end,
 * and stat-ing every rotated file at every rotation made a busy log's follow quadratic.
 */
async function rotatedBetween(segments: SegmentFile[], current: SegmentFile, from: number, to: number): Promise<string[]> {
  const rotated = segments.filter((s) => s.instance === current.instance && s.releaseId === current.releaseId && Number.isFinite(s.n));
  const newer: { file: string; ino: number | undefined }[] = [];
  for (let i = rotated.length - 1; i >= 0; i--) {
    const file = rotated[i]?.file ?? '';
    const ino = (await stat(file).catch(() => null))?.ino;
    if (ino === from) {
      const end = newer.findIndex((s) => s.ino === to);
      return [file, ...newer.slice(0, end < 0 ? undefined : end).map((s) => s.file)];
    }
    newer.unshift({ file, ino });
  }
  return [];
}

async function readNew(handle: FileHandle, from: SegmentFile, t: Tracked, o: ServiceLogFollowOptions): Promise<void> {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, t.offset);
    if (bytesRead === 0) return;
    t.offset += bytesRead;
    // Lines end in `\n` and are cut at line ends, so a UTF-8 character never straddles the cut.
    const lastNl = buffer.lastIndexOf(0x0a, bytesRead - 1);
    if (lastNl === -1) {
      t.partial += buffer.toString('utf8', 0, bytesRead);
      continue;
    }
    const text = t.partial + buffer.toString('utf8', 0, lastNl);
    t.partial = buffer.toString('utf8', lastNl + 1, bytesRead);
    const lines: FollowedLine[] = [];
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const line = parseLogLine(raw);
      if (o.matcher.sinceIso !== null && line.at < o.matcher.sinceIso) continue;
      if (o.matcher.accepts(line.stream, line.text)) lines.push({ releaseId: from.releaseId, instance: from.instance, ...line });
    }
    if (lines.length > 0) o.onLines(lines);
  }
}
