/** Placeholder: being written. */
export default function EventsPage() {
  return <p>Loading…</p>;
}
