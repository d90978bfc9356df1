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

/** The names of a listener's limit flags with this prefix. */
export type LimitFlagName<P extends string> =
  | `${P}max-connections`
  | `${P}max-connections-per-source`
  | `${P}handshake-timeout`;

type LimitFlag = FlagSpec<number> & { value: string; default: string; parse: (raw: string) => number };

/** `--<prefix>max-connections`, `--<prefix>max-connections-per-source`, `--<prefix>handshake-timeout`. */
export function listenerLimitFlags<P extends string>(
  prefix: P,
  what: string,
  defaults: ListenerLimits,
): Record<LimitFlagName<P>, LimitFlag> {
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
  } as Record<LimitFlagName<P>, LimitFlag>;
}

/** The limits those flags parsed to. */
export function limitsFromFlags<P extends string>(flags: Record<LimitFlagName<P>, number>, prefix: P): ListenerLimits {
  return {
    maxConnections: flags[`${prefix}max-connections`],
    maxConnectionsPerSource: flags[`${prefix}max-connections-per-source`],
    handshakeTimeoutMs: flags[`${prefix}handshake-timeout`],
  };
}
