/** The server as the CLI and tests start it. */
export { createApp, type AppDeps } from './app.ts';
export { resolveServerOptions, SERVER_OPTION_TABLE, type ServerOptions } from './server-options.ts';
export { startServer, type RunningServer, type StartOverrides } from './start.ts';
