//! `tensorcbor::candle` against candle's own safetensors loader: the same element bytes written as a
//! safetensors file and as a tensorcbor bundle must give identical candle tensors, for every dtype candle has.
#![cfg(feature = "candle")]

use candle_core::{DType as CDType, Device, Tensor};
use candle_nn::{Module, VarBuilder};
use safetensors::tensor::{serialize, Dtype as StDtype, TensorView as StView};
use tensorcbor::candle::{var_builder, Backend, LoadError};
use tensorcbor::{encode_bundle, DType, ErrorCode, TensorView};

/// A small deterministic generator (xorshift) so the test needs no `rand`.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A finite value in [-4, 4).
    fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0
    }
}

/// Little-endian element bytes of `n` valid elements of `dtype`.
fn elements(dtype: DType, n: usize, g: &mut Gen) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..n {
        let x = g.float();
        match dtype {
            DType::Float32 => out.extend((x as f32).to_le_bytes()),
            DType::Float64 => out.extend(x.to_le_bytes()),
            DType::Float16 => out.extend(half::f16::from_f64(x).to_le_bytes()),
            DType::Bfloat16 => out.extend(half::bf16::from_f64(x).to_le_bytes()),
            DType::Uint8 => out.push(g.next() as u8),
            DType::Uint16 => out.extend((g.next() as u16).to_le_bytes()),
            DType::Uint32 => out.extend((g.next() as u32).to_le_bytes()),
            DType::Int16 => out.extend((g.next() as i16).to_le_bytes()),
            DType::Int32 => out.extend((g.next() as i32).to_le_bytes()),
            DType::Int64 => out.extend((g.next() as i64).to_le_bytes()),
            // Finite e4m3fn values: any byte but the two NaNs (0x7f, 0xff).
            DType::Float8E4m3fn => out.push(g.next() as u8 & 0x7e),
            DType::Bool => out.push(g.next() as u8 & 1),
            DType::Int8 => out.push(g.next() as u8),
            _ => unreachable!(),
        }
    }
    out
}

fn st_dtype(dtype: DType) -> StDtype {
    match dtype {
        DType::Float32 => StDtype::F32,
        DType::Float64 => StDtype::F64,
        DType::Float16 => StDtype::F16,
        DType::Bfloat16 => StDtype::BF16,
        DType::Uint8 => StDtype::U8,
        DType::Uint16 => StDtype::U16,
        DType::Uint32 => StDtype::U32,
        DType::Int16 => StDtype::I16,
        DType::Int32 => StDtype::I32,
        DType::Int64 => StDtype::I64,
        DType::Float8E4m3fn => StDtype::F8_E4M3,
        _ => unreachable!(),
    }
}

/// Every dtype the backend maps, with a shape each (a scalar, a vector, a matrix, rank 3).
const CASES: [(DType, &str, &[u64]); 11] = [
    (DType::Float32, "encoder.w", &[3, 5]),
    (DType::Float16, "h.f16", &[7]),
    (DType::Bfloat16, "h.bf16", &[2, 3, 4]),
    (DType::Float64, "d", &[]),
    (DType::Uint8, "bytes", &[9]),
    (DType::Uint16, "u16", &[4, 2]),
    (DType::Uint32, "ids", &[6]),
    (DType::Int16, "i16", &[3, 1]),
    (DType::Int32, "i32", &[0, 4]),
    (DType::Int64, "positions", &[1, 8]),
    (DType::Float8E4m3fn, "f8", &[16]),
];

/// The same tensors as a safetensors file and as a tensorcbor bundle.
fn both(cases: &[(DType, &str, &[u64])]) -> (Vec<u8>, Vec<u8>) {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let data: Vec<Vec<u8>> = cases
        .iter()
        .map(|(d, _, s)| elements(*d, s.iter().product::<u64>() as usize, &mut g))
        .collect();
    let st: Vec<(&str, StView)> = cases
        .iter()
        .zip(&data)
        .map(|((d, n, s), b)| {
            let shape = s.iter().map(|&x| x as usize).collect();
            (*n, StView::new(st_dtype(*d), shape, b).unwrap())
        })
        .collect();
    let st = serialize(st, None).unwrap();
    let tcb: Vec<(&str, TensorView)> = cases
        .iter()
        .zip(&data)
        .map(|((d, n, s), b)| (*n, TensorView::new(*d, s, b)))
        .collect();
    (st, encode_bundle(&tcb, &[]).unwrap())
}

/// Bit-exact equality of dtype, shape and elements.
fn assert_identical(a: &Tensor, b: &Tensor, name: &str) {
    assert_eq!(a.dtype(), b.dtype(), "{name}: dtype");
    assert_eq!(a.shape(), b.shape(), "{name}: shape");
    let (a, b) = (a.flatten_all().unwrap(), b.flatten_all().unwrap());
    let bits = |t: &Tensor| -> Vec<u64> {
        match t.dtype() {
            CDType::U8 => t
                .to_vec1::<u8>()
                .unwrap()
                .into_iter()
                .map(u64::from)
                .collect(),
            CDType::U32 => t
                .to_vec1::<u32>()
                .unwrap()
                .into_iter()
                .map(u64::from)
                .collect(),
            CDType::I16 => t
                .to_vec1::<i16>()
                .unwrap()
                .into_iter()
                .map(|x| x as u64)
                .collect(),
            CDType::I32 => t
                .to_vec1::<i32>()
                .unwrap()
                .into_iter()
                .map(|x| x as u64)
                .collect(),
            CDType::I64 => t
                .to_vec1::<i64>()
                .unwrap()
                .into_iter()
                .map(|x| x as u64)
                .collect(),
            CDType::F16 => t
                .to_vec1::<half::f16>()
                .unwrap()
                .into_iter()
                .map(|x| x.to_bits().into())
                .collect(),
            CDType::BF16 => t
                .to_vec1::<half::bf16>()
                .unwrap()
                .into_iter()
                .map(|x| x.to_bits().into())
                .collect(),
            CDType::F32 => t
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(|x| x.to_bits().into())
                .collect(),
            CDType::F64 => t
                .to_vec1::<f64>()
                .unwrap()
                .into_iter()
                .map(f64::to_bits)
                .collect(),
            // F8E4M3 -> F32 is exact.
            CDType::F8E4M3 => t
                .to_dtype(CDType::F32)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(|x| x.to_bits().into())
                .collect(),
            other => panic!("{name}: unexpected dtype {other:?}"),
        }
    };
    assert_eq!(bits(&a), bits(&b), "{name}: elements");
}

#[test]
fn every_candle_dtype_loads_as_candle_loads_safetensors() {
    let (st, tcb) = both(&CASES);
    let dev = Device::Cpu;
    let reference = candle_core::safetensors::load_buffer(&st, &dev).unwrap();
    let backend = Backend::new(&tcb).unwrap();
    for (dtype, name, shape) in CASES {
        let ours = backend.load(name, &dev).unwrap();
        assert_identical(&ours, &reference[name], name);
        let want = if dtype == DType::Uint16 {
            CDType::U32
        } else {
            tensorcbor::candle::candle_dtype(dtype).unwrap()
        };
        assert_eq!(ours.dtype(), want, "{name}");
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        assert_eq!(ours.dims(), &dims[..]);
    }
}

#[test]
fn var_builders_agree_including_dtype_conversion() {
    let (st, tcb) = both(&CASES);
    let dev = Device::Cpu;
    for target in [CDType::F32, CDType::F16, CDType::BF16, CDType::F64] {
        let theirs = VarBuilder::from_slice_safetensors(&st, target, &dev).unwrap();
        let ours = var_builder(&tcb, target, &dev).unwrap();
        for (dtype, name, shape) in CASES {
            if !matches!(
                dtype,
                DType::Float32 | DType::Float16 | DType::Bfloat16 | DType::Float64
            ) {
                continue;
            }
            let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let a = ours.get(dims.clone(), name).unwrap();
            let b = theirs.get(dims, name).unwrap();
            assert_identical(&a, &b, name);
            assert!(ours.contains_tensor(name));
        }
    }
}

#[test]
fn a_linear_layer_built_from_either_gives_the_same_output() {
    let cases: [(DType, &str, &[u64]); 2] = [
        (DType::Float32, "fc.weight", &[4, 6]),
        (DType::Float32, "fc.bias", &[4]),
    ];
    let (st, tcb) = both(&cases);
    let dev = Device::Cpu;
    let x = Tensor::arange(0f32, 12.0, &dev)
        .unwrap()
        .reshape((2, 6))
        .unwrap();
    let ours =
        candle_nn::linear(6, 4, var_builder(&tcb, CDType::F32, &dev).unwrap().pp("fc")).unwrap();
    let theirs = candle_nn::linear(
        6,
        4,
        VarBuilder::from_slice_safetensors(&st, CDType::F32, &dev)
            .unwrap()
            .pp("fc"),
    )
    .unwrap();
    assert_identical(
        &ours.forward(&x).unwrap(),
        &theirs.forward(&x).unwrap(),
        "fc",
    );
}

/// The error without the backtrace candle attaches when RUST_BACKTRACE is set.
fn strip(e: candle_core::Error) -> candle_core::Error {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => strip(*inner),
        e => e,
    }
}

#[test]
fn errors_name_the_tensor() {
    let (st, tcb) = both(&CASES);
    let dev = Device::Cpu;
    let ours = var_builder(&tcb, CDType::F32, &dev).unwrap();
    let theirs = VarBuilder::from_slice_safetensors(&st, CDType::F32, &dev).unwrap();

    // A missing tensor: candle's CannotFindTensor, as the safetensors backend reports it.
    let e = strip(ours.get(3, "no.such").unwrap_err());
    assert!(
        matches!(e, candle_core::Error::CannotFindTensor { ref path } if path == "no.such"),
        "{e:?}"
    );
    assert!(!ours.contains_tensor("no.such"));
    assert!(ours.get_unchecked("no.such").is_err());

    // A wrong shape: the same error and message as candle's safetensors backend.
    let a = strip(ours.get((5, 3), "encoder.w").unwrap_err());
    let b = strip(theirs.get((5, 3), "encoder.w").unwrap_err());
    assert_eq!(a.to_string(), b.to_string());
    assert!(
        a.to_string().contains("shape mismatch for encoder.w"),
        "{a}"
    );

    // A dtype candle has no storage for.
    let cases: [(DType, &str, &[u64]); 2] = [(DType::Bool, "mask", &[3]), (DType::Int8, "q", &[2])];
    let mut g = Gen(7);
    let data: Vec<Vec<u8>> = cases
        .iter()
        .map(|(d, _, s)| elements(*d, s[0] as usize, &mut g))
        .collect();
    let views: Vec<(&str, TensorView)> = cases
        .iter()
        .zip(&data)
        .map(|((d, n, s), b)| (*n, TensorView::new(*d, s, b)))
        .collect();
    let doc = encode_bundle(&views, &[]).unwrap();
    let vb = var_builder(&doc, CDType::F32, &dev).unwrap();
    for (dtype, name, _) in cases {
        let e = strip(vb.get(3, name).unwrap_err());
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{name:?}")) && msg.contains(dtype.name()),
            "{msg}"
        );
        // candle keeps a wrapped error as `Display` only: the message is LoadError's.
        let want = LoadError::UnsupportedDtype {
            name: name.into(),
            dtype: dtype.name(),
        }
        .to_string();
        assert!(msg.contains(&want), "{msg}");
    }

    // A damaged document: the decoder's registry code, before any tensor is read.
    let mut bad = tcb.clone();
    bad[0] ^= 0xff;
    let e = strip(
        var_builder(&bad, CDType::F32, &dev)
            .err()
            .expect("rejected"),
    );
    assert!(
        e.to_string().starts_with(ErrorCode::BadMagic.as_str()),
        "{e}"
    );
    assert_eq!(
        Backend::new(&tcb[..tcb.len() - 1]).unwrap_err().code(),
        ErrorCode::Truncated
    );
}
