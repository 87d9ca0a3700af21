/// Receiving chunked streams (SPEC.md §10.4): the sequential and the storing receiver, with the checks
/// M1-M12, D1-D11 and E1-E2 in the SPEC's order, each failure a registry code at the SPEC §8.1 offset (the
/// reference is tensorcbor.stream in Python; conformance/stream-v1 tests both kinds).
///
/// A `Receiver` is plain data (stable): a persistent actor keeps one in a variable and an upload goes on
/// across messages and upgrades. A rejected chunk changes nothing, so the right chunk may follow.
///
///     let rx = Stream.receiver(#sequential, ?streamDigest, ?quota);
///     switch (Stream.accept(rx, chunk)) {
///       case (#ok (#manifest m)) {};                          // chunk 0: m.docLength, m.count, ...
///       case (#ok (#data d)) { use(d.chunk, d.payloadAt, d.payloadLength) }; // a payload, in index order
///       case (#err e) { reject(e) };                          // e.code, e.offset, e.message
///     };
///     Stream.finish(rx);                                      // MISSING_CHUNK, DOCUMENT_DIGEST_MISMATCH
///
/// `check` then `commit` split `accept` for a caller with fallible work of its own in between (growing
/// stable memory before it takes a payload), so that its own refusal also leaves the receiver unchanged.
import Prim "mo:⛔";
import B "Bytes";
import C "Cbor";
import E "Errors";
import Sha "Sha256";

module {
  public type Result<X> = { #ok : X; #err : E.Error };

  public let MIN_MAX_SIZE : Nat64 = 128;
  public let MAX_MAX_SIZE : Nat64 = 0xFFFF_FFFF;
  /// Bytes of a data chunk besides its payload, at most (SPEC.md §10.3): a payload holds `max-size - 52`.
  public let DATA_CHUNK_OVERHEAD : Nat64 = 52;
  public let MAX_DOC_LENGTH : Nat64 = 0x7FFF_FFFF_FFFF_FFFF;

  /// An accepted manifest chunk.
  public type Manifest = {
    docLength : Nat64;
    maxSize : Nat64;
    docSha256 : Blob;
    /// SHA-256 of each data chunk's payload, 32 bytes each, chunk 1 first.
    digests : Blob;
    /// Number of data chunks (N).
    count : Nat64;
    /// SHA-256 of the manifest chunk: every data chunk's stream id.
    streamDigest : Blob;
  };

  /// A data chunk that passed D1-D11: its payload is `chunk[payloadAt, payloadAt + payloadLength)`, the
  /// chunk's last bytes, not copied out.
  public type Data = { index : Nat64; chunk : Blob; payloadAt : Nat; payloadLength : Nat };

  public type Checked = { #manifest : Manifest; #data : Data };

  /// `#sequential` takes data chunks in index order (CHUNK_OUT_OF_ORDER otherwise) and keeps none of them;
  /// `#storing` keeps verified chunks in any order and gives the document at the end (`document`).
  public type Kind = { #sequential; #storing };

  public type Receiver = {
    kind : Kind;
    expected : ?Blob;
    quota : ?Nat64;
    /// E2 (the document's SHA-256 at the end); off only with an expected stream digest.
    checkDocument : Bool;
    var manifest : ?Manifest;
    /// Data chunks accepted, and their payload bytes.
    var accepted : Nat64;
    var received : Nat64;
    /// The lowest index not accepted (sequential), or not in the contiguous prefix of accepted chunks
    /// (storing): both are the first missing chunk at the end.
    var next : Nat64;
    /// Storing: the accepted chunks by index - 1 (N slots from the manifest on, whose digests already take
    /// 32 bytes per chunk); sequential: empty.
    var kept : [var ?Data];
    /// SHA-256 of the payloads 1..next-1 (E2), hashed as the contiguous prefix grows.
    var hash : Sha.State;
  };

  /// A receiver of that kind. `expected`: the stream digest obtained out of band (M1; null: the manifest is
  /// trusted as it comes, which detects corruption, not forgery). `quota`: the largest document accepted (M12).
  public func receiver(kind : Kind, expected : ?Blob, quota : ?Nat64) : Receiver = make(kind, expected, quota, true);

  /// A receiver that skips E2: the expected stream digest fixes the manifest, the manifest fixes every
  /// payload (D10), so the document is already fixed by a trusted hash (SPEC.md §10.4) and is not hashed twice.
  public func receiverWithoutDocumentDigest(kind : Kind, expected : Blob, quota : ?Nat64) : Receiver = make(kind, ?expected, quota, false);

  func make(kind : Kind, expected : ?Blob, quota : ?Nat64, checkDocument : Bool) : Receiver {
    {
      kind;
      expected;
      quota;
      checkDocument;
      var manifest = null;
      var accepted = 0;
      var received = 0;
      var next = 1;
      var kept = [var];
      var hash = Sha.Sha256().save();
    };
  };

  func fail<X>(code : E.Code, at : Nat, message : Text) : Result<X> = #err({ code; offset = at; message });

  func cursorError<X>(c : C.Cursor) : Result<X> {
    switch (c.err) {
      case (?e) #err(e);
      case null fail(#MALFORMED, c.pos, "internal: failure without an error");
    };
  };

  /// M2 / D2: the six magic bytes (with the generic head checks when they are not exactly those).
  func open(chunk : Blob) : Result<C.Cursor> {
    let n = chunk.size();
    let c = C.cursor(chunk);
    if (n >= 6 and chunk[0] == 0xd9 and chunk[1] == 0xd9 and chunk[2] == 0xf7 and chunk[3] == 0xd9 and chunk[4] == 0xcb and chunk[5] == 0x73) {
      c.pos := 6;
      return #ok(c);
    };
    if (n < 3 and (n == 0 or (chunk[0] == 0xd9 and (n == 1 or chunk[1] == 0xd9)))) {
      return fail(#TRUNCATED, 0, "the input ends inside the self-described CBOR tag");
    };
    if (n < 3 or chunk[0] != 0xd9 or chunk[1] != 0xd9 or chunk[2] != 0xf7) {
      return fail(#BAD_MAGIC, 0, "not a tensorcbor chunk: it must start with d9d9f7 d9cb73");
    };
    c.pos := 3;
    let h = switch (C.head(c)) { case (?h) h; case null return cursorError(c) };
    let what = if (h.major == 6 and h.arg == 52084) " (a tensor document)" else if (h.major == 6 and h.arg == 52066) " (a bundle document)" else "";
    fail(#BAD_MAGIC, 3, "not a tensorcbor chunk" # what # ": expected tag 52083 after d9d9f7");
  };

  /// M3-M4 / D3-D4: the array head, the version (before the length, SPEC.md §5.3), then the length.
  func openArray(c : C.Cursor, want : Nat64, what : Text, hint : Text) : ?E.Error {
    let start = c.pos;
    let n = switch (C.expect(c, 4, what)) { case (?n) n; case null return c.err };
    if (n == 0) return ?{ code = #UNEXPECTED_TYPE; offset = start; message = what # " is empty; it starts with the version" };
    let vstart = c.pos;
    let v = switch (C.expect(c, 0, "the version (unsigned integer)")) { case (?v) v; case null return c.err };
    if (v != 1) return ?{ code = #UNSUPPORTED_VERSION; offset = vstart; message = "format version " # C.n64Text(v) # " is not supported (this decoder reads version 1)" };
    if (n != want) {
      let other = if (n == 4 or n == 5) hint else "";
      return ?{ code = #UNEXPECTED_TYPE; offset = start; message = what # " is an array of " # C.n64Text(want) # " elements, found " # C.n64Text(n) # other };
    };
    null;
  };

  /// A 32-byte byte string (M7, D5): its bytes are read before their length is judged. Returns where they start.
  func digestField(c : C.Cursor, what : Text) : Result<Nat> {
    let at = c.pos;
    let size = switch (C.expect(c, 2, what)) { case (?n) n; case null return cursorError(c) };
    let begin = switch (C.take(c, size, what)) { case (?b) b; case null return cursorError(c) };
    if (size != 32) return fail(#UNEXPECTED_TYPE, at, what # " is 32 bytes, found " # C.n64Text(size));
    #ok(begin);
  };

  func sameRange(a : Blob, from : Nat, b : Blob, bFrom : Nat, n : Nat) : Bool {
    var i = 0;
    while (i < n) { if (a[from + i] != b[bFrom + i]) return false; i += 1 };
    true;
  };

  /// M1-M12 of a manifest chunk.
  public func parseManifest(chunk : Blob, expected : ?Blob, quota : ?Nat64) : Result<Manifest> {
    let sid = Sha.sha256(chunk);
    switch expected {
      case (?d) if (sid != d) return fail(#STREAM_DIGEST_MISMATCH, 0, "the manifest's SHA-256 is not the expected stream digest (a manifest of another stream, or altered)");
      case null {};
    };
    let c = switch (open(chunk)) { case (#ok c) c; case (#err e) return #err(e) };
    switch (openArray(c, 5, "the manifest (chunk 0)", " (this is a data chunk)")) { case (?e) return #err(e); case null {} };
    var at = c.pos;
    let docLength = switch (C.expect(c, 0, "the document length")) { case (?x) x; case null return cursorError(c) };
    if (docLength > MAX_DOC_LENGTH) return fail(#SIZE_OVERFLOW, at, "the document length exceeds 2^63-1");
    at := c.pos;
    let maxSize = switch (C.expect(c, 0, "the chunk size limit")) { case (?x) x; case null return cursorError(c) };
    if (maxSize < MIN_MAX_SIZE or maxSize > MAX_MAX_SIZE) {
      return fail(#INVALID_CHUNK_SIZE, at, "max-size " # C.n64Text(maxSize) # " is outside " # C.n64Text(MIN_MAX_SIZE) # ".." # C.n64Text(MAX_MAX_SIZE));
    };
    let docAt = switch (digestField(c, "the document SHA-256")) { case (#ok b) b; case (#err e) return #err(e) };
    at := c.pos;
    let size = switch (C.expect(c, 2, "the chunk digests")) { case (?x) x; case null return cursorError(c) };
    let begin = switch (C.take(c, size, "the chunk digests")) { case (?x) x; case null return cursorError(c) };
    if (size == 0 or size % 32 != 0) {
      return fail(#UNEXPECTED_TYPE, at, "the chunk digests are 32 bytes per chunk and at least one chunk, found " # C.n64Text(size) # " bytes");
    };
    if (c.pos != chunk.size()) return fail(#TRAILING_BYTES, c.pos, C.natText(chunk.size() - c.pos) # " bytes follow the manifest");
    let length = C.n64(chunk.size());
    if (length > maxSize) {
      return fail(#CHUNK_TOO_LARGE, 0, "the manifest is " # C.n64Text(length) # " bytes, over its own chunk size limit of " # C.n64Text(maxSize));
    };
    let count = size / 32; // < 2^27 now: 32 bytes per chunk in < 2^32 bytes
    let cap = maxSize - DATA_CHUNK_OVERHEAD; // >= 76 after M6; count * cap < 2^59
    if (docLength < count or docLength > count * cap) {
      return fail(#STREAM_LENGTH_MISMATCH, 0, C.n64Text(count) # " chunks of 1 to " # C.n64Text(cap) # " payload bytes cannot carry a " # C.n64Text(docLength) # "-byte document");
    };
    switch quota {
      case (?q) if (docLength > q) {
        return fail(#QUOTA_EXCEEDED, 0, "the stream declares a " # C.n64Text(docLength) # "-byte document; this receiver accepts at most " # C.n64Text(q) # " bytes");
      };
      case null {};
    };
    #ok({ docLength; maxSize; docSha256 = C.slice(chunk, docAt, 32); digests = C.slice(chunk, begin, C.nat(size)); count; streamDigest = sid });
  };

  func isKept(r : Receiver, index : Nat64) : Bool {
    switch (r.kind) {
      case (#sequential) index < r.next;
      case (#storing) r.kept[C.nat(index - 1)] != null;
    };
  };

  /// D1-D11 of a data chunk against the accepted manifest `m`.
  func checkData(r : Receiver, m : Manifest, chunk : Blob) : Result<Data> {
    let length = C.n64(chunk.size());
    if (length > m.maxSize) {
      return fail(#CHUNK_TOO_LARGE, 0, "chunk of " # C.n64Text(length) # " bytes exceeds the stream's " # C.n64Text(m.maxSize) # "-byte limit");
    };
    let c = switch (open(chunk)) { case (#ok c) c; case (#err e) return #err(e) };
    let start = c.pos;
    switch (openArray(c, 4, "a data chunk", " (this is a manifest)")) { case (?e) return #err(e); case null {} };
    let sid = switch (digestField(c, "the stream id")) { case (#ok b) b; case (#err e) return #err(e) };
    if (not sameRange(chunk, sid, m.streamDigest, 0, 32)) {
      return fail(#WRONG_STREAM, start + 2, "the chunk belongs to another stream (its stream id is not this stream's digest)");
    };
    let at = c.pos;
    let index = switch (C.expect(c, 0, "the chunk index")) { case (?x) x; case null return cursorError(c) };
    if (index == 0 or index > m.count) return fail(#CHUNK_OUT_OF_RANGE, at, "chunk index " # C.n64Text(index) # " is not in 1.." # C.n64Text(m.count));
    if (isKept(r, index)) return fail(#DUPLICATE_CHUNK, at, "chunk " # C.n64Text(index) # " was already received");
    if (r.kind == #sequential and index != r.next) {
      return fail(#CHUNK_OUT_OF_ORDER, at, "chunk " # C.n64Text(index) # " arrived before chunk " # C.n64Text(r.next));
    };
    let size = switch (C.expect(c, 2, "the payload")) { case (?x) x; case null return cursorError(c) };
    let begin = switch (C.take(c, size, "the payload")) { case (?x) x; case null return cursorError(c) };
    if (c.pos != chunk.size()) return fail(#TRAILING_BYTES, c.pos, C.natText(chunk.size() - c.pos) # " bytes follow the chunk");
    let h = Sha.Sha256();
    h.writeRange(chunk, begin, C.nat(size));
    if (not sameRange(h.sum(), 0, m.digests, C.nat(index - 1) * 32, 32)) {
      return fail(#CHUNK_DIGEST_MISMATCH, begin, "chunk " # C.n64Text(index) # "'s payload does not match its SHA-256 in the manifest (altered or corrupted)");
    };
    let total = r.received + size; // <= doc-length + max-size < 2^64
    if (size == 0 or total > m.docLength or (r.accepted + 1 == m.count and total != m.docLength)) {
      return fail(#STREAM_LENGTH_MISMATCH, begin, "chunk " # C.n64Text(index) # " brings the stream to " # C.n64Text(total) # " bytes; the manifest declares " # C.n64Text(m.docLength));
    };
    #ok({ index; chunk; payloadAt = begin; payloadLength = C.nat(size) });
  };

  /// Every check of one chunk (the manifest until one is accepted, then a data chunk), changing nothing.
  public func check(r : Receiver, chunk : Blob) : Result<Checked> {
    switch (r.manifest) {
      case null switch (parseManifest(chunk, r.expected, r.quota)) { case (#ok m) #ok(#manifest m); case (#err e) #err(e) };
      case (?m) switch (checkData(r, m, chunk)) { case (#ok d) #ok(#data d); case (#err e) #err(e) };
    };
  };

  /// Take a chunk that `check` just accepted for this receiver (before any other chunk reaches it).
  public func commit(r : Receiver, checked : Checked) {
    switch checked {
      case (#manifest m) {
        r.manifest := ?m;
        if (r.kind == #storing) r.kept := Prim.Array_init<?Data>(C.nat(m.count), null);
      };
      case (#data d) {
        r.accepted += 1;
        r.received += C.n64(d.payloadLength);
        switch (r.kind) {
          case (#sequential) { hashPayload(r, d); r.next += 1 };
          case (#storing) {
            r.kept[C.nat(d.index - 1)] := ?d;
            let n = r.kept.size();
            label prefix while (C.nat(r.next) <= n) {
              switch (r.kept[C.nat(r.next - 1)]) {
                case (?k) { hashPayload(r, k); r.next += 1 };
                case null break prefix;
              };
            };
          };
        };
      };
    };
  };

  func hashPayload(r : Receiver, d : Data) {
    if (not r.checkDocument) return;
    let h = Sha.Sha256();
    h.restore(r.hash);
    h.writeRange(d.chunk, d.payloadAt, d.payloadLength);
    r.hash := h.save();
  };

  /// `check`, then `commit` if the chunk passed.
  public func accept(r : Receiver, chunk : Blob) : Result<Checked> {
    let checked = check(r, chunk);
    switch checked { case (#ok x) commit(r, x); case (#err _) {} };
    checked;
  };

  /// The end of the stream: E1 (the manifest and every data chunk arrived), then E2 (the document's SHA-256,
  /// hashed as it arrived) unless the receiver skips it. Changes nothing.
  public func finish(r : Receiver) : Result<()> {
    let m = switch (r.manifest) {
      case (?m) m;
      case null return fail(#MISSING_CHUNK, 0, "no manifest was accepted: chunk 0 (the manifest) is missing");
    };
    if (r.accepted < m.count) {
      return fail(#MISSING_CHUNK, 0, "the stream ended with " # C.n64Text(r.accepted) # " of " # C.n64Text(m.count) # " data chunks; chunk " # C.n64Text(r.next) # " is missing");
    };
    if (r.checkDocument) {
      let h = Sha.Sha256();
      h.restore(r.hash);
      if (h.sum() != m.docSha256) return fail(#DOCUMENT_DIGEST_MISMATCH, 0, "the reassembled document's SHA-256 differs from the manifest's document digest");
    };
    #ok(());
  };

  /// A storing receiver's document, every payload in index order (null for a sequential receiver, or before
  /// every chunk is in). One copy, byte by byte; call it once, after `finish`.
  public func document(r : Receiver) : ?Blob {
    let m = switch (r.manifest) { case (?m) m; case null return null };
    if (r.kind != #storing or r.accepted < m.count) return null;
    let out = B.Builder(C.nat(r.received));
    for (slot in r.kept.vals()) {
      switch slot { case (?d) out.addRange(d.chunk, d.payloadAt, d.payloadLength); case null return null };
    };
    ?out.toBlob();
  };

  /// The first data chunk not yet accepted (sequential: the one it takes next), or null when all are in or
  /// no manifest was accepted.
  public func missing(r : Receiver) : ?Nat64 {
    switch (r.manifest) { case (?m) if (r.next <= m.count) ?r.next else null; case null null };
  };
};
