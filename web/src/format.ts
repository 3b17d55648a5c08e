/** Small formatting helpers shared by the pages. */

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

/** A latency, with the precision it deserves: "0.42 ms", "37.5 ms", "1.20 s". */
export function latency(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/** Elapsed time of something that may still be going (`now` advances while it runs). */
export function elapsed(startedAt: string | null, finishedAt: string | null, now = Date.now()): string {
  if (!startedAt) return '';
  return duration((finishedAt ? Date.parse(finishedAt) : now) - Date.parse(startedAt));
}

export function ago(at: string, now = Date.now()): string {
  const s = Math.round((now - Date.parse(at)) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function branchOf(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

/** What a run was started for, as its page names it: a pull request, a tag or a branch. */
export function triggerRef(event: { ref: string; pullRequest?: { number: number; baseRef: string; headRef: string; fork: boolean } }): {
  label: string;
  value: string;
} {
  const pr = event.pullRequest;
  if (pr)
    return { label: 'Pull request', value: `#${pr.number} ${pr.headRef} → ${pr.baseRef}${pr.fork ? ' (from a fork: no secrets)' : ''}` };
  return { label: event.ref.startsWith('refs/tags/') ? 'Tag' : 'Branch', value: branchOf(event.ref) };
}

/** What deploys to an environment by itself (its `auto` in gantry.yaml), in words. */
export function autoDeployLabel(auto: boolean | { branches?: string[]; tags?: string[] } | null | undefined): string {
  if (auto === true) return 'each release of the default branch';
  if (!auto) return 'by hand';
  const parts = [auto.branches && `branches ${auto.branches.join(', ')}`, auto.tags && `tags ${auto.tags.join(', ')}`].filter(Boolean);
  return `each release of ${parts.join(' and ')}`;
}

export function percent(value: number, digits = 1): string {
  return `${(value * 100).toFixed(digits)} %`;
}
