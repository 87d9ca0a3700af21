/// Cost probes for bench/bench_motoko.py: each method decodes the stored document and returns the
/// instructions (wasmtime fuel through ic0.performance_counter) spent inside the library call.
import Prim "mo:⛔";
import Bits "../src/Bits";
import Dec "../src/Decode";
import El "../src/Elements";

persistent actor {
  transient let s = Bits.Scratch();
  transient var doc : Blob = "";
  transient var sink : Nat = 0;

  public func load(b : Blob) : async () { doc := b };

  func count(n : ?[Any]) : Nat = switch n { case (?a) a.size(); case null 0 };

  /// Instructions to decode the stored tensor document and convert its elements with `op`.
  public func measure(op : Text) : async Nat64 {
    let before = Prim.performanceCounter(0);
    let n : Nat = switch (op) {
      case "candid_vec_float32" { let v : ?[Float32] = from_candid (doc); count(v) };
      case "header" { switch (Dec.tensorHeader(doc, doc.size())) { case (#ok t) t.count; case _ 0 } };
      case "bundle" { switch (Dec.bundle(doc)) { case (#ok b) b.tensors.size(); case _ 0 } };
      case _ {
        switch (Dec.tensor(doc)) {
          case (#err _) 0;
          case (#ok t) {
            switch op {
              case "f32_to_float32" count(El.toFloat32(t, s));
              case "to_float" count(El.toFloat(t, s));
              case "i32_to_int32" count(El.toInt32(t, s));
              case "u8_to_nat8" count(El.toNat8(t, s));
              case _ 0;
            };
          };
        };
      };
    };
    let after = Prim.performanceCounter(0);
    sink += n;
    if (n == 0 and op != "header") Prim.trap("probe " # op # " decoded nothing");
    after - before;
  };

  /// An actor call as a canister would serve it: receive a float32 tensor document, decode it to [Float32].
  public func decodeF32(d : Blob) : async Nat {
    switch (Dec.tensor(d)) {
      case (#ok t) count(El.toFloat32(t, s));
      case (#err _) 0;
    };
  };
};
