/// JSON answers of the adapter's typed-element and stable-memory methods (tests/test_motoko.py reads them).
import Prim "mo:⛔";
import C "../src/Cbor";
import B "../src/Bytes";
import T "../src/Types";

module {
  let HEX : [Nat8] = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66];

  public func ascii(out : B.Builder, t : Text) { out.addBlob(Prim.encodeUtf8(t)) };

  public func hexRange(out : B.Builder, b : Blob, from : Nat, len : Nat) {
    var i = from;
    let stop = from + len;
    while (i < stop) {
      let x = b[i];
      out.add(HEX[Prim.nat8ToNat(x >> 4)]);
      out.add(HEX[Prim.nat8ToNat(x & 15)]);
      i += 1;
    };
  };

  public func str(out : B.Builder, t : Text) {
    let raw = Prim.encodeUtf8(t);
    out.add(0x22);
    for (x in raw.vals()) {
      if (x == 0x22) { out.add(0x5c); out.add(0x22) } else if (x == 0x5c) { out.add(0x5c); out.add(0x5c) } else if (x < 0x20) {
        ascii(out, "\\u00");
        out.add(HEX[Prim.nat8ToNat(x >> 4)]);
        out.add(HEX[Prim.nat8ToNat(x & 15)]);
      } else out.add(x);
    };
    out.add(0x22);
  };

  /// "dtype", "shape" and "data_hex" or "strings" members (no braces).
  public func tensorFields(out : B.Builder, t : T.Tensor) {
    ascii(out, "\"dtype\":\"" # t.dtype.name # "\",\"shape\":[");
    var first = true;
    for (d in t.shape.vals()) { if (not first) out.add(0x2c); first := false; ascii(out, C.natText(d)) };
    out.add(0x5d);
    if (t.dtype.kind == #string) {
      ascii(out, ",\"strings\":[");
      var f = true;
      for (s in t.strings.vals()) { if (not f) out.add(0x2c); f := false; str(out, s) };
      out.add(0x5d);
    } else {
      ascii(out, ",\"data_hex\":\"");
      hexRange(out, t.source, t.dataOffset, t.dataLength);
      out.add(0x22);
    };
  };
};
