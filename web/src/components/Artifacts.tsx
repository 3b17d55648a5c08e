/**
 * A job's artifacts (GET …/jobs/:job/artifacts) with their sizes and download links. Reloaded
 * when the job ends: artifacts are saved then.
 */
import { useEffect, useState } from 'react';
import { getJson, p } from '../api.ts';

interface ArtifactFile {
  path: string;
  bytes: number;
}

/** 1.2 MB-style sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The download URL of one artifact: each path segment encoded, the slashes kept. */
export function artifactHref(runId: string, jobKey: string, path: string): string {
  return `${p`/api/runs/${runId}/jobs/${jobKey}/artifacts`}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function Artifacts(props: { runId: string; jobKey: string; done: boolean }) {
  const { runId, jobKey, done } = props;
  const [files, setFiles] = useState<ArtifactFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    getJson<{ files: ArtifactFile[] }>(p`/api/runs/${runId}/jobs/${jobKey}/artifacts`, controller.signal).then(
      (body) => setFiles(body.files),
      (err: Error) => {
        if (!controller.signal.aborted) setError(err.message);
      },
    );
    return () => controller.abort();
  }, [runId, jobKey]);

  if (error)
    return (
      <p role="alert" className="error">
        Could not load the artifacts: {error}
      </p>
    );
  if (!files) return <p aria-busy="true">Loading the artifacts…</p>;
  if (files.length === 0)
    return <p className="muted">{done ? 'This job saved no artifacts.' : 'Artifacts are saved when the job ends.'}</p>;
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  return (
    <div className="table-scroll" tabIndex={0}>
      <table className="artifacts">
        <caption className="muted">
          {files.length} file{files.length === 1 ? '' : 's'}, {formatBytes(total)}
        </caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col" className="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr key={f.path}>
              <td>
                <a className="mono" href={artifactHref(runId, jobKey, f.path)} download={f.path.split('/').pop()}>
                  {f.path}
                </a>
              </td>
              <td className="num">{formatBytes(f.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
