/// The canister conformance convention (conformance/README.md, "Checking a canister"): a canister that exposes
///
///     public query func tensorcbor_conformance(op : Text, input : Blob) : async Conformance.Result {
///       Conformance.answer(op, input);
///     };
///
/// can be checked with `tensorcbor conformance run --canister X.wasm` and fuzzed with
/// `python3 -m tensorcbor.fuzz --impl canister:X.wasm`: every answer comes from this binding's own decoder,
/// encoder and stream receivers (Decode, Encode, Stream), through the canister's Candid layer.
///
/// Operations and their blobs:
/// - "decode_tensor", "decode_bundle": input is a document; ok is what the strict decoder read, encoded again
///   deterministically by Encode (the runner decodes it with the reference and compares the content).
/// - "encode_tensor", "encode_bundle": input is the value as plain CBOR, tensor `[dtype name, shape, bytes |
///   [text...]]`, bundle `[metadata map, [[name, dtype name, shape, bytes | [text...]]...]]` (metadata read
///   leniently, SPEC.md §7.3: floats of any width, keys in any order); ok is the deterministic encoding.
/// - "stream_sequential", "stream_storing": input is `[expected digest: bytes / null, quota: uint / null,
///   chunks: [bytes...]]`; a fresh receiver of that kind takes every chunk, then the stream ends. ok is
///   `[verdicts, end, document SHA-256 / null]`, a verdict null (accepted) or `[code, offset]`.
/// A rejection is err with the registry code, the SPEC §8.1 offset and a message; an input this module cannot
/// read is err "ADAPTER_ERROR", an unknown op err "UNSUPPORTED_OPERATION".
import Prim "mo:⛔";
import B "Bytes";
import C "Cbor";
import D "DTypes";
import Dec "Decode";
import E "Errors";
import Enc "Encode";
import M "Metadata";
import Sha "Sha256";
import Stream "Stream";
import T "Types";

module {
  /// `record { code : text; offset : nat64; message : text }`.
  public type Error = E.CandidError;
  /// `variant { ok : blob; err : ConformanceError }`, the method's reply.
  public type Result = { #ok : Blob; #err : Error };

  /// The code of an input the canister cannot read (not a verdict on a document).
  public let ADAPTER_ERROR = "ADAPTER_ERROR";
  /// The code of an operation the canister does not implement.
  public let UNSUPPORTED_OPERATION = "UNSUPPORTED_OPERATION";

  /// The answer to one conformance call.
  public func answer(op : Text, input : Blob) : Result {
    switch op {
      case "decode_tensor" decodeTensor(input);
      case "decode_bundle" decodeBundle(input);
      case "encode_tensor" encodeTensor(input);
      case "encode_bundle" encodeBundle(input);
      case "stream_sequential" stream(#sequential, input);
      case "stream_storing" stream(#storing, input);
      case _ adapterError(UNSUPPORTED_OPERATION, "operation " # C.quote(op) # " is not implemented; this canister answers decode_tensor, decode_bundle, encode_tensor, encode_bundle, stream_sequential and stream_storing");
    };
  };

  func rejected(e : E.Error) : Result = #err(E.toCandid(e));

  func adapterError(code : Text, message : Text) : Result = #err({ code; offset = 0; message });

  func encoded(r : Enc.Result<Blob>) : Result {
    switch r { case (#ok b) #ok(b); case (#err e) rejected(e) };
  };

  // ------------------------------------------------------------------ decoding

  /// What the decoder read, as encoder input: the element bytes copied out of the document.
  func input(t : T.Tensor) : T.Input {
    let data : T.Data = if (t.dtype.kind == #string) #strings(t.strings) else #bytes(C.slice(t.source, t.dataOffset, t.dataLength));
    { dtype = t.dtype; shape = t.shape; data };
  };

  func decodeTensor(doc : Blob) : Result {
    switch (Dec.tensor(doc)) {
      case (#err e) rejected(e);
      case (#ok t) encoded(Enc.tensor(input(t)));
    };
  };

  func decodeBundle(doc : Blob) : Result {
    switch (Dec.bundle(doc)) {
      case (#err e) rejected(e);
      case (#ok b) {
        let named = Prim.Array_tabulate<(Text, T.Input)>(b.tensors.size(), func i = (b.tensors[i].0, input(b.tensors[i].1)));
        encoded(Enc.bundle(named, b.metadata));
      };
    };
  };

  // ------------------------------------------------------------------ encoding plain values

  /// Why the input is unreadable: the cursor's error, as an adapter error.
  func unreadable(c : C.Cursor, what : Text) : Result {
    let why = switch (c.err) { case (?e) ": " # E.name(e.code) # " at byte " # C.natText(e.offset) # ", " # e.message; case null "" };
    adapterError(ADAPTER_ERROR, "the input is not " # what # why);
  };

  /// `[dtype name, shape, bytes | [text...]]` from after its array head.
  func plainTensor(c : C.Cursor) : ?T.Input {
    do ? {
      let nlen = C.expect(c, 3, "a dtype name")!;
      let name = C.text(c, nlen, "a dtype name")!;
      let dt = switch (D.byName(name)) { case (?d) d; case null return C.fail(c, #UNKNOWN_DTYPE, c.pos, "unknown dtype name " # C.quote(name)) };
      let rank = C.expect(c, 4, "a shape")!;
      if (rank > C.n64(c.size - c.pos)) return C.fail(c, #TRUNCATED, c.pos, C.n64Text(rank) # " dimensions cannot fit in the input");
      let dims = Prim.Array_init<Nat>(C.nat(rank), 0);
      var i = 0;
      while (i < dims.size()) { dims[i] := C.nat(C.expect(c, 0, "a dimension")!); i += 1 };
      let shape = Prim.Array_tabulate<Nat>(dims.size(), func k = dims[k]);
      let h = C.head(c)!;
      if (h.major == 2) {
        let s = C.take(c, h.arg, "element bytes")!;
        return ?{ dtype = dt; shape; data = #bytes(C.slice(c.buf, s, C.nat(h.arg))) };
      };
      let n = C.check(c, h, 4, "element bytes or strings")!;
      if (n > C.n64(c.size - c.pos)) return C.fail(c, #TRUNCATED, c.pos, C.n64Text(n) # " strings cannot fit in the input");
      let strs = Prim.Array_init<Text>(C.nat(n), "");
      var j = 0;
      while (j < strs.size()) { strs[j] := C.text(c, C.expect(c, 3, "a string")!, "a string")!; j += 1 };
      { dtype = dt; shape; data = #strings(Prim.Array_tabulate<Text>(strs.size(), func k = strs[k])) };
    };
  };

  func encodeTensor(value : Blob) : Result {
    let c = C.cursor(value);
    let what = "a plain tensor [dtype name, shape, bytes | [text...]]";
    if (C.expect(c, 4, what) != ?3) return unreadable(c, what);
    let t = switch (plainTensor(c)) { case (?t) t; case null return unreadable(c, what) };
    if (c.pos != value.size()) return adapterError(ADAPTER_ERROR, "bytes follow " # what);
    encoded(Enc.tensor(t));
  };

  func encodeBundle(value : Blob) : Result {
    let c = C.cursor(value);
    let what = "a plain bundle [metadata map, [[name, dtype name, shape, bytes | [text...]]...]]";
    if (C.expect(c, 4, what) != ?2) return unreadable(c, what);
    let meta = switch (M.read(c, false)) { case (?m) m; case null return unreadable(c, what) };
    let count = switch (C.expect(c, 4, "the tensors")) { case (?n) n; case null return unreadable(c, what) };
    if (count > C.n64(value.size())) return adapterError(ADAPTER_ERROR, C.n64Text(count) # " tensors cannot fit in the input");
    let ts = Prim.Array_init<(Text, T.Input)>(C.nat(count), ("", { dtype = D.UINT8; shape = []; data = #bytes("") }));
    var i = 0;
    while (i < ts.size()) {
      if (C.expect(c, 4, "a named tensor") != ?4) return unreadable(c, what);
      let name = switch (C.expect(c, 3, "a name")) { case (?l) C.text(c, l, "a name"); case null null };
      switch (name, plainTensor(c)) {
        case (?nm, ?t) ts[i] := (nm, t);
        case _ return unreadable(c, what);
      };
      i += 1;
    };
    if (c.pos != value.size()) return adapterError(ADAPTER_ERROR, "bytes follow " # what);
    encoded(Enc.bundle(Prim.Array_tabulate<(Text, T.Input)>(ts.size(), func k = ts[k]), meta));
  };

  // ------------------------------------------------------------------ streams

  /// A byte string or null (`what` for the message).
  func optionalBytes(c : C.Cursor, what : Text) : ??Blob {
    let h = switch (C.head(c)) { case (?h) h; case null return null };
    if (h.major == 7 and h.arg == 22) return ?null;
    let n = switch (C.check(c, h, 2, what)) { case (?n) n; case null return null };
    let s = switch (C.take(c, n, what)) { case (?s) s; case null return null };
    ??C.slice(c.buf, s, C.nat(n));
  };

  func verdict(out : B.Builder, r : Stream.Result<Any>) {
    switch r {
      case (#ok _) out.add(0xf6);
      case (#err e) {
        out.add(0x82);
        let code = Prim.encodeUtf8(E.name(e.code));
        out.head(3, C.n64(code.size()));
        out.addBlob(code);
        out.head(0, C.n64(e.offset));
      };
    };
  };

  func stream(kind : Stream.Kind, request : Blob) : Result {
    let c = C.cursor(request);
    let what = "a stream request [expected digest / null, quota / null, [chunk...]]";
    if (C.expect(c, 4, what) != ?3) return unreadable(c, what);
    let expected = switch (optionalBytes(c, "the expected digest")) { case (?x) x; case null return unreadable(c, what) };
    let quota : ?Nat64 = switch (C.head(c)) {
      case (?h) if (h.major == 7 and h.arg == 22) null else switch (C.check(c, h, 0, "the quota")) { case (?q) ?q; case null return unreadable(c, what) };
      case null return unreadable(c, what);
    };
    let count = switch (C.expect(c, 4, "the chunks")) { case (?n) n; case null return unreadable(c, what) };
    if (count > C.n64(request.size())) return adapterError(ADAPTER_ERROR, C.n64Text(count) # " chunks cannot fit in the input");
    let rx = Stream.receiver(kind, expected, quota);
    let out = B.Builder(16 + C.nat(count) * 4);
    out.add(0x83);
    out.head(4, count);
    // A sequential receiver keeps no payload: hash the accepted ones as they come for the document's SHA-256.
    let doc = Sha.Sha256();
    var i : Nat64 = 0;
    while (i < count) {
      let n = switch (C.expect(c, 2, "a chunk")) { case (?n) n; case null return unreadable(c, what) };
      let s = switch (C.take(c, n, "a chunk")) { case (?s) s; case null return unreadable(c, what) };
      let r = Stream.accept(rx, C.slice(request, s, C.nat(n)));
      switch r { case (#ok (#data d)) if (kind == #sequential) doc.writeRange(d.chunk, d.payloadAt, d.payloadLength); case _ {} };
      verdict(out, r);
      i += 1;
    };
    if (c.pos != request.size()) return adapterError(ADAPTER_ERROR, "bytes follow " # what);
    let end = Stream.finish(rx);
    verdict(out, end);
    switch end {
      case (#err _) out.add(0xf6);
      case (#ok _) {
        let sum = switch kind {
          case (#sequential) doc.sum();
          case (#storing) switch (Stream.document(rx)) {
            case (?d) Sha.sha256(d);
            case null return adapterError(ADAPTER_ERROR, "internal: a finished storing receiver has no document");
          };
        };
        out.head(2, 32);
        out.addBlob(sum);
      };
    };
    #ok(out.toBlob());
  };
};
