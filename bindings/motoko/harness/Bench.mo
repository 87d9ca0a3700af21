/// Cost probes for bench/bench_motoko.py: each method decodes the stored document and returns the
/// instructions (wasmtime fuel through ic0.performance_counter) spent inside the library call.
import Prim "mo:⛔";
import Bits "../src/Bits";
import D "../src/DTypes";
import Dec "../src/Decode";
import El "../src/Elements";
import Enc "../src/Encode";

persistent actor {
  transient let s = Bits.Scratch();
  transient let tables = Bits.Scratch(); // the same with the float16/bfloat16 tables (built at install)
  tables.useHalfTables();
  transient var doc : Blob = "";
  transient var sink : Nat = 0;

  public func load(b : Blob) : async () { doc := b };

  func count(n : ?[Any]) : Nat = switch n { case (?a) a.size(); case null 0 };

  /// The stored float32 document as [Float32] (outside the measured span of the encode probes).
  func f32s() : [Float32] {
    switch (Dec.tensor(doc)) {
      case (#ok t) switch (El.toFloat32(t, s)) { case (?a) a; case null Prim.trap("not float32") };
      case (#err _) Prim.trap("not a tensor");
    };
  };

  func finish(n : Nat, spent : Nat64) : Nat64 {
    if (n == 0) Prim.trap("probe encoded nothing");
    sink += n;
    spent;
  };

  /// Instructions to decode the stored tensor document and convert its elements with `op`.
  public func measure(op : Text) : async Nat64 {
    let before = Prim.performanceCounter(0);
    let n : Nat = switch (op) {
      case "candid_vec_float32" { let v : ?[Float32] = from_candid (doc); count(v) };
      case "header" { switch (Dec.tensorHeader(doc, doc.size())) { case (#ok t) t.count; case _ 0 } };
      case "bundle" { switch (Dec.bundle(doc)) { case (#ok b) b.tensors.size(); case _ 0 } };
      case "encode_f32" { // [Float32] -> tensor document (Encode.float32); the array is decoded before counting
        let xs = f32s();
        let start = Prim.performanceCounter(0);
        let n = switch (Enc.float32(xs, [xs.size()], s)) { case (#ok d) d.size(); case (#err _) 0 };
        return finish(n, Prim.performanceCounter(0) - start);
      };
      case "encode_f32_tensor" { // the general route: Elements.fromFloat32, then the heap-only Encode.tensor
        let xs = f32s();
        let start = Prim.performanceCounter(0);
        let input = { dtype = D.FLOAT32; shape = [xs.size()]; data = #bytes(El.fromFloat32(xs, s)) };
        let n = switch (Enc.tensor(input)) { case (#ok d) d.size(); case (#err _) 0 };
        return finish(n, Prim.performanceCounter(0) - start);
      };
      case "encode_f32_tensor_in" { // Elements.fromFloat32, then Encode.tensorIn (through the Region)
        let xs = f32s();
        let start = Prim.performanceCounter(0);
        let input = { dtype = D.FLOAT32; shape = [xs.size()]; data = #bytes(El.fromFloat32(xs, s)) };
        let n = switch (Enc.tensorIn(input, s)) { case (#ok d) d.size(); case (#err _) 0 };
        return finish(n, Prim.performanceCounter(0) - start);
      };
      case "candid_encode_f32" { // Motoko's own to_candid of the same [Float32]
        let xs = f32s();
        let start = Prim.performanceCounter(0);
        let n = (to_candid (xs)).size();
        return finish(n, Prim.performanceCounter(0) - start);
      };
      case _ {
        switch (Dec.tensor(doc)) {
          case (#err _) 0;
          case (#ok t) {
            switch op {
              case "f32_to_float32" count(El.toFloat32(t, s));
              case "to_float" count(El.toFloat(t, s));
              case "to_float_tables" count(El.toFloat(t, tables));
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

  /// A query as a canister would serve it: decode a bfloat16 document and sum its elements as [Float]
  /// (`motoko_query_bf16_cold` on a fresh canister, `_warm` after the same work in an update).
  public query func sumBf16(d : Blob) : async Float { sumFloats(d) };
  public func sumBf16Update(d : Blob) : async Float { sumFloats(d) };

  func sumFloats(d : Blob) : Float {
    switch (Dec.tensor(d)) {
      case (#ok t) switch (El.toFloat(t, s)) {
        case (?xs) { var acc = 0.0; for (x in xs.vals()) acc += x; acc };
        case null Prim.trap("not a float tensor");
      };
      case (#err e) Prim.trap(e.message);
    };
  };

  /// An actor call as a canister would serve it: receive a float32 tensor document, decode it to [Float32].
  public func decodeF32(d : Blob) : async Nat {
    switch (Dec.tensor(d)) {
      case (#ok t) count(El.toFloat32(t, s));
      case (#err _) 0;
    };
  };
};
