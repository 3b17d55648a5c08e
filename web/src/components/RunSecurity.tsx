/**
 * A run's security verdict in its facts: how many findings are new and what the policy would do
 * to a release of it, with why, linking to the findings. Nothing when no job of the run was scanned.
 */
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import type { RunSecurity as RunSecurityAnswer } from '../../../src/server/security/index.ts';
import { getJson, p } from '../api.ts';

export function RunSecurity({
  projectId,
  runId,
  runNumber,
  status,
}: {
  projectId: string;
  runId: string;
  runNumber: number;
  status: string;
}) {
  const [answer, setAnswer] = useState<RunSecurityAnswer | null>(null);
  // Re-read as the run moves on: its jobs' SARIF logs are read when they end.
  useEffect(() => {
    getJson<RunSecurityAnswer>(`${p`/api/projects/${projectId}/findings`}?run=${encodeURIComponent(runId)}`).then(setAnswer, () =>
      setAnswer(null),
    );
  }, [projectId, runId, status]);
  if (!answer?.scanned) return null;
  return (
    <div>
      <dt>Security</dt>
      <dd className={`run-security gate-${answer.gate.decision}`} title={answer.gate.reason}>
        <Link href={`/projects/${encodeURIComponent(projectId)}/security?run=${runNumber}`}>
          {answer.counts.new} new, {answer.counts.existing} existing, {answer.counts.fixed} fixed
        </Link>{' '}
        · a release: <strong>{answer.gate.decision}</strong> ({answer.gate.reason})
      </dd>
    </div>
  );
}
