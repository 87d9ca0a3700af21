/// Metadata maps (SPEC.md §6): strict reading with every §7.1 check, and the one deterministic encoding.
import Prim "mo:⛔";
import C "Cbor";
import F "Floats";
import B "Bytes";
import T "Types";
import E "Errors";

module {
  public let MAX_NESTING : Nat = 32;
  public let MAX_BYTES : Nat = 16777216;

  /// Reading state: `m0` is the offset of the metadata map head (SPEC D6); `strict` off accepts the
  /// deviations of §7.3 (longer floats, NaN payloads, unsorted keys).
  type Ctx = { c : C.Cursor; m0 : Nat; strict : Bool };

  func tooLarge(x : Ctx, h : C.Head) : Bool {
    let content : Nat = if (h.major == 2 or h.major == 3) C.nat(h.arg) else 0;
    if (x.c.pos + content - x.m0 > MAX_BYTES) {
      ignore C.fail<()>(x.c, #METADATA_TOO_LARGE, h.start, "the metadata reaches past the " # C.natText(MAX_BYTES) # "-byte limit at this item");
      return true;
    };
    false;
  };

  /// Read a metadata map whose head starts at the cursor (strict unless `strict` is false).
  public func read(c : C.Cursor, strict : Bool) : ?[(Text, T.Value)] {
    let x : Ctx = { c; m0 = c.pos; strict };
    let h = switch (C.head(c)) { case (?h) h; case null return null };
    if (tooLarge(x, h)) return null; // the limit comes before the head's type (SPEC.md §7.1 bundle step 6)
    if (h.major != 5) return C.fail(c, if (h.major == 6) #UNEXPECTED_TAG else #UNEXPECTED_TYPE, h.start, "the metadata must be a map");
    let n = h.arg;
    mapBody(x, n, 1);
  };

  func mapBody(x : Ctx, count : Nat64, depth : Nat) : ?[(Text, T.Value)] {
    let c = x.c;
    var items : [var (Text, T.Value)] = [var];
    var used = 0;
    var prevStart = 0;
    var prevLen = 0;
    var i : Nat64 = 0;
    while (i < count) {
      let keyStart = c.pos;
      let h = switch (C.head(c)) { case (?h) h; case null return null };
      if (tooLarge(x, h)) return null;
      if (h.major != 3) return C.fail(c, #UNSUPPORTED_VALUE, keyStart, "map key of type " # C.majorName(h.major) # "; metadata keys must be text");
      let key = switch (C.text(c, h.arg, "a map key")) { case (?k) k; case null return null };
      let keyLen : Nat = c.pos - keyStart;
      if (i > 0) {
        let order = C.compareRanges(c.buf, keyStart, keyLen, prevStart, prevLen);
        if (order == 0) return C.fail(c, #DUPLICATE_KEY, keyStart, "map key " # C.quote(key) # " appears twice");
        if (order < 0) {
          if (x.strict) return C.fail(c, #UNSORTED_KEYS, keyStart, "map key " # C.quote(key) # " is out of order; keys must be sorted bytewise by their encoding");
          var j = 0;
          while (j < used) {
            if (items[j].0 == key) return C.fail(c, #DUPLICATE_KEY, keyStart, "map key " # C.quote(key) # " appears twice");
            j += 1;
          };
        };
      };
      prevStart := keyStart;
      prevLen := keyLen;
      let v = switch (value(x, depth + 1)) { case (?v) v; case null return null };
      if (used == items.size()) items := grow(items, (key, v));
      items[used] := (key, v);
      used += 1;
      i += 1;
    };
    let out = items;
    ?Prim.Array_tabulate<(Text, T.Value)>(used, func k = out[k]);
  };

  func grow<X>(a : [var X], fill : X) : [var X] {
    let next = Prim.Array_init<X>(if (a.size() == 0) 4 else a.size() * 2, fill);
    var i = 0;
    while (i < a.size()) { next[i] := a[i]; i += 1 };
    next;
  };

  func value(x : Ctx, depth : Nat) : ?T.Value {
    let c = x.c;
    let start = c.pos;
    let h = switch (C.head(c)) { case (?h) h; case null return null };
    if (tooLarge(x, h)) return null;
    switch (h.major) {
      case 0 ?#int(C.nat(h.arg));
      case 1 ?#int(-1 - C.nat(h.arg));
      case 2 {
        let s = switch (C.take(c, h.arg, "a byte string")) { case (?s) s; case null return null };
        ?#bytes(C.slice(c.buf, s, C.nat(h.arg)));
      };
      case 3 {
        switch (C.text(c, h.arg, "a text string")) { case (?t) ?#text(t); case null null };
      };
      case 4 {
        if (depth > MAX_NESTING) return C.fail(c, #NESTING_TOO_DEEP, start, "metadata nests deeper than 32 levels");
        var items : [var T.Value] = [var];
        var used = 0;
        var i : Nat64 = 0;
        while (i < h.arg) {
          let v = switch (value(x, depth + 1)) { case (?v) v; case null return null };
          if (used == items.size()) items := grow(items, v);
          items[used] := v;
          used += 1;
          i += 1;
        };
        let out = items;
        ?#array(Prim.Array_tabulate<T.Value>(used, func k = out[k]));
      };
      case 5 {
        if (depth > MAX_NESTING) return C.fail(c, #NESTING_TOO_DEEP, start, "metadata nests deeper than 32 levels");
        switch (mapBody(x, h.arg, depth)) { case (?m) ?#map(m); case null null };
      };
      case 6 C.fail(c, #UNSUPPORTED_VALUE, start, "tag " # C.n64Text(h.arg) # " is not allowed in metadata");
      case _ {
        switch (h.ai) {
          case 20 ?#bool(false);
          case 21 ?#bool(true);
          case 22 ?#null_;
          case (25 or 26 or 27) {
            if (x.strict and not F.isCanonical(h.ai, h.arg)) {
              let msg = if (F.isNaN(F.headBits(h.ai, h.arg))) "a NaN in metadata must be encoded as f97e00" else "a metadata float must use its shortest exact width";
              return C.fail(c, #NON_CANONICAL_FLOAT, start, msg);
            };
            let bits = F.headBits(h.ai, h.arg);
            ?#float(if (F.isNaN(bits)) F.QNAN else bits);
          };
          case _ C.fail(c, #UNSUPPORTED_VALUE, start, "simple value " # C.n64Text(h.arg) # " is not allowed in metadata");
        };
      };
    };
  };

  // ------------------------------------------------------------------ encoding

  /// Why a value has no encoding: a registry code (offset 0: the input is not a document) and what to do.
  public type EncodeError = E.Error;

  func fail(code : E.Code, message : Text) : ?EncodeError = ?{ code; offset = 0; message };

  /// Append the deterministic encoding of a metadata map; an error for out-of-range integers, duplicate
  /// keys or nesting deeper than 32 levels.
  public func encodeMap(out : B.Builder, m : [(Text, T.Value)], depth : Nat) : ?EncodeError {
    if (depth > MAX_NESTING) return fail(#NESTING_TOO_DEEP, "metadata nests deeper than 32 arrays/maps; flatten it");
    let keys = Prim.Array_tabulate<(Blob, Nat)>(m.size(), func i = (keyBytes(m[i].0), i));
    let sorted = sortKeys(keys);
    out.head(5, C.n64(m.size()));
    var i = 0;
    while (i < sorted.size()) {
      if (i > 0 and Prim.blobCompare(sorted[i].0, sorted[i - 1].0) == 0) {
        return fail(#DUPLICATE_KEY, "metadata key " # C.quote(m[sorted[i].1].0) # " appears twice; keys in a map are unique");
      };
      out.addBlob(sorted[i].0);
      switch (encodeValue(out, m[sorted[i].1].1, depth + 1)) { case (?e) return ?e; case null {} };
      i += 1;
    };
    null;
  };

  /// The encoding of a text key (head and UTF-8 bytes).
  public func keyBytes(t : Text) : Blob {
    let raw = Prim.encodeUtf8(t);
    let b = B.Builder(raw.size() + 9);
    b.head(3, C.n64(raw.size()));
    b.addBlob(raw);
    b.toBlob();
  };

  /// Merge sort of (encoded key, index) by encoded key, bytewise.
  func sortKeys(a : [(Blob, Nat)]) : [(Blob, Nat)] {
    let n = a.size();
    if (n < 2) return a;
    var src = Prim.Array_tabulate<(Blob, Nat)>(n, func i = a[i]);
    let work = Prim.Array_init<(Blob, Nat)>(n, a[0]);
    let cur = Prim.Array_init<(Blob, Nat)>(n, a[0]);
    var i = 0;
    while (i < n) { cur[i] := src[i]; i += 1 };
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
          if (l < mid and (r >= hi or Prim.blobCompare(cur[l].0, cur[r].0) <= 0)) { work[k] := cur[l]; l += 1 } else {
            work[k] := cur[r];
            r += 1;
          };
          k += 1;
        };
        lo := hi;
      };
      var j = 0;
      while (j < n) { cur[j] := work[j]; j += 1 };
      width *= 2;
    };
    src := Prim.Array_tabulate<(Blob, Nat)>(n, func i = cur[i]);
    src;
  };

  public func encodeValue(out : B.Builder, v : T.Value, depth : Nat) : ?EncodeError {
    switch v {
      case (#int i) {
        if (i >= 0) {
          if (i >= C.two64) return fail(#UNSUPPORTED_VALUE, "integer " # C.intText(i) # " is outside CBOR's 64-bit range; store it as text");
          out.head(0, Prim.natToNat64(Prim.abs(i)));
        } else {
          let m = Prim.abs(i) - 1;
          if (m >= C.two64) return fail(#UNSUPPORTED_VALUE, "integer " # C.intText(i) # " is outside CBOR's 64-bit range; store it as text");
          out.head(1, Prim.natToNat64(m));
        };
      };
      case (#float bits) {
        let (ib, b) = F.shortest(bits);
        out.add(ib);
        out.addBE(b, if (ib == 0xf9) 2 else if (ib == 0xfa) 4 else 8);
      };
      case (#text t) { out.addBlob(keyBytes(t)) };
      case (#bytes b) { out.head(2, C.n64(b.size())); out.addBlob(b) };
      case (#bool b) { out.add(if b 0xf5 else 0xf4) };
      case (#null_) { out.add(0xf6) };
      case (#array a) {
        if (depth > MAX_NESTING) return fail(#NESTING_TOO_DEEP, "metadata nests deeper than 32 arrays/maps; flatten it");
        out.head(4, C.n64(a.size()));
        for (item in a.vals()) {
          switch (encodeValue(out, item, depth + 1)) { case (?e) return ?e; case null {} };
        };
      };
      case (#map m) { return encodeMap(out, m, depth) };
    };
    null;
  };
};
