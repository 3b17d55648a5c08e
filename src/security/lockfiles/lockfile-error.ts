import { GantryError } from '../../core/errors.ts';

/** A lockfile Gantry cannot read: names the file (and the line, when the format has lines). */
export class LockfileError extends GantryError {
  constructor(file: string, message: string, line?: number) {
    super('INVALID_LOCKFILE', `${file}${line === undefined ? '' : `:${line}`}: ${message}`);
  }

  static json(file: string, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new LockfileError(file, `not valid JSON (${(error as Error).message})`);
    }
  }
}
