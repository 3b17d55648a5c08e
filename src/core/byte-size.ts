/**
 * A size as people write it in gantry.yaml: `512MiB`, `2GiB`, `1.5G`, `4096` (bytes). Binary
 * units (Ki, Mi, Gi, Ti, with or without B) are powers of 1024; decimal ones (K/KB, M/MB, G/GB,
 * T/TB) powers of 1000, as Kubernetes and IEC 80000-13 read them. Null when it is not a size.
 */
const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  KI: 2 ** 10,
  KIB: 2 ** 10,
  MI: 2 ** 20,
  MIB: 2 ** 20,
  GI: 2 ** 30,
  GIB: 2 ** 30,
  TI: 2 ** 40,
  TIB: 2 ** 40,
};

export function byteSize(text: string): number | null {
  const m = /^(\d{1,12}(?:\.\d{1,6})?)\s*([a-zA-Z]{0,3})$/.exec(text.trim());
  if (!m) return null;
  const unit = UNITS[(m[2] as string).toUpperCase()];
  if (unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}
