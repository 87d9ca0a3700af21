/// A scratch Region for bit-exact conversions and bulk element decoding.
///
/// Motoko has no float bit casts, and the IC canonicalizes NaNs in float arithmetic, so storing then loading
/// memory is how bits become a `Float` exactly (NaN payloads included). The same Region stages element
/// bytes behind a Candid header so that Motoko's own `from_candid` decodes them in bulk. Regions cannot be
/// freed: create one `Scratch` per canister (a `transient let` in an actor) and reuse it.
///
/// A Scratch also holds the float16 and bfloat16 conversion tables (65,536 `Float` each), built when it is
/// constructed: in an actor that is at install and after every upgrade, so no query ever pays for them (a
/// query's changes are discarded, so a table built lazily inside a query would be rebuilt by every query).
/// Building both costs about 9M instructions (wasmtime fuel), once per install or upgrade.
import Prim "mo:⛔";
import Region "mo:core/Region";
import F "Floats";

module {
  public let PAGE : Nat64 = 65536;

  public class Scratch() {
    let r = Region.new();
    ignore Region.grow(r, 1);

    /// The Region itself.
    public func region() : Region.Region = r;

    /// Make the Region at least `bytes` long; false if stable memory cannot grow.
    public func ensure(bytes : Nat64) : Bool {
      let have = Region.size(r) * PAGE;
      if (have >= bytes) return true;
      let pages = (bytes - have + PAGE - 1) / PAGE;
      Region.grow(r, pages) != 0xFFFF_FFFF_FFFF_FFFF;
    };

    public func toFloat(bits : Nat64) : Float {
      Region.storeNat64(r, 0, bits);
      Region.loadFloat(r, 0);
    };

    public func ofFloat(x : Float) : Nat64 {
      Region.storeFloat(r, 0, x);
      Region.loadNat64(r, 0);
    };

    /// The `Float` of every 16-bit pattern of an IEEE format `f` (float16 or bfloat16), bit-exact. Finite
    /// non-zero values are significand x 2^k in float arithmetic (exact: at most 11 significant bits, k in
    /// binary64's normal range); zeros, infinities and NaNs go through the Region so that signs and NaN
    /// payloads are kept (the IC canonicalizes NaNs in float arithmetic).
    func table(f : F.Format) : [Float] {
      let expMax : Nat64 = (1 << f.expBits) - 1;
      let manMask : Nat64 = (1 << f.manBits) - 1;
      let top : Nat64 = f.expBits + f.manBits;
      // 2^(max(e, 1) - bias - manBits) for each biased exponent e, from its binary64 bits
      let scale = Prim.Array_tabulate<Float>(
        Prim.nat64ToNat(expMax + 1),
        func e {
          let k = if (e == 0) 1 : Nat64 else Prim.natToNat64(e);
          toFloat((k + 1023 - f.bias - f.manBits) << 52);
        },
      );
      Prim.Array_tabulate<Float>(
        65536,
        func i {
          let b = Prim.natToNat64(i);
          let e = (b >> f.manBits) & expMax;
          let m = b & manMask;
          if (e == expMax or (e == 0 and m == 0)) return toFloat(F.widen(b, f));
          let sig = if (e == 0) m else m | (1 << f.manBits);
          let v = Prim.int64ToFloat(Prim.nat64ToInt64(sig)) * scale[Prim.nat64ToNat(e)];
          if ((b >> top) & 1 == 1) -v else v;
        },
      );
    };

    let f16 : [Float] = table(F.F16);
    let bf16 : [Float] = table(F.BF16);

    /// The `Float` of every float16 bit pattern (index = the pattern), bit-exact.
    public func float16Table() : [Float] = f16;

    /// The `Float` of every bfloat16 bit pattern (index = the pattern), bit-exact.
    public func bfloat16Table() : [Float] = bf16;
  };
};
