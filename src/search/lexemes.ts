/**
 * The index's vocabulary. Text becomes words (lowercase letters and digits, split on everything
 * else); each filter value becomes one field lexeme, `<field>_<value>`. Words never contain `_`,
 * so a word can never be taken for a filter. Both stores index these strings as they are (SQLite
 * FTS5 with `_` as a token character, PostgreSQL `array_to_tsvector`), so the query side and the
 * index side agree by construction rather than by two tokenizers' settings.
 */

/** Longer words are cut: no one searches for the middle of a 200-character token. */
const MAX_WORD_LENGTH = 64;

/** Lowercase words of a text, in order (NFKC first, so full-width and composed forms match). */
export function wordsOf(text: string): string[] {
  const out: string[] = [];
  for (const word of text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)) {
    if (word !== '') out.push(word.length > MAX_WORD_LENGTH ? word.slice(0, MAX_WORD_LENGTH) : word);
  }
  return out;
}

/** The short field names of the index (one letter: the index stays small). */
export type LexemeField =
  | 'k' // kind
  | 't' // event type
  | 'p' // project id
  | 'e' // environment
  | 'a' // actor (person)
  | 'c' // commit
  | 'r'; // release (number or id)

/**
 * `<field>_<value>` for values of lowercase letters and digits; anything else (dashes, dots,
 * other scripts) is hex-encoded after a double underscore, so no two values share a lexeme.
 */
export function fieldLexeme(field: LexemeField, value: string): string {
  const lower = value.toLowerCase();
  if (/^[a-z0-9]+$/.test(lower)) return `${field}_${lower}`;
  let hex = '';
  for (const byte of new TextEncoder().encode(lower)) hex += byte.toString(16).padStart(2, '0');
  return `${field}__${hex}`;
}

/** A person's names in an actor string: `api:alice` is alice; `trigger:push` is push. */
export function actorNames(actor: string): string[] {
  const parts = actor.split(':').filter((p) => p !== '');
  return [...new Set([actor, ...parts])];
}
