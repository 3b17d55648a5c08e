/** The HTTP shell shared by every context: the route table, the app, SSE streams, the dashboard's files. */
export { bearer, createHttpApp, headerValue, type HttpAppOptions } from './http-app.ts';
export { RouteTable, type Auth, type RoutePermission, type RouteSpec } from './route-table.ts';
export { openEventStream, type EventStream } from './event-stream.ts';
export { rereadOnChange, type RereadOptions, type Rereader } from './reread-on-change.ts';
export { registerWebAssets, webRoot } from './web-assets.ts';
