/**
 * Steady traffic through a proxy while a test kills and replaces what is behind it: `GET /` four
 * at a time, back to back, until `stop()`. A refused connection or a non-200 answer is a failure;
 * each 200's body (trimmed) is collected, so a test can say which releases answered.
 */
export interface SteadyLoad {
  readonly requests: number;
  readonly failures: number;
  /** The first failures, each with when it happened and what it was: for an assertion's message. */
  readonly failureReasons: readonly string[];
  readonly bodies: ReadonlySet<string>;
  /** Stops after the requests in flight; resolves once they are counted. */
  stop(): Promise<void>;
}

export function steadyLoad(port: number): SteadyLoad {
  const bodies = new Set<string>();
  let requests = 0;
  let failures = 0;
  const failureReasons: string[] = [];
  const fail = (reason: string) => {
    failures++;
    if (failureReasons.length < 10) failureReasons.push(`${new Date().toISOString()} ${reason}`);
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () =>
          fetch(`http://127.0.0.1:${port}/`).then(
            async (r) => {
              const body = (await r.text()).trim();
              if (r.status === 200) return body;
              fail(`HTTP ${r.status}: ${body.slice(0, 200)}`);
              return null;
            },
            (error: Error) => {
              fail(String(error.cause ?? error));
              return null;
            },
          ),
        ),
      );
      requests += answers.length;
      for (const answer of answers) if (answer !== null) bodies.add(answer);
    }
  })();
  return {
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
    },
    failureReasons,
    bodies,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
