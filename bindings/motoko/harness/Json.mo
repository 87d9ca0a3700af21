/// JSON answers of the conformance adapter protocol (conformance/README.md), built on the Motoko side.
import Prim "mo:⛔";
import C "../src/Cbor";
import B "../src/Bytes";
import Bits "../src/Bits";
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

  func floatText(bits : Nat64, scratch : Bits.Scratch) : Text {
    let exp = (bits >> 52) & 0x7FF;
    let man = bits & 0xFFFFFFFFFFFFF;
    let neg = (bits >> 63) == 1;
    if (exp == 0x7FF) return if (man != 0) "nan" else if neg "-inf" else "inf";
    if (exp == 0 and man == 0) return if neg "-0" else "0";
    Prim.floatToFormattedText(scratch.toFloat(bits), 17, 1);
  };

  public func value(out : B.Builder, v : T.Value, scratch : Bits.Scratch) {
    switch v {
      case (#int i) { ascii(out, "{\"int\":\"" # C.intText(i) # "\"}") };
      case (#float b) { ascii(out, "{\"float\":\"" # floatText(b, scratch) # "\"}") };
      case (#text t) str(out, t);
      case (#bytes b) { ascii(out, "{\"bytes\":\""); hexRange(out, b, 0, b.size()); ascii(out, "\"}") };
      case (#bool b) ascii(out, if b "true" else "false");
      case (#null_) ascii(out, "null");
      case (#array a) {
        ascii(out, "{\"array\":[");
        var first = true;
        for (x in a.vals()) { if (not first) out.add(0x2c); first := false; value(out, x, scratch) };
        ascii(out, "]}");
      };
      case (#map m) map(out, m, scratch);
    };
  };

  public func map(out : B.Builder, m : [(Text, T.Value)], scratch : Bits.Scratch) {
    ascii(out, "{\"map\":[");
    var first = true;
    for ((k, x) in m.vals()) {
      if (not first) out.add(0x2c);
      first := false;
      out.add(0x5b);
      str(out, k);
      out.add(0x2c);
      value(out, x, scratch);
      out.add(0x5d);
    };
    ascii(out, "]}");
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
