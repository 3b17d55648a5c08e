/**
 * Adopting the server's state into the platform folder: each change of a plan written back the
 * other way (its `before`) into the file that declares its project or group, through the YAML
 * document so comments and the rest of the file stay as they were. Pure: texts in, texts out.
 * A project the server does not know cannot be adopted (it stays, and is reported).
 */
import { isCollection, isMap, parseDocument, type Document } from 'yaml';
import type { EnvironmentProtection } from '../core/protection.ts';
import { channelToFile, type EstateChannel } from './channel-schema.ts';
import type { EstateChange } from './plan-estate.ts';
import type { PlatformFile, PlatformOrigins } from './read-platform.ts';

export interface AdoptResult {
  /** Only the files that changed. */
  files: PlatformFile[];
  adopted: EstateChange[];
  /** With why, in a sentence the CLI prints. */
  skipped: { change: EstateChange; reason: string }[];
}

export function adoptChanges(files: readonly PlatformFile[], origins: PlatformOrigins, changes: readonly EstateChange[]): AdoptResult {
  const docs = new Map<string, Document>();
  const docOf = (path: string) => {
    let doc = docs.get(path);
    if (!doc) {
      doc = parseDocument(files.find((f) => f.path === path)?.text ?? '');
      docs.set(path, doc);
    }
    return doc;
  };
  const adopted: EstateChange[] = [];
  const skipped: AdoptResult['skipped'] = [];
  for (const c of changes) {
    const file = c.kind === 'group' ? origins.groups[c.group ?? ''] : origins.projects[c.project ?? ''];
    if (c.kind === 'project' || file === undefined) {
      skipped.push({ change: c, reason: 'the server does not know the project; register it or remove it' });
      continue;
    }
    const channel = c.kind === 'channel' ? (c.before as EstateChannel | null) : null;
    if (channel !== null && (channel.url.secret === null || channel.signingKey?.secret === null)) {
      // A file holds secret names, never values: a credential that is no secret's value cannot be written down.
      skipped.push({
        change: c,
        reason: `its credential on the server is not the value of any secret of ${c.project}: store it with \`gantry secret set\`, then adopt again`,
      });
      continue;
    }
    const doc = docOf(file);
    const project = ['projects', c.project as string];
    const environment = [...project, 'environments', c.environment as string];
    if (c.kind === 'group') write(doc, ['groups', c.group as string], c.before ?? []);
    else if (c.kind === 'member')
      write(doc, [...(c.environment === undefined ? project : environment), 'members', c.subject as string], c.before);
    else if (c.kind === 'security-policy') write(doc, [...project, 'security-policy'], c.before);
    else if (c.kind === 'channel')
      write(doc, [...project, 'channels', c.channel as string], channel === null ? null : channelToFile(channel));
    else {
      const before = (c.before ?? {}) as EnvironmentProtection;
      write(doc, [...environment, 'approvals'], before.approvals ?? null);
      write(doc, [...environment, 'windows'], before.windows ?? null);
    }
    adopted.push(c);
  }
  return {
    files: [...docs].map(([path, doc]) => ({ path, text: doc.toString() })),
    adopted,
    skipped,
  };
}

/** Sets (or with null deletes) the value at `path`, making maps on the way where there were none or an empty value. */
function write(doc: Document, path: string[], value: unknown): void {
  if (value === null || value === undefined) {
    if (doc.hasIn(path)) doc.deleteIn(path);
    return;
  }
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    if (!isMap(doc.getIn(prefix, true))) doc.setIn(prefix, doc.createNode({}));
  }
  const node = doc.createNode(value);
  // A value written `{ count: 2 }` on one line stays on one line.
  const old = doc.getIn(path, true);
  if (isCollection(old) && old.flow && isCollection(node)) node.flow = true;
  doc.setIn(path, node);
}
