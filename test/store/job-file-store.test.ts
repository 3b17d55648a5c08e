/**
 * The JobFileStore contract (src/store/ports.ts) on a SQLite file and on PostgreSQL: chunks read
 * back contiguous from any offset, a re-sent chunk is a no-op, a gap ends a read, and a read is
 * bounded by its byte budget (whole chunks).
 */
import { expect, it } from 'vitest';
import { describeOnEachStore } from '../support/store-contract.ts';

describeOnEachStore('JobFileStore', (db) => {
  it('reads back the bytes from any chunk start, ignores a re-sent chunk and stops at a gap', async () => {
    const { jobFiles } = db.store;
    await jobFiles.append('r1', 'build', 'log', 0, Buffer.from('one\n'));
    await jobFiles.append('r1', 'build', 'log', 4, Buffer.from('two\n\xff', 'latin1'));
    await jobFiles.append('r1', 'build', 'log', 4, Buffer.from('XXXX'));
    await jobFiles.append('r1', 'test', 'log', 0, Buffer.from('other job\n'));
    expect((await jobFiles.read('r1', 'build', 'log', 0, 1024)).toString('latin1')).toBe('one\ntwo\n\xff');
    expect((await jobFiles.read('r1', 'build', 'log', 4, 1024)).toString('latin1')).toBe('two\n\xff');
    expect((await jobFiles.read('r1', 'build', 'log', 9, 1024)).length).toBe(0);
    await jobFiles.append('r1', 'build', 'log', 20, Buffer.from('after a gap'));
    expect((await jobFiles.read('r1', 'build', 'log', 0, 1024)).toString('latin1')).toBe('one\ntwo\n\xff');
    expect((await jobFiles.read('r1', 'build', 'log', 0, 1)).toString()).toBe('one\n');
  });

  it('keeps each file of a job apart and lists them with their stored sizes', async () => {
    const { jobFiles } = db.store;
    await jobFiles.append('r2', 'build', 'artifacts/dist/app.js', 0, Buffer.from('console.log(1)\n'));
    await jobFiles.append('r2', 'build', 'tests.json', 0, Buffer.from('{}'));
    await jobFiles.append('r2', 'build', 'tests.json', 2, Buffer.from('\n'));
    expect(await jobFiles.files('r2', 'build')).toEqual([
      { path: 'artifacts/dist/app.js', bytes: 15 },
      { path: 'tests.json', bytes: 3 },
    ]);
    expect((await jobFiles.read('r2', 'build', 'tests.json', 0, 1024)).toString()).toBe('{}\n');
    expect(await jobFiles.files('r2', 'other')).toEqual([]);
  });
});
