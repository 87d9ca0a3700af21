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
        return C.fail(c, #TRUNCATED, n, "the input ends inside the self-described CBOR tag d9d9f7");
      };
      return C.fail(c, #BAD_MAGIC, 0, "not a tensorcbor document: it must start with d9d9f7 (tag 55799)");
    };
    c.pos := 3;
    let h = switch (C.head(c)) { case (?h) h; case null return null };
    if (h.major != 6 or h.arg != tag) {
      let what = if (tag == TENSOR_TAG) "a tensor document (tag 52084)" else "a bundle document (tag 52066)";
      return C.fail(c, #BAD_MAGIC, h.start, "expected " # what);
    };
    ?();
  };

  /// Step 3-4 with D1's order: array head (non-empty), version 1, then the array length.
  func envelope(c : C.Cursor, lengthOk : Nat64 -> Bool, what : Text) : ?Nat64 {
    let start = c.pos;
    let len = switch (C.expect(c, 4, "the document array")) { case (?n) n; case null return null };
    if (len == 0) return C.fail(c, #UNEXPECTED_TYPE, start, "the document array is empty");
    let vstart = c.pos;
    let v = switch (C.expect(c, 0, "the version (unsigned integer)")) { case (?v) v; case null return null };
    if (v != 1) return C.fail(c, #UNSUPPORTED_VERSION, vstart, "format version is not 1; this decoder reads version 1");
    if (not lengthOk(len)) return C.fail(c, #UNEXPECTED_TYPE, start, what);
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
    let dims = Prim.Array_init<Nat>(C.nat(rank), 0);
    var nonzero : Nat64 = 1;
    var zero = false;
    var i = 0;
    while (i < dims.size()) {
      let dstart = c.pos;
      let d = switch (C.expect(c, 0, "a dimension (unsigned integer)")) { case (?x) x; case null return null };
      if (d == 0) { zero := true } else {
        if (d > MAX_COUNT / nonzero) return C.fail(c, #SIZE_OVERFLOW, dstart, "the product of the dimensions exceeds 2^53-1");
        nonzero *= d;
      };
      dims[i] := C.nat(d);
      i += 1;
    };
    if (dt.kind == #block) {
      let ok = dims.size() > 0 and (dims[dims.size() - 1] % C.nat(dt.blockElems)) == 0;
      if (not ok) return C.fail(c, #SHAPE_MISMATCH, start, dt.name # " needs rank >= 1 and a last dimension that is a multiple of its block size");
    };
    let frozen = Prim.Array_tabulate<Nat>(dims.size(), func k = dims[k]);
    ?(frozen, if zero 0 else nonzero);
  };

  /// Element data length of `count` elements (count < 2^53 so no overflow).
  public func dataLength(dt : D.DType, count : Nat64) : Nat64 {
    if (dt.kind == #block) return count / dt.blockElems * dt.blockBytes;
    (count * dt.bits + 7) / 8;
  };

  /// F4: the string array (TRUNCATED / INVALID_UTF8 per element).
  func strings(c : C.Cursor, count : Nat64) : ?[Text] {
    let start = c.pos;
    let n = switch (C.expect(c, 4, "the string array")) { case (?x) x; case null return null };
    if (n != count) return C.fail(c, #SHAPE_MISMATCH, start, "the shape needs " # C.n64Text(count) # " strings, found " # C.n64Text(n));
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
      let s = switch (strings(c, count)) { case (?s) s; case null return null };
      return ?{ dtype = dt; shape = dims; count = C.nat(count); source = c.buf; dataOffset = start; dataLength = c.pos - start; strings = s };
    };
    let dstart = c.pos;
    var h = switch (C.head(c)) { case (?h) h; case null return null };
    if (h.major == 6 and h.arg == COMPRESSED_TAG) {
      return C.fail(c, #UNSUPPORTED_COMPRESSION, dstart, "compressed tensor data (Extended profile, tag 52090) is not supported by this Core decoder");
    };
    if (dt.tag != 0) {
      if (h.major != 6 or h.arg != dt.tag) {
        return C.fail(c, #UNEXPECTED_TAG, dstart, dt.name # " data must be wrapped in RFC 8746 tag " # C.n64Text(dt.tag));
      };
      h := switch (C.head(c)) { case (?h) h; case null return null };
    };
    let len = switch (C.check(c, h, 2, dt.name # " element data (a byte string)")) { case (?x) x; case null return null };
    let p = c.pos - padLen;
    let a = C.nat(dt.align);
    let need = (a - p % a) % a;
    if (padLen != need) {
      return C.fail(c, #BAD_PADDING, dstart, "element data needs " # C.natText(need) # " padding bytes for " # C.natText(a) # "-byte alignment, found " # C.natText(padLen));
    };
    let expected = dataLength(dt, count);
    if (len != expected) {
      return C.fail(c, #SHAPE_MISMATCH, dstart, "the shape needs " # C.n64Text(expected) # " data bytes, found " # C.n64Text(len));
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
        if (b[i] > 1) return ?{ code = #INVALID_ELEMENT; offset = i; message = "a bool element is neither 0x00 nor 0x01" };
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
    if (c.pos != doc.size()) return #err({ code = #TRAILING_BYTES; offset = c.pos; message = "bytes follow the end of the document" });
    #ok(t);
  };

  func tensorFields(c : C.Cursor) : ?T.Tensor {
    switch (magic(c, TENSOR_TAG)) { case null return null; case _ {} };
    let len = switch (envelope(c, func n = n == 4 or n == 5, "a tensor array has 4 or 5 elements")) { case (?n) n; case null return null };
    tensorBody(c, len);
  };

  /// Read a tensor document's header from a prefix `prefix` of a document of `docLen` bytes (for a document
  /// in stable memory: load a prefix, parse, then read element ranges). Element bytes beyond the prefix are
  /// not needed; `TRUNCATED` with `offset` >= prefix.size() < docLen means: load a longer prefix. Element
  /// checks (bool, packed tails) are the caller's (`Stable.checkElements`), as is TRAILING_BYTES.
  public func tensorHeader(prefix : Blob, docLen : Nat) : Result<T.Tensor> {
    let c = C.prefixCursor(prefix, docLen);
    switch (tensorFields(c)) {
      case (?t) {
        if (c.pos != docLen) return #err({ code = #TRAILING_BYTES; offset = c.pos; message = "bytes follow the end of the document" });
        #ok(t);
      };
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
    switch (envelope(c, func n = n == 5, "a bundle array has 5 elements")) { case null return err(c); case _ {} };
    let metadata = switch (M.read(c, true)) { case (?m) m; case null return err(c) };
    let entries = switch (directory(c)) { case (?e) e; case null return err(c) };
    // pad: B must be a multiple of 8
    let pstart = c.pos;
    let k = switch (C.expect(c, 2, "the bundle padding byte string")) { case (?x) x; case null return err(c) };
    let body = switch (C.take(c, k, "the bundle padding")) { case (?x) x; case null return err(c) };
    var i = 0;
    while (i < C.nat(k)) {
      if (doc[body + i] != 0) return #err({ code = #BAD_PADDING; offset = pstart; message = "bundle padding bytes must be zero" });
      i += 1;
    };
    if (c.pos % 8 != 0) return #err({ code = #BAD_PADDING; offset = pstart; message = "the bundle padding must make the tensors array start at a multiple of 8" });
    let base = c.pos;
    let tstart = c.pos;
    let n = switch (C.expect(c, 4, "the tensors array")) { case (?x) x; case null return err(c) };
    if (n != C.n64(entries.size())) return #err({ code = #DIRECTORY_MISMATCH; offset = tstart; message = "the tensors array has " # C.n64Text(n) # " items but the directory lists " # C.natText(entries.size()) });
    let tensors = Prim.Array_init<(Text, T.Tensor)>(entries.size(), ("", emptyTensor(doc)));
    var j = 0;
    while (j < entries.size()) {
      let e = entries[j];
      let istart = c.pos;
      let fields = switch (C.expect(c, 4, "a tensor item array")) { case (?x) x; case null return err(c) };
      if (fields != 1 and fields != 2) return #err({ code = #UNEXPECTED_TYPE; offset = istart; message = "a tensor item has 1 or 2 elements" });
      let t = switch (data(c, e.dtype, e.shape, e.count, fields == 2)) { case (?t) t; case null return err(c) };
      let rel = t.dataOffset - base;
      if (C.n64(rel) != e.offset or C.n64(t.dataLength) != e.length) {
        return #err({ code = #DIRECTORY_MISMATCH; offset = istart; message = "tensor \"" # e.name # "\" is not where or as long as its directory entry says" });
      };
      switch (checkElements(t)) { case (?x) return #err(x); case null {} };
      tensors[j] := (e.name, t);
      j += 1;
    };
    if (c.pos != doc.size()) return #err({ code = #TRAILING_BYTES; offset = c.pos; message = "bytes follow the end of the document" });
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
    let n = switch (C.expect(c, 4, "the bundle directory (array)")) { case (?x) x; case null return null };
    // the tensors array head precedes item 0 in the layout
    var rel : Nat = B.headSize(n);
    var out : [var Entry] = [var];
    var used = 0;
    var prevStart = 0;
    var prevLen = 0;
    var i : Nat64 = 0;
    while (i < n) {
      let estart = c.pos;
      let fields = switch (C.expect(c, 4, "a directory entry (array)")) { case (?x) x; case null return null };
      if (fields != 5 and fields != 7) return C.fail(c, #UNEXPECTED_TYPE, estart, "a directory entry has 5 or 7 elements");
      let nstart = c.pos;
      let nlen = switch (C.expect(c, 3, "a tensor name (text)")) { case (?x) x; case null return null };
      let name = switch (C.text(c, nlen, "a tensor name")) { case (?t) t; case null return null };
      if (nlen == 0 or nlen > MAX_NAME) return C.fail(c, #INVALID_NAME, nstart, "tensor names are 1 to 4096 UTF-8 bytes");
      let keyLen : Nat = c.pos - nstart;
      if (i > 0) {
        let order = C.compareRanges(c.buf, nstart, keyLen, prevStart, prevLen);
        if (order == 0) return C.fail(c, #DUPLICATE_NAME, nstart, "tensor \"" # name # "\" appears twice");
        if (order < 0) return C.fail(c, #UNSORTED_KEYS, nstart, "tensor \"" # name # "\" is out of order; names are sorted bytewise by their encoding");
      };
      prevStart := nstart;
      prevLen := keyLen;
      let dt = switch (dtype(c)) { case (?d) d; case null return null };
      let (dims, count) = switch (shape(c, dt)) { case (?s) s; case null return null };
      let ostart = c.pos;
      let offset = switch (C.expect(c, 0, "a tensor offset (unsigned integer)")) { case (?x) x; case null return null };
      let lstart = c.pos;
      let length = switch (C.expect(c, 0, "a tensor length (unsigned integer)")) { case (?x) x; case null return null };
      if (fields == 5) {
        if (dt.kind != #string and length != dataLength(dt, count)) {
          return C.fail(c, #SHAPE_MISMATCH, lstart, "tensor \"" # name # "\": length " # C.n64Text(length) # " is not the data length of its dtype and shape");
        };
      } else {
        if (dt.kind == #string) return C.fail(c, #INVALID_COMPRESSION, estart, "string tensors are never compressed");
        let cstart = c.pos;
        switch (C.expect(c, 0, "a codec (unsigned integer)")) { case null return null; case _ {} };
        return C.fail(c, #UNSUPPORTED_COMPRESSION, cstart, "compressed tensors (Extended profile) are not supported by this Core decoder");
      };
      // layout rule: item array head, padding (non-string), tag head, byte-string head, then the data
      let expectedOffset : Nat = layoutOffset(rel, dt, length);
      if (C.nat(offset) != expectedOffset) {
        return C.fail(c, #DIRECTORY_MISMATCH, ostart, "tensor \"" # name # "\": offset " # C.n64Text(offset) # " is not the layout rule's " # C.natText(expectedOffset));
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
