/**
 * One request through the routing table: the listener's virtual host for its Host, the first
 * route whose match holds (a route without matches takes everything), and what to do.
 */
import { type Destination, pickDestination, redirectLocation, rewritePath } from './actions.ts';
import { requestHost } from './hosts.ts';
import type { CompiledMatch, RequestView } from './matchers.ts';
import { type Route, type RoutingTable, virtualHostFor } from './routes.ts';

export type Decision =
  /** No virtual host or no route: Istio's gateway answers 404. */
  | { kind: 'not-found' }
  | { kind: 'direct'; route: Route; status: number; body?: string }
  | { kind: 'redirect'; route: Route; status: number; location: string }
  /** `destination.service` undefined: the route points nowhere (503). */
  | { kind: 'forward'; route: Route; destination: Destination; path: string; authority: string };

/** The first route of the list that matches, with the match block that did. */
export function firstMatch(
  routes: readonly Route[],
  req: RequestView,
): { route: Route; match?: CompiledMatch } | undefined {
  const q = req.path.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : req.path.slice(q + 1));
  for (const route of routes) {
    if (!route.matches.length) return { route };
    const match = route.matches.find((m) => m.test(req, query));
    if (match) return { route, match };
  }
  return undefined;
}

export function decide(
  table: RoutingTable,
  port: number,
  req: RequestView,
  random: () => number = Math.random,
): Decision {
  const listener = table.listeners.get(port);
  const vh = listener && virtualHostFor(listener, requestHost(req.authority));
  const hit = vh && firstMatch(vh.routes, req);
  if (!hit) return { kind: 'not-found' };
  const { route, match } = hit;
  const a = route.action;
  if (a.kind === 'direct')
    return { kind: 'direct', route, status: a.status, ...(a.body === undefined ? {} : { body: a.body }) };
  if (a.kind === 'redirect')
    return { kind: 'redirect', route, status: a.code, location: redirectLocation(a, req, port) };
  return {
    kind: 'forward',
    route,
    destination: pickDestination(a, random),
    path: rewritePath(req.path, a.rewrite, match),
    authority: a.rewrite?.authority ?? req.authority,
  };
}
