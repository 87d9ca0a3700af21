//! y = W x + b in float32, on little-endian element bytes.

use tensorcbor::{encode_tensor, DType, TensorView};

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `w` of shape [out, in], optional `b` of shape [out], `x` float32 of shape [in] or [batch, in];
/// returns y as a float32 tensor document of shape [out] or [batch, out]. Products are summed in index order.
pub fn forward(
    w_shape: &[u64],
    w: &[u8],
    b: Option<(&[u64], &[u8])>,
    x: &TensorView<'_>,
) -> Result<Vec<u8>, String> {
    let (out, inp) = (w_shape[0] as usize, w_shape[1] as usize);
    if inp == 0 || out == 0 {
        return Err(format!(
            "the weight has shape {w_shape:?}; both dimensions must be non-zero"
        ));
    }
    let xd = match (x.dtype, x.data()) {
        (DType::Float32, Some(d)) => d,
        _ => return Err(format!("x is {}; expected float32", x.dtype.name())),
    };
    let batch = match x.shape.as_slice() {
        [n] if *n as usize == inp => 1,
        [m, n] if *n as usize == inp => *m as usize,
        s => {
            return Err(format!(
                "x has shape {s:?}; expected [{inp}] or [batch, {inp}]"
            ))
        }
    };
    if let Some((s, _)) = b {
        if s != [out as u64] {
            return Err(format!("the bias has shape {s:?}; expected [{out}]"));
        }
    }
    let xs = f32s(xd);
    let bias = b.map(|(_, d)| f32s(d));
    let mut y = Vec::with_capacity(batch * out * 4);
    for xrow in xs.chunks_exact(inp).take(batch) {
        for (o, wrow) in w.chunks_exact(inp * 4).enumerate().take(out) {
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
    let shape: Vec<u64> = if x.shape.len() == 1 {
        vec![out as u64]
    } else {
        vec![batch as u64, out as u64]
    };
    encode_tensor(DType::Float32, &shape, &y).map_err(|e| format!("encoding y: {e}"))
}
