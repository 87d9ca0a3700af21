/// A growable byte buffer for encoders (amortized doubling; no per-byte allocation).
import Prim "mo:⛔";

module {
  public class Builder(initial : Nat) {
    var buf : [var Nat8] = Prim.Array_init<Nat8>(if (initial < 16) 16 else initial, 0);
    var n : Nat = 0;

    func reserve(extra : Nat) {
      if (n + extra <= buf.size()) return;
      var cap = buf.size() * 2;
      while (cap < n + extra) cap *= 2;
      let next = Prim.Array_init<Nat8>(cap, 0);
      var i = 0;
      while (i < n) { next[i] := buf[i]; i += 1 };
      buf := next;
    };

    public func size() : Nat = n;

    public func add(b : Nat8) {
      reserve(1);
      buf[n] := b;
      n += 1;
    };

    /// Append `len` bytes of `b` starting at `from`.
    public func addRange(b : Blob, from : Nat, len : Nat) {
      reserve(len);
      var i = 0;
      while (i < len) { buf[n + i] := b[from + i]; i += 1 };
      n += len;
    };

    public func addBlob(b : Blob) = addRange(b, 0, b.size());

    /// Big-endian unsigned of `width` bytes.
    public func addBE(x : Nat64, width : Nat) {
      reserve(width);
      var i = width;
      while (i > 0) {
        i -= 1;
        buf[n] := Prim.natToNat8(Prim.nat64ToNat((x >> Prim.natToNat64(i * 8)) & 0xFF));
        n += 1;
      };
    };

    /// Shortest CBOR head for (major type, argument).
    public func head(major : Nat8, arg : Nat64) {
      let mt = major << 5;
      if (arg < 24) { add(mt | Prim.natToNat8(Prim.nat64ToNat(arg))) } else if (arg < 0x100) {
        add(mt | 24);
        addBE(arg, 1);
      } else if (arg < 0x10000) { add(mt | 25); addBE(arg, 2) } else if (arg < 0x100000000) {
        add(mt | 26);
        addBE(arg, 4);
      } else { add(mt | 27); addBE(arg, 8) };
    };

    public func toBlob() : Blob {
      let b = buf;
      Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(n, func i = b[i]));
    };
  };

  /// Length of the shortest head for an argument.
  public func headSize(arg : Nat64) : Nat {
    if (arg < 24) 1 else if (arg < 0x100) 2 else if (arg < 0x10000) 3 else if (arg < 0x100000000) 5 else 9;
  };
};
