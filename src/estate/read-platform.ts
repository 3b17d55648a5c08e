/**
 * The platform folder → the desired estate, or every problem in it at once, each at its
 * FILE:LINE:COL (YAML syntax, the schema with did-you-mean for misspelt keys, a project or group
 * declared twice, a group named that is close to a declared one but not it). Pure: the caller
 * reads the files (every `*.yaml`/`*.yml` of the folder, in name order).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { closestName, didYouMean } from '../core/did-you-mean.ts';
import { type Diagnostic, InvalidConfigError } from '../core/errors.ts';
import { channelOfFile, type EstateChannel, secretsOfChannel } from './channel-schema.ts';
import { type Estate, type EstateEnvironment, platformFileSchema } from './estate-model.ts';

export interface PlatformFile {
  path: string;
  text: string;
}

/** Which file declares each project and group: where `gantry platform adopt` writes. */
export interface PlatformOrigins {
  projects: Record<string, string>;
  groups: Record<string, string>;
}

export interface PlatformRead {
  estate: Estate;
  origins: PlatformOrigins;
}

type PlatformFileData = z.infer<typeof platformFileSchema>;
type Path = readonly (string | number)[];

interface ParsedFile {
  path: string;
  data: PlatformFileData;
  at(path: Path, key?: boolean): Omit<Diagnostic, 'message'>;
}

/** Throws InvalidConfigError with every diagnostic when any file is invalid. */
export function readPlatformFolder(files: readonly PlatformFile[]): PlatformRead {
  const diagnostics: Diagnostic[] = [];
  const estate: Estate = { projects: {}, groups: {} };
  const origins: PlatformOrigins = { projects: {}, groups: {} };
  const firstAt = new Map<string, string>();
  const parsed: ParsedFile[] = [];
  for (const file of files) {
    const lineCounter = new LineCounter();
    const doc = parseDocument(file.text, { lineCounter, prettyErrors: false });
    const position = (offset: number) => {
      const p = lineCounter.linePos(offset);
      return { file: file.path, line: p.line, col: p.col };
    };
    if (doc.errors.length > 0) {
      for (const e of doc.errors) diagnostics.push({ ...position(e.pos[0]), message: `invalid YAML: ${e.message.split('\n')[0]}` });
      continue;
    }
    const at = (path: Path, key = false) => position(offsetOf(doc.contents as Node | null, path, key));
    const result = platformFileSchema.safeParse(doc.toJS() ?? {});
    if (!result.success) {
      for (const issue of result.error.issues) {
        // Key problems point at the key (an unknown one at itself), value problems at the value.
        if (issue.code === 'unrecognized_keys')
          for (const key of issue.keys)
            diagnostics.push({ ...at([...(issue.path as Path), key], true), message: unknownKey(key, issue.path as Path) });
        else diagnostics.push({ ...at(issue.path as Path, issue.code === 'invalid_key'), message: issueMessage(issue) });
      }
      continue;
    }
    parsed.push({ path: file.path, data: result.data, at });
    for (const [name, project] of Object.entries(result.data.projects ?? {})) {
      const where = at(['projects', name], true);
      const first = firstAt.get(`project:${name}`);
      if (first !== undefined) {
        diagnostics.push({ ...where, message: `project ${name} is declared twice (first at ${first})` });
        continue;
      }
      firstAt.set(`project:${name}`, `${where.file}:${where.line}:${where.col}`);
      origins.projects[name] = file.path;
      const environments: Record<string, EstateEnvironment> = {};
      for (const [env, e] of Object.entries(project?.environments ?? {}))
        environments[env] = {
          members: { ...(e?.members ?? {}) },
          ...(e?.approvals ? { approvals: e.approvals } : {}),
          ...(e?.windows ? { windows: e.windows } : {}),
        };
      const channels: Record<string, EstateChannel> = {};
      for (const [channel, c] of Object.entries(project?.channels ?? {})) {
        // Channel names are one namespace on the server (`gantry notify channel list`), whatever their project.
        const at_ = at(['projects', name, 'channels', channel], true);
        const firstChannel = firstAt.get(`channel:${channel}`);
        if (firstChannel !== undefined)
          diagnostics.push({ ...at_, message: `channel ${channel} is declared twice (first at ${firstChannel})` });
        else firstAt.set(`channel:${channel}`, `${at_.file}:${at_.line}:${at_.col}`);
        channels[channel] = channelOfFile(c);
      }
      estate.projects[name] = {
        members: { ...(project?.members ?? {}) },
        environments,
        // A secret a channel reads is one the project needs, declared or not.
        secrets: [...new Set([...(project?.secrets ?? []), ...Object.values(channels).flatMap(secretsOfChannel)])].sort(),
        securityPolicy: project?.['security-policy'] ?? null,
        // Channels are managed only where the project says `channels:` (`{}` removes them all).
        ...(project?.channels === undefined ? {} : { channels }),
      };
    }
    for (const [group, members] of Object.entries(result.data.groups ?? {})) {
      const where = at(['groups', group], true);
      const first = firstAt.get(`group:${group}`);
      if (first !== undefined) {
        diagnostics.push({ ...where, message: `group ${group} is declared twice (first at ${first})` });
        continue;
      }
      firstAt.set(`group:${group}`, `${where.file}:${where.line}:${where.col}`);
      origins.groups[group] = file.path;
      estate.groups[group] = [...new Set(members)].sort();
    }
  }
  diagnostics.push(...groupTypos(parsed, Object.keys(estate.groups)));
  if (diagnostics.length > 0) throw new InvalidConfigError(sortDiagnostics(diagnostics));
  return { estate, origins };
}

/**
 * A group named in members or approvals that is not declared but is one typo away from a
 * declared one: almost surely meant to be it. (Groups the folder does not declare at all may
 * come from the identity provider, so those are not errors.)
 */
function groupTypos(files: readonly ParsedFile[], declared: readonly string[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const check = (file: ParsedFile, group: string, path: Path, key: boolean) => {
    if (declared.includes(group)) return;
    const close = closestName(group, declared);
    if (close !== undefined) out.push({ ...file.at(path, key), message: `unknown group '${group}'${didYouMean(group, declared)}` });
  };
  for (const file of files) {
    for (const [name, project] of Object.entries(file.data.projects ?? {})) {
      for (const subject of Object.keys(project?.members ?? {}))
        if (subject.startsWith('group:')) check(file, subject.slice(6), ['projects', name, 'members', subject], true);
      for (const [env, e] of Object.entries(project?.environments ?? {})) {
        for (const subject of Object.keys(e?.members ?? {}))
          if (subject.startsWith('group:'))
            check(file, subject.slice(6), ['projects', name, 'environments', env, 'members', subject], true);
        if (e?.approvals?.group !== undefined)
          check(file, e.approvals.group, ['projects', name, 'environments', env, 'approvals', 'group'], false);
      }
    }
  }
  return out;
}

function unknownKey(key: string, path: Path): string {
  return `unknown key '${key}'${didYouMean(key, knownKeysAt(path))}`;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key') return `${issue.issues[0]?.message ?? issue.message} (in the key '${String(issue.path.at(-1))}')`;
  return issue.message;
}

/** The keys the schema allows at `path` (for did-you-mean), walking the zod schema itself. */
function knownKeysAt(path: Path): string[] {
  let schema = platformFileSchema as unknown as z.core.$ZodType;
  const unwrap = () => {
    for (;;) {
      const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType };
      if ((def.type === 'optional' || def.type === 'nullable') && def.innerType) schema = def.innerType;
      else return;
    }
  };
  for (const segment of path) {
    unwrap();
    const def = schema._zod.def as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      valueType?: z.core.$ZodType;
      element?: z.core.$ZodType;
    };
    const next = def.type === 'object' ? def.shape?.[String(segment)] : def.type === 'record' ? def.valueType : def.element;
    if (next === undefined) return [];
    schema = next;
  }
  unwrap();
  const def = schema._zod.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

/** The offset of the node at `path` (its key when `key`), or of the deepest node that exists on the way. */
function offsetOf(root: Node | null, path: Path, key: boolean): number {
  let node: Node | null = root;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const segment = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const last = i === path.length - 1;
      const keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? null;
      offset = last && key ? (keyNode.range?.[0] ?? offset) : (node?.range?.[0] ?? keyNode.range?.[0] ?? offset);
    } else if (isSeq(node) && typeof segment === 'number') {
      node = (node.items[segment] as Node | undefined) ?? null;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}
