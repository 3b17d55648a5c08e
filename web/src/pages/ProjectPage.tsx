/** Placeholder: being written. */
export default function ProjectPage() {
  return <p>Loading…</p>;
}
