import { FedmeshError } from '../../common/errors.ts';

/**
 * A reconcile failed in a way that retrying cannot fix (an object the API server will never accept,
 * a job whose reported input is unusable). The worker logs it and stops retrying the key; the next
 * change to the object (a watch event) enqueues it again.
 */
export class TerminalError extends FedmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_RECONCILE_TERMINAL', options);
    this.name = 'TerminalError';
  }
}

/** A referenced Model or Dataset is not (yet) in the cache. Retried with backoff; its arrival re-enqueues. */
export class DependencyMissingError extends FedmeshError {
  readonly kind: string;
  readonly ref: string;
  constructor(kind: string, ref: string) {
    super(`${kind} ${ref} not found`, 'ERR_DEPENDENCY_MISSING');
    this.name = 'DependencyMissingError';
    this.kind = kind;
    this.ref = ref;
  }
}
