/// Typed access to tensor elements, bit-exact, and the reverse (Motoko arrays to element bytes).
///
/// Bulk routes reuse Motoko's own Candid decoder: the element bytes are staged in the scratch Region behind
/// a Candid `vec T` header and decoded with `from_candid` (the same cost as receiving that vector as a
/// message argument). float16/bfloat16 go through 65,536-entry tables when `Bits.Scratch.useHalfTables` built
/// them, else through exact float arithmetic (no table is ever built here); float32 NaNs are rebuilt from their bits
/// through the Region, since the IC canonicalizes NaNs in float arithmetic. Every function returns null
/// when the dtype does not match (never traps on a decoded tensor).
import Prim "mo:⛔";
import Region "mo:core/Region";
import Bits "Bits";
import C "Cbor";
import D "DTypes";
import F "Floats";
import T "Types";

module {
  let BASE : Nat64 = 16; // room for a Candid header (at most 6 + 10 bytes) before the staged bytes

  func leb(n : Nat) : [Nat8] {
    var x = n;
    var out : [Nat8] = [];
    loop {
      let b = Prim.natToNat8(x % 128);
      x /= 128;
      if (x == 0) return Prim.Array_tabulate<Nat8>(out.size() + 1, func i = if (i < out.size()) out[i] else b);
      let prev = out;
      out := Prim.Array_tabulate<Nat8>(prev.size() + 1, func i = if (i < prev.size()) prev[i] else b | 0x80);
    };
  };

  /// Candid bytes `DIDL 01 6d <ty> 01 00 <count> <element bytes of t>` staged in the scratch Region. When
  /// `whole` the tensor's source Blob is copied whole (one memory copy) and the header written in front of
  /// the element bytes; the returned Blob is a single copy of header + elements.
  public func candid(s : Bits.Scratch, t : T.Tensor, ty : Nat8, count : Nat) : ?Blob = candidPrefix(s, t, ty, count, t.dataLength);

  /// As `candid`, for a `vec` of `count` values covering the first `len` element bytes.
  public func candidPrefix(s : Bits.Scratch, t : T.Tensor, ty : Nat8, count : Nat, len : Nat) : ?Blob {
    let r = s.region();
    let fixed : [Nat8] = [0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, ty, 0x01, 0x00];
    let tail = leb(count);
    let hdr = Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(9 + tail.size(), func i = if (i < 9) fixed[i] else tail[i - 9]));
    let hlen = C.n64(hdr.size());
    let srcLen = C.n64(t.source.size());
    if (not s.ensure(BASE + srcLen + 8)) return null; // + 8: the pairwise float16 route reads 2 bytes past odd-length data
    Region.storeBlob(r, BASE, t.source);
    let start = BASE + C.n64(t.dataOffset) - hlen;
    Region.storeBlob(r, start, hdr);
    ?Region.loadBlob(r, start, Prim.nat64ToNat(hlen) + len);
  };

  /// The element bytes of `t` as their own Blob, copied through the Region (memory-copy speed).
  public func stage(s : Bits.Scratch, t : T.Tensor) : Blob {
    if (t.dataOffset == 0 and t.dataLength == t.source.size()) return t.source;
    let r = s.region();
    if (not s.ensure(BASE + C.n64(t.source.size()))) return C.slice(t.source, t.dataOffset, t.dataLength);
    Region.storeBlob(r, BASE, t.source);
    Region.loadBlob(r, BASE + C.n64(t.dataOffset), t.dataLength);
  };

  func is(t : T.Tensor, name : Text) : Bool = t.dtype.name == name;

  /// float32 elements as `[Float32]`, bit-exact (Candid route).
  public func toFloat32(t : T.Tensor, s : Bits.Scratch) : ?[Float32] {
    if (not is(t, "float32")) return null;
    let b = switch (candid(s, t, 0x73, t.count)) { case (?b) b; case null return null };
    let v : ?[Float32] = from_candid (b);
    v;
  };

  /// The elements of any float dtype (and complex32/64/128: real and imaginary parts interleaved) as `[Float]`,
  /// bit-exact: NaN payloads and signs, signalling NaNs, -0 and subnormals are kept.
  public func toFloat(t : T.Tensor, s : Bits.Scratch) : ?[Float] {
    let name = t.dtype.name;
    if (name == "float64" or name == "complex128") {
      let n = if (name == "complex128") 2 * t.count else t.count;
      let b = switch (candid(s, t, 0x72, n)) { case (?b) b; case null return null };
      let v : ?[Float] = from_candid (b);
      return v;
    };
    if (name == "float32" or name == "complex64") {
      let n = if (name == "complex64") 2 * t.count else t.count;
      let b = switch (candid(s, t, 0x73, n)) { case (?b) b; case null return null };
      let v : ?[Float32] = from_candid (b);
      let a = switch v { case (?a) a; case null return null };
      let src = t.source;
      let off = t.dataOffset;
      return ?Prim.Array_tabulate<Float>(
        n,
        func i {
          let x = Prim.float32ToFloat(a[i]);
          if (x == x) x else {
            let p = off + 4 * i;
            let bits = C.n8to64(src[p]) | (C.n8to64(src[p + 1]) << 8) | (C.n8to64(src[p + 2]) << 16) | (C.n8to64(src[p + 3]) << 24);
            s.toFloat(F.widen(bits, F.F32));
          };
        },
      );
    };
    if (name == "float16" or name == "bfloat16" or name == "complex32") {
      let bf = name == "bfloat16";
      let n = if (name == "complex32") 2 * t.count else t.count;
      // Candid decodes the elements in pairs, as `vec nat32` (its cost is per vector element, whatever the
      // width); an odd last element takes the two bytes after the data, which are never read as a value.
      let words = (n + 1) / 2;
      let b = switch (candidPrefix(s, t, 0x79, words, 4 * words)) { case (?b) b; case null return null };
      let v : ?[Nat32] = from_candid (b);
      let a = switch v { case (?a) a; case null return null };
      switch (if bf s.bfloat16Table() else s.float16Table()) {
        case (?table) return ?Prim.Array_tabulate<Float>(
          n,
          func i {
            let k = Prim.natToNat64(i);
            let w = Prim.nat32ToNat64(a[Prim.nat64ToNat(k >> 1)]);
            table[Prim.nat64ToNat((w >> ((k & 1) << 4)) & 0xFFFF)];
          },
        );
        case null {
          // significand x 2^k in float arithmetic, exact (see Bits.Scratch.half); the format's constants
          // written out, as the closure runs once per element
          if bf {
            let scale = s.bfloat16Scale();
            return ?Prim.Array_tabulate<Float>(
              n,
              func i {
                let k = Prim.natToNat64(i);
                let b = (Prim.nat32ToNat64(a[Prim.nat64ToNat(k >> 1)]) >> ((k & 1) << 4)) & 0xFFFF;
                let e = (b >> 7) & 0xFF;
                if (e == 0xFF) return s.toFloat(F.widen(b, F.BF16));
                let v = Prim.int64ToFloat(Prim.nat64ToInt64(if (e == 0) b & 0x7F else (b & 0x7F) | 0x80)) * scale[Prim.nat64ToNat(e)];
                if (b >= 0x8000) -v else v;
              },
            );
          };
          let scale = s.float16Scale();
          return ?Prim.Array_tabulate<Float>(
            n,
            func i {
              let k = Prim.natToNat64(i);
              let b = (Prim.nat32ToNat64(a[Prim.nat64ToNat(k >> 1)]) >> ((k & 1) << 4)) & 0xFFFF;
              let e = (b >> 10) & 0x1F;
              if (e == 0x1F) return s.toFloat(F.widen(b, F.F16));
              let v = Prim.int64ToFloat(Prim.nat64ToInt64(if (e == 0) b & 0x3FF else (b & 0x3FF) | 0x400)) * scale[Prim.nat64ToNat(e)];
              if (b >= 0x8000) -v else v;
            },
          );
        };
      };
    };
    let fmt = switch (F.formatOf(name)) { case (?f) f; case null return null };
    let bits = C.nat(t.dtype.bits);
    let patterns = Prim.nat64ToNat(1 << t.dtype.bits);
    let table = Prim.Array_tabulate<Float>(patterns, func i = s.toFloat(F.widen(Prim.natToNat64(i), fmt)));
    let src = t.source;
    let off = t.dataOffset;
    if (bits == 8) return ?Prim.Array_tabulate<Float>(t.count, func i = table[Prim.nat8ToNat(src[off + i])]);
    ?Prim.Array_tabulate<Float>(t.count, func i = table[packedCode(src, off, bits, i)]);
  };

  /// The `bits`-bit code of packed element `i` (little-endian bit stream, SPEC.md §4.4).
  public func packedCode(src : Blob, off : Nat, bits : Nat, i : Nat) : Nat {
    let bit = i * bits;
    let byte = off + bit / 8;
    let shift = bit % 8;
    var word = Prim.nat8ToNat(src[byte]);
    if (shift + bits > 8) word += Prim.nat8ToNat(src[byte + 1]) * 256;
    (word / (2 ** shift)) % (2 ** bits);
  };

  public func toNat8(t : T.Tensor, s : Bits.Scratch) : ?[Nat8] {
    if (is(t, "uint8")) return ?Prim.blobToArray(stage(s, t));
    if (is(t, "uint4") or is(t, "uint2")) {
      let bits = C.nat(t.dtype.bits);
      return ?Prim.Array_tabulate<Nat8>(t.count, func i = Prim.natToNat8(packedCode(t.source, t.dataOffset, bits, i)));
    };
    null;
  };

  public func toInt8(t : T.Tensor, s : Bits.Scratch) : ?[Int8] {
    if (is(t, "int8")) { let b = candid(s, t, 0x77, t.count); return switch b { case (?b) from_candid (b); case null null } };
    if (is(t, "int4") or is(t, "int2")) {
      let bits = C.nat(t.dtype.bits);
      let half = 2 ** (bits - 1);
      return ?Prim.Array_tabulate<Int8>(t.count, func i {
        let c = packedCode(t.source, t.dataOffset, bits, i);
        Prim.intToInt8(if (c >= half) c - 2 * half else c);
      });
    };
    null;
  };

  public func toNat16(t : T.Tensor, s : Bits.Scratch) : ?[Nat16] {
    if (not is(t, "uint16")) return null;
    switch (candid(s, t, 0x7a, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toInt16(t : T.Tensor, s : Bits.Scratch) : ?[Int16] {
    if (not is(t, "int16")) return null;
    switch (candid(s, t, 0x76, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toNat32(t : T.Tensor, s : Bits.Scratch) : ?[Nat32] {
    if (not is(t, "uint32")) return null;
    switch (candid(s, t, 0x79, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toInt32(t : T.Tensor, s : Bits.Scratch) : ?[Int32] {
    if (not is(t, "int32")) return null;
    switch (candid(s, t, 0x75, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toNat64(t : T.Tensor, s : Bits.Scratch) : ?[Nat64] {
    if (not is(t, "uint64")) return null;
    switch (candid(s, t, 0x78, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toInt64(t : T.Tensor, s : Bits.Scratch) : ?[Int64] {
    if (not is(t, "int64")) return null;
    switch (candid(s, t, 0x74, t.count)) { case (?b) from_candid (b); case null null };
  };

  /// bool elements (bytes already checked to be 0 or 1 by the strict decoder).
  public func toBool(t : T.Tensor, s : Bits.Scratch) : ?[Bool] {
    if (not is(t, "bool")) return null;
    switch (candid(s, t, 0x7e, t.count)) { case (?b) from_candid (b); case null null };
  };

  public func toText(t : T.Tensor) : ?[Text] = if (is(t, "string")) ?t.strings else null;

  /// The element bytes as their own Blob (one copy).
  public func bytes(t : T.Tensor, s : Bits.Scratch) : Blob = stage(s, t);

  // ------------------------------------------------------------------ reverse: arrays to element bytes

  /// Strip the Candid header of a single `vec T` value (fixed-size elements) staged in the Region.
  func elementBytes(s : Bits.Scratch, c : Blob, count : Nat, width : Nat) : Blob {
    let len = count * width;
    let hlen = c.size() - len;
    let r = s.region();
    ignore s.ensure(C.n64(c.size()));
    Region.storeBlob(r, 0, c);
    Region.loadBlob(r, C.n64(hlen), len);
  };

  public func fromFloat32(a : [Float32], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 4);
  public func fromFloat64(a : [Float], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 8);
  public func fromInt8(a : [Int8], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 1);
  public func fromNat8(a : [Nat8], _s : Bits.Scratch) : Blob = Prim.arrayToBlob(a);
  public func fromInt16(a : [Int16], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 2);
  public func fromNat16(a : [Nat16], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 2);
  public func fromInt32(a : [Int32], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 4);
  public func fromNat32(a : [Nat32], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 4);
  public func fromInt64(a : [Int64], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 8);
  public func fromNat64(a : [Nat64], s : Bits.Scratch) : Blob = elementBytes(s, to_candid (a), a.size(), 8);
  public func fromBool(a : [Bool], _s : Bits.Scratch) : Blob = Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(a.size(), func i = if (a[i]) 1 else 0));

  /// `[Float]` to float64, float32, float16 or bfloat16 element bytes, rounding to nearest-even (NaNs keep
  /// sign and top payload bits). null for other dtypes.
  public func fromFloat(a : [Float], dtype : D.DType, s : Bits.Scratch) : ?Blob {
    let fmt = switch (dtype.name) {
      case "float64" return ?fromFloat64(a, s);
      case "float32" F.F32;
      case "float16" F.F16;
      case "bfloat16" F.BF16;
      case _ return null;
    };
    let width = C.nat(dtype.bits) / 8;
    ?Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(a.size() * width, func k {
      let bits = F.narrowIeee(s.ofFloat(a[k / width]), fmt);
      Prim.natToNat8(Prim.nat64ToNat((bits >> C.n64(8 * (k % width))) & 0xFF));
    }));
  };

  /// Packed sub-byte codes (low `bits` bits of each value, two's complement for signed types) to element
  /// bytes, low bits first (SPEC.md §4.4); unused bits of the last byte are zero.
  public func pack(codes : [Nat8], bits : Nat) : Blob {
    let n = codes.size();
    let len = (n * bits + 7) / 8;
    let mask = Prim.natToNat8(2 ** bits - 1);
    let out = Prim.Array_init<Nat8>(len, 0);
    var i = 0;
    while (i < n) {
      let bit = i * bits;
      let byte = bit / 8;
      let shift = bit % 8;
      let v = Prim.nat8ToNat(codes[i] & mask) * (2 ** shift);
      out[byte] |= Prim.natToNat8(v % 256);
      if (v >= 256) out[byte + 1] |= Prim.natToNat8(v / 256);
      i += 1;
    };
    Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(len, func k = out[k]));
  };

  public func fromInt4(a : [Int8]) : Blob = pack(Prim.Array_tabulate<Nat8>(a.size(), func i = Prim.int8ToNat8(a[i])), 4);
  public func fromInt2(a : [Int8]) : Blob = pack(Prim.Array_tabulate<Nat8>(a.size(), func i = Prim.int8ToNat8(a[i])), 2);
  public func fromUint4(a : [Nat8]) : Blob = pack(a, 4);
  public func fromUint2(a : [Nat8]) : Blob = pack(a, 2);
};
