/// Float formats as bit patterns, with integer arithmetic only.
///
/// Motoko has no float bit casts and the IC canonicalizes NaNs in float arithmetic, so every conversion
/// here works on `Nat64` bit patterns: widening any element format to binary64 bits exactly (NaN payloads,
/// signalling NaNs, -0 and subnormals kept), narrowing binary64 bits with round-to-nearest-even, and the
/// "shortest exact width" test of SPEC.md §6.2. `Bits.mo` turns binary64 bits into a `Float` and back.
import Prim "mo:⛔";

module {
  public let SIGN : Nat64 = 0x8000000000000000;
  public let EXP : Nat64 = 0x7FF0000000000000;
  public let MAN : Nat64 = 0x000FFFFFFFFFFFFF;
  public let QNAN : Nat64 = 0x7FF8000000000000;

  /// How a format spends its top exponent: IEEE (inf and NaNs), `fn` (only all-ones is NaN, no inf),
  /// `fnuz` (only 1000..0 is NaN, no inf, no -0), `e8m0` (unsigned exponent only, 0xFF NaN), `finite`
  /// (no inf, no NaN).
  public type Flavor = { #ieee; #fn; #fnuz; #e8m0; #finite };

  /// Parameters of one element format.
  public type Format = { expBits : Nat64; manBits : Nat64; bias : Nat64; flavor : Flavor };

  public let F16 : Format = { expBits = 5; manBits = 10; bias = 15; flavor = #ieee };
  public let BF16 : Format = { expBits = 8; manBits = 7; bias = 127; flavor = #ieee };
  public let F32 : Format = { expBits = 8; manBits = 23; bias = 127; flavor = #ieee };

  /// The element format of a float dtype by name (null for float32/float64, which need no table).
  public func formatOf(name : Text) : ?Format {
    switch name {
      case "float16" ?F16;
      case "bfloat16" ?BF16;
      case "float32" ?F32;
      case "float8_e4m3fn" ?{ expBits = 4; manBits = 3; bias = 7; flavor = #fn };
      case "float8_e4m3fnuz" ?{ expBits = 4; manBits = 3; bias = 8; flavor = #fnuz };
      case "float8_e5m2" ?{ expBits = 5; manBits = 2; bias = 15; flavor = #ieee };
      case "float8_e5m2fnuz" ?{ expBits = 5; manBits = 2; bias = 16; flavor = #fnuz };
      case "float8_e8m0fnu" ?{ expBits = 8; manBits = 0; bias = 127; flavor = #e8m0 };
      case "float4_e2m1fn" ?{ expBits = 2; manBits = 1; bias = 1; flavor = #finite };
      case "float6_e2m3fn" ?{ expBits = 2; manBits = 3; bias = 1; flavor = #finite };
      case "float6_e3m2fn" ?{ expBits = 3; manBits = 2; bias = 3; flavor = #finite };
      case "float8_e4m3" ?{ expBits = 4; manBits = 3; bias = 7; flavor = #ieee };
      case "float8_e3m4" ?{ expBits = 3; manBits = 4; bias = 3; flavor = #ieee };
      case "float8_e4m3b11fnuz" ?{ expBits = 4; manBits = 3; bias = 11; flavor = #fnuz };
      case _ null;
    };
  };

  public func isNaN(b : Nat64) : Bool = (b & EXP) == EXP and (b & MAN) != 0;

  /// binary64 bits of the value of `bits` in format `f`, exactly.
  public func widen(bits : Nat64, f : Format) : Nat64 {
    let total = f.expBits + f.manBits;
    let manMask : Nat64 = (1 << f.manBits) - 1;
    let expMax : Nat64 = (1 << f.expBits) - 1;
    switch (f.flavor) {
      case (#e8m0) {
        if (bits == 0xFF) return QNAN;
        return (bits + 896) << 52;
      };
      case (#fnuz) { if (bits == (1 << total)) return QNAN };
      case _ {};
    };
    let sign = ((bits >> total) & 1) << 63;
    let e = (bits >> f.manBits) & expMax;
    let m = bits & manMask;
    if (e == expMax) {
      switch (f.flavor) {
        case (#ieee) return sign | EXP | (m << (52 - f.manBits));
        case (#fn) { if (m == manMask) return sign | QNAN };
        case _ {};
      };
    };
    if (e == 0) {
      if (m == 0) return sign;
      let p = 63 - Prim.clzNat64(m); // leading bit of the subnormal significand
      let e64 = (p + 1024) - f.bias - f.manBits;
      return sign | (e64 << 52) | ((m << (52 - p)) & MAN);
    };
    sign | ((e + 1023 - f.bias) << 52) | (m << (52 - f.manBits));
  };

  /// Bits of the format nearest to binary64 `b` (round to nearest, ties to even) for IEEE formats: NaNs keep
  /// their sign and top payload bits and become quiet, as hardware narrowing does.
  public func narrowIeee(b : Nat64, f : Format) : Nat64 {
    let total = f.expBits + f.manBits;
    let sign = (b >> 63) << total;
    let expMax : Nat64 = (1 << f.expBits) - 1;
    let e = (b & EXP) >> 52;
    let m = b & MAN;
    if (e == 0x7FF) {
      if (m == 0) return sign | (expMax << f.manBits);
      let payload = (m >> (52 - f.manBits)) | (1 << (f.manBits - 1));
      return sign | (expMax << f.manBits) | payload;
    };
    if (e == 0) return sign; // binary64 subnormals are below every narrower format's smallest subnormal
    let s = (1 << 52) | m;
    // unbiased exponent E = e - 1023; normal in the target when E >= 1 - bias, i.e. e + bias >= 1024
    let shift : Nat64 = if (e + f.bias >= 1024) 52 - f.manBits else (52 - f.manBits) + (1024 - e - f.bias);
    if (shift > 54) return sign;
    let q = s >> shift;
    let r = s & ((1 << shift) - 1);
    let half : Nat64 = 1 << (shift - 1);
    let rounded = if (r > half or (r == half and (q & 1) == 1)) q + 1 else q;
    let mag = if (e + f.bias >= 1024) {
      let eT = e + f.bias - 1023; // >= 1
      if (eT >= expMax) return sign | (expMax << f.manBits);
      ((eT - 1) << f.manBits) + rounded;
    } else rounded;
    if (mag >= (expMax << f.manBits)) return sign | (expMax << f.manBits);
    sign | mag;
  };

  /// Whether binary64 `b` (not a NaN) is exactly representable in the IEEE format `f`.
  public func fits(b : Nat64, f : Format) : Bool {
    let e = (b & EXP) >> 52;
    let m = b & MAN;
    if (e == 0x7FF) return true; // inf (NaNs are handled by the caller)
    if (e == 0) return m == 0; // zero fits; binary64 subnormals fit nowhere narrower
    let expMax : Nat64 = (1 << f.expBits) - 1;
    // normal in the target: 1 - bias <= E <= expMax - 1 - bias, with E = e - 1023
    if (e + f.bias >= 1023 + expMax) return false;
    if (e + f.bias >= 1024) return (m & ((1 << (52 - f.manBits)) - 1)) == 0;
    let shift = (52 - f.manBits) + (1024 - e - f.bias);
    if (shift > 52) return false;
    (((1 << 52) | m) & ((1 << shift) - 1)) == 0;
  };

  /// The deterministic CBOR encoding of a metadata float given as binary64 bits (SPEC.md §6.2 rules 4-5):
  /// the initial byte (0xf9, 0xfa or 0xfb) and the bits in that width.
  public func shortest(b : Nat64) : (Nat8, Nat64) {
    if (isNaN(b)) return (0xf9, 0x7e00);
    if (fits(b, F16)) return (0xf9, narrowIeee(b, F16));
    if (fits(b, F32)) return (0xfa, narrowIeee(b, F32));
    (0xfb, b);
  };

  /// Whether a float head (additional information 25, 26 or 27, argument `arg`) is what `shortest` writes.
  public func isCanonical(ai : Nat8, arg : Nat64) : Bool {
    let b = switch ai {
      case 25 widen(arg, F16);
      case 26 widen(arg, F32);
      case _ arg;
    };
    let (ib, bits) = shortest(b);
    ib == 0xf9 + (ai - 25) and bits == arg;
  };

  /// binary64 bits of a metadata float head's argument.
  public func headBits(ai : Nat8, arg : Nat64) : Nat64 {
    switch ai { case 25 widen(arg, F16); case 26 widen(arg, F32); case _ arg };
  };
};
