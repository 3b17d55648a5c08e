/**
 * Reads the entries of a ZIP archive (PKWARE APPNOTE 6.3: end of central directory, central
 * directory, local headers; stored and deflated entries) — what OSV's per-ecosystem `all.zip`
 * downloads need. Written here rather than taken as a dependency: ~60 lines over `node:zlib`,
 * and the archives are read whole into memory once per import anyway. ZIP64 and encrypted
 * entries are refused with a clear error.
 */
import { inflateRawSync } from 'node:zlib';
import { GantryError } from '../core/errors.ts';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export interface ZipEntry {
  name: string;
  read(): Buffer;
}

export function zipEntries(archive: Buffer, source: string): ZipEntry[] {
  const fail = (why: string): never => {
    throw new GantryError('INVALID_ADVISORY', `${source}: not a ZIP archive Gantry can read (${why})`);
  };
  let eocd = -1;
  for (let i = archive.length - 22; i >= Math.max(0, archive.length - 22 - 0xffff); i--) {
    if (archive.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory');
  const count = archive.readUInt16LE(eocd + 10);
  let offset = archive.readUInt32LE(eocd + 16);
  if (count === 0xffff || offset === 0xffffffff) fail('ZIP64 archives are not supported');
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (archive.readUInt32LE(offset) !== CENTRAL) fail(`bad central directory entry ${n}`);
    const flags = archive.readUInt16LE(offset + 8);
    const method = archive.readUInt16LE(offset + 10);
    const compressedSize = archive.readUInt32LE(offset + 20);
    const nameLength = archive.readUInt16LE(offset + 28);
    const extraLength = archive.readUInt16LE(offset + 30);
    const commentLength = archive.readUInt16LE(offset + 32);
    const localOffset = archive.readUInt32LE(offset + 42);
    const name = archive.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    if (flags & 1) fail(`${name} is encrypted`);
    if (method !== 0 && method !== 8) fail(`${name} uses compression method ${method}`);
    entries.push({
      name,
      read() {
        if (archive.readUInt32LE(localOffset) !== LOCAL) fail(`bad local header for ${name}`);
        const start = localOffset + 30 + archive.readUInt16LE(localOffset + 26) + archive.readUInt16LE(localOffset + 28);
        const data = archive.subarray(start, start + compressedSize);
        return method === 0 ? Buffer.from(data) : inflateRawSync(data);
      },
    });
  }
  return entries;
}
