/// tensorcbor for Motoko: the main entry points, re-exported (import the modules themselves for the rest:
/// Decode, Encode, Elements, Stable, Bits, Metadata, DTypes, Errors, Types).
import Dec "Decode";
import Enc "Encode";
import D "DTypes";
import E "Errors";
import T "Types";

module {
  public type Tensor = T.Tensor;
  public type Input = T.Input;
  public type Value = T.Value;
  public type Bundle = T.Bundle;
  public type DType = D.DType;
  public type Error = E.Error;

  /// Strictly decode a tensor document (every check of SPEC.md §7.1-7.2).
  public let decodeTensor : Blob -> Dec.Result<T.Tensor> = Dec.tensor;
  /// Strictly decode a bundle document.
  public let decodeBundle : Blob -> Dec.Result<T.Bundle> = Dec.bundle;
  /// The deterministic encoding of one tensor.
  public let encodeTensor : T.Input -> Enc.Result<Blob> = Enc.tensor;
  /// The deterministic encoding of named tensors plus metadata.
  public let encodeBundle : ([(Text, T.Input)], [(Text, T.Value)]) -> Enc.Result<Blob> = Enc.bundle;
  /// A dtype row by canonical name ("float32", "bfloat16", ...).
  public let dtype : Text -> ?D.DType = D.byName;
  /// The registry name of an error code ("TRUNCATED", ...).
  public let errorName : E.Code -> Text = E.name;
};
