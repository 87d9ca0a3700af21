/** UTF-8 as RFC 3629 defines it (no overlongs, no surrogates, nothing above U+10FFFF), checked without decoding. */

/** Index of the first byte of the first invalid sequence in `b[start, end)`, or -1 when it is all valid. */
export function invalidUtf8At(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + 1 >= end) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      if (i + k >= end) return i;
      const ck = b[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

const decoder = new TextDecoder("utf-8");
const encoder = new TextEncoder();

/** The text of already-validated UTF-8 bytes (short ASCII, the usual name or key, without TextDecoder's call cost). */
export function utf8Text(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) return decoder.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(b.subarray(start, end));
}

/** UTF-8 bytes of a string (lone surrogates are refused by the encoder, which checks with `invalidUtf8At`). */
export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}
