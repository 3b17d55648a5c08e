/**
 * In-process change notifications: "something about run X was stored". Streams react by
 * re-reading the store, so a notification carries no data and can never be stale or lost.
 */
import { EventEmitter } from 'node:events';

export class LiveHub {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  notify(runId: string): void {
    this.#emitter.emit(runId);
    this.#emitter.emit('*', runId);
  }

  /** `'*'` for every run. Returns the unsubscribe function. */
  subscribe(runId: string, listener: (runId: string) => void): () => void {
    const wrapped = (id?: string) => listener(id ?? runId);
    this.#emitter.on(runId, wrapped);
    return () => {
      this.#emitter.off(runId, wrapped);
    };
  }
}
