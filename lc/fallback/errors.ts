import { FedmeshError } from '../../common/errors.ts';

/**
 * Codes: ERR_EDGE_API_AUTH (401/403: the credential is wrong or lacks RBAC), ERR_EDGE_API_GONE
 * (410: the version is too old, relist), ERR_EDGE_API_IDLE (the watch sent nothing for too long),
 * ERR_EDGE_API_HTTP (any other non-2xx), ERR_EDGE_API_UNREACHABLE (connection failed),
 * ERR_EDGE_API_BAD_RESPONSE (not the JSON a Kubernetes API returns).
 */
export type FallbackErrorCode =
  | 'ERR_EDGE_API_AUTH'
  | 'ERR_EDGE_API_GONE'
  | 'ERR_EDGE_API_IDLE'
  | 'ERR_EDGE_API_HTTP'
  | 'ERR_EDGE_API_UNREACHABLE'
  | 'ERR_EDGE_API_BAD_RESPONSE';

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
