/**
 * Who is on the other end of an upgrade request. An LC presents a ServiceAccount token with audience
 * `fedmesh` as `Authorization: Bearer`; the hub asks the API server (TokenReview) and maps the
 * identity to a node (docs/adr/0002-lc-identity.md):
 *
 * - the LC DaemonSet's ServiceAccount (`<lcNamespace>/<lcServiceAccount>`) with a pod-bound token:
 *   the node is the token's `authentication.kubernetes.io/node-name` (Kubernetes ≥ 1.30);
 * - a per-node ServiceAccount `<lcNamespace>/lc-<node>` (LCs not started by a kubelet).
 *
 * Results are cached by a hash of the token. A token the replica can verify itself (signature with
 * the API server's published keys, jwt.ts) is accepted at once and confirmed by a TokenReview in the
 * background: until it is confirmed the session gets its objects but its reports wait, and a token
 * the review rejects (ServiceAccount or pod deleted) closes the session with 4401. So a reconnect
 * storm does not queue behind thousands of TokenReviews.
 */
import { createHash } from 'node:crypto';
import { sleep } from '../../common/async.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import { CLOSE, type CloseSpec } from '../../common/wire/index.ts';
import { CONFIRM_DELAY_MS, TOKEN_AUDIENCE, TOKEN_REVIEW_CACHE_MS, TOKEN_REVIEW_CONCURRENCY } from './constants.ts';
import type { TokenVerifier } from './jwt.ts';
import type { HubMetrics } from './metrics.ts';

export interface AuthInit {
  /** Namespace of the LC ServiceAccounts. */
  lcNamespace: string;
  /** ServiceAccount of the LC DaemonSet, whose pod-bound tokens name the node. */
  lcServiceAccount: string;
  /** Accept Sedna-dialect connections without credentials, trusting their Node-Name header. */
  allowUnauthenticatedSedna: boolean;
}

export interface AuthRequest {
  dialect: 'sedna' | 'fedmesh';
  /** The bearer token, if the request carried one. */
  token?: string;
  /** The Sedna `Node-Name` header, if any. */
  nodeHeader?: string;
  signal: AbortSignal;
}

/** The TokenReview verdict on a session's credentials, which may still be pending. */
export interface Confirmation {
  /** True once a TokenReview confirmed the identity (at once when one already had), false if it refused it. */
  readonly verdict: Promise<boolean>;
  /** Ask now rather than after the delay (the session has a report waiting). */
  expedite(): void;
}

const CONFIRMED: Confirmation = { verdict: Promise.resolve(true), expedite: () => {} };

export type AuthResult =
  | {
      ok: true;
      node: string;
      identity: string;
      /** A token proved the node; false when the node was only claimed (Node-Name header). */
      proven: boolean;
      confirmation: Confirmation;
    }
  | { ok: false; close: CloseSpec; reason: string; metric: string };

const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CACHE_LIMIT = 100_000;

interface Review {
  authenticated: boolean;
  username?: string;
  extra?: Record<string, string[]>;
  audiences?: string[];
}

export interface Authenticator {
  authenticate(req: AuthRequest): Promise<AuthResult>;
}

export function createAuthenticator(
  init: AuthInit,
  components: { rest: KubeRest; log: Logger; metrics: HubMetrics; verifier?: TokenVerifier },
): Authenticator {
  const { rest, log, metrics, verifier } = components;
  const cache = new Map<string, { until: number; review: Promise<Review> }>();
  let inFlight = 0;
  const queue: Array<() => void> = [];
  const sa = (name: string) => `system:serviceaccount:${init.lcNamespace}:${name}`;
  const daemonSet = sa(init.lcServiceAccount);
  const perNodePrefix = sa('lc-');

  async function review(token: string, signal: AbortSignal): Promise<Review> {
    if (inFlight >= TOKEN_REVIEW_CONCURRENCY) await new Promise<void>((r) => queue.push(r));
    inFlight++;
    try {
      const res = await rest.request<{ status?: { authenticated?: boolean; user?: Review; audiences?: string[] } }>(
        'POST',
        '/apis/authentication.k8s.io/v1/tokenreviews',
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token, audiences: [TOKEN_AUDIENCE] },
          },
          signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
        },
      );
      const st = res.status ?? {};
      metrics.tokenReviews.inc(1, { result: st.authenticated ? 'authenticated' : 'rejected' });
      // Only what nodeOf needs is kept: 10k cached reviews stay small.
      const bound = st.user?.extra?.[NODE_NAME_EXTRA];
      return {
        authenticated: st.authenticated === true,
        username: st.user?.username,
        extra: bound ? { [NODE_NAME_EXTRA]: bound.slice(0, 1) } : undefined,
        audiences: st.audiences,
      };
    } finally {
      inFlight--;
      queue.shift()?.();
    }
  }

  function cached(token: string, signal: AbortSignal): Promise<Review> {
    const k = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const hit = cache.get(k);
    if (hit && hit.until > now) return hit.review;
    if (cache.size >= CACHE_LIMIT) {
      for (const [key, v] of cache) if (v.until <= now || cache.size >= CACHE_LIMIT) cache.delete(key);
    }
    const p = review(token, signal);
    cache.set(k, { until: now + TOKEN_REVIEW_CACHE_MS, review: p });
    // A failed review (API down) is not cached: the next attempt asks again.
    p.catch(() => cache.delete(k));
    return p;
  }

  function nodeOf(username: string | undefined, boundNode: string | undefined): string | undefined {
    if (username === daemonSet) return boundNode;
    if (username?.startsWith(perNodePrefix)) return username.slice(perNodePrefix.length);
    return undefined;
  }
  const reviewedNode = (r: Review) =>
    r.authenticated && (!r.audiences || r.audiences.includes(TOKEN_AUDIENCE))
      ? nodeOf(r.username, r.extra?.[NODE_NAME_EXTRA]?.[0])
      : undefined;

  /**
   * The TokenReview verdict for a token already accepted locally, asked after CONFIRM_DELAY_MS (plus
   * jitter) or as soon as a report waits: a reconnect storm first serves every LC, then confirms
   * them, spread out. Retried while the API server is unreachable.
   */
  function confirm(token: string, node: string, signal: AbortSignal): Confirmation {
    let go: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      go = resolve;
    });
    const timer = setTimeout(go, CONFIRM_DELAY_MS * (1 + Math.random()));
    timer.unref();
    const verdict = gate.then(async () => {
      for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
        try {
          return reviewedNode(await cached(token, signal)) === node;
        } catch {
          await sleep(delay, signal);
        }
      }
      return false;
    });
    return {
      verdict,
      expedite() {
        clearTimeout(timer);
        go();
      },
    };
  }

  function check(node: string | undefined, username: string | undefined, req: AuthRequest) {
    if (node === undefined || !NODE_NAME.test(node) || node.length > 253) {
      return refuse(CLOSE.FORBIDDEN, `identity ${username ?? '?'} is not an LC of any node`, 'not-an-lc');
    }
    if (req.nodeHeader !== undefined && req.nodeHeader !== node) {
      return refuse(CLOSE.FORBIDDEN, 'Node-Name header differs from the credential node', 'node-mismatch');
    }
    return undefined;
  }

  const refuse = (close: CloseSpec, reason: string, metric: string): AuthResult => ({
    ok: false,
    close,
    reason,
    metric,
  });

  return {
    async authenticate(req) {
      if (req.token === undefined) {
        if (req.dialect === 'fedmesh') return refuse(CLOSE.UNAUTHENTICATED, 'no credentials', 'no-credentials');
        if (!init.allowUnauthenticatedSedna) {
          return refuse(
            CLOSE.UNAUTHENTICATED,
            'no credentials (unauthenticated Sedna LCs are not allowed)',
            'no-credentials',
          );
        }
        if (req.nodeHeader === undefined || !NODE_NAME.test(req.nodeHeader) || req.nodeHeader.length > 253) {
          return refuse(CLOSE.MALFORMED, 'missing or invalid Node-Name header', 'bad-node-header');
        }
        return { ok: true, node: req.nodeHeader, identity: 'unauthenticated', proven: false, confirmation: CONFIRMED };
      }
      const token = req.token;
      const local = await verifier?.verify(token);
      if (local) {
        const node = nodeOf(local.username, local.node);
        const refused = check(node, local.username, req);
        if (refused) return refused;
        return {
          ok: true,
          node: node as string,
          identity: local.username,
          proven: true,
          confirmation: confirm(token, node as string, req.signal),
        };
      }
      let r: Review;
      try {
        r = await cached(token, req.signal);
      } catch (err) {
        log.warn({ err }, 'token review failed');
        return refuse(CLOSE.NOT_READY, 'cannot review the credentials now', 'review-failed');
      }
      if (!r.authenticated || (r.audiences && !r.audiences.includes(TOKEN_AUDIENCE))) {
        return refuse(CLOSE.UNAUTHENTICATED, 'invalid credentials', 'invalid-credentials');
      }
      const node = reviewedNode(r);
      const refused = check(node, r.username, req);
      if (refused) return refused;
      return { ok: true, node: node as string, identity: r.username ?? '', proven: true, confirmation: CONFIRMED };
    },
  };
}
