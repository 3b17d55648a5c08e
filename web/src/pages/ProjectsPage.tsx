/** Placeholder: being written. */
export default function ProjectsPage() {
  return <p>Loading…</p>;
}
