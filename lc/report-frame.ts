/**
 * The upstream `report` frame an outbox entry becomes, checked with the GM's own decoder and frame
 * limit: what passes here is what the GM accepts, so a report that would fail there is refused at
 * the worker API (or dead-lettered before sending) instead of closing the link over and over.
 */
import { decodeFedmeshFrame, encodeFedmeshFrame, type ReportFrame } from '../common/wire/index.ts';
import type { OutboxEntry } from './store/types.ts';

/** The longest seq an id can carry: a pre-check with it is never shorter than the frame sent later. */
export const WIDEST_SEQ = Number.MAX_SAFE_INTEGER;

export function reportFrame(
  instance: string,
  e: Pick<OutboxEntry, 'seq' | 'kind' | 'namespace' | 'name' | 'status' | 'reportedAt'>,
): ReportFrame {
  return {
    type: 'report',
    id: { instance, seq: e.seq },
    kind: e.kind,
    namespace: e.namespace,
    name: e.name,
    status: e.status,
    reportedAt: e.reportedAt,
  };
}

/**
 * Encodes the frame exactly as the link sends it and decodes it as the GM does (`upstream`,
 * `maxBytes`); returns the text to send. Throws WireError (ERR_SCHEMA, ERR_MALFORMED_JSON for depth,
 * ERR_FRAME_TOO_LARGE...) for a frame the GM would refuse.
 */
export function checkedReportText(frame: ReportFrame, maxBytes: number): string {
  const text = encodeFedmeshFrame(frame);
  decodeFedmeshFrame(text, { maxBytes, direction: 'upstream' });
  return text;
}
