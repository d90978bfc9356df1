/**
 * The ingress gateway: Istio Gateway and VirtualService semantics (pure, in this folder) and,
 * later, the HTTP server that applies them. See README.md.
 */
export {
  type Destination,
  pickDestination,
  type Rewrite,
  type RouteAction,
  redirectLocation,
  rewritePath,
} from './actions.ts';
export { bestHost, hostMatches, intersect, qualify, requestHost, selects, validHost } from './hosts.ts';
export type { CompiledMatch, RequestView } from './matchers.ts';
export {
  checkGateway,
  checkVirtualService,
  type Gateway,
  type Issue,
  type ObjectStatus,
  type Reason,
  type VirtualService,
} from './model.ts';
export { compileRegex, RegexError, type SafeRegex } from './regex.ts';
export { backoffMs, type Outcome, type RetryPolicy, retriable, retryPolicy } from './retry.ts';
export { type Decision, decide, firstMatch } from './router.ts';
export {
  buildTable,
  type Listener,
  type Route,
  type RoutingTable,
  type TableInput,
  type VirtualHost,
  virtualHostFor,
} from './routes.ts';
