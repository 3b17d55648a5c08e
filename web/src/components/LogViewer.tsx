/** Placeholder: being written. */
export function LogViewer(_props: { runId: string; jobKey: string; live: boolean }) {
  return <p>Loading the log…</p>;
}
