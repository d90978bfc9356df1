import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerInit {
  /** Top-level component name, e.g. `gm`, `lc`, `mesh`. */
  component: string;
  /** Node (or replica) identity carried on every line. */
  node?: string;
  /** pino level; default `info`, or `$FEDMESH_LOG_LEVEL`. */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to parse lines. */
  destination?: DestinationStream;
}

/**
 * The one root logger of a process: pino JSON with `component` and `node` fields.
 * Modules derive children (`log.child({ component: 'gm.hub' })`); nothing logs at import time.
 */
export function createLogger(init: LoggerInit): Logger {
  const base: Record<string, string> = { component: init.component };
  if (init.node !== undefined) base.node = init.node;
  return pino(
    {
      level: init.level ?? process.env.FEDMESH_LOG_LEVEL ?? 'info',
      base,
      // Credentials never reach a log line, whatever object a caller passes.
      redact: {
        paths: ['token', '*.token', 'psk', '*.psk', 'key', '*.key', 'authorization', '*.authorization'],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    init.destination ?? pino.destination(1),
  );
}
