"""Generate bindings/motoko/src/Sha256.mo: SHA-256 (FIPS 180-4) with the 64 rounds unrolled.

Why generated: the fast form of SHA-256 in Motoko has no loops inside a block (a loop step with a counter and
array-held words costs several times the round's own arithmetic), so the compression function is 64 rounds of
straight-line code over `let`-bound words. Writing that by hand invites typos; this script writes it from the
definitions of FIPS 180-4 §4.1.2 and §6.2.2, and computes the constants from their definition (§4.2.2, §5.3.3):
the first 32 bits of the fractional parts of the cube roots (K) and square roots (H0) of the first primes.

    python3 scripts/gen_sha256.py          # rewrite bindings/motoko/src/Sha256.mo
    python3 scripts/gen_sha256.py --check  # exit 1 if the committed file differs (tests/test_motoko_sha256.py)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bindings" / "motoko" / "src" / "Sha256.mo"


def _primes(n: int) -> list[int]:
    found: list[int] = []
    k = 2
    while len(found) < n:
        if all(k % p for p in found if p * p <= k):
            found.append(k)
        k += 1
    return found


def _icbrt(n: int) -> int:
    """floor(n ** (1/3)) for a non-negative integer, exactly (Newton's method on integers)."""
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x * x * x > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


def round_constants() -> list[int]:
    """K (FIPS 180-4 §4.2.2): frac(cbrt(p)) * 2^32 for the first 64 primes."""
    return [_icbrt(p << 96) & 0xFFFFFFFF for p in _primes(64)]


def initial_hash() -> list[int]:
    """H(0) (FIPS 180-4 §5.3.3): frac(sqrt(p)) * 2^32 for the first 8 primes."""
    return [math.isqrt(p << 64) & 0xFFFFFFFF for p in _primes(8)]


def _hex(x: int) -> str:
    return f"0x{x >> 16:04x}_{x & 0xFFFF:04x}"


def _word(src: str, base: str, i: int) -> str:
    """Big-endian word i of a block as a Nat64, read by direct index (`src[base + 4i + k]`)."""
    parts = []
    for k, shift in enumerate((24, 16, 8, 0)):
        at = f"{base} + {4 * i + k}" if base else str(4 * i + k)
        byte = f"Prim.nat32ToNat64(Prim.nat16ToNat32(Prim.nat8ToNat16({src}[{at}])))"
        parts.append(f"({byte} << {shift})" if shift else byte)
    return " | ".join(parts)


def _compress() -> list[str]:
    """The compression function of one block read from a Blob: schedule (§6.2.2 step 1) and 64 rounds (step 3),
    unrolled, in Nat64 arithmetic.

    Why Nat64: the compiler's 64-bit rotate is one operation, a 32-bit rotate several. Every word keeps its
    value in the low 32 bits (additions carry into the high bits, which nothing reads); a 32-bit rotation is a
    64-bit rotation of the word with its low half copied into the high half (`(x << 32) | (x & 0xFFFF_FFFF)`).
    No variable is shifted between rounds: round t's a..d are the new-a values of rounds t, t-1, t-2, t-3 and
    its e..h the new-e values likewise, so each round binds fresh words (`a<t+1>`, `e<t+1>`)."""
    k = round_constants()
    out = ["    func compress(d : Blob, p : Nat) {"]
    out += [f"      let w{i} = {_word('d', 'p', i)};" for i in range(16)]
    for t in range(16, 64):
        x, y = f"w{t - 15}", f"w{t - 2}"
        out.append(f"      let c{t - 15} = {x} & 0xFFFF_FFFF; let r{t - 15} = ({x} << 32) | c{t - 15};")
        out.append(f"      let q{t - 2} = {y} & 0xFFFF_FFFF; let s{t - 2} = ({y} << 32) | q{t - 2};")
        out.append(f"      let w{t} = (s{t - 2} <>> 17 ^ s{t - 2} <>> 19 ^ q{t - 2} >> 10) +% w{t - 7} "
                   f"+% (r{t - 15} <>> 7 ^ r{t - 15} <>> 18 ^ c{t - 15} >> 3) +% w{t - 16};")

    def a(i: int) -> str:
        return f"a{i}" if i >= 0 else f"am{-i}"

    def e(i: int) -> str:
        return f"e{i}" if i >= 0 else f"em{-i}"

    for i, name in enumerate(("a0", "am1", "am2", "am3", "e0", "em1", "em2", "em3")):
        out.append(f"      let {name} = Prim.nat32ToNat64(h{i});")
    for t in range(64):
        aa, bb, cc, dd = a(t), a(t - 1), a(t - 2), a(t - 3)
        ee, ff, gg, hh = e(t), e(t - 1), e(t - 2), e(t - 3)
        out.append(f"      let de{t} = ({ee} << 32) | ({ee} & 0xFFFF_FFFF);")
        out.append(f"      let t{t} = {hh} +% (de{t} <>> 6 ^ de{t} <>> 11 ^ de{t} <>> 25) "
                   f"+% ({gg} ^ ({ee} & ({ff} ^ {gg}))) +% {_hex(k[t])} +% w{t};")
        out.append(f"      let {e(t + 1)} = {dd} +% t{t};")
        out.append(f"      let da{t} = ({aa} << 32) | ({aa} & 0xFFFF_FFFF);")
        out.append(f"      let {a(t + 1)} = t{t} +% (da{t} <>> 2 ^ da{t} <>> 13 ^ da{t} <>> 22) "
                   f"+% (({aa} & ({bb} | {cc})) | ({bb} & {cc}));")
    finals = (a(64), a(63), a(62), a(61), e(64), e(63), e(62), e(61))
    for i, name in enumerate(finals):
        out.append(f"      h{i} := Prim.nat64ToNat32((Prim.nat32ToNat64(h{i}) +% {name}) & 0xFFFF_FFFF);")
    out.append("    };")
    return out


HEAD = '''// GENERATED by scripts/gen_sha256.py; do not edit (python3 scripts/gen_sha256.py rewrites it).

/// SHA-256 (FIPS 180-4), which Motoko's `core` lacks: for stream-chunk checks (SPEC.md §10.2), in canisters.
///
/// `Sha256()` hashes incrementally (`write` / `writeRange` any number of times, then `sum`); `sha256(blob)` in
/// one call. Whole 64-byte blocks are read straight from the caller's Blob by direct index into sixteen
/// words and compressed by 64 unrolled rounds over `let`-bound words with the round constants inline: no
/// loop, array or counter inside a block. Only the bytes of a block split across `write` calls (and the final
/// padding) pass through a 64-byte buffer.
import Prim "mo:⛔";

module {
  /// The running state of a `Sha256` between `write`s, as plain data: keep it in a stable variable (a stream
  /// receiver's document hash across messages and upgrades) and `restore` it into a new `Sha256()`.
  public type State = { h : [Nat32]; pending : Blob; total : Nat64; done : Bool };

  public class Sha256() {
'''

TAIL = '''
    func compressBuffer() = compress(Prim.arrayMutToBlob(buf), 0);

    public func reset() {
{reset}
      fill := 0;
      total := 0;
      done := false;
    };

    /// Add bytes `[from, from + len)` of `data` (a chunk's payload without copying it out first). Traps after
    /// `sum` unless `reset` was called, and when the range is not inside `data`.
    public func writeRange(data : Blob, from : Nat, len : Nat) {
      if done Prim.trap("Sha256.write after sum; call reset first");
      let stop = from + len;
      if (stop > data.size()) Prim.trap("Sha256.writeRange: the range is not inside the blob");
      var p = from;
      if (fill > 0) {
        while (fill < 64 and p < stop) { buf[fill] := data[p]; fill += 1; p += 1 };
        if (fill < 64) { total +%= Prim.natToNat64(len); return };
        compressBuffer();
        fill := 0;
      };
      while (p + 64 <= stop) { compress(data, p); p += 64 };
      while (p < stop) { buf[fill] := data[p]; fill += 1; p += 1 };
      total +%= Prim.natToNat64(len);
    };

    /// Add bytes to the message. Traps after `sum` unless `reset` was called.
    public func write(data : Blob) = writeRange(data, 0, data.size());

    /// The state after the bytes written so far (`restore` continues from it).
    public func save() : State {
      let pending = Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(fill, func i = buf[i]));
      { h = [h0, h1, h2, h3, h4, h5, h6, h7]; pending; total; done };
    };

    /// Continue from a state `save` gave (traps on a state that no `save` could give).
    public func restore(s : State) {
      if (s.h.size() != 8 or s.pending.size() >= 64) Prim.trap("Sha256.restore: not a saved state");
      h0 := s.h[0]; h1 := s.h[1]; h2 := s.h[2]; h3 := s.h[3];
      h4 := s.h[4]; h5 := s.h[5]; h6 := s.h[6]; h7 := s.h[7];
      fill := s.pending.size();
      var i = 0;
      while (i < fill) { buf[i] := s.pending[i]; i += 1 };
      total := s.total;
      done := s.done;
    };

    /// The 32-byte digest of everything written since the last reset (the same digest again if called twice).
    public func sum() : Blob {
      if (not done) {
        let bits = total << 3;
        buf[fill] := 0x80;
        fill += 1;
        if (fill > 56) {
          while (fill < 64) { buf[fill] := 0; fill += 1 };
          compressBuffer();
          fill := 0;
        };
        while (fill < 56) { buf[fill] := 0; fill += 1 };
        let (l0, l1, l2, l3, l4, l5, l6, l7) = Prim.explodeNat64(bits);
        buf[56] := l0; buf[57] := l1; buf[58] := l2; buf[59] := l3;
        buf[60] := l4; buf[61] := l5; buf[62] := l6; buf[63] := l7;
        compressBuffer();
        fill := 0;
        done := true;
      };
      let out = Prim.Array_init<Nat8>(32, 0);
      for ((i, x) in [(0, h0), (4, h1), (8, h2), (12, h3), (16, h4), (20, h5), (24, h6), (28, h7)].vals()) {
        let (b0, b1, b2, b3) = Prim.explodeNat32(x);
        out[i] := b0; out[i + 1] := b1; out[i + 2] := b2; out[i + 3] := b3;
      };
      Prim.arrayMutToBlob(out);
    };
  };

  /// SHA-256 of one blob.
  public func sha256(data : Blob) : Blob {
    let d = Sha256();
    d.write(data);
    d.sum();
  };
};
'''


def sha256_mo() -> str:
    h = initial_hash()
    lines = [HEAD.rstrip("\n")]
    lines += [f"    var h{i} : Nat32 = {_hex(x)};" for i, x in enumerate(h)]
    lines += ["    let buf = Prim.Array_init<Nat8>(64, 0); // a block split across writes, and the padding",
              "    var fill : Nat = 0; // bytes in buf",
              "    var total : Nat64 = 0; // bytes written",
              "    var done = false;",
              ""]
    lines += _compress()
    reset = "\n".join(f"      h{i} := {_hex(x)};" for i, x in enumerate(h))
    lines.append(TAIL.replace("{reset}", reset).rstrip("\n"))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = sha256_mo()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUT.relative_to(ROOT)} is stale: run python3 scripts/gen_sha256.py\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
