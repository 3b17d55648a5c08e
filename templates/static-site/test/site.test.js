import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

it('has a home page titled {{name}}', () => {
  assert.match(readFileSync('public/index.html', 'utf8'), /<title>{{name}}<\/title>/);
});
