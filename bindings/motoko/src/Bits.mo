/// Float <-> binary64 bit pattern through a scratch Region: Motoko has no bit casts, and storing then
/// loading memory reinterprets bits exactly (NaN payloads included). Create one `Scratch` per canister
/// (Regions cannot be freed) and reuse it.
import Region "mo:core/Region";

module {
  public class Scratch() {
    let r = Region.new();
    ignore Region.grow(r, 1);

    /// The Region (one 64 KiB page at least), for callers that stage bytes in it.
    public func region() : Region.Region = r;

    public func toFloat(bits : Nat64) : Float {
      Region.storeNat64(r, 0, bits);
      Region.loadFloat(r, 0);
    };

    public func ofFloat(x : Float) : Nat64 {
      Region.storeFloat(r, 0, x);
      Region.loadNat64(r, 0);
    };
  };
};
