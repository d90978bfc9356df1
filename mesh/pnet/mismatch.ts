/**
 * Reporting PSK mismatches: one counter for both sides, and the accepting side's log line. The
 * dialing side logs its own failures where it dials (relays, mDNS and bootstrap peers), since only
 * it knows what it was dialing and why.
 */
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { hostOf } from '../transport/address.ts';
import type { PskMismatch } from './psk-guard.ts';

/** A misconfigured peer retries every few seconds: one line per remote host per this period. */
const INBOUND_LOG_PERIOD_MS = 60_000;
/** Remote hosts remembered for that; beyond it the memory starts over (a few repeated lines). */
const INBOUND_LOG_HOSTS = 1024;

export interface PskMismatchReport {
  /** An inbound connection failed psk-guard.ts's check: counted, and logged (rate-limited per host). */
  inbound(m: PskMismatch): void;
  /** One of our dials failed as a PSK mismatch: counted (the dialer logs it). */
  outbound(): void;
}

export function createPskMismatchReport(components: { log: Logger; registry?: Registry }): PskMismatchReport {
  const { log } = components;
  const mismatches = components.registry?.counter(
    'fedmesh_mesh_psk_mismatch_total',
    'Handshakes that failed as a PSK mismatch (or not a fedmesh peer): inbound = accepted, outbound = our dials to relays and bootstrap/mDNS peers',
  );
  const loggedAt = new Map<string, number>();
  return {
    inbound(m) {
      mismatches?.inc(1, { direction: 'inbound' });
      let host = m.remoteAddr;
      try {
        host = hostOf(multiaddr(m.remoteAddr)) ?? m.remoteAddr;
      } catch {
        // Keep the text as it came.
      }
      const now = performance.now();
      if (now - (loggedAt.get(host) ?? Number.NEGATIVE_INFINITY) < INBOUND_LOG_PERIOD_MS) return;
      loggedAt.set(host, now);
      if (loggedAt.size > INBOUND_LOG_HOSTS) loggedAt.clear();
      log.warn(
        { code: 'ERR_PSK_MISMATCH', remote: m.remoteAddr, direction: 'inbound' },
        'inbound connection failed the handshake: PSK mismatch (or not a fedmesh peer)',
      );
    },
    outbound() {
      mismatches?.inc(1, { direction: 'outbound' });
    },
  };
}
