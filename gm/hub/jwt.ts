/**
 * Local verification of ServiceAccount tokens with the API server's published signing keys
 * (`/openid/v1/jwks`): the fast path of LC authentication, so a reconnect storm does not wait on
 * thousands of TokenReviews. Only what a signature proves is checked here (issuer, audience, time,
 * identity claims); whether the ServiceAccount and the bound pod still exist is left to the
 * TokenReview that confirms every session right after (auth.ts).
 */
import { type JsonWebKey, webcrypto } from 'node:crypto';

/** The identity a verified token carries. */
export interface TokenClaims {
  /** `system:serviceaccount:<ns>:<name>`. */
  username: string;
  /** The node of the pod the token is bound to (Kubernetes ≥ 1.30), if any. */
  node?: string;
}

export interface TokenVerifier {
  /**
   * The claims of a valid token, or undefined (bad signature, unknown key, wrong audience, expired,
   * not a ServiceAccount). The signature check runs on libuv's thread pool (WebCrypto), so a storm of
   * reconnects does not serialise on the event loop.
   */
  verify(token: string, nowS?: number): Promise<TokenClaims | undefined>;
  /** Fetches the issuer and keys; false when they are not available (then every token goes to TokenReview). */
  refresh(signal: AbortSignal): Promise<boolean>;
}

interface Jwk extends JsonWebKey {
  kid?: string;
  alg?: string;
}

/** WebCrypto parameters of the JWS algorithms ServiceAccount tokens use (ES256 signatures are raw r||s, as WebCrypto wants). */
const ALGS: Record<string, (webcrypto.EcKeyImportParams & webcrypto.EcdsaParams) | webcrypto.RsaHashedImportParams> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

/** Tolerance for clock skew on `nbf`/`iat` (s): replicas and the API server are NTP-synced, not identical. */
const SKEW_S = 30;

export function createTokenVerifier(init: {
  audience: string;
  fetchJson: (path: string, accept: string, signal: AbortSignal) => Promise<unknown>;
}): TokenVerifier {
  let issuer: string | undefined;
  let keys = new Map<string, { key: webcrypto.CryptoKey; alg: string }>();

  return {
    async refresh(signal) {
      try {
        const conf = (await init.fetchJson('/.well-known/openid-configuration', 'application/json', signal)) as {
          issuer?: string;
        };
        const jwks = (await init.fetchJson('/openid/v1/jwks', 'application/jwk-set+json', signal)) as { keys?: Jwk[] };
        const next = new Map<string, { key: webcrypto.CryptoKey; alg: string }>();
        for (const k of jwks.keys ?? []) {
          if (!k.kid || (k.alg !== 'RS256' && k.alg !== 'ES256')) continue;
          const { kid, alg, ...jwk } = k;
          const params = ALGS[alg] as webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
          const key = await webcrypto.subtle.importKey('jwk', jwk as webcrypto.JsonWebKey, params, false, ['verify']);
          next.set(kid, { key, alg });
        }
        if (!conf.issuer || next.size === 0) return false;
        issuer = conf.issuer;
        keys = next;
        return true;
      } catch {
        return false;
      }
    },
    async verify(token, nowS = Date.now() / 1000) {
      const parts = token.split('.');
      if (parts.length !== 3 || issuer === undefined) return undefined;
      const [h, p, s] = parts as [string, string, string];
      let header: { alg?: string; kid?: string };
      let claims: {
        iss?: string;
        aud?: string | string[];
        exp?: number;
        nbf?: number;
        sub?: string;
        'kubernetes.io'?: { node?: { name?: string } };
      };
      try {
        header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
        claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
      const k = header.kid === undefined ? undefined : keys.get(header.kid);
      if (!k || header.alg !== k.alg) return undefined;
      // Claims first (cheap), the signature last.
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== issuer || !aud.includes(init.audience)) return undefined;
      if (typeof claims.exp !== 'number' || claims.exp <= nowS) return undefined;
      if (typeof claims.nbf === 'number' && claims.nbf > nowS + SKEW_S) return undefined;
      if (typeof claims.sub !== 'string' || !claims.sub.startsWith('system:serviceaccount:')) return undefined;
      const data = Buffer.from(`${h}.${p}`);
      const sig = Buffer.from(s, 'base64url');
      try {
        if (!(await webcrypto.subtle.verify(ALGS[k.alg] as webcrypto.AlgorithmIdentifier, k.key, sig, data)))
          return undefined;
      } catch {
        return undefined;
      }
      const k8s = claims['kubernetes.io'];
      return { username: claims.sub, node: k8s?.node?.name };
    },
  };
}
