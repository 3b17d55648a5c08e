/** Placeholder: being written. */
export default function EnvironmentPage() {
  return <p>Loading…</p>;
}
