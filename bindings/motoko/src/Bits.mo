/// A scratch Region for bit-exact conversions and bulk element decoding.
///
/// Motoko has no float bit casts, and the IC canonicalizes NaNs in float arithmetic, so storing then loading
/// memory is how bits become a `Float` exactly (NaN payloads included). The same Region stages element
/// bytes behind a Candid header so that Motoko's own `from_candid` decodes them in bulk. Regions cannot be
/// freed: create one per canister and reuse it. In a persistent actor keep the Region itself in a stable
/// variable and wrap it in a transient `ScratchIn(region)` (a `Scratch()` made anew after each upgrade
/// would leak its Region, 8 MiB of stable memory per upgrade).
///
/// float16/bfloat16 conversion: a Scratch holds the powers of two the arithmetic route needs (built when it
/// is constructed, 288 values). `useHalfTables()` adds two 65,536-entry `Float` tables for the fastest route
/// (about 9M instructions to build, about 4 MB of heap that the garbage collector then walks on every
/// collection: a 20 MB bundle decode costs about 5 instructions per byte more). Call it in the actor's body
/// (it runs at install and after every upgrade) if the canister decodes float16/bfloat16 in volume. Nothing
/// builds a table implicitly, so no query ever pays for one (a query's changes are discarded: a table built
/// lazily inside a query would be rebuilt by every query).
import Prim "mo:⛔";
import Region "mo:core/Region";
import F "Floats";

module {
  public let PAGE : Nat64 = 65536;

  /// A scratch over a fresh Region.
  public func Scratch() : Scratch = ScratchIn(Region.new());

  public type Scratch = ScratchIn;

  /// A scratch over `r` (grown to at least one page).
  public class ScratchIn(r : Region.Region) {
    if (Region.size(r) == 0) ignore Region.grow(r, 1);

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

    /// 2^(max(e, 1) - bias - manBits) for each biased exponent e of the IEEE format `f`: the scale of a
    /// significand with that exponent (from its binary64 bits, exactly).
    func scales(f : F.Format) : [Float] {
      Prim.Array_tabulate<Float>(
        Prim.nat64ToNat(1 << f.expBits),
        func e {
          let k = if (e == 0) 1 : Nat64 else Prim.natToNat64(e);
          toFloat((k + 1023 - f.bias - f.manBits) << 52);
        },
      );
    };

    let f16Scale = scales(F.F16);
    let bf16Scale = scales(F.BF16);

    /// The `Float` of a 16-bit pattern `b` of float16 or bfloat16 (`f`, with `scale` its `scales`), bit-exact.
    /// Finite non-zero values are significand x 2^k in float arithmetic (exact: at most 11 significant bits,
    /// k in binary64's normal range); infinities and NaNs go through the Region so that NaN payloads are kept
    /// (the IC canonicalizes NaNs in float arithmetic); a negated zero is -0.
    public func half(b : Nat64, f : F.Format, scale : [Float]) : Float {
      let expMax : Nat64 = (1 << f.expBits) - 1;
      let e = (b >> f.manBits) & expMax;
      if (e == expMax) return toFloat(F.widen(b, f));
      let m = b & ((1 << f.manBits) - 1);
      let v = Prim.int64ToFloat(Prim.nat64ToInt64(if (e == 0) m else m | (1 << f.manBits))) * scale[Prim.nat64ToNat(e)];
      if ((b >> (f.expBits + f.manBits)) & 1 == 1) -v else v;
    };

    /// The scales of float16 and bfloat16 (for `half`).
    public func float16Scale() : [Float] = f16Scale;
    public func bfloat16Scale() : [Float] = bf16Scale;

    var f16 : ?[Float] = null;
    var bf16 : ?[Float] = null;

    /// Build the float16 and bfloat16 tables (once; see the module comment for what they cost).
    public func useHalfTables() {
      if (f16 != null) return;
      f16 := ?Prim.Array_tabulate<Float>(65536, func i = half(Prim.natToNat64(i), F.F16, f16Scale));
      bf16 := ?Prim.Array_tabulate<Float>(65536, func i = half(Prim.natToNat64(i), F.BF16, bf16Scale));
    };

    /// The `Float` of every float16 bit pattern (index = the pattern), if `useHalfTables` was called.
    public func float16Table() : ?[Float] = f16;

    /// The `Float` of every bfloat16 bit pattern (index = the pattern), if `useHalfTables` was called.
    public func bfloat16Table() : ?[Float] = bf16;
  };
};
