/// SHA-256 (FIPS 180-4), which Motoko's `core` lacks: for stream-chunk checks (SPEC.md §10.2), in canisters.
///
/// `Sha256()` hashes incrementally (`write` any number of blobs, then `sum`); `sha256(blob)` in one call.
/// Bytes are taken with a `for (b in blob.vals())` loop, which the compiler turns into direct indexing, and
/// packed into big-endian words as they come; every counter is a Nat64 or Nat32, never a boxed Nat.
/// The round constants are the first 32 bits of the fractional parts of the cube roots of the first 64
/// primes, the initial hash those of the square roots of the first 8 (FIPS 180-4 §4.2.2, §5.3.3).
import Prim "mo:⛔";

module {
  let K : [Nat32] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  let H0 : [Nat32] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ];

  public class Sha256() {
    let h = Prim.Array_init<Nat32>(8, 0);
    let w = Prim.Array_init<Nat32>(64, 0);
    var word : Nat32 = 0; // bytes of the current word, big-endian
    var fill : Nat64 = 0; // bytes in the current 64-byte block
    var total : Nat64 = 0; // bytes written
    var done = false;

    public func reset() {
      var i = 0;
      while (i < 8) { h[i] := H0[i]; i += 1 };
      word := 0;
      fill := 0;
      total := 0;
      done := false;
    };
    reset();

    func compress() {
      var t : Nat64 = 16;
      while (t < 64) {
        let i = Prim.nat64ToNat(t);
        let a = w[i - 15];
        let b = w[i - 2];
        let s0 = (a <>> 7) ^ (a <>> 18) ^ (a >> 3);
        let s1 = (b <>> 17) ^ (b <>> 19) ^ (b >> 10);
        w[i] := w[i - 16] +% s0 +% w[i - 7] +% s1;
        t += 1;
      };
      var a = h[0];
      var b = h[1];
      var c = h[2];
      var d = h[3];
      var e = h[4];
      var f = h[5];
      var g = h[6];
      var hh = h[7];
      t := 0;
      while (t < 64) {
        let i = Prim.nat64ToNat(t);
        let s1 = (e <>> 6) ^ (e <>> 11) ^ (e <>> 25);
        let ch = (e & f) ^ ((e ^ 0xFFFF_FFFF) & g);
        let t1 = hh +% s1 +% ch +% K[i] +% w[i];
        let s0 = (a <>> 2) ^ (a <>> 13) ^ (a <>> 22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0 +% maj;
        hh := g;
        g := f;
        f := e;
        e := d +% t1;
        d := c;
        c := b;
        b := a;
        a := t1 +% t2;
        t += 1;
      };
      h[0] := h[0] +% a;
      h[1] := h[1] +% b;
      h[2] := h[2] +% c;
      h[3] := h[3] +% d;
      h[4] := h[4] +% e;
      h[5] := h[5] +% f;
      h[6] := h[6] +% g;
      h[7] := h[7] +% hh;
    };

    func byte(x : Nat8) {
      word := (word << 8) | Prim.nat16ToNat32(Prim.nat8ToNat16(x));
      fill += 1;
      if (fill & 3 == 0) {
        w[Prim.nat64ToNat(fill >> 2) - 1] := word;
        word := 0;
        if (fill == 64) {
          compress();
          fill := 0;
        };
      };
    };

    /// Add bytes to the message. Traps after `sum` unless `reset` was called.
    public func write(data : Blob) {
      if done Prim.trap("Sha256.write after sum; call reset first");
      // `byte` inlined, with the word and block position in locals: this loop is the hot path.
      var wd = word;
      var f = fill;
      for (x in data.vals()) {
        wd := (wd << 8) | Prim.nat16ToNat32(Prim.nat8ToNat16(x));
        f += 1;
        if (f & 3 == 0) {
          w[Prim.nat64ToNat(f >> 2) - 1] := wd;
          wd := 0;
          if (f == 64) {
            compress();
            f := 0;
          };
        };
      };
      word := wd;
      fill := f;
      total +%= Prim.natToNat64(data.size());
    };

    /// Add bytes `[from, from + len)` of `data` (a chunk's payload without copying it out first).
    public func writeRange(data : Blob, from : Nat, len : Nat) {
      if done Prim.trap("Sha256.write after sum; call reset first");
      var wd = word;
      var f = fill;
      var i = from;
      let stop = from + len;
      while (i < stop) {
        wd := (wd << 8) | Prim.nat16ToNat32(Prim.nat8ToNat16(data[i]));
        f += 1;
        if (f & 3 == 0) {
          w[Prim.nat64ToNat(f >> 2) - 1] := wd;
          wd := 0;
          if (f == 64) {
            compress();
            f := 0;
          };
        };
        i += 1;
      };
      word := wd;
      fill := f;
      total +%= Prim.natToNat64(len);
    };

    /// The 32-byte digest of everything written since the last reset.
    public func sum() : Blob {
      if (not done) {
        let bits = total << 3;
        byte(0x80);
        while (fill != 56) byte(0);
        var s : Nat64 = 56;
        while (s <= 56) {
          byte(Prim.nat16ToNat8(Prim.nat32ToNat16(Prim.nat64ToNat32((bits >> s) & 0xFF))));
          if (s == 0) s := 64 else s -= 8;
        };
        done := true;
      };
      let out = Prim.Array_init<Nat8>(32, 0);
      var i = 0;
      while (i < 32) {
        out[i] := Prim.nat16ToNat8(Prim.nat32ToNat16((h[i / 4] >> Prim.natToNat32(24 - 8 * (i % 4))) & 0xFF));
        i += 1;
      };
      Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(32, func j = out[j]));
    };
  };

  /// SHA-256 of one blob.
  public func sha256(data : Blob) : Blob {
    let d = Sha256();
    d.write(data);
    d.sum();
  };
};
