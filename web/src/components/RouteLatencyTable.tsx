/**
 * Latency by release and route (`http.route` of the services' server spans, from
 * GET …/route-latency): which endpoint a release made slower, in a table a person can scan.
 */
import { useEffect, useState } from 'react';
import type { RouteLatencyRow } from '../../../src/traces/index.ts';
import { getJson, p } from '../api.ts';
import { latency } from '../format.ts';

export function RouteLatencyTable({
  project,
  environment,
  opened,
  name,
}: {
  project: string;
  environment: string;
  /** Re-read on every (re)connection of the page's stream. */
  opened: number;
  name: (releaseId: string) => string;
}) {
  const [rows, setRows] = useState<RouteLatencyRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (opened === 0) return;
    getJson<{ rows: RouteLatencyRow[] }>(p`/api/projects/${project}/environments/${environment}/route-latency`).then(
      (answer) => setRows(answer.rows),
      (err: Error) => setError(err.message),
    );
  }, [project, environment, opened]);
  if (error) return <p className="error">Could not load the latency by route: {error}</p>;
  if (rows === null) return <p aria-busy="true">Loading…</p>;
  if (rows.length === 0)
    return <p className="muted">No traces yet: services send them with any OpenTelemetry SDK (the runtime sets OTEL_EXPORTER_OTLP_*).</p>;
  return (
    <div className="table-scroll">
      <table className="route-latency">
        <thead>
          <tr>
            <th scope="col">Release</th>
            <th scope="col">Route</th>
            <th scope="col">Requests</th>
            <th scope="col">Errors</th>
            <th scope="col">p50</th>
            <th scope="col">p95</th>
            <th scope="col">p99</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.version}|${r.route}`}>
              <td>{r.version ? name(r.version) : '—'}</td>
              <td>
                <code>{r.route}</code>
              </td>
              <td>{r.count}</td>
              <td>{r.errors}</td>
              <td>{latency(r.p50)}</td>
              <td>{latency(r.p95)}</td>
              <td>{latency(r.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
