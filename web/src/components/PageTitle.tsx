/** A page's heading, with the state of its live stream beside it when it has one, and its error line. */
import type { ReactNode } from 'react';
import type { Connection } from '../live.ts';
import { LiveIndicator } from './LiveIndicator.tsx';

export function PageTitle({ id, live, children }: { id: string; live?: Connection; children: ReactNode }) {
  return (
    <div className="page-title">
      <h1 id={id}>{children}</h1>
      {live !== undefined && <LiveIndicator state={live} />}
    </div>
  );
}

/** What went wrong loading or saving, read out at once (role="alert"); nothing when all is well. */
export function ErrorAlert({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}
