/// Quickstart: a canister that sums a tensor and scales a float32 tensor, on the tensorcbor Motoko library.
/// Malformed input is answered with a typed error (a Candid record), never a trap.
import Prim "mo:⛔";
import Bits "mo:tensorcbor/Bits";
import Decode "mo:tensorcbor/Decode";
import Elements "mo:tensorcbor/Elements";
import Encode "mo:tensorcbor/Encode";
import Errors "mo:tensorcbor/Errors";

persistent actor {
  /// record { code : text; offset : nat64; message : text }: a registry code (BAD_MAGIC, TRUNCATED, ...) or
  /// this canister's own WRONG_DTYPE.
  public type Error = Errors.CandidError;

  transient let scratch = Bits.Scratch(); // one per canister: conversion tables and a scratch Region

  func wrongDtype(got : Text, want : Text) : Error {
    { code = "WRONG_DTYPE"; offset = 0; message = "the tensor is " # got # "; this method takes " # want };
  };

  /// The sum of the elements of a float tensor (float16, bfloat16, float32 or float64), in float64.
  public query func sum(doc : Blob) : async { #ok : Float; #err : Error } {
    let t = switch (Decode.tensor(doc)) { case (#ok t) t; case (#err e) return #err(Errors.toCandid(e)) };
    if (t.dtype.kind != #float) return #err(wrongDtype(t.dtype.name, "a float tensor"));
    let ?xs = Elements.toFloat(t, scratch) else return #err(wrongDtype(t.dtype.name, "a float tensor"));
    var total : Float = 0;
    for (x in xs.vals()) total += x;
    #ok(total);
  };

  /// A float32 tensor multiplied by `factor`, element by element (float32 rounding), same shape.
  public query func scale(doc : Blob, factor : Float32) : async { #ok : Blob; #err : Error } {
    let t = switch (Decode.tensor(doc)) { case (#ok t) t; case (#err e) return #err(Errors.toCandid(e)) };
    let ?xs = Elements.toFloat32(t, scratch) else return #err(wrongDtype(t.dtype.name, "float32"));
    let f = Prim.float32ToFloat(factor);
    // the product of two float32 values is exact in Float; one rounding back to float32
    let ys = Prim.Array_tabulate<Float32>(xs.size(), func i = Prim.floatToFloat32(Prim.float32ToFloat(xs[i]) * f));
    switch (Encode.float32(ys, t.shape, scratch)) {
      case (#ok out) #ok(out);
      case (#err e) #err(Errors.toCandid(e));
    };
  };
};
