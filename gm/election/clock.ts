/** Time as the elector sees it; injected so tests control it. */
export interface Clock {
  /** Monotonic milliseconds: judges every expiry and deadline (never compared with remote times). */
  now(): number;
  /** Wall-clock time: only written into the Lease (acquireTime, renewTime) for people and client-go. */
  wall(): Date;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => new Date(),
};
