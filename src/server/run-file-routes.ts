/** A job's files over HTTP: its test results and its artifacts (being written). */
import type { Store } from '../store/ports.ts';
import type { RouteTable } from './http/route-table.ts';

export interface RunFileRouteDeps {
  store: Store;
  dataDir: string;
}

export function registerRunFileRoutes(_routes: RouteTable, _deps: RunFileRouteDeps): void {
}
