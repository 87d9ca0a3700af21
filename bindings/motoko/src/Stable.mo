/// Tensor documents held in a Region (stable memory), read without copying the whole document to the heap:
/// the header is parsed from a prefix, the element checks read the data in bounded pieces, and element
/// ranges are loaded on demand. Fits documents uploaded in chunks with `Region.storeBlob`.
import Prim "mo:⛔";
import Region "mo:core/Region";
import C "Cbor";
import Dec "Decode";
import E "Errors";
import T "Types";

module {
  public type Result<X> = { #ok : X; #err : E.Error };

  let FIRST_PREFIX : Nat64 = 512;
  let PIECE : Nat64 = 65536;

  func min(a : Nat64, b : Nat64) : Nat64 = if (a < b) a else b;

  /// Strictly decode the header of the tensor document stored at [start, start + length) of `r`, run the
  /// element checks and the trailing-bytes check. The returned tensor's `source` is only the loaded prefix:
  /// read elements with `range`. Errors carry offsets relative to `start`.
  public func header(r : Region.Region, start : Nat64, length : Nat64) : Result<T.Tensor> {
    let capacity = Region.size(r) * 65536;
    if (start > capacity or length > capacity - start) {
      return #err({ code = #TRUNCATED; offset = 0; message = "the document range lies beyond the Region's size" });
    };
    var want = min(length, FIRST_PREFIX);
    loop {
      let prefix = Region.loadBlob(r, start, Prim.nat64ToNat(want));
      switch (Dec.tensorHeader(prefix, Prim.nat64ToNat(length))) {
        case (#err e) {
          if (e.code != #TRUNCATED or want >= length) return #err(e);
          want := if (want > length / 4) length else want * 4;
        };
        case (#ok t) {
          switch (checkElements(r, start, t)) { case (?e) return #err(e); case null {} };
          let end = t.dataOffset + t.dataLength;
          if (Prim.natToNat64(end) != length) return #err({ code = #TRAILING_BYTES; offset = end; message = "bytes follow the end of the document" });
          return #ok(t);
        };
      };
    };
  };

  /// §7.2 element checks against the bytes in the Region (bool bytes in 64 KiB pieces; packed tail bits).
  public func checkElements(r : Region.Region, start : Nat64, t : T.Tensor) : ?E.Error {
    let base = start + Prim.natToNat64(t.dataOffset);
    let len = Prim.natToNat64(t.dataLength);
    if (t.dtype.kind == #bool) {
      var at : Nat64 = 0;
      while (at < len) {
        let n = min(PIECE, len - at);
        let piece = Region.loadBlob(r, base + at, Prim.nat64ToNat(n));
        var i = 0;
        for (b in piece.vals()) {
          if (b > 1) return ?{ code = #INVALID_ELEMENT; offset = t.dataOffset + Prim.nat64ToNat(at) + i; message = "bool element " # C.natText(Prim.nat64ToNat(at) + i) # " is " # C.hexByte(b) # "; only 0x00 and 0x01 are allowed" };
          i += 1;
        };
        at += n;
      };
      return null;
    };
    let bits = t.dtype.bits;
    if (bits > 0 and bits < 8 and len > 0) {
      let used = (Prim.natToNat64(t.count) * bits) % 8;
      let last = Region.loadNat8(r, base + len - 1);
      if (used != 0 and (Prim.nat8ToNat(last) / (2 ** Prim.nat64ToNat(used))) != 0) {
        return ?{ code = #INVALID_ELEMENT; offset = t.dataOffset + t.dataLength - 1; message = "unused bits after the last " # t.dtype.name # " element must be zero" };
      };
    };
    null;
  };

  /// Elements [first, first + count) of a byte-aligned, non-string tensor whose header came from `header`, as
  /// a one-dimensional tensor view over just those bytes (use it with `Elements`). null when out of range or
  /// for string, packed and block dtypes.
  public func range(r : Region.Region, start : Nat64, t : T.Tensor, first : Nat, count : Nat) : ?T.Tensor {
    let bits = Prim.nat64ToNat(t.dtype.bits);
    if (bits == 0 or bits % 8 != 0 or first + count > t.count) return null;
    let width = bits / 8;
    let bytes = Region.loadBlob(r, start + Prim.natToNat64(t.dataOffset + first * width), count * width);
    ?{ dtype = t.dtype; shape = [count]; count; source = bytes; dataOffset = 0; dataLength = bytes.size(); strings = [] };
  };
};
