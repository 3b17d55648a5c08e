/**
 * Steady traffic through a proxy while a test kills and replaces what is behind it: `GET /` four
 * at a time, back to back, until `stop()`. A refused connection or a non-200 answer is a failure;
 * each 200's body (trimmed) is collected, so a test can say which releases answered.
 */
export interface SteadyLoad {
  readonly requests: number;
  readonly failures: number;
  readonly bodies: ReadonlySet<string>;
  /** Stops after the requests in flight; resolves once they are counted. */
  stop(): Promise<void>;
}

export function steadyLoad(port: number): SteadyLoad {
  const bodies = new Set<string>();
  let requests = 0;
  let failures = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () =>
          fetch(`http://127.0.0.1:${port}/`).then(
            async (r) => (r.status === 200 ? (await r.text()).trim() : null),
            () => null,
          ),
        ),
      );
      requests += answers.length;
      for (const answer of answers) {
        if (answer === null) failures++;
        else bodies.add(answer);
      }
    }
  })();
  return {
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
    },
    bodies,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
