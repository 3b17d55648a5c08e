/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that need a fixed port). */
export { freePort } from '../../src/platform/ports.ts';
