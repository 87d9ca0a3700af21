/// The Motoko binding under test: an actor that implements the canister conformance convention
/// (`tensorcbor_conformance`, through the binding's Conformance module: `tensorcbor conformance run --impl
/// motoko` and `python3 -m tensorcbor.fuzz --impl motoko` install this module under tensorcbor.ic), plus the
/// typed element access and the stable-memory reads that tests/test_motoko.py checks with answers in JSON.
import Prim "mo:⛔";
import B "../src/Bytes";
import Bits "../src/Bits";
import C "../src/Cbor";
import Conformance "../src/Conformance";
import D "../src/DTypes";
import Dec "../src/Decode";
import Errors "../src/Errors";
import J "Json";
import El "../src/Elements";
import Region "mo:core/Region";
import Stable "../src/Stable";

persistent actor {
  transient let scratch = Bits.Scratch();
  transient let tabled = Bits.Scratch();
  tabled.useHalfTables();

  func errorAnswer(e : Errors.Error) : Blob {
    let out = B.Builder(64);
    J.ascii(out, "{\"error\":\"" # Errors.name(e.code) # "\",\"offset\":" # C.natText(e.offset) # ",\"message\":");
    J.str(out, e.message);
    out.add(0x7d);
    out.toBlob();
  };

  func adapterError(msg : Text) : Blob {
    let out = B.Builder(64);
    J.ascii(out, "{\"error\":\"ADAPTER_ERROR\",\"message\":");
    J.str(out, msg);
    out.add(0x7d);
    out.toBlob();
  };

  // ---- typed element access, both directions (tests/test_motoko.py)

  func hexOf(out : B.Builder, b : Blob) { out.add(0x22); J.hexRange(out, b, 0, b.size()); out.add(0x22) };

  func ints(out : B.Builder, xs : [Int]) {
    out.add(0x5b);
    var first = true;
    for (x in xs.vals()) { if (not first) out.add(0x2c); first := false; J.ascii(out, C.intText(x)) };
    out.add(0x5d);
  };

  /// {"floats": [binary64 bits as hex], "float32": hex of the [Float32] route re-encoded, "ints": [...],
  ///  "reverse": hex of the element bytes rebuilt from the typed array}
  public func elements(doc : Blob) : async Blob { elementsWith(doc, scratch) };

  /// The same with the float16/bfloat16 tables (`Bits.Scratch.useHalfTables`).
  public func elementsTabled(doc : Blob) : async Blob { elementsWith(doc, tabled) };

  func elementsWith(doc : Blob, scratch : Bits.Scratch) : Blob {
    let t = switch (Dec.tensor(doc)) { case (#ok t) t; case (#err e) return errorAnswer(e) };
    let out = B.Builder(64);
    let name = t.dtype.name;
    J.ascii(out, "{\"dtype\":\"" # name # "\"");
    switch (El.toFloat(t, scratch)) {
      case (?fs) {
        J.ascii(out, ",\"floats\":[");
        var first = true;
        for (x in fs.vals()) {
          if (not first) out.add(0x2c);
          first := false;
          let b = scratch.ofFloat(x);
          out.add(0x22);
          J.hexRange(out, Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(8, func k = Prim.natToNat8(Prim.nat64ToNat((b >> Prim.natToNat64(8 * (7 - k))) & 0xFF)))), 0, 8);
          out.add(0x22);
        };
        out.add(0x5d);
        let dt = if (name == "complex32") ?D.FLOAT16 else if (name == "complex64") ?D.FLOAT32 else if (name == "complex128") ?D.FLOAT64 else ?t.dtype;
        switch (dt) {
          case (?d) switch (El.fromFloat(fs, d, scratch)) { case (?b) { J.ascii(out, ",\"reverse\":"); hexOf(out, b) }; case null {} };
          case null {};
        };
      };
      case null {};
    };
    switch (El.toFloat32(t, scratch)) { case (?a) { J.ascii(out, ",\"float32\":"); hexOf(out, El.fromFloat32(a, scratch)) }; case null {} };
    func emit(xs : [Int], rev : Blob) { J.ascii(out, ",\"ints\":"); ints(out, xs); J.ascii(out, ",\"reverse\":"); hexOf(out, rev) };
    switch (El.toInt8(t, scratch)) {
      case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.int8ToInt(a[i])), if (name == "int8") El.fromInt8(a, scratch) else if (name == "int4") El.fromInt4(a) else El.fromInt2(a));
      case null {};
    };
    switch (El.toNat8(t, scratch)) {
      case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.nat8ToNat(a[i])), if (name == "uint8") El.fromNat8(a, scratch) else if (name == "uint4") El.fromUint4(a) else El.fromUint2(a));
      case null {};
    };
    switch (El.toInt16(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.int16ToInt(a[i])), El.fromInt16(a, scratch)); case null {} };
    switch (El.toNat16(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.nat16ToNat(a[i])), El.fromNat16(a, scratch)); case null {} };
    switch (El.toInt32(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.int32ToInt(a[i])), El.fromInt32(a, scratch)); case null {} };
    switch (El.toNat32(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.nat32ToNat(a[i])), El.fromNat32(a, scratch)); case null {} };
    switch (El.toInt64(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.int64ToInt(a[i])), El.fromInt64(a, scratch)); case null {} };
    switch (El.toNat64(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = Prim.nat64ToNat(a[i])), El.fromNat64(a, scratch)); case null {} };
    switch (El.toBool(t, scratch)) { case (?a) emit(Prim.Array_tabulate<Int>(a.size(), func i = if (a[i]) 1 else 0), El.fromBool(a, scratch)); case null {} };
    switch (El.toText(t)) {
      case (?a) { J.ascii(out, ",\"strings\":["); var f = true; for (x in a.vals()) { if (not f) out.add(0x2c); f := false; J.str(out, x) }; out.add(0x5d) };
      case null {};
    };
    out.add(0x7d);
    out.toBlob();
  };

  // ---- a document uploaded in chunks to stable memory, then read from the Region

  transient let upload = Region.new();

  /// Store `doc` in the upload Region in pieces of `chunk` bytes at offset 8, then decode it from there
  /// (Stable.header, then every element through Stable.range). Answers in the JSON of the decode adapter protocol.
  public func fromStable(doc : Blob, chunk : Nat) : async Blob {
    let start : Nat64 = 8;
    let need = start + Prim.natToNat64(doc.size());
    let have = Region.size(upload) * 65536;
    if (need > have) ignore Region.grow(upload, (need - have + 65535) / 65536);
    var at = 0;
    while (at < doc.size()) {
      let n = if (doc.size() - at < chunk) doc.size() - at else chunk;
      Region.storeBlob(upload, start + Prim.natToNat64(at), C.slice(doc, at, n));
      at += n;
    };
    let t = switch (Stable.header(upload, start, Prim.natToNat64(doc.size()))) { case (#ok t) t; case (#err e) return errorAnswer(e) };
    let out = B.Builder(64);
    J.ascii(out, "{\"kind\":\"tensor\",");
    let bits = Prim.nat64ToNat(t.dtype.bits);
    if (bits >= 8 and bits % 8 == 0 and t.count > 0) {
      // element bytes in two ranges, to exercise `range`
      let half = t.count / 2;
      let a = switch (Stable.range(upload, start, t, 0, half)) { case (?a) a; case null return adapterError("range failed") };
      let b = switch (Stable.range(upload, start, t, half, t.count - half)) { case (?b) b; case null return adapterError("range failed") };
      J.ascii(out, "\"dtype\":\"" # t.dtype.name # "\",\"shape\":[");
      var first = true;
      for (d in t.shape.vals()) { if (not first) out.add(0x2c); first := false; J.ascii(out, C.natText(d)) };
      J.ascii(out, "],\"data_hex\":\"");
      J.hexRange(out, a.source, 0, a.dataLength);
      J.hexRange(out, b.source, 0, b.dataLength);
      J.ascii(out, "\"}");
      return out.toBlob();
    };
    if (t.dtype.kind == #string) {
      J.tensorFields(out, t);
    } else {
      // packed or empty: load the element bytes directly
      let whole = { t with source = Region.loadBlob(upload, start + Prim.natToNat64(t.dataOffset), t.dataLength); dataOffset = 0 };
      J.tensorFields(out, whole);
    };
    out.add(0x7d);
    out.toBlob();
  };

  public query func tensorcbor_conformance(op : Text, input : Blob) : async Conformance.Result {
    Conformance.answer(op, input);
  };
};
