import { describe, expect, it } from 'vitest';
import { byteSize } from '../../src/core/byte-size.ts';

describe('byteSize', () => {
  it('reads binary units as powers of 1024 and decimal ones as powers of 1000 (IEC 80000-13, as Kubernetes)', () => {
    expect(byteSize('4096')).toBe(4096);
    expect(byteSize('512MiB')).toBe(512 * 1024 * 1024);
    expect(byteSize('2Gi')).toBe(2 * 1024 ** 3);
    expect(byteSize('1.5G')).toBe(1_500_000_000);
    expect(byteSize('10 MB')).toBe(10_000_000);
    expect(byteSize('3kib')).toBe(3072);
  });

  it('refuses what is not a size', () => {
    for (const text of ['', 'MiB', '-1GiB', '2 GiBs', '1e9', '2XB', '1.2.3M']) expect(byteSize(text)).toBeNull();
  });
});
