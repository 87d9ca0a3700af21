/// The values the codec hands out and takes in.
import D "DTypes";

module {
  /// A metadata value (SPEC.md §6). Floats are carried as binary64 bit patterns so that decoding and
  /// re-encoding never depend on float arithmetic (`Bits.toFloat` / `Bits.ofFloat` convert).
  public type Value = {
    #int : Int; // -2^64 .. 2^64-1
    #float : Nat64; // binary64 bits
    #text : Text;
    #bytes : Blob;
    #bool : Bool;
    #null_;
    #array : [Value];
    #map : [(Text, Value)];
  };

  /// A decoded tensor: a view into `source` (no element bytes are copied). `dataOffset` and `dataLength`
  /// locate the element bytes in the document (for `string`, the encoded string array); `strings` holds
  /// the elements of a `string` tensor.
  public type Tensor = {
    dtype : D.DType;
    shape : [Nat];
    count : Nat;
    source : Blob;
    dataOffset : Nat;
    dataLength : Nat;
    strings : [Text];
  };

  /// Element data for encoding: the wire bytes (little endian, sub-byte types packed) or text elements.
  public type Data = { #bytes : Blob; #strings : [Text] };

  /// A tensor to encode.
  public type Input = { dtype : D.DType; shape : [Nat]; data : Data };

  /// A decoded bundle: metadata (keys in wire order) and named tensors in wire order.
  public type Bundle = { metadata : [(Text, Value)]; tensors : [(Text, Tensor)] };
};
