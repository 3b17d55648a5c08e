import { describe, expect, it } from 'vitest';
import { hubKeyOf } from '../../../src/server/events/index.ts';

describe('hubKeyOf', () => {
  it("names what a LiveHub subscriber listens on for another server's event", () => {
    expect(hubKeyOf({ subject: 'run:01ABC' })).toBe('01ABC');
    expect(hubKeyOf({ subject: 'job:01ABC/test (1, linux)' })).toBe('01ABC');
    expect(hubKeyOf({ subject: 'rollout:01XYZ' })).toBe('01XYZ');
    expect(hubKeyOf({ subject: 'environment:p1/production' })).toBe('environment:p1/production');
  });
});
