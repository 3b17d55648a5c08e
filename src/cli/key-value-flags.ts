/** `k=v` pairs from repeated flags (`--input k=v`), shared by `gantry run` and `gantry trigger` without either loading the other's group. */
import { InputError } from '../core/errors.ts';

export function parsePairs(pairs: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`${flag} expects key=value, got '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
