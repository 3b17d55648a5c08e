/**
 * A release's files as agents fetch them (docs/decisions/0043): the release folder indexed once by
 * content (it is immutable), and each blob found again by its hash. Only blobs of releases placed
 * on agents are served.
 */
import type { Manifest } from '../../agents/index.ts';
import { indexTree } from '../../executor/content-addressed.ts';
import { NotFoundError } from '../../core/errors.ts';

export class ReleaseTrees {
  readonly #indexes = new Map<string, Promise<Manifest>>();
  readonly #blobs = new Map<string, string>();

  /** The manifest of a release folder (indexed on first use). */
  manifest(dir: string): Promise<Manifest> {
    let index = this.#indexes.get(dir);
    if (!index) {
      index = indexTree(dir).then((tree) => {
        for (const [sha256, file] of tree.blobs) this.#blobs.set(sha256, file);
        return tree.manifest;
      });
      // A failed index is tried again next time rather than remembered.
      index.catch(() => this.#indexes.delete(dir));
      this.#indexes.set(dir, index);
    }
    return index;
  }

  /** Where a blob of an indexed release is on this host; NotFoundError for any other. */
  blobFile(sha256: string): string {
    const file = this.#blobs.get(sha256);
    if (file === undefined) throw new NotFoundError(`no release placed on agents has a file ${sha256}`);
    return file;
  }
}
