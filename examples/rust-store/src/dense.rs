//! y = W x + b in float32, on little-endian element bytes.
//!
//! `plan` checks everything (weight and bias shapes, x, the size of the reply) before any weight byte is
//! read, in the order the Motoko canister checks them, so both answer a hostile input the same way.

use tensorcbor::{encode_tensor_head, DType, TensorView};

/// What `forward` computes: `batch` rows of y, each `out` float32 values.
#[derive(Debug)]
pub struct Plan {
    pub out: usize,
    pub inp: usize,
    pub batch: usize,
    /// The y document's head (its element bytes follow).
    pub y_head: Vec<u8>,
    /// Length of the y document.
    pub y_size: u64,
}

/// Checks `x` against a weight of shape [out, in] (already checked: rank 2, non-zero dimensions, and the
/// bias) and plans y. Dimensions are compared as u64: a dimension past `usize::MAX` never matches.
pub fn plan(w_shape: &[u64], x: &TensorView<'_>) -> Result<Plan, String> {
    let (out, inp) = (w_shape[0], w_shape[1]);
    if x.dtype != DType::Float32 {
        return Err(format!("x is {}; expected float32", x.dtype.name()));
    }
    let batch = match x.shape.as_slice() {
        [n] if *n == inp => 1,
        [m, n] if *n == inp => *m,
        s => {
            return Err(format!(
                "x has shape {s:?}; expected [{inp}] or [batch, {inp}]"
            ))
        }
    };
    let y_shape: Vec<u64> = if x.shape.len() == 1 {
        vec![out]
    } else {
        vec![batch, out]
    };
    // x carries batch * in elements, so batch * out fits when out is a stored dimension (both < 2^53).
    let y_head = encode_tensor_head(DType::Float32, &y_shape).map_err(|e| format!("y: {e}"))?;
    let y_size = (y_head.len() as u64).saturating_add(batch.saturating_mul(out).saturating_mul(4));
    let narrow =
        |v: u64| usize::try_from(v).map_err(|_| format!("{v} exceeds this canister's memory"));
    Ok(Plan {
        out: narrow(out)?,
        inp: narrow(inp)?,
        batch: narrow(batch)?,
        y_head,
        y_size,
    })
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The y document for a `plan`: `w` the [out, in] weight bytes, `b` the [out] bias bytes, `xd` x's bytes.
/// Products are summed in index order.
pub fn forward(p: &Plan, w: &[u8], b: Option<&[u8]>, xd: &[u8]) -> Vec<u8> {
    let xs = f32s(xd);
    let bias = b.map(f32s);
    let mut y = Vec::with_capacity(p.y_size as usize);
    y.extend_from_slice(&p.y_head);
    for xrow in xs.chunks_exact(p.inp).take(p.batch) {
        for (o, wrow) in w.chunks_exact(p.inp * 4).enumerate().take(p.out) {
            let mut acc = 0f32;
            for (wc, xv) in wrow.chunks_exact(4).zip(xrow) {
                acc += f32::from_le_bytes([wc[0], wc[1], wc[2], wc[3]]) * xv;
            }
            if let Some(bs) = &bias {
                acc += bs[o];
            }
            y.extend_from_slice(&acc.to_le_bytes());
        }
    }
    y
}
