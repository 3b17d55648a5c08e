import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.ts';
import { parseConfig } from '../../src/pipeline/load-config.ts';
import { parseStoredConfig } from '../../src/pipeline/stored-config.ts';

// What `gantry new` writes: services with environments, SLOs, security and experiments.
const TEMPLATES = ['node-service', 'python-service', 'static-site', 'worker'].map((name) =>
  readFileSync(new URL(`../../templates/${name}/gantry.yaml`, import.meta.url), 'utf8')
    .replaceAll('{{name}}', 'shop')
    .replaceAll('{{description}}', 'a shop'),
);

describe('parseStoredConfig', () => {
  it('gives what parseConfig gives, the first time and every time after', () => {
    for (const text of TEMPLATES) {
      const expected = parseConfig(text, 'gantry.yaml');
      expect(parseStoredConfig(text)).toEqual(expected);
      expect(parseStoredConfig(text)).toEqual(expected);
    }
  });

  it('gives each caller its own copy: changing one changes nothing for the next', () => {
    const text = TEMPLATES[0] as string;
    parseStoredConfig(text);
    // From the cache, as every later call's is.
    const first = parseStoredConfig(text);
    const jobs = Object.keys(first.pipeline.jobs);
    expect(jobs.length).toBeGreaterThan(0);
    delete first.pipeline.jobs[jobs[0] as string];
    first.pipeline.concurrency = { group: 'changed', cancelInProgress: true };
    const second = parseStoredConfig(text);
    expect(Object.keys(second.pipeline.jobs)).toEqual(jobs);
    expect(second).toEqual(parseConfig(text, 'gantry.yaml'));
  });

  it('refuses an invalid text every time, naming the file it is given', () => {
    const text = 'pipeline:\n  jobs:\n    build:\n      steps: 3\n';
    for (const file of ['gantry.yaml', 'release #4']) {
      const error = (() => {
        try {
          parseStoredConfig(text, file);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect((error as InvalidConfigError).message).toContain(file);
    }
  });
});
