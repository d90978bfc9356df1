import { FedmeshError } from '../../common/errors.ts';
import type { KubeApiError } from '../../common/kube/rest.ts';

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

/**
 * The API server refused a write for a reason that a change elsewhere in the cluster removes: 403
 * (a namespace without its `default` ServiceAccount, RBAC, a quota), 404 (a namespace being
 * deleted). Retried with backoff; the reconciler reports it on the object (condition and Event).
 */
export class WriteRefusedError extends FedmeshError {
  /** Kind of the object written, e.g. `Pod`. */
  readonly kind: string;
  readonly objectName: string;
  /** HTTP status, e.g. 403. */
  readonly status: number;
  /** The Status object's reason, e.g. `Forbidden`. */
  readonly reason: string;
  constructor(kind: string, objectName: string, cause: KubeApiError) {
    super(`${kind} ${objectName}: ${cause.message}`, 'ERR_WRITE_REFUSED', { cause });
    this.name = 'WriteRefusedError';
    this.kind = kind;
    this.objectName = objectName;
    this.status = cause.status;
    this.reason = cause.reason;
  }
}
