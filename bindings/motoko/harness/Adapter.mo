/// The conformance adapter's Motoko side: an actor whose `handle` method takes one request and answers
/// with the protocol's JSON (conformance/README.md). Decoding, encoding and every check run here; the
/// Python host (harness/ichost.py) only frames requests and lines.
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

persistent actor {
  transient let scratch = Bits.Scratch();

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
      let n = switch (C.expect(c, 4, "a tensor request")) { case (?n) n; case null 0 };
      if (n != 3) return adapterError("malformed tensor request");
      switch (input(c)) { case (?t) Enc.tensor(t); case null #err("malformed tensor request") };
    } else {
      let n = switch (C.expect(c, 4, "a bundle request")) { case (?n) n; case null 0 };
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
      case (#err e) adapterError(e);
      case (#ok doc) {
        let out = B.Builder(16 + 2 * doc.size());
        J.ascii(out, "{\"hex\":\"");
        J.hexRange(out, doc, 0, doc.size());
        J.ascii(out, "\"}");
        out.toBlob();
      };
    };
  };

  public func handle(req : Blob) : async Blob {
    if (req.size() < 2) return adapterError("request too short");
    if (req[0] == 0x64) decode(C.slice(req, 2, req.size() - 2), req[1]) else encode(req, req[1]);
  };
};
