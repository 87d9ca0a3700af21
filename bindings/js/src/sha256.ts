/**
 * SHA-256 (FIPS 180-4), incremental and synchronous: the stream receivers hash every payload as it arrives and
 * the document as it grows (SPEC.md §10.4 E2), which WebCrypto's one-shot, asynchronous `digest` cannot do.
 * On Node the built-in `node:crypto` does the work; elsewhere (browsers) this module's own implementation does.
 */

export interface Hasher {
  update(data: Uint8Array): Hasher;
  digest(): Uint8Array;
}

interface NodeHash {
  update(data: Uint8Array): NodeHash;
  digest(): Uint8Array;
}

type CreateHash = (algorithm: string) => NodeHash;

function nodeCreateHash(): CreateHash | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.("node:crypto") as { createHash?: CreateHash } | undefined;
  return mod?.createHash;
}

const createHash = nodeCreateHash();

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** The FIPS 180-4 computation, for platforms without node:crypto. */
export class PortableSha256 implements Hasher {
  private readonly h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  private readonly block = new Uint8Array(64);
  private readonly w = new Uint32Array(64);
  private fill = 0;
  private total = 0;

  update(data: Uint8Array): this {
    let i = 0;
    this.total += data.length;
    if (this.fill > 0) {
      const take = Math.min(64 - this.fill, data.length);
      this.block.set(data.subarray(0, take), this.fill);
      this.fill += take;
      i = take;
      if (this.fill < 64) return this;
      this.compress(this.block, 0);
      this.fill = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.compress(data, i);
    if (i < data.length) {
      this.block.set(data.subarray(i), 0);
      this.fill = data.length - i;
    }
    return this;
  }

  digest(): Uint8Array {
    const bits = this.total * 8;
    const pad = new Uint8Array((this.fill < 56 ? 56 : 120) - this.fill + 8);
    pad[0] = 0x80;
    const hi = Math.floor(bits / 0x1_0000_0000);
    const lo = bits >>> 0;
    const n = pad.length;
    pad[n - 8] = hi >>> 24;
    pad[n - 7] = (hi >>> 16) & 0xff;
    pad[n - 6] = (hi >>> 8) & 0xff;
    pad[n - 5] = hi & 0xff;
    pad[n - 4] = lo >>> 24;
    pad[n - 3] = (lo >>> 16) & 0xff;
    pad[n - 2] = (lo >>> 8) & 0xff;
    pad[n - 1] = lo & 0xff;
    const total = this.total;
    this.update(pad);
    this.total = total;
    const out = new Uint8Array(32);
    for (let j = 0; j < 8; j++) {
      const v = this.h[j]!;
      out[4 * j] = v >>> 24;
      out[4 * j + 1] = (v >>> 16) & 0xff;
      out[4 * j + 2] = (v >>> 8) & 0xff;
      out[4 * j + 3] = v & 0xff;
    }
    return out;
  }

  private compress(b: Uint8Array, at: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const p = at + 4 * t;
      w[t] = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    const h = this.h;
    let a = h[0]!, bb = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + bb;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
}

class NodeSha256 implements Hasher {
  private readonly h: NodeHash;
  constructor(create: CreateHash) {
    this.h = create("sha256");
  }
  update(data: Uint8Array): this {
    this.h.update(data);
    return this;
  }
  digest(): Uint8Array {
    const d = this.h.digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
}

/** A fresh incremental SHA-256. */
export function sha256Hasher(): Hasher {
  return createHash ? new NodeSha256(createHash) : new PortableSha256();
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return sha256Hasher().update(data).digest();
}

/** Whether SHA-256 runs in node:crypto (true on Node >= 20.16) or in this module's portable code. */
export const NATIVE_SHA256 = createHash !== undefined;
