/** createFallback: placeholder until the list-watch lands (the interface in index.ts is final). */
import type { Fallback, FallbackComponents, FallbackInit } from './index.ts';

export function createFallback(init: FallbackInit, _components: FallbackComponents): Fallback {
  let running = false;
  return {
    async run(signal) {
      running = true;
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      running = false;
    },
    status: () => ({
      running,
      syncedKinds: [],
      synced: false,
      objectsReceived: 0,
      bytesReceived: 0,
      objectsFilteredOut: 0,
      selectorIgnored: false,
      lists: 0,
      gone: 0,
      idleRestarts: 0,
      writes: init.writes === 'off' ? 'disabled' : 'on',
      reportsWritten: 0,
    }),
    kick() {},
  };
}
