/**
 * Secret masking for job logs. Secrets are plain strings handed to the job; a job can print
 * them as-is or in the encodings tools commonly produce (base64 in auth headers and k8s
 * manifests, URL-encoding in connection strings), so each of those forms is masked too.
 *
 * Rules:
 * - every form is replaced by `***`; the longest forms are tried first (one compiled regex,
 *   alternation ordered by length) so that a longer form is never half-masked by a shorter one;
 * - forms: the value, its base64 (standard and URL-safe, with and without `=` padding), its
 *   `encodeURIComponent` form, and for a multi-line secret each of its lines (trimmed);
 * - values and lines shorter than 3 characters are ignored: masking `a` or `1` would make every
 *   log unreadable and hides nothing (documented in the user docs);
 * - masking is per line: a form that spans a line break can never match (the log is masked one
 *   line at a time), which is why the lines of multi-line secrets are masked individually.
 */

/** What the log sink applies to every line before it is stored or streamed. */
export interface Masker {
  /** False when there is nothing to mask: callers skip decoding and masking entirely. */
  readonly active: boolean;
  /** Masks text (any number of whole lines). */
  mask(text: string): string;
  /**
   * Masks raw bytes held as a latin1 string (one char per byte). The log writer works on bytes
   * this way to avoid UTF-8 decoding on its hot path; the forms are matched as their UTF-8 bytes.
   */
  maskBytes(latin1: string): string;
  /** The forms as the bytes to match, longest first: for a writer that masks raw output itself (the step helper). */
  readonly byteForms: readonly Buffer[];
}

/** Secrets (and lines of secrets) shorter than this are not masked. */
export const MIN_SECRET_LENGTH = 3;

export const MASK = '***';

/** Builds a masker for a job's secret values (names are irrelevant: only values leak). */
export function createMasker(secrets: readonly string[]): Masker {
  const forms = secretForms(secrets);
  if (forms.length === 0) return { active: false, mask: identity, maskBytes: identity, byteForms: [] };
  const textRe = compile(forms);
  const latin1Forms = byLengthDesc(forms.map((f) => Buffer.from(f, 'utf8').toString('latin1')));
  const bytesRe = compile(latin1Forms);
  return {
    active: true,
    mask: (text) => text.replace(textRe, MASK),
    maskBytes: (latin1) => latin1.replace(bytesRe, MASK),
    byteForms: latin1Forms.map((f) => Buffer.from(f, 'latin1')),
  };
}

/** Every form of every secret that must be masked, deduplicated, longest first. */
export function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  const add = (form: string) => {
    // A form holding a line break can never match inside one line; its lines are added instead.
    if (form.length >= MIN_SECRET_LENGTH && !/[\r\n]/.test(form)) forms.add(form);
  };
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    add(secret);
    const b64 = Buffer.from(secret, 'utf8').toString('base64');
    const b64url = b64.replace(/\+/g, '-').replace(/\//g, '_');
    add(b64);
    add(b64.replace(/=+$/, ''));
    add(b64url);
    add(b64url.replace(/=+$/, ''));
    add(encodeURIComponent(secret));
    if (/[\r\n]/.test(secret)) {
      for (const line of secret.split(/\r?\n|\r/)) add(line.trim());
    }
  }
  return byLengthDesc([...forms]);
}

function byLengthDesc(forms: string[]): string[] {
  return forms.sort((a, b) => b.length - a.length);
}

function compile(forms: string[]): RegExp {
  return new RegExp(forms.map(escapeRegExp).join('|'), 'g');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function identity(s: string): string {
  return s;
}
