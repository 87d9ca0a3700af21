/// A scratch Region for bit-exact conversions and bulk element decoding.
///
/// Motoko has no float bit casts, and the IC canonicalizes NaNs in float arithmetic, so storing then loading
/// memory is how bits become a `Float` exactly (NaN payloads included). The same Region stages element
/// bytes behind a Candid header so that Motoko's own `from_candid` decodes them in bulk. Regions cannot be
/// freed: create one per canister and reuse it. In a persistent actor keep the Region itself in a stable
/// variable and wrap it in a transient `ScratchIn(region)` (a `Scratch()` made anew after each upgrade
/// would leak its Region, 8 MiB of stable memory per upgrade).
import Prim "mo:⛔";
import Region "mo:core/Region";

module {
  public let PAGE : Nat64 = 65536;

  /// A scratch over a fresh Region.
  public func Scratch() : Scratch = ScratchIn(Region.new());

  public type Scratch = ScratchIn;

  /// A scratch over `r` (grown to at least one page).
  public class ScratchIn(r : Region.Region) {
    if (Region.size(r) == 0) ignore Region.grow(r, 1);
    var f16 : ?[Float] = null;
    var bf16 : ?[Float] = null;

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

    /// A 65,536-entry table of `Float` for 16-bit patterns, built once per Scratch (`widen` gives binary64
    /// bits). `key` selects the cached table ("float16" or "bfloat16").
    public func table16(key : Text, widen : Nat64 -> Nat64) : [Float] {
      let cached = if (key == "float16") f16 else bf16;
      switch cached {
        case (?t) return t;
        case null {};
      };
      let t = Prim.Array_tabulate<Float>(65536, func i = toFloat(widen(Prim.natToNat64(i))));
      if (key == "float16") f16 := ?t else bf16 := ?t;
      t;
    };
  };
};
