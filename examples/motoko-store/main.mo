/// tensor-store in Motoko: the interface of ../tensor-store.did, on the Motoko binding (bindings/motoko).
///
/// A model (a tensorcbor bundle) arrives as a chunked stream (SPEC.md §10), checked chunk by chunk by the
/// binding's sequential receiver (Stream.mo: M1-M12, D1-D11, E1) and written to a Region at its place in the
/// document; `finish` decodes the stored document strictly (Decode.bundle) and keeps, per tensor, its name,
/// dtype, shape, the head bytes of its tensor document and where its bytes are. A persistent actor: every
/// variable below and the Regions survive upgrades as they are.
import Prim "mo:⛔";
import Region "mo:core/Region";
import B "mo:tensorcbor/Bytes";
import Bits "mo:tensorcbor/Bits";
import C "mo:tensorcbor/Cbor";
import Conformance "mo:tensorcbor/Conformance";
import D "mo:tensorcbor/DTypes";
import Dec "mo:tensorcbor/Decode";
import El "mo:tensorcbor/Elements";
import Enc "mo:tensorcbor/Encode";
import E "mo:tensorcbor/Errors";
import MoError "mo:core/Error";
import Principal "mo:core/Principal";
import Stream "mo:tensorcbor/Stream";
import T "mo:tensorcbor/Types";

persistent actor {
  type Error = {
    #Format : { code : Text; message : Text };
    #Unauthorized : Text;
    #NotFound : Text;
    #InvalidState : Text;
    #InvalidArgument : Text;
    #ReplyTooLarge : { size : Nat64; limit : Nat64 };
  };
  type UploadStatus = { chunks : Nat64; received : Nat64; bytes : Nat64; doc_length : Nat64 };
  type Stored = { tensors : Nat64; doc_length : Nat64 };
  type TensorInfo = { name : Text; dtype : Text; shape : [Nat64]; size : Nat64; doc_size : Nat64 };
  type Status = { upload : ?UploadStatus; model : ?Stored; quota : Nat64; stable_bytes : Nat64 };
  type UploadResult = { #Ok : UploadStatus; #Err : Error };
  type FinishResult = { #Ok : Stored; #Err : Error; #Verifying : { verified : Nat64; doc_length : Nat64 } };
  type BlobResult = { #Ok : Blob; #Err : Error };
  type UnitResult = { #Ok; #Err : Error };

  type Entry = { name : Text; dtype : Text; shape : [Nat64]; size : Nat64; header : Blob; bodyAt : Nat64; bodyLen : Nat64 };

  let MAX_REPLY : Nat64 = 1_900_000;
  let MAX_QUOTA : Nat64 = 3 * 1024 * 1024 * 1024;
  let TENSOR_MAGIC : [Nat8] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74];
  /// The document starts here in `store`: room before it for a data chunk's framing (at most 60 bytes), which
  /// put_chunk writes in front of the payload and then restores (one Region copy of the whole chunk).
  let DOC_BASE : Nat64 = 64;

  var quota : Nat64 = 1024 * 1024 * 1024;
  var allowed : [Principal] = [];
  let store = Region.new();
  /// The upload in progress: the receiver's state is plain data, so an upload goes on across upgrades.
  var upload : ?Stream.Receiver = null;
  var model : ?{ docLength : Nat64; entries : [Entry]; end : Nat64 } = null;
  /// The scratch Region is kept across upgrades (a Region cannot be freed: a new one per upgrade would leak).
  let scratchRegion = Region.new();
  transient let scratch = Bits.ScratchIn(scratchRegion);

  func fmt(code : E.Code, message : Text) : Error = #Format({ code = E.name(code); message });
  func fromError(e : E.Error) : Error = fmt(e.code, e.message # " (at byte " # C.natText(e.offset) # ")");

  func ensure(r : Region.Region, end : Nat64) : Bool {
    let pages = (end + 65535) / 65536;
    let have = Region.size(r);
    pages <= have or Region.grow(r, pages - have) != 0xFFFF_FFFF_FFFF_FFFF;
  };

  func isUploader(p : Principal) : Bool {
    if (Prim.isController(p)) return true;
    for (a in allowed.vals()) if (a == p) return true;
    false;
  };

  func uploadStatus(rx : Stream.Receiver) : ?UploadStatus {
    switch (rx.manifest) {
      case (?m) ?{ chunks = m.count; received = rx.accepted; bytes = rx.received; doc_length = m.docLength };
      case null null;
    };
  };

  public shared ({ caller }) func begin_upload(chunk : Blob, digest : Blob) : async UploadResult {
    if (not isUploader(caller)) return #Err(#Unauthorized("the caller is neither a controller nor allow-listed"));
    if (digest.size() != 32) return #Err(#InvalidArgument("the stream digest is 32 bytes, got " # C.natText(digest.size())));
    if (model != null) return #Err(#InvalidState("a model is stored; call clear() before uploading another"));
    // M1-M12 against the digest the uploader vouches for; E2 is skipped, as SPEC.md §10.4 / design D8 allow:
    // the stream digest fixes the manifest, the manifest every payload (D10).
    let rx = Stream.receiverWithoutDocumentDigest(#sequential, digest, ?quota);
    switch (Stream.accept(rx, chunk)) { case (#err e) return #Err(fromError(e)); case (#ok _) {} };
    upload := ?rx;
    switch (uploadStatus(rx)) { case (?u) #Ok(u); case null #Err(#InvalidState("the manifest was not taken")) };
  };

  /// D1-D11 for the next chunk in index order (Stream.check), then the payload into `store` at its document
  /// offset; the receiver takes the chunk (Stream.commit) only once it is stored, so a refusal changes nothing.
  public shared ({ caller }) func put_chunk(chunk : Blob) : async UploadResult {
    if (not isUploader(caller)) return #Err(#Unauthorized("the caller is neither a controller nor allow-listed"));
    let rx = switch upload { case (?rx) rx; case null return #Err(#InvalidState("no upload in progress: call begin_upload first")) };
    let checked = switch (Stream.check(rx, chunk)) { case (#ok x) x; case (#err e) return #Err(fromError(e)) };
    let d = switch checked { case (#data d) d; case (#manifest _) return #Err(#InvalidState("the upload has no manifest")) };
    // The whole chunk goes in so that its payload lands at DOC_BASE + received; the framing bytes it writes
    // in front are put back (the end of the previous payload, or the unused gap before the document).
    let at = DOC_BASE + rx.received - C.n64(d.payloadAt);
    if (not ensure(store, at + C.n64(chunk.size()))) return #Err(#InvalidState("stable memory cannot grow"));
    let saved = Region.loadBlob(store, at, d.payloadAt);
    Region.storeBlob(store, at, chunk);
    Region.storeBlob(store, at, saved);
    Stream.commit(rx, checked);
    switch (uploadStatus(rx)) { case (?u) #Ok(u); case null #Err(#InvalidState("the upload has no manifest")) };
  };

  /// The head bytes of a numeric tensor's document (everything before its element bytes), as
  /// Encode.tensor writes them: magic, [1, dtype, shape, ?pad, data].
  func tensorHeader(dt : D.DType, shape : [Nat], len : Nat64) : Blob {
    let fields = B.Builder(16);
    fields.head(0, dt.code);
    fields.head(4, C.n64(shape.size()));
    for (d in shape.vals()) fields.head(0, C.n64(d));
    let heads = (if (dt.tag != 0) B.headSize(dt.tag) else 0) + B.headSize(len);
    let p = 8 + fields.size() + heads;
    let a = C.nat(dt.align);
    let s = (a - p % a) % a;
    let out = B.Builder(p + s);
    for (b in TENSOR_MAGIC.vals()) out.add(b);
    out.add(if (s > 0) 0x85 else 0x84);
    out.add(0x01);
    out.addBlob(fields.toBlob());
    if (s > 0) {
      out.add(0x40 + Prim.natToNat8(s - 1));
      var i = 1;
      while (i < s) { out.add(0); i += 1 };
    };
    if (dt.tag != 0) out.head(6, dt.tag);
    out.head(2, len);
    out.toBlob();
  };

  public shared ({ caller }) func finish() : async FinishResult {
    if (not isUploader(caller)) return #Err(#Unauthorized("the caller is neither a controller nor allow-listed"));
    let rx = switch upload { case (?rx) rx; case null return #Err(#InvalidState("no upload in progress")) };
    let m = switch (rx.manifest) { case (?m) m; case null return #Err(#InvalidState("no upload in progress")) };
    switch (Stream.finish(rx)) { case (#err e) return #Err(fmt(e.code, e.message)); case (#ok _) {} };
    upload := null;
    let doc = Region.loadBlob(store, DOC_BASE, C.nat(m.docLength));
    let bundle = switch (Dec.bundle(doc)) { case (#ok b) b; case (#err e) return #Err(fromError(e)) };
    var end = DOC_BASE + m.docLength;
    let entries = Prim.Array_tabulate<Entry>(bundle.tensors.size(), func k {
      let (name, t) = bundle.tensors[k];
      let shape = Prim.Array_tabulate<Nat64>(t.shape.size(), func i = C.n64(t.shape[i]));
      if (t.dtype.kind == #string) {
        let enc = switch (Enc.tensor({ dtype = t.dtype; shape = t.shape; data = #strings(t.strings) })) {
          case (#ok b) b;
          case (#err e) Prim.trap("re-encoding string tensor " # name # ": " # e.message);
        };
        let at = end;
        if (not ensure(store, at + C.n64(enc.size()))) Prim.trap("stable memory cannot grow");
        Region.storeBlob(store, at, enc);
        end += C.n64(enc.size());
        { name; dtype = t.dtype.name; shape; size = C.n64(enc.size()); header = ""; bodyAt = at; bodyLen = C.n64(enc.size()) };
      } else {
        let len = C.n64(t.dataLength);
        { name; dtype = t.dtype.name; shape; size = len; header = tensorHeader(t.dtype, t.shape, len); bodyAt = DOC_BASE + C.n64(t.dataOffset); bodyLen = len };
      };
    });
    model := ?{ docLength = m.docLength; entries; end };
    #Ok({ tensors = C.n64(entries.size()); doc_length = m.docLength });
  };

  public shared ({ caller }) func clear() : async UnitResult {
    if (not Prim.isController(caller)) return #Err(#Unauthorized("the caller is not a controller"));
    model := null;
    upload := null;
    #Ok;
  };

  public shared ({ caller }) func allow(p : Principal) : async UnitResult {
    if (not Prim.isController(caller)) return #Err(#Unauthorized("the caller is not a controller"));
    var known = false;
    for (a in allowed.vals()) if (a == p) known := true;
    if (not known) {
      allowed := Prim.Array_tabulate<Principal>(allowed.size() + 1, func i = if (i < allowed.size()) allowed[i] else p);
    };
    #Ok;
  };

  public shared ({ caller }) func disallow(p : Principal) : async UnitResult {
    if (not Prim.isController(caller)) return #Err(#Unauthorized("the caller is not a controller"));
    var keep = 0;
    for (a in allowed.vals()) if (a != p) keep += 1;
    if (keep < allowed.size()) {
      let kept = Prim.Array_init<?Principal>(keep, null);
      var i = 0;
      for (a in allowed.vals()) if (a != p) { kept[i] := ?a; i += 1 };
      allowed := Prim.Array_tabulate<Principal>(keep, func k = switch (kept[k]) { case (?a) a; case null p });
    };
    #Ok;
  };

  /// Ingress filter, run before an update call is accepted: upload calls from principals that may not upload
  /// and admin calls from non-controllers are refused here, before they execute (the methods repeat the
  /// checks: inspect does not run for inter-canister calls). Reads neither the argument nor any state
  /// besides the allow list.
  system func inspect({ caller : Principal; msg : {
    #begin_upload : Any; #put_chunk : Any; #finish : Any; #clear : Any; #allow : Any; #disallow : Any;
    #set_quota : Any; #status : Any; #list : Any; #get : Any; #get_range : Any; #dense : Any;
    #call_get : Any; #call_dense : Any; #tensorcbor_conformance : Any;
  } }) : Bool {
    switch msg {
      case (#begin_upload _ or #put_chunk _ or #finish _) isUploader(caller);
      case (#clear _ or #allow _ or #disallow _ or #set_quota _) Prim.isController(caller);
      case (#status _ or #list _ or #get _ or #get_range _ or #dense _) true;
      case (#call_get _ or #call_dense _) true;
      case (#tensorcbor_conformance _) true;
    };
  };

  public shared ({ caller }) func set_quota(q : Nat64) : async UnitResult {
    if (not Prim.isController(caller)) return #Err(#Unauthorized("the caller is not a controller"));
    if (q > MAX_QUOTA) return #Err(#InvalidArgument("the quota is at most " # C.n64Text(MAX_QUOTA) # " bytes (finish decodes in the heap)"));
    quota := q;
    #Ok;
  };

  public query func status() : async Status {
    {
      upload = switch upload { case (?rx) uploadStatus(rx); case null null };
      model = switch model { case (?md) ?{ tensors = C.n64(md.entries.size()); doc_length = md.docLength }; case null null };
      quota;
      stable_bytes = (Region.size(store) + Region.size(scratch.region())) * 65536;
    };
  };

  public query func list() : async [TensorInfo] {
    switch model {
      case null [];
      case (?md) Prim.Array_tabulate<TensorInfo>(md.entries.size(), func i {
        let e = md.entries[i];
        { name = e.name; dtype = e.dtype; shape = e.shape; size = e.size; doc_size = C.n64(e.header.size()) + e.bodyLen };
      });
    };
  };

  func find(name : Text) : ?Entry {
    switch model {
      case null null;
      case (?md) { for (e in md.entries.vals()) if (e.name == name) return ?e; null };
    };
  };

  /// Bytes [offset, offset + n) of the entry's tensor document (its head, then its bytes in `store`): a cost in
  /// proportion to n, whatever the tensor's size.
  func docRange(e : Entry, offset : Nat64, n : Nat64) : Blob {
    let h = C.n64(e.header.size());
    if (offset >= h) return Region.loadBlob(store, e.bodyAt + offset - h, C.nat(n));
    let fromHead = if (n < h - offset) n else h - offset;
    let headPart = C.slice(e.header, C.nat(offset), C.nat(fromHead));
    if (fromHead == n) return headPart;
    if (not scratch.ensure(n)) Prim.trap("stable memory cannot grow");
    let r = scratch.region();
    Region.storeBlob(r, 0, headPart);
    Region.storeBlob(r, fromHead, Region.loadBlob(store, e.bodyAt, C.nat(n - fromHead)));
    Region.loadBlob(r, 0, C.nat(n));
  };

  public query func get(name : Text) : async BlobResult {
    let e = switch (find(name)) { case (?e) e; case null return #Err(#NotFound("no tensor named \"" # name # "\"")) };
    let size = C.n64(e.header.size()) + e.bodyLen;
    if (size > MAX_REPLY) return #Err(#ReplyTooLarge({ size; limit = MAX_REPLY }));
    #Ok(docRange(e, 0, size));
  };

  public query func get_range(name : Text, offset : Nat64, length : Nat64) : async BlobResult {
    let e = switch (find(name)) { case (?e) e; case null return #Err(#NotFound("no tensor named \"" # name # "\"")) };
    let size = C.n64(e.header.size()) + e.bodyLen;
    if (length > MAX_REPLY) return #Err(#ReplyTooLarge({ size = length; limit = MAX_REPLY }));
    if (offset > size) return #Err(#InvalidArgument("offset " # C.n64Text(offset) # " is past the end of the " # C.n64Text(size) # "-byte document"));
    let n = if (length < size - offset) length else size - offset;
    #Ok(docRange(e, offset, n));
  };

  /// A stored float32 tensor of the given rank: its entry (no element is read).
  func f32Entry(name : Text, rank : Nat) : { #ok : Entry; #err : Error } {
    let e = switch (find(name)) { case (?e) e; case null return #err(#NotFound("no tensor named \"" # name # "\"")) };
    if (e.dtype != "float32" or e.shape.size() != rank) {
      return #err(#InvalidArgument(name # " is " # e.dtype # " of rank " # C.natText(e.shape.size()) # "; expected float32 of rank " # C.natText(rank)));
    };
    #ok(e);
  };

  /// A stored float32 tensor's elements as `[Float32]`.
  func loadF32(e : Entry) : ?[Float32] {
    let bytes = Region.loadBlob(store, e.bodyAt, C.nat(e.bodyLen));
    let t : T.Tensor = { dtype = D.FLOAT32; shape = []; count = C.nat(e.bodyLen / 4); source = bytes; dataOffset = 0; dataLength = bytes.size(); strings = [] };
    El.toFloat32(t, scratch);
  };

  /// Every check before any weight is read, in this order (the Rust canister's too): the weight's entry and
  /// dimensions, the bias's entry and shape, x (decoded, then dtype and shape), the reply's size.
  public query func dense(weight : Text, bias : ?Text, x : Blob) : async BlobResult {
    let we = switch (f32Entry(weight, 2)) { case (#ok e) e; case (#err e) return #Err(e) };
    let ws = we.shape;
    let out = C.nat(ws[0]);
    let inp = C.nat(ws[1]);
    if (out == 0 or inp == 0) return #Err(#InvalidArgument("the weight must have non-zero dimensions"));
    let be : ?Entry = switch bias {
      case null null;
      case (?name) switch (f32Entry(name, 1)) {
        case (#ok e) { if (e.shape[0] != ws[0]) return #Err(#InvalidArgument("the bias must have shape [" # C.natText(out) # "]")); ?e };
        case (#err e) return #Err(e);
      };
    };
    let xt = switch (Dec.tensor(x)) { case (#ok t) t; case (#err e) return #Err(fromError(e)) };
    let rows : ?Nat = switch (xt.shape.size()) {
      case 1 if (xt.shape[0] == inp) ?1 else null;
      case 2 if (xt.shape[1] == inp) ?xt.shape[0] else null;
      case _ null;
    };
    let batch = switch rows {
      case (?n) if (xt.dtype.name == "float32") n else return #Err(#InvalidArgument("x must be float32"));
      case null return #Err(#InvalidArgument("x must be float32 of shape [" # C.natText(inp) # "] or [batch, " # C.natText(inp) # "]"));
    };
    let shape = if (xt.shape.size() == 1) [out] else [batch, out];
    let ySize = C.n64(tensorHeader(D.FLOAT32, shape, C.n64(batch * out * 4)).size() + batch * out * 4);
    if (ySize > MAX_REPLY) return #Err(#ReplyTooLarge({ size = ySize; limit = MAX_REPLY }));
    let w = switch (loadF32(we)) { case (?a) a; case null return #Err(#InvalidState("cannot stage " # weight)) };
    let b : ?[Float32] = switch be {
      case null null;
      case (?e) switch (loadF32(e)) { case (?a) ?a; case null return #Err(#InvalidState("cannot stage the bias")) };
    };
    let xs = switch (El.toFloat32(xt, scratch)) { case (?a) a; case null return #Err(#InvalidArgument("x is not float32")) };
    // x widened to Float once, one array per row, so that the inner loop iterates it with `vals()` and walks
    // the weights with one running Nat64 index (no Nat arithmetic per multiply-add).
    let xrows = Prim.Array_tabulate<[Float]>(batch, func row = Prim.Array_tabulate<Float>(inp, func i = Prim.float32ToFloat(xs[row * inp + i])));
    let y = Prim.Array_init<Float32>(batch * out, 0.0);
    var row = 0;
    while (row < batch) {
      let xr = xrows[row];
      var k : Nat64 = 0; // index of w[o][0]
      var o = 0;
      while (o < out) {
        var acc : Float = switch b { case (?bb) Prim.float32ToFloat(bb[o]); case null 0.0 };
        for (xv in xr.vals()) {
          acc += Prim.float32ToFloat(w[Prim.nat64ToNat(k)]) * xv;
          k += 1;
        };
        y[row * out + o] := Prim.floatToFloat32(acc);
        o += 1;
      };
      row += 1;
    };
    switch (Enc.float32(Prim.Array_tabulate<Float32>(y.size(), func i = y[i]), shape, scratch)) {
      case (#ok doc) #Ok(doc);
      case (#err e) #Err(#InvalidState("encoding y: " # e.message));
    };
  };

  // Canister to canister: this store calls another tensor-store canister (the Rust store, or any canister with
  // the interface of tensor-store.did) and passes tensors as tensorcbor documents both ways. The reply is
  // decoded strictly with the binding (Decode.tensor); `call_dense` also rebuilds y with Encode.float32. An IC
  // reject (no such canister or method, the callee trapped or rejected) is `#Rejected` with the IC's reject
  // code; the callee's own error (#NotFound, ...) comes back unchanged as `#Err`, and a call that was never
  // made (ic0.call_perform failed) as `#Err(#InvalidState)`.
  type Store = actor {
    get : shared query Text -> async BlobResult;
    dense : shared query (Text, ?Text, Blob) -> async BlobResult;
  };
  type CallResult = { #Ok : Blob; #Err : Error; #Rejected : { code : Nat32; message : Text } };

  func rejected(e : MoError.Error) : CallResult {
    let code : Nat32 = switch (MoError.code(e)) {
      case (#system_fatal) 1;
      case (#system_transient) 2;
      case (#destination_invalid) 3;
      case (#canister_reject) 4;
      case (#canister_error) 5;
      case (#future n) n;
      // ic0.call_perform failed: the call was never made (not a reject of the IC)
      case (#call_error { err_code }) return #Err(#InvalidState("the call was not made (call_perform answered " # debug_show err_code # "): " # MoError.message(e)));
    };
    #Rejected({ code; message = MoError.message(e) });
  };

  /// The tensor `name` of `canister` (its `get`), checked by Decode.tensor before it is passed on.
  public shared func call_get(canister : Principal, name : Text) : async CallResult {
    let other : Store = actor (Principal.toText(canister));
    let answer = try { await other.get(name) } catch (e) { return rejected(e) };
    switch answer {
      case (#Err e) #Err(e);
      case (#Ok doc) switch (Dec.tensor(doc)) { case (#ok _) #Ok(doc); case (#err e) #Err(fromError(e)) };
    };
  };

  /// `y = W x + b` computed by `canister` (its `dense`) on `x`, a float32 tensor document checked here before
  /// it is sent; y decoded (float32), its elements read (Elements.toFloat32) and re-encoded (Encode.float32).
  public shared func call_dense(canister : Principal, weight : Text, bias : ?Text, x : Blob) : async CallResult {
    switch (Dec.tensor(x)) {
      case (#err e) return #Err(fromError(e));
      case (#ok t) if (t.dtype.name != "float32") return #Err(#InvalidArgument("x is " # t.dtype.name # "; expected float32"));
    };
    let other : Store = actor (Principal.toText(canister));
    let answer = try { await other.dense(weight, bias, x) } catch (e) { return rejected(e) };
    let doc = switch answer { case (#Ok d) d; case (#Err e) return #Err(e) };
    let yt = switch (Dec.tensor(doc)) { case (#ok t) t; case (#err e) return #Err(fromError(e)) };
    if (yt.dtype.name != "float32") return #Err(#InvalidArgument("the reply of dense is " # yt.dtype.name # "; expected float32"));
    let ys = switch (El.toFloat32(yt, scratch)) { case (?a) a; case null return #Err(#InvalidArgument("the reply of dense has no float32 elements")) };
    switch (Enc.float32(ys, yt.shape, scratch)) { case (#ok y) #Ok(y); case (#err e) #Err(fromError(e)) };
  };

  /// The canister conformance convention (conformance/README.md): `tensorcbor conformance run --canister` checks
  /// this canister's decoder, encoder and stream receivers through its own Candid interface.
  public query func tensorcbor_conformance(op : Text, input : Blob) : async Conformance.Result {
    Conformance.answer(op, input);
  };
};
