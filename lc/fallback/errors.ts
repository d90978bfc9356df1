import { FedmeshError } from '../../common/errors.ts';

/**
 * Codes: ERR_EDGE_API_AUTH (401/403: the credential is wrong or lacks RBAC), ERR_EDGE_API_GONE
 * (410: the version is too old, relist), ERR_EDGE_API_IDLE (the watch sent nothing for too long),
 * ERR_EDGE_API_HTTP (any other non-2xx), ERR_EDGE_API_UNREACHABLE (connection failed),
 * ERR_EDGE_API_BAD_RESPONSE (not the JSON a Kubernetes API returns), ERR_EDGE_API_WRITE_IGNORED (a
 * status write answered 2xx without a new resourceVersion: the endpoint did not write it — yurthub
 * answers updates from its cache while the cloud is unreachable).
 */
export type FallbackErrorCode =
  | 'ERR_EDGE_API_AUTH'
  | 'ERR_EDGE_API_GONE'
  | 'ERR_EDGE_API_IDLE'
  | 'ERR_EDGE_API_HTTP'
  | 'ERR_EDGE_API_UNREACHABLE'
  | 'ERR_EDGE_API_BAD_RESPONSE'
  | 'ERR_EDGE_API_WRITE_IGNORED';

/** An edge API request failed; `status` is the HTTP status when there was one. */
export class FallbackError extends FedmeshError {
  override readonly code: FallbackErrorCode;
  readonly status: number | undefined;
  constructor(code: FallbackErrorCode, message: string, status?: number, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'FallbackError';
    this.code = code;
    this.status = status;
  }
}
