/**
 * What the index holds for one event: its words and its field lexemes (./lexemes.ts). A pure
 * function of the event and the scope the server resolved for it (project, environment,
 * release), so an index rebuilt from the event log holds exactly what the first one held.
 */
import type { Value } from '../core/types.ts';
import { actorNames, fieldLexeme, wordsOf } from './lexemes.ts';
import { kindOfEventType } from './search-kinds.ts';

/** An event as search reads it (the store's GantryEvent fits; this core may not import the store). */
export interface IndexableEvent {
  id: number;
  type: string;
  subject: string;
  actor: string;
  at: string;
  data: Record<string, Value>;
  env: { commit?: string };
}

/** What the server resolved about an event that the event itself may not say. */
export interface EventContext {
  projectId: string | null;
  projectName: string | null;
  environment: string | null;
  release: { id: string; number: number } | null;
}

export interface SearchDocument {
  eventId: number;
  at: string;
  lexemes: string[];
}

/** Bounds per event: a huge payload must not make a huge index row. */
const MAX_TEXT_WORDS = 400;
const MAX_DEPTH = 4;

export function searchDocument(event: IndexableEvent, context: EventContext): SearchDocument {
  const lexemes = new Set<string>();
  const words: string[] = [];
  const addWords = (text: string) => {
    for (const w of wordsOf(text)) if (words.length < MAX_TEXT_WORDS) words.push(w);
  };
  lexemes.add(fieldLexeme('k', kindOfEventType(event.type)));
  lexemes.add(fieldLexeme('t', event.type));
  addWords(event.type);
  addWords(event.subject);
  for (const name of actorNames(event.actor)) lexemes.add(fieldLexeme('a', name));
  addWords(event.actor);
  if (context.projectId) lexemes.add(fieldLexeme('p', context.projectId));
  if (context.projectName) addWords(context.projectName);
  if (context.environment) {
    lexemes.add(fieldLexeme('e', context.environment));
    addWords(context.environment);
  }
  if (context.release) {
    lexemes.add(fieldLexeme('r', String(context.release.number)));
    lexemes.add(fieldLexeme('r', context.release.id));
  }
  for (const sha of commitsOf(event)) lexemes.add(fieldLexeme('c', sha));
  collectText(event.data, addWords, 0);
  for (const w of words) lexemes.add(w);
  return { eventId: event.id, at: event.at, lexemes: [...lexemes] };
}

/** The commit the event was recorded at, the commit it names, and a release's listed commits. */
function commitsOf(event: IndexableEvent): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && /^[0-9a-f]{4,64}$/i.test(v)) out.push(v.toLowerCase());
  };
  add(event.env.commit);
  add(event.data.sha);
  const listed = event.data.commits;
  if (Array.isArray(listed))
    for (const c of listed) if (c && typeof c === 'object' && !Array.isArray(c)) add((c as Record<string, Value>).sha);
  return out;
}

function collectText(value: Value, addWords: (text: string) => void, depth: number): void {
  if (typeof value === 'string') addWords(value);
  else if (typeof value === 'number') addWords(String(value));
  else if (depth < MAX_DEPTH && Array.isArray(value)) for (const v of value) collectText(v, addWords, depth + 1);
  else if (depth < MAX_DEPTH && value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) collectText(v, addWords, depth + 1);
  }
}
