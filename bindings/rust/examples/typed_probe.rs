//! A command-line probe of the typed API for tests/test_binding_rust_typed.py (the Python reference is the
//! judge): reads one tensor document on stdin.
//!
//! - `widen`: the elements widened to f32, as little-endian f32 bytes on stdout.
//! - `reencode`: the elements as a typed slice, encoded again with `encode_slice` and with a `TensorWriter`
//!   filled in place; both documents must be equal, and that document goes to stdout.
//! - `error`, `error-bundle`: the tensor (bundle) decoder's error as `Display` prints it (empty when valid).
use std::io::{Read, Write};
use tensorcbor::{
    decode_bundle, decode_tensor, encode_slice, DType, Element, TensorView, TensorWriter,
};

fn reencode<T: Element>(t: &TensorView<'_>) -> Vec<u8> {
    let values: &[T] = t.as_slice().expect("typed view");
    let doc = encode_slice(&t.shape, values).expect("encode_slice");
    let copied = t.to_vec::<T>().expect("to_vec");
    assert_eq!(
        encode_slice(&t.shape, &copied).unwrap(),
        doc,
        "to_vec agrees with as_slice"
    );
    let mut w = TensorWriter::new(T::DTYPE, &t.shape).expect("TensorWriter");
    w.elements_mut::<T>()
        .expect("typed fill")
        .copy_from_slice(values);
    assert_eq!(
        w.finish().expect("finish"),
        doc,
        "TensorWriter and encode_slice agree"
    );
    doc
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    // Keep the document in an 8-aligned buffer, as the README advises.
    let mut words = vec![0u64; input.len().div_ceil(8)];
    let buf = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..input.len()];
    buf.copy_from_slice(&input);
    let out = match mode.as_str() {
        "error" => decode_tensor(buf)
            .err()
            .map_or_else(String::new, |e| e.to_string())
            .into_bytes(),
        "error-bundle" => decode_bundle(buf)
            .err()
            .map_or_else(String::new, |e| e.to_string())
            .into_bytes(),
        "widen" => {
            let t = decode_tensor(buf).expect("valid document");
            let mut values = vec![0f32; t.widen_f32().expect("widenable dtype").len()];
            t.fill_f32(&mut values).unwrap(); // through `fold`
                                              // Element by element through `next` must give the same bits.
            let mut one_by_one = t.widen_f32().unwrap();
            let bits: Vec<u32> = std::iter::from_fn(|| one_by_one.next())
                .map(f32::to_bits)
                .collect();
            assert_eq!(bits, values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        "reencode" => {
            let t = decode_tensor(buf).expect("valid document");
            match t.dtype {
                DType::Float32 => reencode::<f32>(&t),
                DType::Float64 => reencode::<f64>(&t),
                DType::Int8 => reencode::<i8>(&t),
                DType::Int16 => reencode::<i16>(&t),
                DType::Int32 => reencode::<i32>(&t),
                DType::Int64 => reencode::<i64>(&t),
                DType::Uint8 => reencode::<u8>(&t),
                DType::Uint16 => reencode::<u16>(&t),
                DType::Uint32 => reencode::<u32>(&t),
                DType::Uint64 => reencode::<u64>(&t),
                DType::Bool => reencode::<bool>(&t),
                DType::Complex64 => reencode::<[f32; 2]>(&t),
                DType::Complex128 => reencode::<[f64; 2]>(&t),
                other => panic!("no typed view for {other}"),
            }
        }
        _ => panic!("usage: typed_probe widen|reencode|error|error-bundle < document"),
    };
    std::io::stdout().write_all(&out).unwrap();
}
