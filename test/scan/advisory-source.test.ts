/**
 * OSV records from a JSON Lines file (the server's export of its store), and from ZIP64 archives:
 * one written by Info-ZIP's `zip -fz` (as `zip` writes npm's archive of more than 65,535 records)
 * and one with every ZIP64 field in use (sizes and the local header's offset), laid out by hand
 * from APPNOTE 4.3.14–4.3.15 and 4.5.3.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAdvisories } from '../../src/scan/index.ts';
import { zipEntries } from '../../src/scan/zip-entries.ts';
import { QS_ADVISORY } from '../support/security-samples.ts';

const dir = mkdtempSync(join(tmpdir(), 'gantry-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadAdvisories from .jsonl', () => {
  it('reads one record per line, skips blank lines, and names a bad line by its number', async () => {
    const file = join(dir, 'osv.jsonl');
    const second = { ...QS_ADVISORY, id: 'GHSA-2', modified: '2026-12-01T00:00:00Z' };
    writeFileSync(file, `${JSON.stringify(QS_ADVISORY)}\n{"id": 3}\n\n${JSON.stringify(second)}\n`);
    const load = await loadAdvisories(file);
    expect(load.records.map((r) => r.id)).toEqual([QS_ADVISORY.id, 'GHSA-2']);
    expect(load.newestModified).toBe('2026-12-01T00:00:00Z');
    expect(load.rejected.map((r) => r.file)).toEqual([`${file}:2`]);
  });
});

/** A stored (uncompressed) one-entry ZIP64 archive whose central header defers all three fields to the ZIP64 extra field. */
function zip64ByHand(name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(45, 4);
  local.writeUInt32LE(0xffffffff, 18);
  local.writeUInt32LE(0xffffffff, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const body = Buffer.concat([local, nameBytes, data]);
  const extra = Buffer.alloc(4 + 24);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(24, 2);
  extra.writeBigUInt64LE(BigInt(data.length), 4); // uncompressed
  extra.writeBigUInt64LE(BigInt(data.length), 12); // compressed
  extra.writeBigUInt64LE(0n, 20); // the local header's offset
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(45, 4);
  central.writeUInt16LE(45, 6);
  central.writeUInt32LE(0xffffffff, 20);
  central.writeUInt32LE(0xffffffff, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt16LE(extra.length, 30);
  central.writeUInt32LE(0xffffffff, 42);
  const directory = Buffer.concat([central, nameBytes, extra]);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeBigUInt64LE(1n, 24);
  record.writeBigUInt64LE(1n, 32);
  record.writeBigUInt64LE(BigInt(directory.length), 40);
  record.writeBigUInt64LE(BigInt(body.length), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(body.length + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0xffff, 8);
  eocd.writeUInt16LE(0xffff, 10);
  eocd.writeUInt32LE(0xffffffff, 12);
  eocd.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([body, directory, record, locator, eocd]);
}

describe('ZIP64 archives', () => {
  it("reads an archive Info-ZIP's zip wrote as ZIP64", async () => {
    const folder = mkdtempSync(join(dir, 'osv-'));
    writeFileSync(join(folder, 'a.json'), JSON.stringify(QS_ADVISORY));
    writeFileSync(join(folder, 'b.json'), JSON.stringify({ ...QS_ADVISORY, id: 'GHSA-2' }));
    const archive = join(dir, 'forced.zip');
    execFileSync('zip', ['-q', '-j', '-fz', archive, join(folder, 'a.json'), join(folder, 'b.json')]);
    const load = await loadAdvisories(archive);
    expect(load.records.map((r) => r.id).sort()).toEqual(['GHSA-2', QS_ADVISORY.id]);
    expect(load.rejected).toEqual([]);
  });

  it('takes sizes and the local offset from the ZIP64 extra field when the headers defer to it', () => {
    const data = Buffer.from(JSON.stringify(QS_ADVISORY));
    const entries = zipEntries(zip64ByHand('GHSA-hrpp-h998-j3pp.json', data), 'hand.zip');
    expect(entries.map((e) => e.name)).toEqual(['GHSA-hrpp-h998-j3pp.json']);
    expect(entries[0]?.read().equals(data)).toBe(true);
  });

  it('refuses ZIP64 markers without the ZIP64 record', () => {
    const archive = zip64ByHand('x.json', Buffer.from('{}'));
    const locator = archive.length - 22 - 20;
    archive.writeUInt32LE(0, locator); // no locator any more
    expect(() => zipEntries(archive, 'broken.zip')).toThrow(/broken\.zip: not a ZIP archive Gantry can read \(ZIP64 sizes without/);
  });
});
