/** What the dashboard's deployment page reads: metric series and a live stream per environment (being written). */
import type { Store } from '../store/ports.ts';
import type { DeliveryController } from './delivery-controller.ts';
import type { RouteTable } from './http/route-table.ts';
import type { LiveHub } from './live-hub.ts';
import type { ProjectService } from './project-service.ts';

export interface EnvironmentViewRouteDeps {
  store: Store;
  projects: ProjectService;
  delivery: DeliveryController;
  hub: LiveHub;
}

export function registerEnvironmentViewRoutes(_routes: RouteTable, _deps: EnvironmentViewRouteDeps): void {
}
