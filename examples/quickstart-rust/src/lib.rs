//! A tensorcbor canister in one file: `sum` and `scale` take a tensor document (a Candid `blob`) and answer
//! `Ok(..)` or a typed `Err(record { code; offset; message })`; malformed input never traps.
use serde_bytes::ByteBuf;
use tensorcbor::candid::Error;
use tensorcbor::{decode_tensor, DType, TensorWriter};

/// The sum of the elements, left to right in float64: float32, float64, float16, bfloat16 and the float8
/// types (other dtypes: `DTYPE_MISMATCH`). An empty tensor sums to 0.
#[ic_cdk::query]
fn sum(doc: ByteBuf) -> Result<f64, Error> {
    let t = decode_tensor(&doc)?; // BAD_MAGIC, SHAPE_MISMATCH, ... with the byte offset
    let total = if t.dtype == DType::Float64 {
        t.to_vec::<f64>()?.into_iter().reduce(|a, b| a + b)
    } else {
        t.widen_f32()?.map(f64::from).reduce(|a, b| a + b)
    };
    Ok(total.unwrap_or(0.0))
}

/// A float32 tensor times `factor`, as a new float32 tensor document of the same shape.
#[ic_cdk::query]
fn scale(doc: ByteBuf, factor: f32) -> Result<ByteBuf, Error> {
    let t = decode_tensor(&doc)?;
    let x: &[f32] = t.as_slice()?; // zero-copy view of the blob; DTYPE_MISMATCH unless float32
    let mut y = TensorWriter::new(DType::Float32, &t.shape)?;
    for (out, v) in y.elements_mut::<f32>()?.iter_mut().zip(x) {
        *out = v * factor; // written in place: the document is not copied again
    }
    Ok(ByteBuf::from(y.finish()?))
}

ic_cdk::export_candid!();
