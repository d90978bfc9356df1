import type { Logger } from '../log.ts';

/**
 * The root signal of a long-running command: aborts on the first SIGTERM or SIGINT (logged).
 * Handlers are `once`, so a second Ctrl-C gets Node's default and ends a stuck shutdown.
 */
export function shutdownSignal(log: Logger): AbortSignal {
  const ac = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log.info({ signal: sig }, 'shutting down');
      ac.abort();
    });
  }
  return ac.signal;
}
