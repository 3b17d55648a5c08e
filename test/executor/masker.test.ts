import { describe, expect, it } from 'vitest';
import { createMasker, secretForms } from '../../src/executor/masker.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const b64url = (s: string) => b64(s).replace(/\+/g, '-').replace(/\//g, '_');
const bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const unbytes = (s: string) => Buffer.from(s, 'latin1').toString('utf8');

describe('createMasker', () => {
  it('is inactive and returns text unchanged without secrets (also for too-short ones)', () => {
    const masker = createMasker(['', 'ab']);
    expect(masker.active).toBe(false);
    expect(masker.mask('ab ab')).toBe('ab ab');
  });

  it('masks the value and its base64, base64url (padded or not) and URL-encoded forms', () => {
    // Chosen so that standard and URL-safe base64 differ and padding is present.
    const secret = 'p?s>w~rd/+ é';
    expect(b64(secret)).not.toBe(b64url(secret));
    expect(b64(secret)).toMatch(/=$/);
    const masker = createMasker([secret]);
    const forms = [
      secret,
      b64(secret),
      b64(secret).replace(/=+$/, ''),
      b64url(secret),
      b64url(secret).replace(/=+$/, ''),
      encodeURIComponent(secret),
    ];
    for (const form of forms) {
      expect(masker.mask(`before ${form} after`)).toBe('before *** after');
      expect(unbytes(masker.maskBytes(bytes(`x${form}y`)))).toBe('x***y');
    }
  });

  it('masks each line of a multi-line secret, trimmed, ignoring short lines', () => {
    const key = '-----BEGIN KEY-----\n  MIIBOgIBAAJBAKj34GkxFhD9  \nab\n-----END KEY-----';
    const masker = createMasker([key]);
    const printed = key
      .split('\n')
      .map((l) => `> ${l}`)
      .join('\n');
    expect(masker.mask(printed)).toBe('> ***\n>   ***  \n> ab\n> ***');
  });

  it('prefers the longest form so that no part of a longer secret stays visible', () => {
    const masker = createMasker(['abc', 'abcdef']);
    expect(masker.mask('xabcdefx abcx')).toBe('x***x ***x');
    expect(secretForms(['abc', 'abcdef'])[0]).toBe(b64('abcdef'));
  });

  it('treats regular expression characters literally', () => {
    const masker = createMasker(['a.c', '(x|y)*']);
    expect(masker.mask('abc a.c (x|y)* xy')).toBe('abc *** *** xy');
  });
});
