/** SecretBox: AES-256-GCM round trips, tamper detection, and a key file nobody else can read. */
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../../../src/server/auth/secret-box.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-secret-'));
  dirs.push(dir);
  return dir;
}

/** Flips one bit of the decoded payload at `index` and re-encodes it. */
function flip(ciphertext: string, index: number): string {
  const raw = Buffer.from(ciphertext.slice(3), 'base64');
  raw[index] = raw[index]! ^ 0x01;
  return `v1:${raw.toString('base64')}`;
}

describe('SecretBox', () => {
  it('round-trips text, including empty and non-ASCII, in the v1 format', async () => {
    const box = await SecretBox.open(await dataDir());
    for (const plain of ['hunter2', '', 'ünïcödé 🚀 line\nbreak', 'x'.repeat(10_000)]) {
      const sealed = box.encrypt(plain);
      expect(sealed).toMatch(/^v1:[A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(sealed.slice(3), 'base64').length).toBe(12 + 16 + Buffer.byteLength(plain));
      if (plain !== '') expect(sealed).not.toContain(plain);
      expect(box.decrypt(sealed)).toBe(plain);
    }
  });

  it('uses a fresh IV each time, so equal plaintexts differ', async () => {
    const box = await SecretBox.open(await dataDir());
    const a = box.encrypt('same');
    const b = box.encrypt('same');
    expect(a).not.toBe(b);
    expect(a.slice(3, 19)).not.toBe(b.slice(3, 19));
  });

  it('creates secret.key with mode 0600 and reuses it on the next open', async () => {
    const dir = join(await dataDir(), 'nested', 'data');
    const first = await SecretBox.open(dir);
    const info = await stat(join(dir, 'secret.key'));
    expect(info.mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(join(dir, 'secret.key'), 'utf8')).trim(), 'base64')).toHaveLength(32);
    const sealed = first.encrypt('persisted');
    const second = await SecretBox.open(dir);
    expect(second.decrypt(sealed)).toBe('persisted');
    // No temporary files are left behind.
    expect(await readdir(dir)).toEqual(['secret.key']);
  });

  it('agrees on one key when several open a new data dir at once', async () => {
    const dir = await dataDir();
    const boxes = await Promise.all(Array.from({ length: 8 }, () => SecretBox.open(dir)));
    const sealed = boxes[0]!.encrypt('shared');
    for (const box of boxes) expect(box.decrypt(sealed)).toBe('shared');
  });

  it('fails with SECRET_DECRYPT_FAILED on a flipped bit in the IV, tag or body', async () => {
    const box = await SecretBox.open(await dataDir());
    const sealed = box.encrypt('top secret value');
    for (const index of [0, 11, 12, 27, 28, 28 + 15]) {
      expect(() => box.decrypt(flip(sealed, index)), `bit flipped at byte ${index}`).toThrow(
        expect.objectContaining({ code: 'SECRET_DECRYPT_FAILED' }),
      );
    }
  });

  it('fails with SECRET_DECRYPT_FAILED for another key, a truncated text or another format', async () => {
    const box = await SecretBox.open(await dataDir());
    const other = await SecretBox.open(await dataDir());
    const sealed = box.encrypt('value');
    for (const bad of [other.encrypt('value'), sealed.slice(0, 20), 'value', `v2:${sealed.slice(3)}`, 'v1:']) {
      expect(() => box.decrypt(bad)).toThrow(expect.objectContaining({ code: 'SECRET_DECRYPT_FAILED' }));
    }
    expect(() => box.decrypt(other.encrypt('x'))).toThrow(/cannot decrypt a secret: it was altered or encrypted with another key/);
  });

  it('refuses a key file that group or others can access', async () => {
    const dir = await dataDir();
    await SecretBox.open(dir);
    const path = join(dir, 'secret.key');
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode);
      await expect(SecretBox.open(dir)).rejects.toMatchObject({
        code: 'SECRET_KEY_INSECURE',
        message: expect.stringContaining(`(mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`),
      });
    }
    await chmod(path, 0o400);
    await expect(SecretBox.open(dir)).resolves.toBeInstanceOf(SecretBox);
  });

  it('refuses a key file that does not hold a 32-byte key', async () => {
    const dir = await dataDir();
    await writeFile(join(dir, 'secret.key'), Buffer.alloc(16).toString('base64'), { mode: 0o600 });
    await expect(SecretBox.open(dir)).rejects.toMatchObject({ code: 'SECRET_KEY_INVALID' });
  });
});
