/**
 * The CLI's typed client of the server's REST API. Finds the server through GANTRY_URL and
 * GANTRY_TOKEN, or through the data directory of a local `gantry up` (server.json + admin.token).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE, SERVER_INFO_FILE } from '../core/data-files.ts';
import { isErrorCode } from '../core/error-codes.ts';
import { GantryError } from '../core/errors.ts';

export interface ServerAddress {
  url: string;
  token: string;
}

/** The data directory: `--data`, GANTRY_DATA, or the nearest `.gantry/` from the current directory up. */
export function findDataDir(explicit?: string): string | null {
  if (explicit) return resolve(explicit);
  if (process.env.GANTRY_DATA) return resolve(process.env.GANTRY_DATA);
  let dir = process.cwd();
  for (;;) {
    const candidate = join(dir, '.gantry');
    if (existsSync(join(candidate, ADMIN_TOKEN_FILE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function serverAddress(dataDirOption?: string): ServerAddress {
  const envUrl = process.env.GANTRY_URL;
  const envToken = process.env.GANTRY_TOKEN;
  if (envUrl && envToken) return { url: envUrl.replace(/\/+$/, ''), token: envToken };
  const dataDir = findDataDir(dataDirOption);
  if (!dataDir) {
    throw new GantryError('NO_SERVER', 'no Gantry server found: start one with `gantry up`, or set GANTRY_URL and GANTRY_TOKEN');
  }
  let token = envToken;
  if (!token) {
    try {
      token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
    } catch {
      throw new GantryError(
        'NO_SERVER',
        `no Gantry server data in ${dataDir}: start one with \`gantry up --data ${dataDir}\`, or set GANTRY_URL and GANTRY_TOKEN`,
      );
    }
  }
  let url = envUrl;
  if (!url) {
    try {
      url = (JSON.parse(readFileSync(join(dataDir, SERVER_INFO_FILE), 'utf8')) as { url: string }).url;
    } catch {
      throw new GantryError('NO_SERVER', `no running server recorded in ${dataDir}: start it with \`gantry up\``);
    }
  }
  return { url: url.replace(/\/+$/, ''), token };
}

export class ApiClient {
  readonly address: ServerAddress;
  constructor(address: ServerAddress) {
    this.address = address;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.raw(method, path, body);
    const text = await response.text();
    // An error answer need not be JSON (a proxy in front of the server): it is still an HTTP error.
    if (!response.ok) throw apiError(response.status, jsonOrNull(text));
    return (text ? JSON.parse(text) : null) as T;
  }

  /** A text answer (YAML, logs) as it is; an error answer throws with the server's code like `request`. */
  async text(method: string, path: string): Promise<string> {
    const response = await this.raw(method, path);
    const text = await response.text();
    if (!response.ok) throw apiError(response.status, jsonOrNull(text));
    return text;
  }

  async raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    try {
      return await fetch(`${this.address.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.address.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new GantryError(
        'SERVER_UNREACHABLE',
        `cannot reach the Gantry server at ${this.address.url} (${(error as Error).cause ?? (error as Error).message}): is \`gantry up\` running?`,
      );
    }
  }

  /** Opens a server-sent event stream; calls onEvent per event until the stream ends or the signal aborts. */
  async stream(path: string, onEvent: (event: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const response = await fetch(`${this.address.url}${path}`, {
      headers: { authorization: `Bearer ${this.address.token}`, accept: 'text/event-stream' },
      signal,
    });
    if (!response.ok || !response.body) throw apiError(response.status, await response.json().catch(() => null));
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0) onEvent(event, JSON.parse(data.join('\n')));
      }
    }
  }
}

/** The error an answer's status and body stand for (for callers of `raw` that stream the body). */
export function apiErrorOf(status: number, text: string): GantryError {
  return apiError(status, jsonOrNull(text));
}

function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function apiError(status: number, body: unknown): GantryError {
  const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
  const message = error?.message ?? `the server answered HTTP ${status}`;
  if (isErrorCode(error?.code)) return new GantryError(error.code, message);
  return new GantryError('HTTP_ERROR', error?.code ? `${message} (${error.code})` : message, {
    status,
    ...(error?.code ? { code: error.code } : {}),
  });
}
