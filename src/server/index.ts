/** The server as the CLI and tests start it. */
export { createApp, type AppDeps } from './app.ts';
export { resolveServerOptions, SERVER_OPTION_TABLE, type ServerOptions } from './server-options.ts';
export { buildServer, startServer, type RunningServer, type ServerParts, type StartOverrides } from './start.ts';
