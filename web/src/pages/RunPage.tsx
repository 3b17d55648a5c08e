/** Placeholder: being written. */
export default function RunPage() {
  return <p>Loading…</p>;
}
