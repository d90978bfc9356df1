/** The `fedmesh` flags that set a listener's limits (common/net/guard.ts), shared by every command. */
import type { FlagSpec } from '../cli/command.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import { ConfigError } from '../errors.ts';
import type { ListenerLimits } from './guard.ts';

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError('expected a positive integer');
  return n;
};

/** `--<prefix>max-connections`, `--<prefix>max-connections-per-source`, `--<prefix>handshake-timeout`. */
export function listenerLimitFlags(prefix: string, what: string, defaults: ListenerLimits): Record<string, FlagSpec> {
  return {
    [`${prefix}max-connections`]: {
      description: `connections open at once on the ${what}; more are closed at accept`,
      value: 'N',
      default: String(defaults.maxConnections),
      parse: positive,
    },
    [`${prefix}max-connections-per-source`]: {
      description: `connections open at once on the ${what} from one remote address`,
      value: 'N',
      default: String(defaults.maxConnectionsPerSource),
      parse: positive,
    },
    [`${prefix}handshake-timeout`]: {
      description: `time a new connection to the ${what} has to complete its request or upgrade`,
      value: 'DURATION',
      default: formatDuration(defaults.handshakeTimeoutMs),
      parse: parseDuration,
    },
  };
}

/** The limits those flags parsed to. */
export function limitsFromFlags(flags: Record<string, unknown>, prefix: string): ListenerLimits {
  return {
    maxConnections: flags[`${prefix}max-connections`] as number,
    maxConnectionsPerSource: flags[`${prefix}max-connections-per-source`] as number,
    handshakeTimeoutMs: flags[`${prefix}handshake-timeout`] as number,
  };
}
