/// Deterministic encoding of tensor and bundle documents (SPEC.md §4, §5, §6.2; bundle layout D4): the one
/// valid encoding, byte for byte what the Python reference writes.
///
/// Errors are the decoder's type, `Errors.Error` (`{ code; offset; message }`, offset 0 unless an element
/// is at fault), with the registry code that names the problem and the message the Python reference gives;
/// `Errors.toCandid` turns one into the Candid record a canister returns.
import Prim "mo:⛔";
import Region "mo:core/Region";
import B "Bytes";
import Bits "Bits";
import C "Cbor";
import D "DTypes";
import Dec "Decode";
import E "Errors";
import M "Metadata";
import T "Types";

module {
  public type Result<X> = { #ok : X; #err : E.Error };

  let MAGIC_TENSOR : [Nat8] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74];
  let MAGIC_BUNDLE : [Nat8] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62];
  let STAGE : Nat64 = 32; // where documents are assembled in the scratch Region (room for a Candid header)

  func fail<X>(code : E.Code, message : Text) : Result<X> = #err({ code; offset = 0; message });

  /// "[2, 3]", as Python prints a shape.
  public let shapeText : [Nat] -> Text = C.shapeText;

  /// The element count of a shape for dtype `dt`, or why the shape has no encoding.
  public func count(dt : D.DType, shape : [Nat]) : Result<Nat64> {
    if (shape.size() > 32) {
      return fail(#RANK_TOO_LARGE, "rank " # C.natText(shape.size()) # " exceeds tensorcbor's limit of 32 dimensions; reshape the array");
    };
    var nonzero : Nat = 1;
    var zero = false;
    for (d in shape.vals()) {
      if (d == 0) zero := true else nonzero *= d;
      if (nonzero > 9007199254740991) {
        return fail(#SIZE_OVERFLOW, "shape " # shapeText(shape) # ": the non-zero dimensions multiply past 2^53-1 (SPEC.md §4.2)");
      };
    };
    if (dt.kind == #block) {
      let n = shape.size();
      let size = C.nat(dt.blockElems);
      if (n == 0) return fail(#SHAPE_MISMATCH, "a " # dt.name # " tensor needs rank >= 1 (its last dimension is cut into blocks of " # C.natText(size) # ")");
      if (shape[n - 1] % size != 0) {
        return fail(#SHAPE_MISMATCH, "the last dimension of a " # dt.name # " tensor must be a multiple of " # C.natText(size) # ", found " # C.natText(shape[n - 1]));
      };
    };
    #ok(C.n64(if zero 0 else nonzero));
  };

  /// Checked element count and data length of an input tensor, or why it cannot be encoded.
  func validate(t : T.Input) : Result<(Nat64, Nat64)> {
    let dt = t.dtype;
    let count_ = switch (count(dt, t.shape)) { case (#ok n) n; case (#err e) return #err(e) };
    switch (t.data) {
      case (#strings s) {
        if (dt.kind != #string) return fail(#UNEXPECTED_TYPE, dt.name # " takes element bytes, not strings");
        if (C.n64(s.size()) != count_) {
          return fail(#SHAPE_MISMATCH, "shape " # shapeText(t.shape) # " needs " # C.n64Text(count_) # " strings, found " # C.natText(s.size()));
        };
        #ok((count_, 0));
      };
      case (#bytes b) {
        if (dt.kind == #string) return fail(#UNEXPECTED_TYPE, "string tensors take text elements, not bytes");
        let len = Dec.dataLength(dt, count_);
        if (C.n64(b.size()) != len) {
          return fail(#SHAPE_MISMATCH, "shape " # shapeText(t.shape) # " of " # dt.name # " needs " # C.n64Text(len) # " data bytes, found " # C.natText(b.size()));
        };
        let probe : T.Tensor = { dtype = dt; shape = t.shape; count = C.nat(count_); source = b; dataOffset = 0; dataLength = b.size(); strings = [] };
        switch (Dec.checkElements(probe)) { case (?e) return #err(e); case null {} };
        #ok((count_, len));
      };
    };
  };

  /// The encoded string array of a string tensor.
  func stringArray(out : B.Builder, s : [Text]) {
    out.head(4, C.n64(s.size()));
    for (x in s.vals()) out.addBlob(M.keyBytes(x));
  };

  func dtypeAndShape(out : B.Builder, dt : D.DType, shape : [Nat]) {
    out.head(0, dt.code);
    out.head(4, C.n64(shape.size()));
    for (d in shape.vals()) out.head(0, C.n64(d));
  };

  /// Padding s for element bytes that would start at `p` without it (SPEC.md §4.3).
  func padFor(p : Nat, align : Nat64) : Nat {
    let a = C.nat(align);
    (a - p % a) % a;
  };

  func dataHeads(out : B.Builder, dt : D.DType, len : Nat64) {
    if (dt.tag != 0) out.head(6, dt.tag);
    out.head(2, len);
  };

  func dataHeadSize(dt : D.DType, len : Nat64) : Nat {
    (if (dt.tag != 0) B.headSize(dt.tag) else 0) + B.headSize(len);
  };

  func addPadding(out : B.Builder, s : Nat) {
    if (s == 0) return;
    out.add(0x40 + Prim.natToNat8(s - 1));
    var i = 1;
    while (i < s) { out.add(0); i += 1 };
  };

  /// The head of a numeric tensor document with `len` element bytes: every byte before the elements (magic,
  /// array head, version, dtype, shape, padding, tag and byte-string head).
  public func tensorHead(dt : D.DType, shape : [Nat], len : Nat64) : Blob {
    let fields = B.Builder(16);
    dtypeAndShape(fields, dt, shape);
    let heads = dataHeadSize(dt, len);
    let s = padFor(8 + fields.size() + heads, dt.align);
    let out = B.Builder(8 + fields.size() + s + heads);
    for (b in MAGIC_TENSOR.vals()) out.add(b);
    out.add(if (s > 0) 0x85 else 0x84);
    out.add(0x01);
    out.addBlob(fields.toBlob());
    addPadding(out, s);
    dataHeads(out, dt, len);
    out.toBlob();
  };

  /// Encode one tensor document (heap only: the element bytes are copied once, byte by byte; `tensorIn`
  /// copies them at memory-copy speed through a scratch Region).
  public func tensor(t : T.Input) : Result<Blob> {
    let (_, len) = switch (validate(t)) { case (#ok x) x; case (#err e) return #err(e) };
    switch (t.data) {
      case (#strings s) {
        let out = B.Builder(64);
        for (b in MAGIC_TENSOR.vals()) out.add(b);
        out.add(0x84);
        out.add(0x01);
        dtypeAndShape(out, t.dtype, t.shape);
        stringArray(out, s);
        #ok(out.toBlob());
      };
      case (#bytes b) {
        let h = tensorHead(t.dtype, t.shape, len);
        let n = h.size();
        #ok(Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(n + b.size(), func i = if (i < n) h[i] else b[i - n])));
      };
    };
  };

  /// Encode one tensor document, assembling it in the scratch Region (memory copies only).
  public func tensorIn(t : T.Input, s : Bits.Scratch) : Result<Blob> {
    let (_, len) = switch (validate(t)) { case (#ok x) x; case (#err e) return #err(e) };
    switch (t.data) {
      case (#strings _) tensor(t);
      case (#bytes b) {
        let h = tensorHead(t.dtype, t.shape, len);
        let hl = C.n64(h.size());
        if (not s.ensure(STAGE + hl + len)) return fail(#QUOTA_EXCEEDED, "stable memory cannot grow to stage a " # C.n64Text(len) # "-byte tensor");
        let r = s.region();
        Region.storeBlob(r, STAGE, h);
        Region.storeBlob(r, STAGE + hl, b);
        #ok(Region.loadBlob(r, STAGE, h.size() + b.size()));
      };
    };
  };

  /// A float32 tensor document of shape `shape` from `[Float32]` values, bit-exact, in one call: Motoko's
  /// own Candid encoder writes the element bytes (`to_candid`), the Region puts the tensor head in front.
  public func float32(xs : [Float32], shape : [Nat], s : Bits.Scratch) : Result<Blob> {
    let n = switch (count(D.FLOAT32, shape)) { case (#ok n) n; case (#err e) return #err(e) };
    if (C.n64(xs.size()) != n) {
      return fail(#SHAPE_MISMATCH, "shape " # shapeText(shape) # " needs " # C.n64Text(n) # " float32 values, found " # C.natText(xs.size()));
    };
    let len = 4 * n;
    let c = to_candid (xs); // DIDL 01 6d 73 01 00 <count> <elements>
    let ch = C.n64(c.size()) - len;
    let h = tensorHead(D.FLOAT32, shape, len);
    let hl = C.n64(h.size());
    if (not s.ensure(STAGE + hl + len)) return fail(#QUOTA_EXCEEDED, "stable memory cannot grow to stage a " # C.n64Text(len) # "-byte tensor");
    let r = s.region();
    Region.storeBlob(r, STAGE + hl - ch, c); // the elements land at STAGE + hl (STAGE >= any Candid header)
    Region.storeBlob(r, STAGE, h);
    #ok(Region.loadBlob(r, STAGE, Prim.nat64ToNat(hl + len)));
  };

  /// Encode a bundle (D4): metadata, a directory sorted by name encoding, padding to an 8-byte data base,
  /// and one item per tensor.
  public func bundle(tensors : [(Text, T.Input)], metadata : [(Text, T.Value)]) : Result<Blob> {
    let n = tensors.size();
    // validate and sort by name encoding
    let keyed = Prim.Array_tabulate<(Blob, Nat)>(n, func i = (M.keyBytes(tensors[i].0), i));
    let order = sortByBlob(keyed);
    let lens = Prim.Array_init<Nat64>(n, 0);
    var i = 0;
    while (i < n) {
      let (name, t) = tensors[i];
      let raw = Prim.encodeUtf8(name).size();
      if (raw == 0 or raw > 4096) return fail(#INVALID_NAME, "tensor name " # C.quote(name) # " must be 1 to 4096 UTF-8 bytes");
      switch (validate(t)) {
        case (#ok((_, l))) lens[i] := l;
        case (#err e) return #err({ e with message = "tensor " # C.quote(name) # ": " # e.message });
      };
      switch (t.data) {
        case (#strings s) {
          let sb = B.Builder(16);
          stringArray(sb, s);
          lens[i] := C.n64(sb.size());
        };
        case _ {};
      };
      if (i > 0 and Prim.blobCompare(order[i].0, order[i - 1].0) == 0) {
        return fail(#DUPLICATE_NAME, "tensor name " # C.quote(tensors[order[i].1].0) # " appears twice; names in a bundle are unique");
      };
      i += 1;
    };
    let out = B.Builder(256);
    for (b in MAGIC_BUNDLE.vals()) out.add(b);
    out.add(0x85);
    out.add(0x01);
    switch (M.encodeMap(out, metadata, 1)) { case (?e) return #err(e); case null {} };
    if (out.size() - 8 > M.MAX_BYTES) {
      return fail(#METADATA_TOO_LARGE, "metadata encodes to " # C.natText(out.size() - 8) # " bytes, over the " # C.natText(M.MAX_BYTES) # "-byte limit; store large data as a tensor instead");
    };
    // directory
    out.head(4, C.n64(n));
    var rel : Nat = B.headSize(C.n64(n));
    let offsets = Prim.Array_init<Nat>(n, 0);
    i := 0;
    while (i < n) {
      let k = order[i].1;
      let t = tensors[k].1;
      let off = Dec.layoutOffset(rel, t.dtype, lens[k]);
      offsets[i] := off;
      out.add(0x85);
      out.addBlob(order[i].0);
      dtypeAndShape(out, t.dtype, t.shape);
      out.head(0, C.n64(off));
      out.head(0, lens[k]);
      rel := off + C.nat(lens[k]);
      i += 1;
    };
    let k = (8 - (out.size() + 1) % 8) % 8;
    out.add(0x40 + Prim.natToNat8(k));
    var z = 0;
    while (z < k) { out.add(0); z += 1 };
    out.head(4, C.n64(n));
    i := 0;
    while (i < n) {
      let idx = order[i].1;
      let t = tensors[idx].1;
      switch (t.data) {
        case (#strings s) { out.add(0x81); stringArray(out, s) };
        case (#bytes b) {
          let before = out.size() + 1 + dataHeadSize(t.dtype, lens[idx]);
          let s = padFor(before, t.dtype.align);
          if (s > 0) {
            out.add(0x82);
            out.add(0x40 + Prim.natToNat8(s - 1));
            var q = 1;
            while (q < s) { out.add(0); q += 1 };
          } else out.add(0x81);
          dataHeads(out, t.dtype, lens[idx]);
          out.addBlob(b);
        };
      };
      i += 1;
    };
    #ok(out.toBlob());
  };

  /// Stable insertion-merge sort of (encoded name, index) pairs by encoded name.
  func sortByBlob(a : [(Blob, Nat)]) : [(Blob, Nat)] {
    let n = a.size();
    let cur = Prim.Array_tabulate<(Blob, Nat)>(n, func i = a[i]);
    if (n < 2) return cur;
    let buf = Prim.Array_init<(Blob, Nat)>(n, a[0]);
    let work = Prim.Array_init<(Blob, Nat)>(n, a[0]);
    var i = 0;
    while (i < n) { buf[i] := cur[i]; i += 1 };
    var width = 1;
    while (width < n) {
      var lo = 0;
      while (lo < n) {
        let mid = if (lo + width < n) lo + width else n;
        let hi = if (lo + 2 * width < n) lo + 2 * width else n;
        var l = lo;
        var r = mid;
        var k = lo;
        while (k < hi) {
          if (l < mid and (r >= hi or Prim.blobCompare(buf[l].0, buf[r].0) <= 0)) { work[k] := buf[l]; l += 1 } else {
            work[k] := buf[r];
            r += 1;
          };
          k += 1;
        };
        lo := hi;
      };
      var j = 0;
      while (j < n) { buf[j] := work[j]; j += 1 };
      width *= 2;
    };
    Prim.Array_tabulate<(Blob, Nat)>(n, func q = buf[q]);
  };
};
