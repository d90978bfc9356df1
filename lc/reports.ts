/**
 * The upstream half of the link: sends outbox reports within the GM's credit, one in flight per
 * object so they land in order, retries those nacked as retryable, and forgets a report only when
 * the GM acked it.
 *
 * Poison reports never loop: one the GM's decoder would refuse is dead-lettered before it is sent;
 * one nacked as not retryable is dead-lettered; when the GM closes the link with 4400/4413/1009
 * while reports are in flight, they become suspects, sent alone on the next connections (nothing
 * else in flight), and a suspect alone in flight when the GM closes that way again is
 * dead-lettered. The other reports, those of the same object included, go on in order.
 */
import { recordHistory } from '../common/history.ts';
import type { Logger } from '../common/log.ts';
import { CLOSE, isWireError, type NackFrame, type ReportId } from '../common/wire/index.ts';
import { OUTBOX_SCAN, REPORT_RETRY_MAX_MS, REPORT_RETRY_MIN_MS } from './constants.ts';
import { checkedReportText, reportFrame } from './report-frame.ts';
import { type DeadLetter, type DeadLetterReason, type LcStore, type OutboxEntry, storeKey } from './store/types.ts';

/** Closes by which the GM says a frame we sent was malformed or too big. */
const POISON_CLOSES: ReadonlySet<number> = new Set([
  CLOSE.MALFORMED.code,
  CLOSE.FRAME_TOO_LARGE.code,
  CLOSE.MESSAGE_TOO_BIG.code,
]);

export interface ReportSenderComponents {
  store: LcStore;
  log: Logger;
  random: () => number;
  /** The GM's frame limit (bytes) the frames are checked against. */
  maxReportBytes: number;
  acked?(seq: number): void;
  deadLettered?(letter: DeadLetter): void;
}

/** One welcomed connection's view: its report credit and how to put a frame on it. */
export interface ReportChannel {
  credit: number;
  /** Sends a text frame (a no-op once the socket is closing). */
  send(text: string): void;
  /** False once the connection is closing: nothing more is sent. */
  open(): boolean;
}

export interface ReportSession {
  /** The outbox grew or something settled: send what the credit and the order allow. */
  pump(): void;
  credit(frames: number): void;
  ack(id: ReportId): void;
  nack(n: NackFrame): void;
  /** The connection ended; `byGm` when the GM sent the close (not an echo of ours, not a local error). */
  ended(code: number, reason: string, byGm: boolean): void;
}

export interface ReportSender {
  /** Starts sending on a welcomed connection. */
  open(channel: ReportChannel): ReportSession;
  /** Reports suspected of a poison close, being sent alone until acked, nacked or dead-lettered. */
  suspects(): number;
}

export function createReportSender(c: ReportSenderComponents): ReportSender {
  const { store, log } = c;
  // Outlive connections: a suspect is sent alone on the next ones until it is settled.
  const suspects = new Map<number, OutboxEntry>();

  function deadLetter(e: OutboxEntry, why: DeadLetterReason) {
    suspects.delete(e.seq);
    let letter: DeadLetter | undefined;
    try {
      letter = store.deadLetter(e.seq, why);
    } catch (err) {
      // It stays in the outbox and comes back to the same verdict later.
      log.error({ err, seq: e.seq }, 'cannot dead-letter a report');
      return;
    }
    if (!letter) return; // replaced (coalesced) meanwhile
    recordHistory('report.deadLettered', { instance: store.instance, seq: e.seq });
    const { kind, namespace, name } = e;
    log.warn({ seq: e.seq, kind, namespace, name, ...why }, 'report dead-lettered');
    c.deadLettered?.(letter);
  }

  /** The frame to send for `e`, or undefined after dead-lettering it because the GM's decoder would refuse it. */
  function reportText(e: OutboxEntry): string | undefined {
    try {
      return checkedReportText(reportFrame(store.instance, e), c.maxReportBytes);
    } catch (err) {
      if (!isWireError(err)) throw err;
      deadLetter(e, { cause: 'invalid', code: err.code, reason: err.message });
      return undefined;
    }
  }

  function open(ch: ReportChannel): ReportSession {
    let credit = ch.credit;
    const inflight = new Map<number, OutboxEntry>();
    const inflightKeys = new Set<string>();
    const retryAt = new Map<number, number>();
    const nacks = new Map<number, number>();
    let retryTimer: NodeJS.Timeout | undefined;

    function send(e: OutboxEntry, text: string) {
      inflight.set(e.seq, e);
      inflightKeys.add(storeKey(e.kind, e.namespace, e.name));
      credit--;
      ch.send(text);
    }

    // Isolation: the oldest suspect still waiting goes alone; nothing else until it is settled.
    function pumpSuspect() {
      if (inflight.size > 0 || credit <= 0) return;
      const waiting = new Map(store.outbox(OUTBOX_SCAN).map((e) => [e.seq, e]));
      for (const seq of [...suspects.keys()].sort((a, b) => a - b)) {
        const e = waiting.get(seq);
        if (!e) {
          suspects.delete(seq); // settled or replaced meanwhile
          continue;
        }
        const text = reportText(e);
        if (text === undefined) continue;
        log.info({ seq, kind: e.kind, namespace: e.namespace, name: e.name }, 'sending a suspect report alone');
        send(e, text);
        return;
      }
      pump(); // no suspect left
    }

    function pump() {
      if (!ch.open()) return;
      if (suspects.size) return pumpSuspect();
      const now = performance.now();
      const blocked = new Set<string>(inflightKeys);
      let wakeAt: number | undefined;
      for (const e of credit > 0 ? store.outbox(OUTBOX_SCAN) : []) {
        if (credit <= 0) break;
        if (inflight.has(e.seq)) continue;
        const key = storeKey(e.kind, e.namespace, e.name);
        if (blocked.has(key)) continue;
        const due = retryAt.get(e.seq);
        if (due !== undefined && due > now) {
          blocked.add(key); // later reports of this object wait behind it: order is kept
          wakeAt = Math.min(wakeAt ?? due, due);
          continue;
        }
        retryAt.delete(e.seq);
        const text = reportText(e);
        if (text === undefined) continue; // dead-lettered: the object's next report may go
        blocked.add(key);
        send(e, text);
      }
      if (wakeAt !== undefined && retryTimer === undefined) {
        retryTimer = setTimeout(
          () => {
            retryTimer = undefined;
            pump();
          },
          Math.max(1, wakeAt - now),
        );
      }
    }

    // The GM decoded the report (it acked or nacked it), so it is no suspect any more.
    function settle(id: ReportId): OutboxEntry | undefined {
      if (id.instance !== store.instance) return undefined;
      const e = inflight.get(id.seq);
      if (e === undefined) return undefined;
      inflight.delete(id.seq);
      inflightKeys.delete(storeKey(e.kind, e.namespace, e.name));
      suspects.delete(id.seq);
      return e;
    }

    return {
      pump,
      credit(frames) {
        credit += frames;
        pump();
      },
      ack(id) {
        const e = settle(id);
        if (e !== undefined) {
          store.remove(e.seq);
          nacks.delete(e.seq);
          retryAt.delete(e.seq);
          c.acked?.(e.seq);
        }
        pump();
      },
      nack(n) {
        const e = settle(n.reportId);
        if (e === undefined) return;
        const gone = !store.getObject(e.kind, e.namespace, e.name);
        if (!n.retryable || (n.code === 'NOT_FOUND' && gone)) {
          nacks.delete(e.seq);
          deadLetter(e, { cause: 'nack', code: n.code, reason: n.reason });
        } else {
          const tries = (nacks.get(e.seq) ?? 0) + 1;
          nacks.set(e.seq, tries);
          const delay = Math.min(REPORT_RETRY_MAX_MS, REPORT_RETRY_MIN_MS * 2 ** (tries - 1)) * (0.5 + c.random() / 2);
          retryAt.set(e.seq, performance.now() + delay);
          log.debug({ seq: e.seq, code: n.code, delay }, 'report nacked, will retry');
        }
        pump();
      },
      // Our own frames are valid by construction, so when the GM calls one malformed or too big, the
      // reports in flight are suspects; one that was already a suspect and alone in flight is the cause.
      ended(code, reason, byGm) {
        clearTimeout(retryTimer);
        if (!byGm || !POISON_CLOSES.has(code)) return;
        const [only, ...more] = inflight.values();
        if (only === undefined) return;
        if (!more.length && suspects.has(only.seq)) {
          const why = `the GM closed the link with ${code}${reason ? ` (${reason})` : ''} on this report, sent alone`;
          deadLetter(only, { cause: 'closed', code: String(code), reason: why });
          return;
        }
        for (const e of inflight.values()) suspects.set(e.seq, e);
        log.warn({ code, suspects: suspects.size }, 'gm refused a frame, isolating the reports in flight');
      },
    };
  }

  return { open, suspects: () => suspects.size };
}
