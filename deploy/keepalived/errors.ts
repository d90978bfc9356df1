import { ConfigError } from '../../common/errors.ts';

/**
 * An option of the keepalived renderer or the readiness-file loop was rejected. A ConfigError
 * (code `ERR_CONFIG`) that also names the offending option in `field` (e.g. `unicast.peers[1]`),
 * so callers and tests can tell which check fired without parsing the message.
 */
export class KeepalivedOptionError extends ConfigError {
  /** Dotted path of the rejected option, e.g. `priority`, `readiness.url`, `virtualIps[0]`. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`keepalived option ${field}: ${message}`, options);
    this.name = 'KeepalivedOptionError';
    this.field = field;
  }
}
