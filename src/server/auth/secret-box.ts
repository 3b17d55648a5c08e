/**
 * Encrypts project secrets before they reach the store, so a copied database (a backup, a
 * PostgreSQL dump) reveals nothing without the key file beside the server's data.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GantryError } from '../../core/errors.ts';

const KEY_FILE = 'secret.key';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PREFIX = 'v1:';

/**
 * AES-256-GCM with a random 32-byte key kept in `<dataDir>/secret.key` (created with mode 0600
 * on first use; a key file accessible by group or others is refused). Ciphertext format:
 * `'v1:' + base64(iv(12) | tag(16) | ciphertext)`; the version prefix leaves room for rotation.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly #onReveal: (plaintext: string) => void;

  private constructor(key: Buffer, onReveal: (plaintext: string) => void) {
    this.#key = key;
    this.#onReveal = onReveal;
  }

  /**
   * Loads the key, creating it on first use. Errors: SECRET_KEY_INSECURE (permissions too
   * open), SECRET_KEY_INVALID (not a 32-byte key), or the file system's own error.
   * `onReveal` sees every plaintext the box encrypts or decrypts: the server registers them with
   * its log masker, so a secret it handled never reaches its own log.
   */
  static async open(dataDir: string, o: { onReveal?: (plaintext: string) => void } = {}): Promise<SecretBox> {
    const path = join(dataDir, KEY_FILE);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await createKeyFileIfMissing(path);
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new GantryError(
        'SECRET_KEY_INSECURE',
        `refusing to use ${path}: it is accessible by group or others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
        { path },
      );
    }
    const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
    if (key.length !== KEY_BYTES) {
      throw new GantryError('SECRET_KEY_INVALID', `${path} does not hold a base64 ${KEY_BYTES}-byte key`, { path });
    }
    return new SecretBox(key, o.onReveal ?? (() => undefined));
  }

  /** A fresh random IV each time, so equal plaintexts give different ciphertexts. */
  encrypt(plaintext: string): string {
    this.#onReveal(plaintext);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /** Throws GantryError SECRET_DECRYPT_FAILED when the text is malformed, tampered with or from another key. */
  decrypt(ciphertext: string): string {
    if (!ciphertext.startsWith(PREFIX)) throw decryptFailed('it is not in the v1: format');
    const raw = Buffer.from(ciphertext.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw decryptFailed('it is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    let plaintext: string;
    try {
      plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw decryptFailed('it was altered or encrypted with another key');
    }
    this.#onReveal(plaintext);
    return plaintext;
  }
}

function decryptFailed(why: string): GantryError {
  return new GantryError('SECRET_DECRYPT_FAILED', `cannot decrypt a secret: ${why}`);
}

/**
 * Writes a new key to a temporary file and links it into place: link() fails when the key
 * exists, so when two processes start at once exactly one key wins, and no reader ever sees a
 * half-written key file.
 */
async function createKeyFileIfMissing(path: string): Promise<void> {
  try {
    await stat(path);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    // The umask can only remove bits, but be explicit about the mode we rely on.
    await handle.chmod(0o600);
    await handle.writeFile(`${randomBytes(KEY_BYTES).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp);
  }
}
