/// Deterministic encoding of tensor and bundle documents (SPEC.md §4, §5, §6.2; bundle layout D4): the one
/// valid encoding, byte for byte what the Python reference writes.
import Prim "mo:⛔";
import B "Bytes";
import C "Cbor";
import D "DTypes";
import Dec "Decode";
import M "Metadata";
import T "Types";

module {
  public type Result<X> = { #ok : X; #err : Text };

  let MAGIC_TENSOR : [Nat8] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x74];
  let MAGIC_BUNDLE : [Nat8] = [0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x62];

  /// Checked element count and data length of an input tensor, or why it cannot be encoded.
  func validate(t : T.Input) : Result<(Nat64, Nat64)> {
    let dt = t.dtype;
    if (t.shape.size() > 32) return #err("rank " # C.natText(t.shape.size()) # " exceeds 32");
    var nonzero : Nat = 1;
    var zero = false;
    for (d in t.shape.vals()) {
      if (d == 0) zero := true else nonzero *= d;
      if (nonzero > 9007199254740991) return #err("the product of the dimensions exceeds 2^53-1");
    };
    let count = C.n64(if zero 0 else nonzero);
    if (dt.kind == #block) {
      let n = t.shape.size();
      if (n == 0 or t.shape[n - 1] % C.nat(dt.blockElems) != 0) {
        return #err(dt.name # " needs rank >= 1 and a last dimension that is a multiple of its block size");
      };
    };
    switch (t.data) {
      case (#strings s) {
        if (dt.kind != #string) return #err(dt.name # " takes element bytes, not strings");
        if (C.n64(s.size()) != count) return #err("the shape needs " # C.n64Text(count) # " strings, found " # C.natText(s.size()));
        #ok((count, 0));
      };
      case (#bytes b) {
        if (dt.kind == #string) return #err("string tensors take text elements, not bytes");
        let len = Dec.dataLength(dt, count);
        if (C.n64(b.size()) != len) return #err("the shape needs " # C.n64Text(len) # " data bytes, found " # C.natText(b.size()));
        let probe : T.Tensor = { dtype = dt; shape = t.shape; count = C.nat(count); source = b; dataOffset = 0; dataLength = b.size(); strings = [] };
        switch (Dec.checkElements(probe)) { case (?e) return #err(e.message); case null {} };
        #ok((count, len));
      };
    };
  };

  /// The encoded string array of a string tensor.
  func stringArray(out : B.Builder, s : [Text]) {
    out.head(4, C.n64(s.size()));
    for (x in s.vals()) out.addBlob(M.keyBytes(x));
  };

  func dtypeAndShape(out : B.Builder, t : T.Input) {
    out.head(0, t.dtype.code);
    out.head(4, C.n64(t.shape.size()));
    for (d in t.shape.vals()) out.head(0, C.n64(d));
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

  /// Encode one tensor document.
  public func tensor(t : T.Input) : Result<Blob> {
    let (_, len) = switch (validate(t)) { case (#ok x) x; case (#err e) return #err(e) };
    let out = B.Builder(64 + C.nat(len));
    for (b in MAGIC_TENSOR.vals()) out.add(b);
    let arrayAt = out.size();
    out.add(0x84);
    out.add(0x01);
    dtypeAndShape(out, t);
    switch (t.data) {
      case (#strings s) stringArray(out, s);
      case (#bytes b) {
        let s = padFor(out.size() + dataHeadSize(t.dtype, len), t.dtype.align);
        if (s > 0) {
          out.add(0x40 + Prim.natToNat8(s - 1));
          var i = 1;
          while (i < s) { out.add(0); i += 1 };
        };
        dataHeads(out, t.dtype, len);
        out.addBlob(b);
        if (s > 0) return #ok(withArrayLength(out.toBlob(), arrayAt, 0x85));
      };
    };
    #ok(out.toBlob());
  };

  func withArrayLength(doc : Blob, at : Nat, byte : Nat8) : Blob {
    Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(doc.size(), func i = if (i == at) byte else doc[i]));
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
      if (raw == 0 or raw > 4096) return #err("tensor name \"" # name # "\" must be 1 to 4096 UTF-8 bytes");
      switch (validate(t)) { case (#ok((_, l))) lens[i] := l; case (#err e) return #err("tensor \"" # name # "\": " # e) };
      switch (t.data) {
        case (#strings s) {
          let sb = B.Builder(16);
          stringArray(sb, s);
          lens[i] := C.n64(sb.size());
        };
        case _ {};
      };
      if (i > 0 and Prim.blobCompare(order[i].0, order[i - 1].0) == 0) {
        return #err("tensor name \"" # tensors[order[i].1].0 # "\" appears twice");
      };
      i += 1;
    };
    let out = B.Builder(256);
    for (b in MAGIC_BUNDLE.vals()) out.add(b);
    out.add(0x85);
    out.add(0x01);
    switch (M.encodeMap(out, metadata, 1)) { case (?e) return #err(e); case null {} };
    if (out.size() - 8 > M.MAX_BYTES) return #err("metadata encodes to more than 16 MiB; store large data as a tensor");
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
      dtypeAndShape(out, t);
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
