import { FedmeshError } from '../../common/errors.ts';

/** A guarded write was attempted by a replica that does not (or may no longer) hold the lease. */
export class NotLeaderError extends FedmeshError {
  constructor(
    message = 'this replica is not the leader (or can no longer be sure it is): write refused',
    options?: ErrorOptions,
  ) {
    super(message, 'ERR_NOT_LEADER', options);
    this.name = 'NotLeaderError';
  }
}

/** The leader could not renew within the renew deadline, or saw another holder: leadership ended. */
export class LeaseLostError extends FedmeshError {
  constructor(message: string) {
    super(message, 'ERR_LEASE_LOST');
    this.name = 'LeaseLostError';
  }
}
