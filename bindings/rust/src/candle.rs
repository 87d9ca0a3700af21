//! candle reads tensorcbor (feature `candle`): a [`candle_nn::var_builder::SimpleBackend`] over a decoded
//! bundle, the counterpart of `VarBuilder::from_mmaped_safetensors` / `from_slice_safetensors`.
//!
//! ```no_run
//! # fn main() -> candle_core::Result<()> {
//! let doc = std::fs::read("model.tcb")?;
//! let vb = tensorcbor::candle::var_builder(&doc, candle_core::DType::F32, &candle_core::Device::Cpu)?;
//! let w = vb.get((384, 384), "encoder.layer.0.attention.self.query.weight")?;
//! # Ok(()) }
//! ```
//!
//! Copies: the bundle is decoded once, strictly ([`crate::decode_bundle`]), into views of the caller's buffer;
//! each tensor is then built by `candle_core::Tensor::from_raw_buffer`, the function candle's own safetensors
//! loader ends in, so a tensor costs the one copy into candle's `CpuStorage` that candle requires (plus
//! `to_dtype` when the builder asks for another dtype, as for safetensors). `uint16` is widened to `U32`, as
//! candle's safetensors loader does. Element bytes are little endian on the wire, and candle reads them in
//! native order: the module does not build for big-endian targets.
//!
//! Errors are `candle_core::Error`s, as every `VarBuilder` backend returns; each names the tensor: a missing
//! tensor is candle's `CannotFindTensor`, a wrong shape candle's `UnexpectedShape` ("shape mismatch for
//! NAME"), a dtype candle has no storage for (or a dimension that does not fit `usize`) a wrapped
//! [`LoadError`]; a document that fails decoding is a wrapped [`crate::Error`] with its registry code.

#[cfg(target_endian = "big")]
compile_error!(
    "tensorcbor::candle hands little-endian element bytes to candle, which reads native order"
);

use crate::decode::{decode_bundle, BundleView, Elements, TensorView};
use crate::dtype::DType;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use candle_core::{DType as CDType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use std::collections::HashMap;

/// Why a tensor of a valid bundle cannot become a candle tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// candle has no dtype for this tensorcbor dtype (e.g. `bool`, `int8`, `complex64`, packed sub-byte types,
    /// `string`).
    UnsupportedDtype { name: String, dtype: &'static str },
    /// A dimension does not fit `usize` on this target (wasm32: 2^32 - 1).
    DimensionTooLarge { name: String, dim: u64 },
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::UnsupportedDtype { name, dtype } => write!(
                f,
                "tensor {name:?}: candle has no dtype for tensorcbor {dtype}; convert it first \
                 (candle reads float32, float16, bfloat16, float64, uint8, uint16 (as u32), uint32, int16, \
                 int32, int64, float8_e4m3fn)"
            ),
            LoadError::DimensionTooLarge { name, dim } => write!(
                f,
                "tensor {name:?}: dimension {dim} does not fit this target's usize"
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// The candle dtype whose storage holds this tensorcbor dtype's wire bytes as they are.
pub fn candle_dtype(dtype: DType) -> Option<CDType> {
    Some(match dtype {
        DType::Float32 => CDType::F32,
        DType::Float16 => CDType::F16,
        DType::Bfloat16 => CDType::BF16,
        DType::Float64 => CDType::F64,
        DType::Uint8 => CDType::U8,
        DType::Uint32 => CDType::U32,
        DType::Int16 => CDType::I16,
        DType::Int32 => CDType::I32,
        DType::Int64 => CDType::I64,
        DType::Float8E4m3fn => CDType::F8E4M3,
        _ => return None,
    })
}

/// The tensors of a decoded bundle, by name; element bytes stay in the caller's buffer until asked for.
#[derive(Debug)]
pub struct Backend<'a> {
    tensors: HashMap<&'a str, TensorView<'a>>,
}

impl<'a> Backend<'a> {
    /// Decode `doc` strictly (every check of SPEC.md §7) and index its tensors.
    pub fn new(doc: &'a [u8]) -> Result<Self, crate::Error> {
        Ok(Self::from_bundle(decode_bundle(doc)?))
    }

    /// Index an already decoded bundle.
    pub fn from_bundle(bundle: BundleView<'a>) -> Self {
        Backend {
            tensors: bundle.tensors.into_iter().collect(),
        }
    }

    /// The tensor called `name`, in its own dtype (one copy into candle's storage).
    pub fn load(&self, name: &str, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| candle_core::Error::CannotFindTensor { path: name.into() }.bt())?;
        tensor(name, t, dev)
    }
}

/// One decoded tensor (called `name` in errors) as a candle tensor in its own dtype: the one copy into
/// candle's storage. For a caller that holds views one at a time, as a `StreamDecoder` hands them out.
pub fn tensor(name: &str, t: &TensorView<'_>, dev: &Device) -> candle_core::Result<Tensor> {
    let unsupported = || {
        candle_core::Error::wrap(LoadError::UnsupportedDtype {
            name: name.into(),
            dtype: t.dtype.name(),
        })
    };
    let shape = t
        .shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                candle_core::Error::wrap(LoadError::DimensionTooLarge {
                    name: name.into(),
                    dim: d,
                })
            })
        })
        .collect::<candle_core::Result<Vec<usize>>>()?;
    let Elements::Bytes(data) = &t.elements else {
        return Err(unsupported());
    };
    let tensor = if t.dtype == DType::Uint16 {
        let wide: Vec<u32> = data
            .chunks_exact(2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
            .collect();
        Tensor::from_vec(wide, shape, dev)
    } else {
        let dtype = candle_dtype(t.dtype).ok_or_else(unsupported)?;
        Tensor::from_raw_buffer(data, dtype, &shape, dev)
    };
    tensor.map_err(|e| e.context(format!("loading tensor {name:?}")))
}

impl SimpleBackend for Backend<'_> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: CDType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.load(name, dev)?;
        if tensor.shape() != &s {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: tensor.shape().clone(),
            }
            .bt());
        }
        tensor.to_dtype(dtype)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: CDType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.load(name, dev)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// A `VarBuilder` over the bundle document `doc` (decoded strictly first), like
/// `VarBuilder::from_slice_safetensors`. A decoding failure is a wrapped [`crate::Error`].
pub fn var_builder<'a>(
    doc: &'a [u8],
    dtype: CDType,
    dev: &Device,
) -> candle_core::Result<VarBuilder<'a>> {
    let backend = Backend::new(doc).map_err(candle_core::Error::wrap)?;
    Ok(VarBuilder::from_backend(
        Box::new(backend),
        dtype,
        dev.clone(),
    ))
}
