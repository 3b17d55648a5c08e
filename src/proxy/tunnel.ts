/**
 * One switched connection (a WebSocket or any other Upgrade the upstream accepted with 101): the
 * client's socket and the upstream connection joined as a raw byte pipe, with backpressure both
 * ways. It starts when the 101 arrives — the head and the upstream's first bytes go to the client
 * at once — but the client's side joins only once its request body is complete (`joinClient`),
 * since until then the client's bytes are that body, which the exchange is still forwarding.
 *
 * Either side ending ends the tunnel once its last bytes are flushed to the other (sockets may
 * stay half-open, which would otherwise keep it alive forever); either side closing closes both.
 */
import type { Socket } from 'node:net';
import type { TunnelEnd, UpstreamConnection } from './upstream-pool.ts';

/** One Upgrade tunnel; `onClosed` runs once, when both sockets are closed or closing. */
export class Tunnel implements TunnelEnd {
  readonly #client: Socket;
  readonly #up: UpstreamConnection;
  readonly #onClosed: () => void;
  #closed = false;

  constructor(client: Socket, up: UpstreamConnection, onClosed: () => void) {
    this.#client = client;
    this.#up = up;
    this.#onClosed = onClosed;
  }

  /** Relays the upstream's 101 `head` and the bytes after it, then everything the upstream sends. */
  start(head: string, rest: Buffer): void {
    const c = this.#client;
    c.write(head, 'latin1');
    if (rest.length > 0) c.write(rest);
    this.#up.tunnel(this);
  }

  /**
   * The client's side joins: `rest` are its bytes after the request (the new protocol's first),
   * `ended` whether it already half-closed. The socket's previous listeners must be gone.
   */
  joinClient(rest: Buffer | null, ended: boolean): void {
    if (this.#closed) return;
    const c = this.#client;
    const up = this.#up.socket;
    if (rest !== null && rest.length > 0) up.write(rest);
    c.on('data', (d: Buffer) => {
      if (!up.write(d)) c.pause();
    });
    c.on('drain', () => this.#up.resume());
    c.on('error', () => this.close());
    c.on('close', () => this.close());
    if (ended) {
      up.end(() => this.close());
      return;
    }
    c.once('end', () => up.end(() => this.close()));
    c.resume();
  }

  onUpstreamData(piece: Buffer): boolean {
    // The piece lives in the pool's read buffer, reused by the next read: copy it.
    return this.#client.write(Buffer.from(piece));
  }

  onUpstreamDrain(): void {
    this.#client.resume();
  }

  onUpstreamEnd(): void {
    this.#client.end(() => this.close());
  }

  onUpstreamClose(): void {
    this.close();
  }

  /** Closes both sides now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#up.destroy();
    this.#client.destroy();
    this.#onClosed();
  }
}
