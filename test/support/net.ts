/** Ports and tiny TCP servers for tests. */
import { createServer, type Socket } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that need a fixed port). */
export { freePort } from '../../src/platform/ports.ts';

export interface GreetingServer {
  port: number;
  /** Destroys the connections still open, then closes the server (a peer that never hangs up cannot hold it). */
  close(): Promise<void>;
}

/** A server on 127.0.0.1 that writes `greeting` to each connection and ends it. */
export async function greetingServer(greeting: string): Promise<GreetingServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.end(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
