import assert from 'node:assert/strict';
import { it } from 'node:test';
import { work } from '../work.js';

it('counts each unit of work', () => {
  assert.equal(work(work({ done: 0, lastAt: null })).done, 2);
});
