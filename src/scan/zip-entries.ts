/**
 * Reads the entries of a ZIP archive (PKWARE APPNOTE 6.3: end of central directory, central
 * directory, local headers; stored and deflated entries) — what OSV's per-ecosystem `all.zip`
 * downloads need, ZIP64 included (APPNOTE 4.3.14–4.3.15, 4.5.3: npm's archive holds more than
 * 65,535 records, so `zip` writes it as ZIP64). Written here rather than taken as a dependency:
 * ~90 lines over `node:zlib`, and the archives are read whole into memory once per import anyway.
 * Encrypted entries and other compression methods are refused with a clear error.
 */
import { inflateRawSync } from 'node:zlib';
import { GantryError } from '../core/errors.ts';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EXTRA = 0x0001;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;

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
  let count = archive.readUInt16LE(eocd + 10);
  let offset = archive.readUInt32LE(eocd + 16);
  const locator = eocd - 20;
  if (locator >= 0 && archive.readUInt32LE(locator) === ZIP64_LOCATOR) {
    const record = u64(archive, locator + 8, fail);
    if (record + 56 > archive.length || archive.readUInt32LE(record) !== ZIP64_EOCD) fail('bad ZIP64 end of central directory');
    count = u64(archive, record + 32, fail);
    offset = u64(archive, record + 48, fail);
  } else if (count === MAX16 || offset === MAX32) fail('ZIP64 sizes without a ZIP64 end of central directory');
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (offset + 46 > archive.length || archive.readUInt32LE(offset) !== CENTRAL) fail(`bad central directory entry ${n}`);
    const flags = archive.readUInt16LE(offset + 8);
    const method = archive.readUInt16LE(offset + 10);
    let compressedSize = archive.readUInt32LE(offset + 20);
    const size = archive.readUInt32LE(offset + 24);
    const nameLength = archive.readUInt16LE(offset + 28);
    const extraLength = archive.readUInt16LE(offset + 30);
    const commentLength = archive.readUInt16LE(offset + 32);
    let localOffset = archive.readUInt32LE(offset + 42);
    const name = archive.toString('utf8', offset + 46, offset + 46 + nameLength);
    if (compressedSize === MAX32 || size === MAX32 || localOffset === MAX32) {
      // The ZIP64 extra field holds, in this order, only the fields whose header value is all ones.
      const zip64 = extraField(archive, offset + 46 + nameLength, extraLength, ZIP64_EXTRA);
      if (zip64 === null) fail(`${name} has ZIP64 sizes but no ZIP64 extra field`);
      let at = zip64 as number;
      if (size === MAX32) at += 8;
      if (compressedSize === MAX32) {
        compressedSize = u64(archive, at, fail);
        at += 8;
      }
      if (localOffset === MAX32) localOffset = u64(archive, at, fail);
    }
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

function u64(archive: Buffer, at: number, fail: (why: string) => never): number {
  if (at + 8 > archive.length) fail('a ZIP64 field past the end');
  const value = archive.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail('a ZIP64 field too large');
  return Number(value);
}

/** Where the data of the extra field `id` starts within [start, start + length), or null. */
function extraField(archive: Buffer, start: number, length: number, id: number): number | null {
  for (let at = start; at + 4 <= start + length; at += 4 + archive.readUInt16LE(at + 2)) {
    if (archive.readUInt16LE(at) === id) return at + 4;
  }
  return null;
}
