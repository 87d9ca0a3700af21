/// Strict CBOR head reading (SPEC.md §7.1 generic head checks) over a Blob, without traps.
///
/// A `Cursor` reads a buffer that may be only a prefix of the document (`docLen` is the whole length): reads
/// of heads and strings must lie in the buffer, while element data may merely be skipped up to `docLen`.
/// Every function returns null after recording the first error in the cursor, so callers chain them with
/// `do ? { ... f()! ... }`.
import Prim "mo:⛔";
import E "Errors";

module {
  public type Cursor = {
    buf : Blob;
    size : Nat; // bytes of `buf` that may be read
    docLen : Nat; // length of the whole document (>= size)
    var pos : Nat;
    var err : ?E.Error;
  };

  /// One head: major type, additional information, argument, and the offset of its initial byte.
  public type Head = { major : Nat8; ai : Nat8; arg : Nat64; start : Nat };

  public func cursor(buf : Blob) : Cursor {
    { buf; size = buf.size(); docLen = buf.size(); var pos = 0; var err = null };
  };

  /// A cursor over a prefix `buf` of a document of `docLen` bytes (`docLen` >= buf.size()).
  public func prefixCursor(buf : Blob, docLen : Nat) : Cursor {
    { buf; size = buf.size(); docLen; var pos = 0; var err = null };
  };

  public func fail<T>(c : Cursor, code : E.Code, at : Nat, message : Text) : ?T {
    switch (c.err) { case null { c.err := ?{ code; offset = at; message } }; case _ {} };
    null;
  };

  public func n8to64(x : Nat8) : Nat64 = Prim.nat32ToNat64(Prim.nat16ToNat32(Prim.nat8ToNat16(x)));
  public func n64(x : Nat) : Nat64 = Prim.natToNat64(x);
  public func nat(x : Nat64) : Nat = Prim.nat64ToNat(x);

  let TWO64 : Nat = 18446744073709551616;

  /// Read one head with the generic checks: TRUNCATED, MALFORMED, INDEFINITE_LENGTH, NON_SHORTEST_HEAD.
  public func head(c : Cursor) : ?Head {
    let start = c.pos;
    if (start >= c.size) return fail(c, #TRUNCATED, start, "a data item needs 1 bytes but only 0 remain");
    let ib = c.buf[start];
    let major = ib >> 5;
    let ai = ib & 31;
    if (ai < 24) {
      c.pos := start + 1;
      return ?{ major; ai; arg = n8to64(ai); start };
    };
    if (ai > 27) {
      if (ai == 31 and major >= 2 and major <= 5) {
        return fail(c, #INDEFINITE_LENGTH, start, "indefinite-length items are not allowed; encode strings, arrays and maps with a definite length");
      };
      return fail(c, #MALFORMED, start, "initial byte " # hexByte(ib) # " is not well-formed CBOR");
    };
    let size : Nat = switch ai { case 24 1; case 25 2; case 26 4; case _ 8 };
    if (c.size < start + 1 + size) return fail(c, #TRUNCATED, start, "a data item head needs " # natText(1 + size) # " bytes but only " # natText(c.size - start) # " remain");
    var arg : Nat64 = 0;
    var i = start + 1;
    let stop = start + 1 + size;
    while (i < stop) { arg := (arg << 8) | n8to64(c.buf[i]); i += 1 };
    c.pos := stop;
    if (major == 7) {
      if (ai == 24 and arg < 32) return fail(c, #MALFORMED, start, "simple value " # n64Text(arg) # " must use the one-byte form");
      return ?{ major; ai; arg; start };
    };
    let minimum : Nat64 = switch ai { case 24 24; case 25 256; case 26 65536; case _ 4294967296 };
    if (arg < minimum) return fail(c, #NON_SHORTEST_HEAD, start, "argument " # n64Text(arg) # " is not in its shortest form (initial byte " # hexByte(ib) # ")");
    ?{ major; ai; arg; start };
  };

  public func majorName(m : Nat8) : Text {
    switch m {
      case 0 "an unsigned integer";
      case 1 "a negative integer";
      case 2 "a byte string";
      case 3 "a text string";
      case 4 "an array";
      case 5 "a map";
      case 6 "a tag";
      case _ "a simple value or float";
    };
  };

  /// Check that a head has major type `major` ("expect type X": a tag is UNEXPECTED_TAG).
  public func check(c : Cursor, h : Head, major : Nat8, what : Text) : ?Nat64 {
    if (h.major == major) return ?h.arg;
    if (h.major == 6) return fail(c, #UNEXPECTED_TAG, h.start, "tag " # n64Text(h.arg) # " where " # what # " was expected");
    fail(c, #UNEXPECTED_TYPE, h.start, majorName(h.major) # " where " # what # " was expected");
  };

  /// Read a head and expect major type `major`; returns its argument.
  public func expect(c : Cursor, major : Nat8, what : Text) : ?Nat64 {
    let h = switch (head(c)) { case (?h) h; case null return null };
    check(c, h, major, what);
  };

  /// Skip `n` content bytes that must lie in the readable buffer; returns where they start.
  public func take(c : Cursor, n : Nat64, what : Text) : ?Nat {
    let start = c.pos;
    if (n64(c.size - start) < n) return fail(c, #TRUNCATED, start, what # " needs " # n64Text(n) # " bytes but only " # natText(c.size - start) # " remain");
    c.pos := start + nat(n);
    ?start;
  };

  /// Skip `n` bytes that may lie beyond the buffer but inside the document (element data).
  public func skip(c : Cursor, n : Nat64, what : Text) : ?Nat {
    let start = c.pos;
    if (n64(c.docLen - start) < n) return fail(c, #TRUNCATED, start, what # " needs " # n64Text(n) # " bytes but only " # natText(c.docLen - start) # " remain");
    c.pos := start + nat(n);
    ?start;
  };

  /// The bytes [from, from + n) of the buffer as a new Blob.
  public func slice(buf : Blob, from : Nat, n : Nat) : Blob {
    Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(n, func i = buf[from + i]));
  };

  /// Read `n` bytes of UTF-8 text content (TRUNCATED, INVALID_UTF8).
  public func text(c : Cursor, n : Nat64, what : Text) : ?Text {
    let start = switch (take(c, n, what)) { case (?s) s; case null return null };
    switch (Prim.decodeUtf8(slice(c.buf, start, nat(n)))) {
      case (?t) ?t;
      case null fail(c, #INVALID_UTF8, firstInvalid(c.buf, start, nat(n)), what # " is not valid UTF-8");
    };
  };

  /// Offset of the first byte of the first ill-formed sequence (RFC 3629) in buf[start, start + n): where the
  /// reference decoder (and Rust's `valid_up_to`) reports INVALID_UTF8. Runs only after decodeUtf8 failed.
  func firstInvalid(buf : Blob, start : Nat, n : Nat) : Nat {
    let end = start + n;
    var i = start;
    while (i < end) {
      let b0 = Prim.nat8ToNat(buf[i]);
      var len = 0;
      var lo = 0x80;
      var hi = 0xBF;
      if (b0 < 0x80) { len := 1 } else if (b0 >= 0xC2 and b0 <= 0xDF) { len := 2 } else if (b0 == 0xE0) {
        len := 3;
        lo := 0xA0;
      } else if (b0 >= 0xE1 and b0 <= 0xEC) { len := 3 } else if (b0 == 0xED) {
        len := 3;
        hi := 0x9F;
      } else if (b0 >= 0xEE and b0 <= 0xEF) { len := 3 } else if (b0 == 0xF0) {
        len := 4;
        lo := 0x90;
      } else if (b0 >= 0xF1 and b0 <= 0xF3) { len := 4 } else if (b0 == 0xF4) {
        len := 4;
        hi := 0x8F;
      } else { return i };
      if (i + len > end) return i;
      var k = 1;
      while (k < len) {
        let b = Prim.nat8ToNat(buf[i + k]);
        if (k == 1) {
          if (b < lo or b > hi) return i;
        } else if (b < 0x80 or b > 0xBF) return i;
        k += 1;
      };
      i += len;
    };
    start;
  };

  /// Bytewise comparison of buf[a, a+la) with buf[b, b+lb): -1, 0 or 1.
  public func compareRanges(buf : Blob, a : Nat, la : Nat, b : Nat, lb : Nat) : Int {
    var i = 0;
    let n = if (la < lb) la else lb;
    while (i < n) {
      let x = buf[a + i];
      let y = buf[b + i];
      if (x < y) return -1;
      if (x > y) return 1;
      i += 1;
    };
    if (la < lb) -1 else if (la > lb) 1 else 0;
  };

  public let two64 : Nat = TWO64;

  /// Decimal digits of a natural number (debug_show would group digits with underscores).
  public func natText(x : Nat) : Text {
    if (x == 0) return "0";
    var n = x;
    var t = "";
    while (n > 0) {
      t := Prim.charToText(Prim.nat32ToChar(Prim.natToNat32(48 + n % 10))) # t;
      n /= 10;
    };
    t;
  };
  public func n64Text(x : Nat64) : Text = natText(Prim.nat64ToNat(x));

  /// 'name', as Python's repr quotes a name in its messages.
  public func quote(t : Text) : Text = "'" # t # "'";

  /// "[2, 3]", as Python prints a shape.
  public func shapeText(shape : [Nat]) : Text {
    var out = "[";
    var i = 0;
    while (i < shape.size()) { out #= (if (i > 0) ", " else "") # natText(shape[i]); i += 1 };
    out # "]";
  };

  /// "0x1c": a byte as Python's f"0x{b:02x}" writes it.
  public func hexByte(b : Nat8) : Text {
    func digit(d : Nat8) : Text = Prim.charToText(Prim.nat32ToChar(Prim.nat16ToNat32(Prim.nat8ToNat16(if (d < 10) 48 + d else 87 + d))));
    "0x" # digit(b / 16) # digit(b % 16);
  };

  public func intText(x : Int) : Text = if (x < 0) "-" # natText(Prim.abs(x)) else natText(Prim.abs(x));
};
