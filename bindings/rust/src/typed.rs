//! Typed element access: zero-copy slices of the native types, widening of the small floats to `f32`, and
//! encoders from typed slices (one copy) or into a document's own element bytes (none).
//!
//! The format puts element bytes at an offset that is a multiple of the dtype's alignment (SPEC.md §4.3), so a
//! document held in an 8-aligned buffer can be read as `&[f32]`, `&[i64]`, ... in place. The casts are
//! `bytemuck`'s checked ones: a slice that cannot be borrowed (an unaligned buffer, another dtype, a big-endian
//! machine) is a [`ViewError`], never a panic; [`TensorView::to_vec`] and [`TensorView::widen_f32`] work on any
//! buffer.

use crate::cbor::f16_to_f64;
use crate::decode::{check_tensor_elements, Elements, TensorView};
use crate::dtype::DType;
use crate::encode::{encode_tensor, tensor_prefix};
use crate::error::{Detail, Error, ErrorCode};
use alloc::vec::Vec;
use bytemuck::PodCastError;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type whose in-memory layout on a little-endian machine is the wire layout of one dtype:
/// `f32` float32, `f64` float64, `i8`..`i64` int8..int64, `u8`..`u64` uint8..uint64, `bool` bool (the decoder
/// has checked every byte is 0 or 1), `[f32; 2]` complex64 and `[f64; 2]` complex128 (real, imaginary).
pub trait Element: sealed::Sealed + Copy + 'static {
    /// The dtype this type stands for.
    const DTYPE: DType;
    /// Bytes of one scalar lane (the unit of byte order: 4 for `[f32; 2]`).
    #[doc(hidden)]
    const LANE: usize;
    #[doc(hidden)]
    fn cast(bytes: &[u8]) -> Result<&[Self], PodCastError>;
    #[doc(hidden)]
    fn cast_mut(bytes: &mut [u8]) -> Result<&mut [Self], PodCastError>;
    #[doc(hidden)]
    fn bytes(values: &[Self]) -> &[u8];
    /// One element from its little-endian bytes, at any alignment.
    #[doc(hidden)]
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! pod_element {
    ($($t:ty => $d:ident, $lane:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            const LANE: usize = $lane;
            fn cast(bytes: &[u8]) -> Result<&[Self], PodCastError> {
                bytemuck::try_cast_slice(bytes)
            }
            fn cast_mut(bytes: &mut [u8]) -> Result<&mut [Self], PodCastError> {
                bytemuck::try_cast_slice_mut(bytes)
            }
            fn bytes(values: &[Self]) -> &[u8] {
                bytemuck::cast_slice(values)
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut v: Self = bytemuck::pod_read_unaligned(bytes);
                if cfg!(target_endian = "big") {
                    for lane in bytemuck::bytes_of_mut(&mut v).chunks_exact_mut($lane) {
                        lane.reverse();
                    }
                }
                v
            }
        }
    )*};
}

pod_element! {
    f32 => Float32, 4;
    f64 => Float64, 8;
    i8 => Int8, 1;
    i16 => Int16, 2;
    i32 => Int32, 4;
    i64 => Int64, 8;
    u8 => Uint8, 1;
    u16 => Uint16, 2;
    u32 => Uint32, 4;
    u64 => Uint64, 8;
    [f32; 2] => Complex64, 4;
    [f64; 2] => Complex128, 8;
}

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    const LANE: usize = 1;
    fn cast(bytes: &[u8]) -> Result<&[Self], PodCastError> {
        bytemuck::checked::try_cast_slice(bytes).map_err(|_| PodCastError::AlignmentMismatch)
    }
    fn cast_mut(bytes: &mut [u8]) -> Result<&mut [Self], PodCastError> {
        bytemuck::checked::try_cast_slice_mut(bytes).map_err(|_| PodCastError::AlignmentMismatch)
    }
    fn bytes(values: &[Self]) -> &[u8] {
        bytemuck::cast_slice(values)
    }
    fn read_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

/// Why typed element access was refused. [`ViewError::code`] is a stable name; `Display` says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViewError {
    /// The tensor's dtype is not the one the element type stands for (or has no such view).
    DTypeMismatch { wanted: DType, found: DType },
    /// The element bytes do not start at a multiple of the type's alignment in memory: the document's buffer
    /// does not start at an address aligned to 8 (its own offsets are aligned).
    Unaligned { align: usize },
    /// A big-endian machine cannot view little-endian element bytes in place.
    BigEndian,
    /// A fill target's length is not the tensor's element count.
    LengthMismatch { wanted: u64, found: usize },
}

impl ViewError {
    /// `DTYPE_MISMATCH`, `UNALIGNED`, `BIG_ENDIAN` or `LENGTH_MISMATCH`.
    pub const fn code(&self) -> &'static str {
        match self {
            ViewError::DTypeMismatch { .. } => "DTYPE_MISMATCH",
            ViewError::Unaligned { .. } => "UNALIGNED",
            ViewError::BigEndian => "BIG_ENDIAN",
            ViewError::LengthMismatch { .. } => "LENGTH_MISMATCH",
        }
    }
}

impl core::fmt::Display for ViewError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())?;
        match self {
            ViewError::DTypeMismatch { wanted, found } => write!(
                f,
                ": the tensor is {found}, not {wanted}; check `dtype` before asking for a typed view"
            ),
            ViewError::Unaligned { align } => write!(
                f,
                ": the element bytes are not at a multiple of {align} in memory; keep the document in an \
                 8-aligned buffer, or copy with to_vec"
            ),
            ViewError::BigEndian => f.write_str(
                ": this machine is big-endian and the elements are little-endian; copy with to_vec",
            ),
            ViewError::LengthMismatch { wanted, found } => write!(
                f,
                ": the tensor has {wanted} elements, the output slice {found}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ViewError {}

/// A refused cast as a [`ViewError`]: alignment, or (only for a hand-built view whose byte length is not whole
/// elements) the element count against the bytes.
fn view_error(e: PodCastError, align: usize, wanted: u64, bytes: usize, size: usize) -> ViewError {
    match e {
        PodCastError::TargetAlignmentGreaterAndInputNotAligned
        | PodCastError::AlignmentMismatch => ViewError::Unaligned { align },
        _ => ViewError::LengthMismatch {
            wanted,
            found: bytes / size,
        },
    }
}

impl<'a> TensorView<'a> {
    /// The element bytes of a numeric tensor of dtype `T::DTYPE`.
    fn typed_bytes<T: Element>(&self) -> Result<&'a [u8], ViewError> {
        match self.elements {
            Elements::Bytes(b) if self.dtype == T::DTYPE => Ok(b),
            _ => Err(ViewError::DTypeMismatch {
                wanted: T::DTYPE,
                found: self.dtype,
            }),
        }
    }

    /// The elements as a slice of `T` borrowed from the document, without copying: `t.as_slice::<f32>()` for a
    /// float32 tensor. Fails (never panics) when the dtype is not `T::DTYPE`, when the buffer's alignment does
    /// not allow the view, or on a big-endian machine; [`to_vec`](Self::to_vec) then copies.
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T], ViewError> {
        let bytes = self.typed_bytes::<T>()?;
        if cfg!(target_endian = "big") && T::LANE > 1 {
            return Err(ViewError::BigEndian);
        }
        T::cast(bytes).map_err(|e| {
            let size = core::mem::size_of::<T>();
            view_error(
                e,
                core::mem::align_of::<T>(),
                self.element_count(),
                bytes.len(),
                size,
            )
        })
    }

    /// The elements copied into a `Vec<T>` from a buffer of any alignment (little-endian decoding).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, ViewError> {
        let bytes = self.typed_bytes::<T>()?;
        let size = core::mem::size_of::<T>();
        if bytes.len() % size != 0 {
            return Err(ViewError::LengthMismatch {
                wanted: self.element_count(),
                found: bytes.len() / size,
            });
        }
        Ok(bytes.chunks_exact(size).map(T::read_le).collect())
    }

    /// The elements widened exactly to `f32`, one by one, from a buffer of any alignment: float32, float16,
    /// bfloat16, every float8 type, and the packed float6/float4 types. NaNs stay NaNs (their payload is not
    /// kept for the 8-bit and smaller types, which have none to speak of).
    pub fn widen_f32(&self) -> Result<WidenF32<'a>, ViewError> {
        let Some(format) = Format::of(self.dtype) else {
            return Err(ViewError::DTypeMismatch {
                wanted: DType::Float32,
                found: self.dtype,
            });
        };
        let data = self.data().unwrap_or(&[]);
        Ok(WidenF32 {
            data,
            format,
            next: 0,
            end: self.element_count() as usize,
        })
    }

    /// [`widen_f32`](Self::widen_f32) into `out`, whose length must be the element count.
    pub fn fill_f32(&self, out: &mut [f32]) -> Result<(), ViewError> {
        let values = self.widen_f32()?;
        if values.len() != out.len() {
            return Err(ViewError::LengthMismatch {
                wanted: self.element_count(),
                found: out.len(),
            });
        }
        // Through `fold`: one tight loop per format.
        values.fold(0usize, |i, v| {
            if let Some(slot) = out.get_mut(i) {
                *slot = v;
            }
            i + 1
        });
        Ok(())
    }
}

/// The small float formats `widen_f32` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    F32,
    F16,
    Bf16,
    /// A minifloat of `bits` (8, 6 or 4) bits: exponent and mantissa widths, bias, and its special values.
    Mini {
        bits: u32,
        exp: u32,
        man: u32,
        bias: i32,
        special: Special,
    },
    /// float8_e8m0fnu: an unsigned power of two 2^(e - 127), 0xff NaN.
    E8m0,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// IEEE-like: the top exponent holds infinities (mantissa 0) and NaNs.
    Ieee,
    /// `fn`: no infinities; exponent and mantissa all ones is NaN.
    Fn,
    /// `fnuz`: no infinities, no negative zero; the sign bit alone is NaN.
    Fnuz,
    /// Finite only (float6, float4): no infinities, no NaN.
    Finite,
}

impl Format {
    fn of(dtype: DType) -> Option<Format> {
        let mini = |bits, exp, man, bias, special| {
            Some(Format::Mini {
                bits,
                exp,
                man,
                bias,
                special,
            })
        };
        match dtype {
            DType::Float32 => Some(Format::F32),
            DType::Float16 => Some(Format::F16),
            DType::Bfloat16 => Some(Format::Bf16),
            DType::Float8E4m3fn => mini(8, 4, 3, 7, Special::Fn),
            DType::Float8E4m3fnuz => mini(8, 4, 3, 8, Special::Fnuz),
            DType::Float8E5m2 => mini(8, 5, 2, 15, Special::Ieee),
            DType::Float8E5m2fnuz => mini(8, 5, 2, 16, Special::Fnuz),
            DType::Float8E4m3 => mini(8, 4, 3, 7, Special::Ieee),
            DType::Float8E3m4 => mini(8, 3, 4, 3, Special::Ieee),
            DType::Float8E4m3b11fnuz => mini(8, 4, 3, 11, Special::Fnuz),
            DType::Float8E8m0fnu => Some(Format::E8m0),
            DType::Float6E2m3fn => mini(6, 2, 3, 1, Special::Finite),
            DType::Float6E3m2fn => mini(6, 3, 2, 3, Special::Finite),
            DType::Float4E2m1fn => mini(4, 2, 1, 1, Special::Finite),
            _ => None,
        }
    }
}

/// 2^k as an f32, exactly, for -149 <= k <= 127.
fn pow2(k: i32) -> f32 {
    if k >= -126 {
        f32::from_bits(((k + 127) as u32) << 23)
    } else {
        f32::from_bits(1u32 << (k + 149).clamp(0, 22))
    }
}

/// One minifloat's value (exact in f32: at most 5 significant bits, exponents within f32's range).
fn mini_to_f32(v: u32, exp: u32, man: u32, bias: i32, special: Special) -> f32 {
    let width = 1 + exp + man;
    let sign = (v >> (width - 1)) & 1 == 1;
    let e = (v >> man) & ((1 << exp) - 1);
    let m = v & ((1 << man) - 1);
    let e_max = (1 << exp) - 1;
    match special {
        Special::Ieee if e == e_max => {
            return match (m, sign) {
                (0, false) => f32::INFINITY,
                (0, true) => f32::NEG_INFINITY,
                _ => f32::NAN,
            }
        }
        Special::Fn if e == e_max && m == (1 << man) - 1 => return f32::NAN,
        Special::Fnuz if v == 1 << (width - 1) => return f32::NAN,
        _ => {}
    }
    let magnitude = if e == 0 {
        m as f32 * pow2(1 - bias - man as i32)
    } else {
        (m | 1 << man) as f32 * pow2(e as i32 - bias - man as i32)
    };
    if sign {
        -magnitude
    } else {
        magnitude
    }
}

/// The iterator of [`TensorView::widen_f32`]: the elements in row-major order, widened exactly to `f32`.
#[derive(Debug, Clone)]
pub struct WidenF32<'a> {
    data: &'a [u8],
    format: Format,
    next: usize,
    end: usize,
}

impl WidenF32<'_> {
    fn get(&self, i: usize) -> f32 {
        let byte = |k: usize| self.data.get(k).copied().unwrap_or(0);
        match self.format {
            Format::F32 => f32::from_le_bytes([
                byte(4 * i),
                byte(4 * i + 1),
                byte(4 * i + 2),
                byte(4 * i + 3),
            ]),
            Format::F16 => f16_to_f64(u16::from_le_bytes([byte(2 * i), byte(2 * i + 1)])) as f32,
            Format::Bf16 => {
                f32::from_bits((u16::from_le_bytes([byte(2 * i), byte(2 * i + 1)]) as u32) << 16)
            }
            Format::E8m0 => match byte(i) {
                0xff => f32::NAN,
                e => pow2(e as i32 - 127),
            },
            Format::Mini {
                bits,
                exp,
                man,
                bias,
                special,
            } => {
                // Packed low bits first (SPEC.md §4.4): element i is bits [i*bits, (i+1)*bits) of the stream.
                let bit = i * bits as usize;
                let pair = byte(bit / 8) as u32 | (byte(bit / 8 + 1) as u32) << 8;
                let v = (pair >> (bit % 8)) & ((1 << bits) - 1);
                mini_to_f32(v, exp, man, bias, special)
            }
        }
    }
}

impl Iterator for WidenF32<'_> {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        if self.next >= self.end {
            return None;
        }
        let v = self.get(self.next);
        self.next += 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }

    /// `sum`, `reduce`, `for_each`, `collect` and the rest go through here: one tight loop per format over the
    /// remaining bytes (about 8 fuel per float32 element in wasm32, against some 120 through `next`).
    fn fold<B, F: FnMut(B, f32) -> B>(mut self, init: B, mut f: F) -> B {
        let (next, end) = (self.next, self.end);
        self.next = end;
        let bytes = |width: usize| self.data.get(next * width..end * width).unwrap_or(&[]);
        match self.format {
            Format::F32 => bytes(4)
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .fold(init, f),
            Format::F16 => bytes(2)
                .chunks_exact(2)
                .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])) as f32)
                .fold(init, f),
            Format::Bf16 => bytes(2)
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .fold(init, f),
            Format::E8m0 => bytes(1)
                .iter()
                .map(|&e| {
                    if e == 0xff {
                        f32::NAN
                    } else {
                        pow2(e as i32 - 127)
                    }
                })
                .fold(init, f),
            Format::Mini {
                bits: 8,
                exp,
                man,
                bias,
                special,
            } => bytes(1)
                .iter()
                .map(|&v| mini_to_f32(v as u32, exp, man, bias, special))
                .fold(init, f),
            _ => {
                let mut acc = init;
                for i in next..end {
                    acc = f(acc, self.get(i));
                }
                acc
            }
        }
    }
}

impl ExactSizeIterator for WidenF32<'_> {}

/// Encode a tensor document from typed values: `encode_slice(&[2, 3], &floats)`. The elements are copied
/// once, into the document (on a big-endian machine they are byte-swapped on the way).
///
/// Errors: those of [`encode_tensor`] (`SHAPE_MISMATCH` when `values.len()` is not the shape's count).
pub fn encode_slice<T: Element>(shape: &[u64], values: &[T]) -> Result<Vec<u8>, Error> {
    if cfg!(target_endian = "big") && T::LANE > 1 {
        let mut le = T::bytes(values).to_vec();
        for lane in le.chunks_exact_mut(T::LANE) {
            lane.reverse();
        }
        return encode_tensor(T::DTYPE, shape, &le);
    }
    encode_tensor(T::DTYPE, shape, T::bytes(values))
}

/// A tensor document whose element bytes the caller writes in place: the header is written and the data
/// zeroed when it is created, so filling it copies nothing.
///
/// ```
/// use tensorcbor::{decode_tensor, DType, TensorWriter};
/// let mut w = TensorWriter::new(DType::Float32, &[2, 2])?;
/// for (i, x) in w.elements_mut::<f32>().unwrap().iter_mut().enumerate() {
///     *x = i as f32 * 0.5;
/// }
/// let doc = w.finish()?;
/// assert_eq!(decode_tensor(&doc)?.as_slice::<f32>().unwrap(), &[0.0, 0.5, 1.0, 1.5]);
/// # Ok::<(), tensorcbor::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TensorWriter {
    doc: Vec<u8>,
    data_start: usize,
    dtype: DType,
    shape: Vec<u64>,
}

impl TensorWriter {
    /// The document of a `dtype` tensor of `shape` with all element bytes zero (a valid tensor for every
    /// dtype but `string`, which is `SHAPE_MISMATCH` here as in [`encode_tensor`]).
    ///
    /// Errors: `RANK_TOO_LARGE`, `SIZE_OVERFLOW` (also when the data cannot be allocated), `SHAPE_MISMATCH`.
    pub fn new(dtype: DType, shape: &[u64]) -> Result<TensorWriter, Error> {
        let (mut doc, length) = tensor_prefix(dtype, shape)?;
        let data_start = doc.len();
        let fits = usize::try_from(length)
            .ok()
            .filter(|&len| doc.try_reserve_exact(len).is_ok());
        let Some(len) = fits else {
            return Err(Error::with(
                ErrorCode::SizeOverflow,
                0,
                Detail::DataTooLarge { length },
            ));
        };
        doc.resize(data_start + len, 0);
        Ok(TensorWriter {
            doc,
            data_start,
            dtype,
            shape: shape.to_vec(),
        })
    }

    /// The element bytes, as on the wire (little endian; sub-byte types packed low bits first).
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.doc[self.data_start..]
    }

    /// The elements as a typed slice to fill in place (little-endian machines; the document's `Vec` is
    /// 8-aligned with every common allocator, else this is [`ViewError::Unaligned`]: use
    /// [`data_mut`](Self::data_mut)).
    pub fn elements_mut<T: Element>(&mut self) -> Result<&mut [T], ViewError> {
        if self.dtype != T::DTYPE {
            return Err(ViewError::DTypeMismatch {
                wanted: T::DTYPE,
                found: self.dtype,
            });
        }
        if cfg!(target_endian = "big") && T::LANE > 1 {
            return Err(ViewError::BigEndian);
        }
        let count = self.data_mut().len() / core::mem::size_of::<T>();
        T::cast_mut(self.data_mut()).map_err(|e| {
            let size = core::mem::size_of::<T>();
            view_error(
                e,
                core::mem::align_of::<T>(),
                count as u64,
                count * size,
                size,
            )
        })
    }

    /// The finished document, after the element checks of SPEC.md §7.2 (`INVALID_ELEMENT` at the offending
    /// byte: a bool byte above 1, or non-zero unused bits after the last packed element).
    pub fn finish(self) -> Result<Vec<u8>, Error> {
        let view = TensorView::new(self.dtype, &self.shape, &self.doc[self.data_start..]);
        check_tensor_elements(&view, self.data_start)?;
        Ok(self.doc)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::ViewError;
    use crate::DType;
    use std::vec::Vec;

    /// Every `ViewError` code is in the Python reference's VIEW_REGISTRY (src/tensorcbor/errors.py), in order.
    #[test]
    fn view_error_codes_are_registered() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../src/tensorcbor/errors.py"
        );
        let source = std::fs::read_to_string(path).expect("src/tensorcbor/errors.py");
        let start = source.find("VIEW_REGISTRY: ").expect("VIEW_REGISTRY");
        let block = &source[start..start + source[start..].find("\n)\n").expect("its end")];
        let registered: Vec<&str> = block
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("(\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        let mine = [
            ViewError::DTypeMismatch {
                wanted: DType::Float32,
                found: DType::Int8,
            },
            ViewError::Unaligned { align: 4 },
            ViewError::BigEndian,
            ViewError::LengthMismatch {
                wanted: 1,
                found: 0,
            },
        ]
        .map(|e| e.code());
        assert_eq!(registered, mine);
    }
}
