/// Test actor for bindings/motoko/src/Sha256.mo (tests/test_motoko_sha256.py): `digest` hashes its argument in
/// one call, `digest_parts` feeds it in pieces of `step` bytes, `repeat` hashes `n` copies of a blob (the
/// one-million-'a' vector without a 1 MB message), `digest_range` hashes a sub-range in place, `hash_only` returns nothing, for fuel per byte;
/// `digest_resumed` feeds pieces of `step` bytes, each into a fresh `Sha256()` restored from the previous one's `save()`.
import Prim "mo:⛔";
import Sha "mo:tensorcbor/Sha256";

persistent actor {
  public query func digest(data : Blob) : async Blob { Sha.sha256(data) };

  public query func digest_parts(data : Blob, step : Nat) : async Blob {
    let d = Sha.Sha256();
    let bytes = Prim.blobToArray(data);
    var i = 0;
    while (i < bytes.size()) {
      let n = if (i + step < bytes.size()) step else bytes.size() - i;
      d.write(Prim.arrayToBlob(Prim.Array_tabulate<Nat8>(n, func j = bytes[i + j])));
      i += n;
    };
    d.sum();
  };

  public query func repeat(data : Blob, n : Nat) : async Blob {
    let d = Sha.Sha256();
    var i = 0;
    while (i < n) { d.write(data); i += 1 };
    d.sum();
  };

  public query func digest_range(data : Blob, from : Nat, len : Nat) : async Blob {
    let d = Sha.Sha256();
    d.writeRange(data, from, len);
    d.sum();
  };

  public query func digest_resumed(data : Blob, step : Nat) : async Blob {
    var state = Sha.Sha256().save();
    var i = 0;
    while (i < data.size()) {
      let n = if (i + step < data.size()) step else data.size() - i;
      let d = Sha.Sha256();
      d.restore(state);
      d.writeRange(data, i, n);
      state := d.save();
      i += n;
    };
    let d = Sha.Sha256();
    d.restore(state);
    d.sum();
  };

  public query func hash_only(data : Blob) : async () { ignore Sha.sha256(data) };
};
