/**
 * XSalsa20 as a stream cipher (the keystream XOR that libp2p's PSK v1 private networks use), in
 * plain TypeScript: HSalsa20 derives a subkey from the key and the first 16 nonce bytes, then
 * Salsa20/20 with that subkey, the last 8 nonce bytes and a 64-bit block counter from 0 produces
 * the keystream. Words are little-endian (Bernstein's spec; libsodium's crypto_stream_xsalsa20).
 *
 * Why not the `xsalsa20` package @libp2p/pnet uses: it runs in one WebAssembly memory shared by
 * every cipher in the process, copies each buffer in and out of it, allocates an output per call
 * and breaks above ~640 KiB per write (see the pitfalls note). This one XORs in place, keeps its
 * state in two small typed arrays per cipher, and allocates nothing per call.
 */

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function readU32(b: Uint8Array, i: number): number {
  return (
    ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0
  );
}

/**
 * The 20 Salsa20 rounds on `input`; with `feedForward` the input is added back (the Salsa20 block
 * function), without it the raw state is returned (HSalsa20 picks words out of it).
 */
function rounds(input: Int32Array, out: Int32Array, feedForward: boolean): void {
  const j0 = input[0] as number;
  const j1 = input[1] as number;
  const j2 = input[2] as number;
  const j3 = input[3] as number;
  const j4 = input[4] as number;
  const j5 = input[5] as number;
  const j6 = input[6] as number;
  const j7 = input[7] as number;
  const j8 = input[8] as number;
  const j9 = input[9] as number;
  const j10 = input[10] as number;
  const j11 = input[11] as number;
  const j12 = input[12] as number;
  const j13 = input[13] as number;
  const j14 = input[14] as number;
  const j15 = input[15] as number;
  let x0 = j0;
  let x1 = j1;
  let x2 = j2;
  let x3 = j3;
  let x4 = j4;
  let x5 = j5;
  let x6 = j6;
  let x7 = j7;
  let x8 = j8;
  let x9 = j9;
  let x10 = j10;
  let x11 = j11;
  let x12 = j12;
  let x13 = j13;
  let x14 = j14;
  let x15 = j15;
  let u: number;
  for (let i = 0; i < 20; i += 2) {
    // Column round.
    u = (x0 + x12) | 0;
    x4 ^= (u << 7) | (u >>> 25);
    u = (x4 + x0) | 0;
    x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x4) | 0;
    x12 ^= (u << 13) | (u >>> 19);
    u = (x12 + x8) | 0;
    x0 ^= (u << 18) | (u >>> 14);

    u = (x5 + x1) | 0;
    x9 ^= (u << 7) | (u >>> 25);
    u = (x9 + x5) | 0;
    x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x9) | 0;
    x1 ^= (u << 13) | (u >>> 19);
    u = (x1 + x13) | 0;
    x5 ^= (u << 18) | (u >>> 14);

    u = (x10 + x6) | 0;
    x14 ^= (u << 7) | (u >>> 25);
    u = (x14 + x10) | 0;
    x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x14) | 0;
    x6 ^= (u << 13) | (u >>> 19);
    u = (x6 + x2) | 0;
    x10 ^= (u << 18) | (u >>> 14);

    u = (x15 + x11) | 0;
    x3 ^= (u << 7) | (u >>> 25);
    u = (x3 + x15) | 0;
    x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x3) | 0;
    x11 ^= (u << 13) | (u >>> 19);
    u = (x11 + x7) | 0;
    x15 ^= (u << 18) | (u >>> 14);

    // Row round.
    u = (x0 + x3) | 0;
    x1 ^= (u << 7) | (u >>> 25);
    u = (x1 + x0) | 0;
    x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x1) | 0;
    x3 ^= (u << 13) | (u >>> 19);
    u = (x3 + x2) | 0;
    x0 ^= (u << 18) | (u >>> 14);

    u = (x5 + x4) | 0;
    x6 ^= (u << 7) | (u >>> 25);
    u = (x6 + x5) | 0;
    x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x6) | 0;
    x4 ^= (u << 13) | (u >>> 19);
    u = (x4 + x7) | 0;
    x5 ^= (u << 18) | (u >>> 14);

    u = (x10 + x9) | 0;
    x11 ^= (u << 7) | (u >>> 25);
    u = (x11 + x10) | 0;
    x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x11) | 0;
    x9 ^= (u << 13) | (u >>> 19);
    u = (x9 + x8) | 0;
    x10 ^= (u << 18) | (u >>> 14);

    u = (x15 + x14) | 0;
    x12 ^= (u << 7) | (u >>> 25);
    u = (x12 + x15) | 0;
    x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x12) | 0;
    x14 ^= (u << 13) | (u >>> 19);
    u = (x14 + x13) | 0;
    x15 ^= (u << 18) | (u >>> 14);
  }
  if (feedForward) {
    out[0] = x0 + j0;
    out[1] = x1 + j1;
    out[2] = x2 + j2;
    out[3] = x3 + j3;
    out[4] = x4 + j4;
    out[5] = x5 + j5;
    out[6] = x6 + j6;
    out[7] = x7 + j7;
    out[8] = x8 + j8;
    out[9] = x9 + j9;
    out[10] = x10 + j10;
    out[11] = x11 + j11;
    out[12] = x12 + j12;
    out[13] = x13 + j13;
    out[14] = x14 + j14;
    out[15] = x15 + j15;
  } else {
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
    out[4] = x4;
    out[5] = x5;
    out[6] = x6;
    out[7] = x7;
    out[8] = x8;
    out[9] = x9;
    out[10] = x10;
    out[11] = x11;
    out[12] = x12;
    out[13] = x13;
    out[14] = x14;
    out[15] = x15;
  }
}

/** Salsa20 input block: constants, two key halves, and the four words between them. */
function initState(s: Int32Array, key: Uint8Array, w6: number, w7: number, w8: number, w9: number): void {
  s[0] = SIGMA[0] as number;
  s[5] = SIGMA[1] as number;
  s[10] = SIGMA[2] as number;
  s[15] = SIGMA[3] as number;
  for (let i = 0; i < 4; i++) {
    s[1 + i] = readU32(key, 4 * i);
    s[11 + i] = readU32(key, 16 + 4 * i);
  }
  s[6] = w6;
  s[7] = w7;
  s[8] = w8;
  s[9] = w9;
}

/** HSalsa20(key, nonce16) → 32-byte subkey (exported for its known-answer test). */
export function hsalsa20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const s = new Int32Array(16);
  initState(s, key, readU32(nonce16, 0), readU32(nonce16, 4), readU32(nonce16, 8), readU32(nonce16, 12));
  const x = new Int32Array(16);
  rounds(s, x, false);
  const out = new Uint8Array(32);
  const dv = new DataView(out.buffer);
  const words = [0, 5, 10, 15, 6, 7, 8, 9];
  for (let i = 0; i < 8; i++) dv.setUint32(4 * i, x[words[i] as number] as number, true);
  return out;
}

/** One direction's keystream; `update` XORs the next bytes of it into a buffer, in place. */
export class XSalsa20 {
  /** Salsa20 input: constants, subkey, nonce tail, block counter (words 8, 9). */
  // Int32Array, not Uint32Array: its elements load as small integers, never as heap numbers.
  private readonly state = new Int32Array(16);
  /** The current keystream block; bytes from `used` on are not consumed yet. */
  private readonly block = new Int32Array(16);
  /** The block as bytes (little-endian words): a view of `block` on little-endian hosts. */
  private readonly blockBytes = LITTLE_ENDIAN ? new Uint8Array(this.block.buffer) : new Uint8Array(64);
  private used = 64;

  constructor(nonce: Uint8Array, key: Uint8Array) {
    if (nonce.length !== 24) throw new RangeError('XSalsa20 nonce must be 24 bytes');
    if (key.length !== 32) throw new RangeError('XSalsa20 key must be 32 bytes');
    const subkey = hsalsa20(key, nonce.subarray(0, 16));
    initState(this.state, subkey, readU32(nonce, 16), readU32(nonce, 20), 0, 0);
  }

  private next(): void {
    rounds(this.state, this.block, true);
    const s = this.state;
    s[8] = ((s[8] as number) + 1) | 0;
    if (s[8] === 0) s[9] = ((s[9] as number) + 1) | 0;
    if (!LITTLE_ENDIAN) {
      const dv = new DataView(this.blockBytes.buffer);
      for (let i = 0; i < 16; i++) dv.setInt32(4 * i, this.block[i] as number, true);
    }
    this.used = 0;
  }

  /** XORs the keystream into `data` (in place) and returns it. */
  update(data: Uint8Array): Uint8Array {
    const n = data.length;
    const kb = this.blockBytes;
    let i = 0;
    // The rest of the current block.
    while (this.used < 64 && i < n) {
      data[i] = (data[i] as number) ^ (kb[this.used++] as number);
      i++;
    }
    if (i === n) return data;
    // Whole blocks: as 32-bit words where the buffer is aligned for them.
    const whole = (n - i) & ~63;
    if (whole > 0) {
      const start = data.byteOffset + i;
      if (LITTLE_ENDIAN && (start & 3) === 0) {
        const w = new Int32Array(data.buffer, start, whole >>> 2);
        const k = this.block;
        for (let j = 0; j < w.length; j += 16) {
          this.next();
          w[j] = (w[j] as number) ^ (k[0] as number);
          w[j + 1] = (w[j + 1] as number) ^ (k[1] as number);
          w[j + 2] = (w[j + 2] as number) ^ (k[2] as number);
          w[j + 3] = (w[j + 3] as number) ^ (k[3] as number);
          w[j + 4] = (w[j + 4] as number) ^ (k[4] as number);
          w[j + 5] = (w[j + 5] as number) ^ (k[5] as number);
          w[j + 6] = (w[j + 6] as number) ^ (k[6] as number);
          w[j + 7] = (w[j + 7] as number) ^ (k[7] as number);
          w[j + 8] = (w[j + 8] as number) ^ (k[8] as number);
          w[j + 9] = (w[j + 9] as number) ^ (k[9] as number);
          w[j + 10] = (w[j + 10] as number) ^ (k[10] as number);
          w[j + 11] = (w[j + 11] as number) ^ (k[11] as number);
          w[j + 12] = (w[j + 12] as number) ^ (k[12] as number);
          w[j + 13] = (w[j + 13] as number) ^ (k[13] as number);
          w[j + 14] = (w[j + 14] as number) ^ (k[14] as number);
          w[j + 15] = (w[j + 15] as number) ^ (k[15] as number);
        }
        i += whole;
      } else {
        // Unaligned: DataView word access (V8 inlines it), still far cheaper than byte by byte.
        const dv = new DataView(data.buffer, data.byteOffset, n);
        const k = this.block;
        const end = i + whole;
        while (i < end) {
          this.next();
          for (let j = 0; j < 16; j++, i += 4) dv.setInt32(i, dv.getInt32(i, true) ^ (k[j] as number), true);
        }
      }
      this.used = 64;
    }
    // The tail: a fresh block, partly consumed.
    if (i < n) {
      this.next();
      while (i < n) {
        data[i] = (data[i] as number) ^ (kb[this.used++] as number);
        i++;
      }
    }
    return data;
  }
}
