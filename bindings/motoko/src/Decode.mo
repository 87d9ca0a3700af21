/// Strict decoding of tensor and bundle documents (SPEC.md §7.1, §7.2 and design D1-D6), in the exact check
/// order, as `Result` values: no input makes it trap, and nothing is allocated in proportion to a size the
/// input merely claims.
import Prim "mo:⛔";
import C "Cbor";
import D "DTypes";
import E "Errors";
import M "Metadata";
import T "Types";
import B "Bytes";

module {
  public type Result<X> = { #ok : X; #err : E.Error };

  public let TENSOR_TAG : Nat64 = 52084;
  public let BUNDLE_TAG : Nat64 = 52066;
  public let COMPRESSED_TAG : Nat64 = 52090;
  public let MAX_RANK : Nat64 = 32;
  public let MAX_COUNT : Nat64 = 9007199254740991; // 2^53 - 1 (D3)
  public let MAX_NAME : Nat64 = 4096;

  func err<X>(c : C.Cursor) : Result<X> {
    switch (c.err) {
      case (?e) #err(e);
      case null #err({ code = #MALFORMED; offset = c.pos; message = "internal: failure without an error" });
    };
  };

  /// Steps 1-2: the self-described CBOR tag and the document tag.
  func magic(c : C.Cursor, tag : Nat64) : ?() {
    let b = c.buf;
    let n = c.size;
    let ok = n >= 3 and b[0] == 0xd9 and b[1] == 0xd9 and b[2] == 0xf7;
    if (not ok) {
      if (n < 3 and (n == 0 or (b[0] == 0xd9 and (n == 1 or b[1] == 0xd9)))) {
        return C.fail(c, #TRUNCATED, 0, "the input ends inside the self-described CBOR tag");
      };
      return C.fail(c, #BAD_MAGIC, 0, "not a tensorcbor document: it must start with d9d9f7 (self-described CBOR, tag 55799)");
    };
    // fast path: the 3-byte tag head d9 cb xx of the expected tag
    if (n >= 6 and b[3] == 0xd9 and b[4] == 0xcb and C.n8to64(b[5]) == tag - 0xcb00) {
      c.pos := 6;
      return ?();
    };
    c.pos := 3;
    let h = switch (C.head(c)) { case (?h) h; case null return null };
    if (h.major != 6 or (h.arg != TENSOR_TAG and h.arg != BUNDLE_TAG)) {
      return C.fail(c, #BAD_MAGIC, h.start, "not a tensorcbor document: expected tag 52084 (tensor) or 52066 (bundle) after the self-described CBOR tag");
    };
    if (h.arg != tag) {
      let (found, want, reader) = if (tag == TENSOR_TAG) ("bundle", "tensor", "Decode.bundle") else ("tensor", "bundle", "Decode.tensor");
      return C.fail(c, #BAD_MAGIC, h.start, "this is a " # found # " document, not a " # want # "; read it with " # reader);
    };
    ?();
  };

  /// Step 3-4 with D1's order: array head (non-empty), version 1, then the array length.
  func envelope(c : C.Cursor, lo : Nat64, hi : Nat64, name : Text, what : Text) : ?Nat64 {
    let start = c.pos;
    let len = switch (C.expect(c, 4, name)) { case (?n) n; case null return null };
    if (len == 0) return C.fail(c, #UNEXPECTED_TYPE, start, name # " is empty; it starts with the version");
    let vstart = c.pos;
    let v = switch (C.expect(c, 0, "the version (unsigned integer)")) { case (?v) v; case null return null };
    if (v != 1) return C.fail(c, #UNSUPPORTED_VERSION, vstart, "format version " # C.n64Text(v) # " is not supported (this decoder reads version 1)");
    if (len < lo or len > hi) return C.fail(c, #UNEXPECTED_TYPE, start, what # ", found " # C.n64Text(len));
    ?len;
  };

  /// F1: the dtype code.
  func dtype(c : C.Cursor) : ?D.DType {
    let start = c.pos;
    let code = switch (C.expect(c, 0, "the dtype (unsigned integer)")) { case (?x) x; case null return null };
    switch (D.byCode(code)) {
      case (?d) ?d;
      case null C.fail(c, #UNKNOWN_DTYPE, start, "dtype code " # C.n64Text(code) # " is not in the dtype table (SPEC.md §3)");
    };
  };

  /// F2: the shape (and the block-size rule for block dtypes). Returns (dims, element count).
  func shape(c : C.Cursor, dt : D.DType) : ?([Nat], Nat64) {
    let start = c.pos;
    let rank = switch (C.expect(c, 4, "the shape array")) { case (?x) x; case null return null };
    if (rank > MAX_RANK) return C.fail(c, #RANK_TOO_LARGE, start, "rank " # C.n64Text(rank) # " exceeds the limit of 32");
    var nonzero : Nat64 = 1;
    var zero = false;
    var failed = false;
    let dims = Prim.Array_tabulate<Nat>(
      C.nat(rank),
      func _ {
        if (failed) return 0;
        let dstart = c.pos;
        let d = switch (C.expect(c, 0, "a dimension (unsigned integer)")) { case (?x) x; case null { failed := true; return 0 } };
        if (d == 0) { zero := true } else {
          if (d > MAX_COUNT / nonzero) {
            failed := true;
            ignore C.fail<()>(c, #SIZE_OVERFLOW, dstart, "the product of the non-zero dimensions exceeds 2^53-1");
            return 0;
          };
          nonzero *= d;
        };
        C.nat(d);
      },
    );
    if (failed) return null;
    if (dt.kind == #block) {
      let size = C.nat(dt.blockElems);
      if (dims.size() == 0) return C.fail(c, #SHAPE_MISMATCH, start, "a " # dt.name # " tensor needs rank >= 1 (its last dimension is cut into blocks of " # C.natText(size) # ")");
      let last = dims[dims.size() - 1];
      if (last % size != 0) return C.fail(c, #SHAPE_MISMATCH, start, "the last dimension of a " # dt.name # " tensor must be a multiple of " # C.natText(size) # ", found " # C.natText(last));
    };
    ?(dims, if zero 0 else nonzero);
  };

  /// Element data length of `count` elements (count < 2^53 so no overflow).
  public func dataLength(dt : D.DType, count : Nat64) : Nat64 {
    if (dt.kind == #block) return count / dt.blockElems * dt.blockBytes;
    (count * dt.bits + 7) / 8;
  };

  /// F4: the string array (TRUNCATED / INVALID_UTF8 per element).
  func strings(c : C.Cursor, dims : [Nat], count : Nat64) : ?[Text] {
    let start = c.pos;
    let n = switch (C.expect(c, 4, "the string array")) { case (?x) x; case null return null };
    if (n != count) return C.fail(c, #SHAPE_MISMATCH, start, "shape " # C.shapeText(dims) # " needs " # C.n64Text(count) # " strings, found " # C.n64Text(n));
    var out : [var Text] = [var];
    var used = 0;
    var i : Nat64 = 0;
    while (i < n) {
      let len = switch (C.expect(c, 3, "a string element")) { case (?x) x; case null return null };
      let t = switch (C.text(c, len, "a string element")) { case (?t) t; case null return null };
      if (used == out.size()) {
        let next = Prim.Array_init<Text>(if (used == 0) 4 else used * 2, "");
        var k = 0;
        while (k < used) { next[k] := out[k]; k += 1 };
        out := next;
      };
      out[used] := t;
      used += 1;
      i += 1;
    };
    let fin = out;
    ?Prim.Array_tabulate<Text>(used, func k = fin[k]);
  };

  /// F3-F6 after dtype and shape: optional padding, then the data item. `padded` says the padding item is
  /// present. Returns the tensor (a view into `c.buf`).
  func data(c : C.Cursor, dt : D.DType, dims : [Nat], count : Nat64, padded : Bool) : ?T.Tensor {
    var padLen = 0;
    if (padded) {
      let pstart = c.pos;
      let k = switch (C.expect(c, 2, "the padding byte string")) { case (?x) x; case null return null };
      let body = switch (C.take(c, k, "the padding")) { case (?x) x; case null return null };
      var i = 0;
      while (i < C.nat(k)) {
        if (c.buf[body + i] != 0) return C.fail(c, #BAD_PADDING, pstart, "padding bytes must be zero");
        i += 1;
      };
      padLen := c.pos - pstart;
    };
    if (dt.kind == #string) {
      if (padded) return C.fail(c, #BAD_PADDING, c.pos - padLen, "string tensors never carry padding");
      let start = c.pos;
      let s = switch (strings(c, dims, count)) { case (?s) s; case null return null };
      return ?{ dtype = dt; shape = dims; count = C.nat(count); source = c.buf; dataOffset = start; dataLength = c.pos - start; strings = s };
    };
    let dstart = c.pos;
    var h = switch (C.head(c)) { case (?h) h; case null return null };
    if (h.major == 6 and h.arg == COMPRESSED_TAG) {
      return C.fail(c, #UNSUPPORTED_COMPRESSION, dstart, "compressed tensor data (Extended profile, tag 52090) is not supported by this Core decoder");
    };
    if (dt.tag != 0) {
      if (h.major != 6 or h.arg != dt.tag) {
        return C.fail(c, #UNEXPECTED_TAG, dstart, dt.name # " data must be wrapped in RFC 8746 tag " # C.n64Text(dt.tag) # ", found " # (if (h.major == 6) "tag " # C.n64Text(h.arg) else "no tag"));
      };
      h := switch (C.head(c)) { case (?h) h; case null return null };
    };
    if (h.major != 2) {
      let code = if (h.major == 6) #UNEXPECTED_TAG else #UNEXPECTED_TYPE;
      return C.fail(c, code, dstart, dt.name # " element data must be a byte string");
    };
    let len = h.arg;
    let p = c.pos - padLen;
    let a = C.nat(dt.align);
    let need = (a - p % a) % a;
    if (padLen != need) {
      return C.fail(c, #BAD_PADDING, dstart, "element data at offset " # C.natText(p) # " needs " # C.natText(need) # " padding bytes for " # C.natText(a) # "-byte alignment, found " # C.natText(padLen));
    };
    let expected = dataLength(dt, count);
    if (len != expected) {
      return C.fail(c, #SHAPE_MISMATCH, dstart, "shape " # C.shapeText(dims) # " of " # dt.name # " needs " # C.n64Text(expected) # " data bytes, found " # C.n64Text(len));
    };
    let off = switch (C.skip(c, len, "the element data")) { case (?x) x; case null return null };
    ?{ dtype = dt; shape = dims; count = C.nat(count); source = c.buf; dataOffset = off; dataLength = C.nat(len); strings = [] };
  };

  /// §7.2 element checks: bool bytes are 0 or 1, unused bits after packed elements are zero.
  /// `t.source` must hold the element bytes (a whole document, or a prefix that reaches them).
  public func checkElements(t : T.Tensor) : ?E.Error {
    let b = t.source;
    if (t.dtype.kind == #bool) {
      var i = t.dataOffset;
      let stop = t.dataOffset + t.dataLength;
      while (i < stop) {
        if (b[i] > 1) return ?{ code = #INVALID_ELEMENT; offset = i; message = "bool element " # C.natText(i - t.dataOffset) # " is " # C.hexByte(b[i]) # "; only 0x00 and 0x01 are allowed" };
        i += 1;
      };
      return null;
    };
    let bits = t.dtype.bits;
    if (bits > 0 and bits < 8 and t.dataLength > 0) {
      let used = (C.n64(t.count) * bits) % 8;
      if (used != 0) {
        let last = b[t.dataOffset + t.dataLength - 1];
        if ((C.n8to64(last) >> used) != 0) {
          return ?{ code = #INVALID_ELEMENT; offset = t.dataOffset + t.dataLength - 1; message = "unused bits after the last " # t.dtype.name # " element must be zero" };
        };
      };
    };
    null;
  };

  func tensorBody(c : C.Cursor, fields : Nat64) : ?T.Tensor {
    let dt = switch (dtype(c)) { case (?d) d; case null return null };
    let (dims, count) = switch (shape(c, dt)) { case (?s) s; case null return null };
    data(c, dt, dims, count, fields == 5);
  };

  /// Decode a whole tensor document strictly, element checks included.
  public func tensor(doc : Blob) : Result<T.Tensor> {
    let c = C.cursor(doc);
    let t = switch (tensorFields(c)) { case (?t) t; case null return err(c) };
    switch (checkElements(t)) { case (?e) return #err(e); case null {} };
    if (c.pos != doc.size()) return #err({ code = #TRAILING_BYTES; offset = c.pos; message = C.natText(doc.size() - c.pos) # " bytes follow the end of the document" });
    #ok(t);
  };

  func tensorFields(c : C.Cursor) : ?T.Tensor {
    switch (magic(c, TENSOR_TAG)) { case null return null; case _ {} };
    let len = switch (envelope(c, 4, 5, "the tensor array", "a tensor array has 4 or 5 elements")) { case (?n) n; case null return null };
    tensorBody(c, len);
  };

  /// Read a tensor document's header from a prefix `prefix` of a document of `docLen` bytes (for a document
  /// in stable memory: load a prefix, parse, then read element ranges; see `Stable`). Element bytes beyond
  /// the prefix are not needed. A `TRUNCATED` error while prefix.size() < docLen may mean "load a longer
  /// prefix". The caller still owes the element checks (§7.2) and then TRAILING_BYTES (the document ends
  /// at `dataOffset + dataLength`), in that order (D5).
  public func tensorHeader(prefix : Blob, docLen : Nat) : Result<T.Tensor> {
    let c = C.prefixCursor(prefix, docLen);
    switch (tensorFields(c)) {
      case (?t) #ok(t);
      case null err(c);
    };
  };

  // ------------------------------------------------------------------ bundles (D4)

  /// One directory entry.
  public type Entry = { name : Text; dtype : D.DType; shape : [Nat]; count : Nat64; offset : Nat64; length : Nat64 };

  /// Decode a whole bundle document strictly (D4 layout: [1, metadata, directory, pad, tensors]).
  public func bundle(doc : Blob) : Result<T.Bundle> {
    let c = C.cursor(doc);
    switch (magic(c, BUNDLE_TAG)) { case null return err(c); case _ {} };
    switch (envelope(c, 5, 5, "the bundle array", "a bundle array has exactly 5 elements")) { case null return err(c); case _ {} };
    let metadata = switch (M.read(c, true)) { case (?m) m; case null return err(c) };
    let entries = switch (directory(c)) { case (?e) e; case null return err(c) };
    // pad: B must be a multiple of 8
    let pstart = c.pos;
    let k = switch (C.expect(c, 2, "the pad (a byte string)")) { case (?x) x; case null return err(c) };
    let body = switch (C.take(c, k, "the pad")) { case (?x) x; case null return err(c) };
    var i = 0;
    while (i < C.nat(k)) {
      if (doc[body + i] != 0) return #err({ code = #BAD_PADDING; offset = pstart; message = "the pad before the tensors must be zero bytes" });
      i += 1;
    };
    let want = (8 - (pstart + 1) % 8) % 8;
    if (c.pos % 8 != 0 or C.nat(k) != want) {
      return #err({ code = #BAD_PADDING; offset = pstart; message = "the pad must be " # C.natText(want) # " zero bytes, so that the tensors start at a multiple of 8; found " # C.n64Text(k) });
    };
    let base = c.pos;
    let tstart = c.pos;
    let n = switch (C.expect(c, 4, "the tensors array")) { case (?x) x; case null return err(c) };
    if (n != C.n64(entries.size())) return #err({ code = #DIRECTORY_MISMATCH; offset = tstart; message = "the directory lists " # C.natText(entries.size()) # " tensors, the tensors array has " # C.n64Text(n) });
    let tensors = Prim.Array_init<(Text, T.Tensor)>(entries.size(), ("", emptyTensor(doc)));
    var j = 0;
    while (j < entries.size()) {
      let e = entries[j];
      let istart = c.pos;
      let fields = switch (C.expect(c, 4, "the item of tensor " # C.quote(e.name) # " (an array)")) { case (?x) x; case null return err(c) };
      if (fields != 1 and fields != 2) return #err({ code = #UNEXPECTED_TYPE; offset = istart; message = "tensor " # C.quote(e.name) # ": an item has 1 or 2 elements, found " # C.n64Text(fields) });
      let t = switch (data(c, e.dtype, e.shape, e.count, fields == 2)) { case (?t) t; case null return err(c) };
      let rel = t.dataOffset - base;
      if (C.n64(rel) != e.offset or C.n64(t.dataLength) != e.length) {
        return #err({ code = #DIRECTORY_MISMATCH; offset = istart; message = "tensor " # C.quote(e.name) # ": the item's bytes are at " # C.natText(t.dataOffset) # " (" # C.natText(t.dataLength) # " bytes), the directory says " # C.natText(base + C.nat(e.offset)) # " (" # C.n64Text(e.length) # " bytes)" });
      };
      switch (checkElements(t)) { case (?x) return #err(x); case null {} };
      tensors[j] := (e.name, t);
      j += 1;
    };
    if (c.pos != doc.size()) return #err({ code = #TRAILING_BYTES; offset = c.pos; message = C.natText(doc.size() - c.pos) # " bytes follow the end of the document" });
    #ok({ metadata; tensors = Prim.Array_tabulate<(Text, T.Tensor)>(tensors.size(), func q = tensors[q]) });
  };

  func emptyTensor(doc : Blob) : T.Tensor {
    { dtype = D.UINT8; shape = []; count = 0; source = doc; dataOffset = 0; dataLength = 0; strings = [] };
  };

  /// D4 layout rule: where the element bytes (or string array) of an item starting at `rel` (relative to the
  /// data base B, a multiple of 8) begin: item array head, padding, tag head, byte-string head.
  public func layoutOffset(rel : Nat, dt : D.DType, length : Nat64) : Nat {
    if (dt.kind == #string) return rel + 1;
    let heads = (if (dt.tag != 0) B.headSize(dt.tag) else 0) + B.headSize(length);
    let p = rel + 1 + heads;
    let a = C.nat(dt.align);
    p + (a - p % a) % a;
  };

  /// The directory with every entry check of D4, offsets checked against the layout rule.
  public func directory(c : C.Cursor) : ?[Entry] {
    let n = switch (C.expect(c, 4, "the directory (an array)")) { case (?x) x; case null return null };
    // the tensors array head precedes item 0 in the layout
    var rel : Nat = B.headSize(n);
    var out : [var Entry] = [var];
    var used = 0;
    var prevStart = 0;
    var prevLen = 0;
    var i : Nat64 = 0;
    while (i < n) {
      let estart = c.pos;
      let fields = switch (C.expect(c, 4, "a directory entry (an array)")) { case (?x) x; case null return null };
      if (fields != 5 and fields != 7) return C.fail(c, #UNEXPECTED_TYPE, estart, "a directory entry has 5 or 7 elements, found " # C.n64Text(fields));
      let nstart = c.pos;
      let nlen = switch (C.expect(c, 3, "a tensor name (text)")) { case (?x) x; case null return null };
      let name = switch (C.text(c, nlen, "a tensor name")) { case (?t) t; case null return null };
      if (nlen == 0 or nlen > MAX_NAME) return C.fail(c, #INVALID_NAME, nstart, "tensor names are 1 to 4096 UTF-8 bytes, found " # C.n64Text(nlen));
      let keyLen : Nat = c.pos - nstart;
      if (i > 0) {
        let order = C.compareRanges(c.buf, nstart, keyLen, prevStart, prevLen);
        if (order == 0) return C.fail(c, #DUPLICATE_NAME, nstart, "tensor " # C.quote(name) # " appears twice");
        if (order < 0) return C.fail(c, #UNSORTED_KEYS, nstart, "tensor " # C.quote(name) # " is out of order; names must be sorted bytewise by their encoding");
      };
      prevStart := nstart;
      prevLen := keyLen;
      let dt = switch (dtype(c)) { case (?d) d; case null return null };
      let (dims, count) = switch (shape(c, dt)) { case (?s) s; case null return null };
      let ostart = c.pos;
      let offset = switch (C.expect(c, 0, "the offset (unsigned integer)")) { case (?x) x; case null return null };
      let lstart = c.pos;
      let length = switch (C.expect(c, 0, "the length (unsigned integer)")) { case (?x) x; case null return null };
      if (fields == 5) {
        if (dt.kind != #string and length != dataLength(dt, count)) {
          return C.fail(c, #SHAPE_MISMATCH, lstart, "tensor " # C.quote(name) # ": shape " # C.shapeText(dims) # " of " # dt.name # " needs " # C.n64Text(dataLength(dt, count)) # " data bytes, the directory says " # C.n64Text(length));
        };
      } else {
        if (dt.kind == #string) return C.fail(c, #INVALID_COMPRESSION, c.pos, "tensor " # C.quote(name) # ": string tensors are never compressed");
        // a Core decoder stops here, before reading codec and filter (SPEC §7.1 bundle step 7)
        return C.fail(c, #UNSUPPORTED_COMPRESSION, c.pos, "compressed tensors (Extended profile) are not supported by this Core decoder");
      };
      // layout rule: item array head, padding (non-string), tag head, byte-string head, then the data
      let expectedOffset : Nat = layoutOffset(rel, dt, length);
      if (C.nat(offset) != expectedOffset) {
        return C.fail(c, #DIRECTORY_MISMATCH, ostart, "tensor " # C.quote(name) # ": the layout rule puts its bytes at offset " # C.natText(expectedOffset) # " from B, the directory says " # C.n64Text(offset));
      };
      rel := expectedOffset + C.nat(length);
      let e : Entry = { name; dtype = dt; shape = dims; count; offset; length };
      if (used == out.size()) {
        let next = Prim.Array_init<Entry>(if (used == 0) 4 else used * 2, e);
        var k = 0;
        while (k < used) { next[k] := out[k]; k += 1 };
        out := next;
      };
      out[used] := e;
      used += 1;
      i += 1;
    };
    let fin = out;
    ?Prim.Array_tabulate<Entry>(used, func k = fin[k]);
  };
};
