/// The conformance adapter's Motoko side: an actor whose `handle` method takes one request and answers
/// with the protocol's JSON (conformance/README.md). Decoding, encoding and every check run here; the
/// Python host (harness/protocol.py on tensorcbor.ic) only frames requests and lines.
///
/// Request: byte 0 is 'd' (decode) or 'e' (encode), byte 1 't' (tensor) or 'b' (bundle); then the document
/// (decode) or the value to encode as CBOR: tensor [dtype name, shape, bytes | [text...]]; bundle
/// [metadata map, [[name, dtype name, shape, bytes | [text...]]...]], metadata floats as binary64 and maps in
/// any order (read leniently, SPEC.md §7.3, then encoded deterministically here).
import Prim "mo:⛔";
import B "../src/Bytes";
import Bits "../src/Bits";
import C "../src/Cbor";
import D "../src/DTypes";
import Dec "../src/Decode";
import Enc "../src/Encode";
import Errors "../src/Errors";
import M "../src/Metadata";
import T "../src/Types";
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

  func decode(doc : Blob, kind : Nat8) : Blob {
    let out = B.Builder(64 + 2 * doc.size());
    if (kind == 0x74) {
      switch (Dec.tensor(doc)) {
        case (#err e) return errorAnswer(e);
        case (#ok t) {
          J.ascii(out, "{\"kind\":\"tensor\",");
          J.tensorFields(out, t);
          out.add(0x7d);
        };
      };
    } else {
      switch (Dec.bundle(doc)) {
        case (#err e) return errorAnswer(e);
        case (#ok b) {
          J.ascii(out, "{\"kind\":\"bundle\",\"metadata\":");
          J.map(out, b.metadata, scratch);
          J.ascii(out, ",\"tensors\":[");
          var first = true;
          for ((name, t) in b.tensors.vals()) {
            if (not first) out.add(0x2c);
            first := false;
            J.ascii(out, "{\"name\":");
            J.str(out, name);
            out.add(0x2c);
            J.tensorFields(out, t);
            out.add(0x7d);
          };
          J.ascii(out, "]}");
        };
      };
    };
    out.toBlob();
  };

  // ---- encode requests

  func input(c : C.Cursor) : ?T.Input {
    do ? {
      let nlen = C.expect(c, 3, "a dtype name")!;
      let name = C.text(c, nlen, "a dtype name")!;
      let dt = switch (D.byName(name)) { case (?d) d; case null return C.fail(c, #UNKNOWN_DTYPE, c.pos, "unknown dtype name " # name) };
      let rank = C.expect(c, 4, "a shape")!;
      let dims = Prim.Array_init<Nat>(C.nat(rank), 0);
      var i = 0;
      while (i < dims.size()) { dims[i] := C.nat(C.expect(c, 0, "a dimension")!); i += 1 };
      let shape = Prim.Array_tabulate<Nat>(dims.size(), func k = dims[k]);
      let h = C.head(c)!;
      if (h.major == 2) {
        let s = C.take(c, h.arg, "element bytes")!;
        return ?{ dtype = dt; shape; data = #bytes(C.slice(c.buf, s, C.nat(h.arg))) };
      };
      let n = C.check(c, h, 4, "strings")!;
      let strs = Prim.Array_init<Text>(C.nat(n), "");
      var j = 0;
      while (j < strs.size()) { strs[j] := C.text(c, C.expect(c, 3, "a string")!, "a string")!; j += 1 };
      { dtype = dt; shape; data = #strings(Prim.Array_tabulate<Text>(strs.size(), func k = strs[k])) };
    
    };
  };

  func encode(req : Blob, kind : Nat8) : Blob {
    let c = C.cursor(req);
    c.pos := 2;
    let result : Enc.Result<Blob> = if (kind == 0x74) {
      let n : Nat64 = switch (C.expect(c, 4, "a tensor request")) { case (?n) n; case null 0 };
      if (n != 3) return adapterError("malformed tensor request");
      switch (input(c)) { case (?t) Enc.tensor(t); case null return adapterError("malformed tensor request") };
    } else {
      let n : Nat64 = switch (C.expect(c, 4, "a bundle request")) { case (?n) n; case null 0 };
      if (n != 2) return adapterError("malformed bundle request");
      let meta = switch (M.read(c, false)) { case (?m) m; case null return adapterError("malformed metadata in request") };
      let count = switch (C.expect(c, 4, "the tensors")) { case (?n) C.nat(n); case null return adapterError("malformed bundle request") };
      let ts = Prim.Array_init<(Text, T.Input)>(count, ("", { dtype = D.UINT8; shape = []; data = #bytes("") }));
      var i = 0;
      while (i < count) {
        if (C.expect(c, 4, "a named tensor") != ?4) return adapterError("malformed bundle request");
        let name = switch (C.expect(c, 3, "a name")) { case (?l) C.text(c, l, "a name"); case null null };
        switch (name, input(c)) {
          case (?nm, ?t) ts[i] := (nm, t);
          case _ return adapterError("malformed bundle request");
        };
        i += 1;
      };
      Enc.bundle(Prim.Array_tabulate<(Text, T.Input)>(count, func k = ts[k]), meta);
    };
    switch result {
      case (#err e) adapterError(Errors.name(e.code) # ": " # e.message);
      case (#ok doc) {
        let out = B.Builder(16 + 2 * doc.size());
        J.ascii(out, "{\"hex\":\"");
        J.hexRange(out, doc, 0, doc.size());
        J.ascii(out, "\"}");
        out.toBlob();
      };
    };
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
  /// (Stable.header, then every element through Stable.range). Answers like `handle` decode.
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

  public func handle(req : Blob) : async Blob {
    if (req.size() < 2) return adapterError("request too short");
    if (req[0] == 0x64) decode(C.slice(req, 2, req.size() - 2), req[1]) else encode(req, req[1]);
  };
};
